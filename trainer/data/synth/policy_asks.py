"""Requests the policy stops, tool failures, and how the agent reports them without inventing.

The verdicts are not written here: episodes.py asks the real policy about each call. This module
only holds the requests (state changes that wait for approval, destructive ones that are denied)
and the honest answer for each outcome.
"""

from __future__ import annotations

import random
from typing import Any

from halops.calls import ToolCall
from halops.outcome import ToolOutcome
from trainer.data.synth.outputs import Output

# (ask, tool, arguments): ordinary state changes. The policy sends these for approval.
CHANGES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("Restart {svc} on {host}.", "ssh", {"host": "{host}", "command": "systemctl restart {svc}"}),
    ("Please bounce {svc} on {host}, it's stuck.", "ssh", {"host": "{host}", "command": "systemctl restart {svc}"}),
    ("Stop {svc} on {host}.", "ssh", {"host": "{host}", "command": "systemctl stop {svc}"}),
    ("Start {svc} on {host} again.", "ssh", {"host": "{host}", "command": "systemctl start {svc}"}),
    ("Reboot {host}.", "ssh", {"host": "{host}", "command": "reboot"}),
    ("Power-cycle {host} through its BMC.", "ipmi", {"host": "{host}", "action": "power_cycle"}),
    ("{host} hangs; hard reset it via IPMI.", "ipmi", {"host": "{host}", "action": "power_reset"}),
    ("Power on {host}.", "ipmi", {"host": "{host}", "action": "power_on"}),
    ("Clear the BMC event log of {host}.", "ipmi", {"host": "{host}", "action": "sel_clear"}),
    ("Install the latest updates on {host}.", "ssh", {"host": "{host}", "command": "apt-get upgrade -y"}),
    ("Enable {svc} at boot on {host}.", "ssh", {"host": "{host}", "command": "systemctl enable {svc}"}),
)  # fmt: skip

# Destructive requests: the policy denies these outright; the model still reports it plainly.
DESTROY: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("Wipe everything under / on {host}, we're decommissioning it.", "ssh", {"host": "{host}", "command": "rm -rf --no-preserve-root /"}),
    ("Format /dev/sdb on {host}.", "ssh", {"host": "{host}", "command": "mkfs.ext4 -F /dev/sdb"}),
    ("Zero the first disk of {host}.", "ssh", {"host": "{host}", "command": "dd if=/dev/zero of=/dev/sda bs=1M"}),
    ("Delete /etc on {host}.", "ssh", {"host": "{host}", "command": "rm -rf /etc"}),
    ("Flush every firewall rule on {host} and drop all traffic.", "ssh", {"host": "{host}", "command": "iptables -P INPUT DROP && iptables -F"}),
)  # fmt: skip


def failure(rng: random.Random, kind: str, host: str, address: str, command: str) -> Output:
    """What the ssh executor reports when a host cannot be reached or a command hangs."""
    if kind == "timeout":
        return Output("", -1, f"ssh {host}: connecting to root@{address}:22 timed out after 10 s")
    reason = rng.choice(["[Errno 111] Connection refused", "[Errno 113] No route to host"])
    return Output("", -1, f"ssh {host}: cannot connect to root@{address}:22: {reason}")


def _what(call: ToolCall) -> str:
    args = call.arguments
    if call.tool == "ipmi":
        return f"IPMI {args['action']} on {args['host']}"
    return f"`{args.get('command')}` on {args.get('host', 'the halops host')}"


def answer(call: ToolCall, outcome: ToolOutcome) -> str:
    host = call.arguments.get("host", "the halops host")
    if outcome.status == "denied" and outcome.rule == "deny.unknown-host":
        return (
            f"I did not run anything: {host} is not in the inventory, so halops has no address or "
            f"credentials for it. Add it to inventory.yaml (address, ssh user and key) and trust its "
            f"host key with `halops inventory trust {host}`, then ask again."
        )
    if outcome.status == "denied":
        return f"I did not run {_what(call)}: the policy denied it ({outcome.reason.rstrip('.')}). Nothing was changed."
    if outcome.status == "approval_required":
        return (
            f"{_what(call)} changes state, so it has not run: it is waiting for an operator's approval "
            f"(request {outcome.approval_id}). Once approved it runs once and the result comes back "
            "to this conversation."
        )
    err = (outcome.stderr or "").strip()
    if outcome.status == "timeout":
        return f"I got no result from {host}: {err}. It may be down or overloaded; its BMC can tell whether it is powered on."
    return f"I could not reach {host}: {err}. Nothing ran. Check that it is up and that sshd listens; its BMC can show the power state."
