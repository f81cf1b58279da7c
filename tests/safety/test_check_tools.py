"""check() on every tool: the gate never raises, and hosts, URLs and arguments are judged."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halops.calls import ToolCall
from safety import check
from safety.decision import Verdict
from safety.ratelimit import RateLimiter

pytestmark = pytest.mark.unit


def call(tool: str, **arguments: object) -> ToolCall:
    return ToolCall(tool=tool, arguments=arguments)


@pytest.mark.parametrize(
    ("tc", "rule"),
    [
        (call("teleport", host="web1"), "deny.unknown-tool"),
        (call("shell"), "deny.bad-arguments"),
        (call("shell", command=42), "deny.bad-arguments"),
        (call("shell", command="ls", extra=1), "deny.bad-arguments"),
        (call("shell", command="ls " + "a" * 9000), "deny.oversized-arguments"),
        (call("shell", command="   "), "deny.empty-command"),
        (call("shell", command="ls\x00 -la"), "deny.bad-arguments"),
        (call("shell", command="ls \x1b[31m"), "deny.bad-arguments"),
        (call("shell", command="if then fi (("), "deny.unparseable"),
        (call("ssh", host="nope", command="uptime"), "deny.unknown-host"),
        (call("ssh", host="gpu3", command="uptime"), "deny.no-ssh-endpoint"),
        (call("ssh", command="uptime"), "deny.bad-arguments"),
        (call("ipmi", host="nope", action="power_status"), "deny.unknown-host"),
        (call("ipmi", host="db1", action="power_status"), "deny.no-bmc"),
        (call("ipmi", host="web1", action="explode"), "deny.bad-arguments"),
        (call("ipmi", host="web1", action="boot_device", value="usb-stick"), "deny.bad-arguments"),
        (call("ipmi", host="web1", action="power_on", value="now"), "deny.bad-arguments"),
        (call("http", method="GET", url="http://evil.example/"), "deny.http-outside-inventory"),
        (call("http", method="GET", url="http://localhost:8081/v1/models"), "deny.http-outside-inventory"),
        (call("http", method="GET", url="ftp://web1/x"), "deny.http-scheme"),
        (call("http", method="GET", url="file:///etc/shadow"), "deny.http-scheme"),
        (call("http", method="GET", url="gopher://web1:70/"), "deny.http-scheme"),
        (call("http", method="GET", url="http://web1@evil.example/"), "deny.http-userinfo"),
        (call("http", method="GET", url="http://user:pw@web1:8080/"), "deny.http-userinfo"),
        (call("http", method="GET", url="http://169.254.169.254/latest/meta-data/"), "deny.blocked-address"),
        (call("http", method="GET", url="http://[fe80::1]/"), "deny.blocked-address"),
        (call("http", method="GET", url="http://[::ffff:169.254.169.254]/"), "deny.blocked-address"),
        (call("http", method="GET", url="http://0xa9fea9fe/"), "deny.blocked-address"),
        (call("http", method="GET", url="http://metadata.google.internal/"), "deny.blocked-address"),
        (call("http", method="GET", url="http://web1:8080/a b"), "deny.malformed-url"),
        (call("http", method="GET", url="http://web1:99999/"), "deny.malformed-url"),
        (call("http", method="GET", url="http://w%65b1:8080/"), "deny.malformed-url"),
        (call("http", method="GET", url="http://web1\\@evil.example/"), "deny.malformed-url"),
        (
            call("http", method="GET", url="http://web1:8080/", headers={"X": "a\r\nHost: evil"}),
            "deny.bad-arguments",
        ),
        (call("http", method="TRACE", url="http://web1:8080/"), "deny.bad-arguments"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.tool + ":" + str(v.arguments)[:50],
)
def test_denied(inventory, tc: ToolCall, rule: str) -> None:
    d = check(tc, inventory)
    assert (d.verdict, d.rule) == (Verdict.DENY, rule), d.reason
    assert d.command is None


def test_argument_size_limit_is_8_kib(inventory) -> None:
    ok = check(call("shell", command="echo " + "a" * 8000), inventory)
    assert ok.verdict == Verdict.ALLOW
    big = check(call("shell", command="echo " + "a" * 8200), inventory)
    assert big.rule == "deny.oversized-arguments"


@pytest.mark.parametrize(
    ("tc", "verdict", "rule"),
    [
        (call("ipmi", host="web1", action="power_status"), "allow", "allow.ipmi-power-status"),
        (call("ipmi", host="web1", action="sensors"), "allow", "allow.ipmi-sensors"),
        (call("ipmi", host="web1", action="sel_list"), "allow", "allow.ipmi-sel-list"),
        (call("ipmi", host="web1", action="chassis_status"), "allow", "allow.ipmi-chassis-status"),
        (call("ipmi", host="web1", action="boot_device"), "allow", "allow.ipmi-boot-device"),
        (call("ipmi", host="web1", action="power_cycle"), "approve", "approve.ipmi-power-cycle"),
        (call("ipmi", host="web1", action="power_off"), "approve", "approve.ipmi-power-off"),
        (call("ipmi", host="web1", action="boot_device", value="pxe"), "approve", "approve.ipmi-boot-device"),
        (call("ipmi", host="web1", action="sel_clear"), "approve", "approve.ipmi-sel-clear"),
        (call("ipmi", host="web1", action="identify", value="on"), "approve", "approve.ipmi-identify"),
        (call("http", method="GET", url="http://web1:8080/health"), "allow", "allow.http-read"),
        (call("http", method="HEAD", url="https://10.0.0.5/"), "allow", "allow.http-read"),
        (call("http", method="GET", url="http://WEB1.:8080/"), "allow", "allow.http-read"),
        (call("http", method="GET", url="http://db1.internal.example/x"), "allow", "allow.http-read"),
        (
            call("http", method="POST", url="http://web1:8080/restart", body={"now": True}),
            "approve",
            "approve.http-write",
        ),
        (call("http", method="DELETE", url="http://web1:8080/cache"), "approve", "approve.http-write"),
        (call("ssh", host="web1", command="df -h"), "allow", "allow.diagnostics"),
        (
            call("ssh", host="db1", command="systemctl restart postgresql"),
            "approve",
            "approve.service-control",
        ),
        (call("ssh", host="web1", command="rm -rf /"), "deny", "deny.recursive-protected"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.tool + ":" + str(v.arguments)[:50],
)
def test_tool_verdicts(inventory, tc: ToolCall, verdict: str, rule: str) -> None:
    d = check(tc, inventory)
    assert (d.verdict, d.rule) == (verdict, rule), d.reason


def test_command_is_rebuilt_and_requoted(decide) -> None:
    d = decide("\\df -h 'x y' \"$HOME\" *.log")
    assert d.command == "df -h 'x y' \"$HOME\" *.log"
    assert d.argv is None  # globs and $HOME need a shell
    d = decide("r''m -- \"a b\"")
    assert d.verdict == "approve"
    assert d.command == "rm -- 'a b'"
    assert d.argv == ["rm", "--", "a b"]
    d = decide("df -h | grep sda")
    assert d.command == "df -h | grep sda" and d.argv is None
    d = decide("ls > /tmp/x")
    assert d.argv is None and d.command == "ls > /tmp/x"


def test_rate_limit_denies_with_retry_after(inventory) -> None:
    now = [0.0]
    limiter = RateLimiter(
        global_per_minute=600, global_burst=100, target_per_minute=60, target_burst=2, clock=lambda: now[0]
    )
    tc = call("ssh", host="web1", command="uptime")
    assert check(tc, inventory, limiter=limiter).verdict == "allow"
    assert check(tc, inventory, limiter=limiter).verdict == "allow"
    d = check(tc, inventory, limiter=limiter)
    assert (d.verdict, d.rule) == ("deny", "deny.rate-limit")
    assert d.retry_after_s == pytest.approx(1.0)
    # Another host has its own bucket; a denied call spends no token.
    assert check(call("ssh", host="db1", command="uptime"), inventory, limiter=limiter).verdict == "allow"
    assert (
        check(call("shell", command="rm -rf /"), inventory, limiter=limiter).rule
        == "deny.recursive-protected"
    )
    now[0] = 1.0
    assert check(tc, inventory, limiter=limiter).verdict == "allow"


def test_check_never_raises_on_garbage(inventory) -> None:
    garbage = [
        "",
        "((((",
        "$(",
        "`",
        "'",
        '"',
        "<<EOF",
        "a" * 8000,
        "\\",
        "|",
        ";;",
        "&&&",
        "}{",
        "🔥 rm -rf /",
        "$'\\x00'",
        "cat <(",
        "${",
        "$((",
        "for",
        "case",
        "x=(",
        "a\\\n",
        "\\\n",
    ]
    for g in garbage:
        d = check(call("shell", command=g), inventory)
        assert d.verdict in ("allow", "approve", "deny")


SHELLISH = st.text(
    alphabet=st.sampled_from(list("rm -f/\\'\"$(){}[]<>|&;`*?~=\n\tabcx0123#!.,:")), max_size=80
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.one_of(SHELLISH, st.text(max_size=60)))
def test_fuzz_never_raises(inventory, command: str) -> None:
    for tool in ("shell", "ssh"):
        d = check(
            call(tool, command=command, host="web1") if tool == "ssh" else call(tool, command=command),
            inventory,
        )
        assert d.verdict in ("allow", "approve", "deny")
        assert d.rule != "deny.internal-error", command
        if d.verdict != "deny":
            assert d.command is not None
            again = check(call("shell", command=d.command), inventory)
            assert (again.verdict, again.command) == (d.verdict, d.command)  # the rebuild is stable


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=20), st.integers(), st.none())))
def test_fuzz_arguments_never_raise(inventory, args: dict) -> None:
    for tool in ("shell", "ssh", "ipmi", "http", "other"):
        d = check(ToolCall(tool=tool, arguments=args), inventory)
        assert d.verdict in ("allow", "approve", "deny") and d.rule != "deny.internal-error"


def test_lone_surrogates_are_denied(inventory) -> None:
    d = check(call("shell", command="ls \ud800"), inventory)
    assert (d.verdict, d.rule) == ("deny", "deny.bad-arguments")
