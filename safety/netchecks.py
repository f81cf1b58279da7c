"""Network clients: every destination must be an inventory host (or the machine itself).

Exfiltration needs a destination; so does a reverse shell. Where curl, nc, ssh, scp, rsync, git or
socat connect is read from their arguments and judged by `safety.hosts`.
"""

from __future__ import annotations

from safety.argspec import parse_args
from safety.decision import Verdict
from safety.hosts import Place, classify, host_of, looks_remote
from safety.shellctx import Analysis, Context, Invocation, run_nested
from safety.shellwords import DYN, Word


def _add(out: Analysis, verdict: Verdict, rule: str, reason: str, inv: Invocation) -> None:
    out.add(verdict, rule, reason, inv.text)


def check_network(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    spec = ctx.policy.network.get(program)
    if spec is None:
        return
    values = set(spec.value_options) | set(spec.destination_options) | set(spec.exec_options)
    args = parse_args(inv.words[1:], values)
    if spec.exec_options and args.has(*spec.exec_options):
        _add(
            out,
            Verdict.DENY,
            "deny.reverse-shell",
            f"{program} attaching a program to a socket is a reverse shell.",
            inv,
        )
        return
    dests = list(args.value_of(*spec.destination_options))
    pos = args.positionals
    if program == "socat":
        _socat(pos, inv, ctx, out)
    elif program == "ssh":
        dests += pos[:1]
        remote = pos[1:]
        if remote:
            if any(not w.static for w in remote):
                _add(
                    out,
                    Verdict.DENY,
                    "deny.dynamic-script",
                    "ssh runs a remote command only known at run time.",
                    inv,
                )
            else:
                run_nested(" ".join(w.value for w in remote), inv, ctx, out, None)
    elif program in ("git", "scp", "rsync"):
        dests += [p for p in pos if not p.static or looks_remote(p.value)]
    elif spec.destinations == "first_positional":
        dests += pos[:1]
    elif spec.destinations == "positionals":
        dests += [p for p in pos if not (p.value.isupper() and p.value.isalpha())]
    for d in dests:
        destination(program, d, spec.diagnostic, inv, ctx, out)


def destination(
    program: str, dest: Word, diagnostic: bool, inv: Invocation, ctx: Context, out: Analysis
) -> None:
    if dest.value.startswith(("+", "-")) and diagnostic:
        return  # dig +short, query options
    host = host_of(dest.value) if dest.static else DYN
    place = classify(host or "", ctx.inventory, ctx.policy)
    shown = dest.value.replace(DYN, "…")
    if place == Place.DYNAMIC:
        _add(
            out,
            Verdict.DENY,
            "deny.dynamic-destination",
            f"{program} connects to a destination only known at run time ({shown}).",
            inv,
        )
    elif place == Place.BLOCKED:
        _add(
            out,
            Verdict.DENY,
            "deny.blocked-address",
            f"{shown} is a metadata or link-local address: never contacted.",
            inv,
        )
    elif place == Place.MALFORMED and not diagnostic:
        _add(out, Verdict.DENY, "deny.malformed-destination", f"Cannot tell where {shown} points.", inv)
    elif place == Place.OUTSIDE and not diagnostic:
        _add(
            out,
            Verdict.DENY,
            "deny.network-outside-inventory",
            f"{shown} is not an inventory host: sending data there could exfiltrate it.",
            inv,
        )


def _socat(pos: list[Word], inv: Invocation, ctx: Context, out: Analysis) -> None:
    kinds = [(a, a.value.partition(":")[0].upper(), a.value.partition(":")[2]) for a in pos]
    for _addr, kind, _rest in kinds:
        if kind in ("EXEC", "SYSTEM") or kind.startswith("EXEC"):
            _add(
                out,
                Verdict.DENY,
                "deny.reverse-shell",
                "socat EXEC/SYSTEM attaches a program to a socket.",
                inv,
            )
            return
    for addr, kind, rest in kinds:
        if "LISTEN" in kind:
            _add(out, Verdict.APPROVE, "approve.listen", "Opening a listening socket needs approval.", inv)
        elif kind.startswith(("TCP", "UDP", "SCTP", "OPENSSL", "SOCKS", "PROXY", "DCCP")) and rest:
            host = rest.split(":", 1)[0] if not rest.startswith("[") else rest[1 : rest.find("]")]
            destination("socat", Word(host, "1" * len(host), addr.static), False, inv, ctx, out)
