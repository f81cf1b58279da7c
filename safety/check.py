"""`check(call, inventory)`: the one gate every tool call passes before it runs.

Never raises for bad input: an unknown tool, invalid or oversized arguments, an unknown host all
become deny decisions the model can read and correct.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

from pydantic import ValidationError

from halops.calls import HttpArgs, IpmiAction, IpmiArgs, ShellArgs, SshArgs, ToolCall, ToolName
from safety.decision import Decision, Verdict
from safety.harmchecks import harm_of
from safety.hosts import Place, classify
from safety.inventory import Inventory
from safety.policy import Policy, default_policy
from safety.ratelimit import RateLimiter
from safety.shellcheck import analyze
from safety.shellctx import Analysis, Context

log = logging.getLogger("halops.safety")
LOCAL_TARGET = "(local)"  # rate-limit key of the halops host itself
_BOOT_DEVICES = {"pxe", "disk", "cdrom", "bios", "safe", "diag", "floppy", "none"}
_IDENTIFY = re.compile(r"(on|off|force|[0-9]{1,3})\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _deny(rule: str, reason: str) -> Decision:
    return Decision(verdict=Verdict.DENY, rule=rule, reason=reason)


def check(
    call: ToolCall,
    inventory: Inventory,
    *,
    policy: Policy | None = None,
    limiter: RateLimiter | None = None,
) -> Decision:
    """Decide one tool call. policy None: the shipped default; limiter None: no rate limits."""
    policy = policy or default_policy()
    try:
        return _check(call, inventory, policy, limiter)
    except Exception:  # fail closed: a bug in the policy code must never let a call through
        log.exception("safety.check failed on a %s call", call.tool)
        return _deny("deny.internal-error", "The policy could not judge this call; nothing ran.")


def _check(call: ToolCall, inventory: Inventory, policy: Policy, limiter: RateLimiter | None) -> Decision:
    try:
        size = len(json.dumps(call.arguments, ensure_ascii=False, default=str).encode("utf-8"))
    except (TypeError, ValueError):
        return _deny("deny.bad-arguments", "Arguments are not JSON.")
    if size > policy.max_argument_bytes:
        return _deny(
            "deny.oversized-arguments",
            f"Arguments are {size} bytes; the limit is {policy.max_argument_bytes}.",
        )
    try:
        tool = ToolName(call.tool)
    except ValueError:
        return _deny("deny.unknown-tool", f"Unknown tool {call.tool!r}.")
    try:
        args = call.typed()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        return _deny("deny.bad-arguments", f"Invalid arguments for {tool.value}: {where}: {first['msg']}.")
    decision, target = _decide(tool, args, inventory, policy)
    if decision.verdict == Verdict.DENY or limiter is None:
        return decision
    wait = limiter.acquire(tool.value, target)
    if wait is not None:
        return Decision(
            verdict=Verdict.DENY,
            rule="deny.rate-limit",
            reason=f"Too many {tool.value} calls; retry in {wait:.1f} s.",
            retry_after_s=round(wait, 3),
        )
    return decision


def _decide(tool: ToolName, args: object, inventory: Inventory, policy: Policy) -> tuple[Decision, str]:
    if isinstance(args, ShellArgs):
        return shell_decision(args.command, inventory, policy, remote=None), LOCAL_TARGET
    if isinstance(args, SshArgs):
        host = inventory.get(args.host)
        if host is None:
            return _deny("deny.unknown-host", f"{args.host!r} is not in the inventory."), args.host
        if host.ssh is None:
            return _deny(
                "deny.no-ssh-endpoint", f"{args.host!r} has no ssh settings in the inventory."
            ), args.host
        return shell_decision(args.command, inventory, policy, remote=args.host), args.host
    if isinstance(args, IpmiArgs):
        return _ipmi(args, inventory, policy), args.host
    assert isinstance(args, HttpArgs)
    return _http(args, inventory, policy)


def shell_analysis(command: str, inventory: Inventory, policy: Policy, remote: str | None = None) -> Analysis:
    ctx = Context(policy=policy, inventory=inventory, paths=policy.path_rules, remote=remote)
    return analyze(command, ctx)


def shell_decision(command: str, inventory: Inventory, policy: Policy, remote: str | None) -> Decision:
    if not command.strip():
        return _deny("deny.empty-command", "The command is empty.")
    if "\x00" in command or _CONTROL.search(command.replace("\t", " ")):
        return _deny("deny.bad-arguments", "The command contains control characters.")
    try:
        command.encode("utf-8")
    except UnicodeEncodeError:
        return _deny("deny.bad-arguments", "The command is not valid Unicode text.")
    analysis = shell_analysis(command, inventory, policy, remote)
    top = analysis.verdict()
    decision = Decision(verdict=top.verdict, rule=top.rule, reason=top.reason)
    if top.verdict == Verdict.DENY:
        decision.harm = harm_of(top.rule, policy)
    if top.verdict == Verdict.DENY or analysis.script is None:
        return decision
    rebuilt = analysis.script.rebuild()
    if not rebuilt.strip():
        return _deny("deny.empty-command", "The command is empty.")
    if rebuilt != command.strip():
        # What runs is the rebuilt line: it must mean what was checked. Where the parser and
        # bash could disagree (odd token splits), the two analyses differ: refuse rather than guess.
        again = shell_analysis(rebuilt, inventory, policy, remote)
        if (
            again.script is None
            or again.script.rebuild() != rebuilt
            or again.verdict().verdict != top.verdict
        ):
            return _deny(
                "deny.ambiguous-parse", "The command line is ambiguous to the parser; write it plainly."
            )
    decision.command = rebuilt
    decision.argv = analysis.script.simple_argv()
    return decision


def _ipmi(args: IpmiArgs, inventory: Inventory, policy: Policy) -> Decision:
    host = inventory.get(args.host)
    if host is None:
        return _deny("deny.unknown-host", f"{args.host!r} is not in the inventory.")
    if host.bmc is None:
        return _deny("deny.no-bmc", f"{args.host!r} has no BMC in the inventory.")
    action = args.action
    value = args.value
    if action == IpmiAction.BOOT_DEVICE and value is not None and value.lower() not in _BOOT_DEVICES:
        return _deny("deny.bad-arguments", f"boot_device value must be one of {sorted(_BOOT_DEVICES)}.")
    if action == IpmiAction.IDENTIFY and value is not None and not _IDENTIFY.match(value.lower()):
        return _deny("deny.bad-arguments", "identify value must be on, off, force or seconds.")
    if action not in (IpmiAction.BOOT_DEVICE, IpmiAction.IDENTIFY) and value is not None:
        return _deny("deny.bad-arguments", f"{action.value} takes no value.")
    if classify(host.bmc.address, inventory, policy) == Place.BLOCKED:
        return _deny("deny.blocked-address", "The BMC address is a blocked address.")
    verdict = policy.ipmi.get(action.value, Verdict.APPROVE)
    if action == IpmiAction.BOOT_DEVICE and value is None:
        verdict = Verdict.ALLOW  # reading the boot device changes nothing
    reason = (
        "Reading BMC state is read-only."
        if verdict == Verdict.ALLOW
        else (f"IPMI {action.value} changes the machine's state; an operator must approve it.")
    )
    if verdict == Verdict.DENY:
        reason = f"IPMI {action.value} is denied by policy."
    return Decision(
        verdict=verdict, rule=f"{verdict.value}.ipmi-{action.value.replace('_', '-')}", reason=reason
    )


def _http(args: HttpArgs, inventory: Inventory, policy: Policy) -> tuple[Decision, str]:
    url = args.url
    if any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in url):
        return _deny("deny.malformed-url", "The URL contains spaces, control characters or backslashes."), "?"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError as exc:
        return _deny("deny.malformed-url", f"The URL does not parse: {exc}."), "?"
    if parts.scheme.lower() not in ("http", "https"):
        return _deny("deny.http-scheme", "Only http and https URLs are allowed."), "?"
    if "@" in parts.netloc:
        return _deny("deny.http-userinfo", "URLs with user info (user@host) are not allowed."), "?"
    host = parts.hostname or ""
    for key, value in (args.headers or {}).items():
        if _CONTROL.search(key) or _CONTROL.search(value) or "\n" in key + value or "\r" in key + value:
            return _deny("deny.bad-arguments", "Header names and values must not contain line breaks."), host
    place = classify(host, inventory, policy)
    if place == Place.BLOCKED:
        return _deny("deny.blocked-address", f"{host} is a metadata or link-local address."), host
    if place == Place.MALFORMED or "%" in parts.netloc:
        return _deny("deny.malformed-url", f"Cannot tell which host {parts.netloc!r} is."), host
    if place != Place.INVENTORY:
        return _deny("deny.http-outside-inventory", f"{host} is not an inventory host."), host
    found = inventory.find_by_address(host)
    target = found[0] if found else host
    if args.method in policy.http_read_methods:
        return Decision(
            verdict=Verdict.ALLOW,
            rule="allow.http-read",
            reason=f"{args.method} to an inventory host is a read.",
        ), target
    return Decision(
        verdict=Verdict.APPROVE,
        rule="approve.http-write",
        reason=f"{args.method} can change state on {target}; an operator must approve it.",
    ), target
