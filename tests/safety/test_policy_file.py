"""Loading, extending and validating policy files."""

from __future__ import annotations

from pathlib import Path

import pytest

from halops.calls import ToolCall
from halops.errors import ConfigError, HalopsError
from safety import PolicyError, check, default_policy, load_policy

pytestmark = pytest.mark.unit


def test_default_policy_is_valid_and_shipped() -> None:
    policy = load_policy(None)
    assert policy is default_policy()
    ids = [r.id for r in policy.rules]
    assert len(ids) == len(set(ids))
    assert all(r.id.startswith(r.verdict.value + ".") for r in policy.rules)
    assert all(r.reason.endswith(".") for r in policy.rules)


def test_extends_default_adds_rules(tmp_path: Path, inventory) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "extends: default\n"
        "rules:\n"
        "  - id: allow.site-zpool-scrub\n"
        "    verdict: allow\n"
        '    reason: "Scrubs are routine here."\n'
        "    programs: [zpool]\n"
        "    subcommands: [scrub]\n"
        "  - id: deny.site-no-reboot\n"
        "    verdict: deny\n"
        '    reason: "This fleet is never rebooted by the agent."\n'
        "    programs: [reboot]\n"
        "disable_rules: [approve.power]\n"
    )
    policy = load_policy(path)
    shell = lambda c: check(ToolCall(tool="shell", arguments={"command": c}), inventory, policy=policy)  # noqa: E731
    assert shell("zpool scrub tank").rule == "allow.site-zpool-scrub"
    assert shell("reboot").rule == "deny.site-no-reboot"
    assert shell("df -h").verdict == "allow"  # the default rules are still there
    assert shell("rm -rf /").verdict == "deny"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("extends: default\nrules: [{id: allow.x, verdict: deny, reason: r, programs: [x]}]\n", "rules"),
        (
            "extends: default\n"
            "rules: [{id: deny.x, verdict: deny, reason: r, programs: [x], text_regex: '('}]\n",
            "rules",
        ),
        ("extends: default\nrules: [{id: deny.x, verdict: maybe, reason: r, programs: [x]}]\n", "rules"),
        ("extends: default\nbogus_key: 1\n", "bogus_key"),
        ("extends: elsewhere\n", "extends"),
        ("version: 1\n", "loopback_hosts"),
        ("[not, a, mapping]\n", "(file)"),
        ("a: [\n", "(file)"),
    ],
)
def test_invalid_policy_lists_problems(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, HalopsError)
    assert any(k.startswith(key) for k, _ in info.value.problems), info.value.problems


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        load_policy(tmp_path / "nope.yaml")


def test_max_argument_bytes_from_policy(tmp_path: Path, inventory) -> None:
    path = tmp_path / "small.yaml"
    path.write_text("extends: default\nmax_argument_bytes: 64\n")
    policy = load_policy(path)
    d = check(ToolCall(tool="shell", arguments={"command": "echo " + "x" * 80}), inventory, policy=policy)
    assert d.rule == "deny.oversized-arguments"
