"""The catastrophic floor: calls denied outright for what they would destroy, however they are spelled.

An approval is one tired click away from running. For a call that would lock every operator out,
panic the kernel, install remote code on a schedule, move the system tree or empty it, one click is
too few: these are denied, and `harm_of()` names the class of damage for `halops safety explain`.
Ordinary changes of the same programs (a firewall rule for one port, `vm.swappiness`, a cron job
that runs a local script, `mv` of a config file) still go to approval.

Checks that see one command are `check_program`; those that need the whole line (what a pipeline
feeds `crontab -`, which paths a loop walks) are `check_script`.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from safety.argspec import parse_args
from safety.codechecks import FILE_DESTROYERS, empties_protected, find_parts
from safety.decision import Verdict
from safety.paths import glob_match, normalize, word_path
from safety.shellctx import Analysis, Context, Invocation, analyze_invocation, run_nested
from safety.shellparse import Script, SimpleCommand
from safety.shellwords import DYN, Word

if TYPE_CHECKING:
    from safety.policy import Policy

# Harm classes: what a denied call would have destroyed.
HARMS: dict[str, str] = {
    "data": "destroys stored data (disks, filesystems, databases, whole directory trees)",
    "firewall": "opens the host to every network, or locks every operator out",
    "kernel": "panics, hangs or starves the running kernel",
    "persistence": "installs code fetched from elsewhere to run again on a schedule",
    "system-tree": "moves, replaces or disables the system directories and programs everything runs on",
    "system-files": "breaks files the host needs to boot or to let anyone log in",
    "processes": "kills every process on the host",
    "credentials": "exposes secrets",
    "exfiltration": "sends data or a shell to a host outside the inventory",
    "hidden-code": "runs code that cannot be checked before it runs",
}
# Built-in (code) rules and shipped declarative rules without a `harm:` of their own.
_RULE_HARM: dict[str, str] = {
    "deny.recursive-protected": "data",
    "deny.recursive-dynamic": "data",
    "deny.device-write": "data",
    "deny.dynamic-write": "data",
    "deny.git-clean-system": "data",
    "deny.critical-file-write": "system-files",
    "deny.kernel-critical": "kernel",
    "deny.scheduled-remote-code": "persistence",
    "deny.scheduled-harm": "persistence",
    "deny.system-tree-move": "system-tree",
    "deny.system-tree-perms": "system-tree",
    "deny.firewall-default-deny": "firewall",
    "deny.kill-init-or-all": "processes",
    "deny.kill-everything": "processes",
    "deny.fork-bomb": "processes",
    "deny.read-credentials": "credentials",
    "deny.reverse-shell": "exfiltration",
    "deny.network-outside-inventory": "exfiltration",
    "deny.dynamic-destination": "exfiltration",
    "deny.blocked-address": "exfiltration",
    "deny.pipe-to-shell": "hidden-code",
    "deny.remote-code": "hidden-code",
    "deny.dynamic-script": "hidden-code",
    "deny.decoded-code": "hidden-code",
    "deny.dynamic-command": "hidden-code",
}
_RULE_PREFIX_HARM = (("deny.firewall", "firewall"), ("deny.nft", "firewall"), ("deny.ufw", "firewall"))
# Nested denials that mean "runs code fetched or built at run time".
_REMOTE_RULES = frozenset(
    {
        "deny.pipe-to-shell",
        "deny.remote-code",
        "deny.dynamic-script",
        "deny.decoded-code",
        "deny.reverse-shell",
        "deny.network-outside-inventory",
        "deny.dynamic-destination",
        "deny.dynamic-command",
    }
)


def harm_of(rule: str, policy: Policy) -> str | None:
    """The harm class of a deny rule, or None when the rule is not about damage (parse errors...)."""
    for r in policy.rules_in_force:
        if r.id == rule and r.harm:
            return r.harm
    if rule in _RULE_HARM:
        return _RULE_HARM[rule]
    for prefix, harm in _RULE_PREFIX_HARM:
        if rule.startswith(prefix):
            return harm
    return "data" if rule.startswith("deny.") and _declared_data_rule(rule, policy) else None


def _declared_data_rule(rule: str, policy: Policy) -> bool:
    """The shipped catastrophic rules above the approve section destroy data unless named otherwise."""
    return any(r.id == rule and r.verdict == Verdict.DENY for r in policy.rules_in_force)


def _add(out: Analysis, rule: str, reason: str, inv: Invocation) -> None:
    out.add(Verdict.DENY, rule, reason, inv.text)


# ------------------------------------------------------------------------------ one command


def check_program(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    if program == "sysctl":
        _sysctl(inv, ctx, out)
    elif program in ("iptables", "ip6tables") or program.startswith(("iptables-", "ip6tables-")):
        _firewall_catch_all(program, inv, out)
    elif program in ("mv", "rename", "prename", "file-rename"):
        _move(program, inv, ctx, out)
        _replace_tree(program, inv, ctx, out)
    elif program in ("ln", "cp"):
        _replace_tree(program, inv, ctx, out)
    elif program == "nft":
        _nft_script(inv, ctx, out)
    elif program in ("chmod", "chown", "chgrp", "chattr"):
        _perms(program, inv, ctx, out)
    elif program == "rsync":
        _rsync_delete(inv, ctx, out)
    elif program == "git":
        _git_clean(inv, ctx, out)
    elif program in ("curl", "wget"):
        _download_to_schedule(program, inv, ctx, out)


def _sysctl(inv: Invocation, ctx: Context, out: Analysis) -> None:
    args = parse_args(inv.words[1:], {"-p", "--load", "-r", "--pattern"})
    for w in args.positionals:
        key, eq, value = w.value.partition("=")
        if eq and ctx.paths.sysctl_is_critical(key, value.replace(DYN, "*")):
            _add(
                out, "deny.kernel-critical", f"Setting {key.strip()} can panic, hang or starve the host.", inv
            )
            return


_MATCH_OPTIONS = frozenset(
    {
        "-s",
        "--source",
        "--src",
        "-d",
        "--destination",
        "--dst",
        "-p",
        "--protocol",
        "-i",
        "--in-interface",
        "-o",
        "--out-interface",
        "-m",
        "--match",
        "--dport",
        "--sport",
        "-f",
        "--fragment",
        "--uid-owner",
    }
)


def _firewall_catch_all(program: str, inv: Invocation, out: Analysis) -> None:
    """`-I INPUT -j DROP`: a drop-everything rule first in a built-in chain is a default-deny."""
    words = [w.value for w in inv.words[1:]]
    args = parse_args(inv.words[1:], {"-t", "--table", "-j", "--jump", "-I", "--insert", "-R", "--replace"})
    targets = {w.value.upper() for w in args.value_of("-j", "--jump")}
    chains = {w.value.upper() for w in args.value_of("-I", "--insert", "-R", "--replace")}
    if not (targets & {"DROP", "REJECT"}) or not (chains & {"INPUT", "OUTPUT", "FORWARD"}):
        return
    if any(w.split("=", 1)[0] in _MATCH_OPTIONS or w.startswith("!") for w in words):
        return
    _add(
        out,
        "deny.firewall-default-deny",
        f"{program}: a rule dropping everything first cuts every connection.",
        inv,
    )


def _move(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    pos = parse_args(inv.words[1:], {"-t", "--target-directory", "-S", "--suffix"}).positionals
    sources = pos[:-1] if program == "mv" else pos[1:]
    for s in sources:
        path = word_path(s, inv.cwd)
        if (s.static and ctx.paths.is_system(path)) or (s.glob and ctx.paths.glob_hits_system(path)):
            _add(out, "deny.system-tree-move", f"Moving {s.value} breaks every program that needs it.", inv)
            return


def _replace_tree(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    """`ln -sfn x /usr/lib`, `mv -T x /etc`: the system path itself is replaced, not written into."""
    args = parse_args(inv.words[1:], {"-t", "--target-directory", "-S", "--suffix"})
    if not args.has("-T", "--no-target-directory", "-n", "--no-dereference") or not args.positionals:
        return
    target = args.positionals[-1]
    if target.static and ctx.paths.is_system(word_path(target, inv.cwd)):
        _add(out, "deny.system-tree-move", f"{program} would replace {target.value} itself.", inv)


def _nft_script(inv: Invocation, ctx: Context, out: Analysis) -> None:
    """nft joins its arguments into one command (`nft 'flush ruleset'`) and `nft -f -` reads
    commands from stdin: each such command is judged as if its words had been given one by one."""
    args = parse_args(inv.words[1:], {"-f", "--file", "-I", "--includepath"})
    commands = (
        [" ".join(w.value for w in args.positionals)] if any(" " in w.value for w in args.positionals) else []
    )
    files = [w.value for w in args.value_of("-f", "--file")]
    if any(f in ("-", "/dev/stdin") for f in files) and inv.stdin is not None and inv.stdin.text is not None:
        commands += [
            ln for ln in inv.stdin.text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
        ]
    for command in commands:
        words = [inv.words[0]] + [Word(t, "0" * len(t), True) for t in command.split()]
        analyze_invocation(Invocation(words, None, inv.depth + 1, inv.cwd, inv.unknown_args), ctx, out)


def _perms(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    args = parse_args(inv.words[1:], {"--reference", "--from"})
    # The mode or owner is never a path; `-x` in `chmod -x /bin/bash` parses as an option.
    for t in [p for p in args.positionals if p.value.startswith(("/", "~", "."))]:
        path = word_path(t, inv.cwd)
        if (t.static and ctx.paths.is_system(path)) or (t.glob and ctx.paths.glob_hits_system(path)):
            _add(
                out,
                "deny.system-tree-perms",
                f"{program} on {t.value} can disable the host's programs or logins.",
                inv,
            )
            return


def _rsync_delete(inv: Invocation, ctx: Context, out: Analysis) -> None:
    spec = ctx.policy.network.get("rsync")
    args = parse_args(inv.words[1:], set(spec.value_options) if spec else set())
    deleting = any(
        o.startswith("--delete") or o == "--del" or o == "--remove-source-files" for o in args.option_words
    )
    if not deleting or len(args.positionals) < 2:
        return
    dest = args.positionals[-1]
    path = word_path(dest, inv.cwd)
    if not dest.static or ctx.paths.is_system(path):
        _add(
            out,
            "deny.recursive-protected",
            f"rsync --delete into {dest.value} empties a system directory.",
            inv,
        )


def _git_clean(inv: Invocation, ctx: Context, out: Analysis) -> None:
    words = inv.words[1:]
    where: str | None = inv.cwd
    i = 0
    while i < len(words) and words[i].value.startswith("-"):
        v = words[i].value
        if v in ("-C", "--work-tree", "--git-dir", "-c") and i + 1 < len(words):
            if v in ("-C", "--work-tree"):
                where = word_path(words[i + 1], where) if words[i + 1].static else None
            i += 2
            continue
        if v.startswith("--work-tree="):
            where = normalize(v.split("=", 1)[1], where)
        i += 1
    if i >= len(words) or words[i].value != "clean":
        return
    args = parse_args(words[i + 1 :], {"-e", "--exclude"})
    if not args.has("-f", "--force") or not args.has("-d", "-x", "-X"):
        return
    paths = [word_path(p, where) for p in args.positionals if p.static] or ([where] if where else [])
    if any(ctx.paths.is_system(p) for p in paths):
        _add(
            out,
            "deny.git-clean-system",
            "git clean -d/-x of a system directory deletes everything git does not track.",
            inv,
        )


def _download_to_schedule(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    opts = ("-o", "--output") if program == "curl" else ("-O", "--output-document")
    spec = ctx.policy.network.get(program)
    values = (set(spec.value_options) if spec else set()) | set(opts)
    for t in parse_args(inv.words[1:], values).value_of(*opts):
        if _is_schedule(ctx, word_path(t, inv.cwd)):
            _add(
                out,
                "deny.scheduled-remote-code",
                f"{program} would install downloaded code as a scheduled job.",
                inv,
            )
            return


# ------------------------------------------------------------------------------ the whole line

_CRON_FIELD = re.compile(r"[0-9*/,\-A-Za-z?LW#]+\Z")
_CRON_SPECIAL = re.compile(r"@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)\Z", re.IGNORECASE)
_ENV_LINE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*=")


def _is_schedule(ctx: Context, path: str) -> bool:
    return any(glob_match(path, g) for g in ctx.policy.schedule_files)


def _program(cmd: SimpleCommand, policy: Policy) -> tuple[str, list[Word]]:
    """The program a simple command runs past `sudo`-like wrappers (a sink finder, not a parser)."""
    words = cmd.words
    i = 0
    while i < len(words):
        name = posixpath.basename(words[i].value)
        if name in policy.wrappers and name != "xargs" and i + 1 < len(words):
            i += 1
            while i < len(words) and (
                words[i].value.startswith("-") or words[i].value.isdigit() or "=" in words[i].value
            ):
                i += 1
            continue
        return name, words[i + 1 :]
    return "", []


def check_script(script: Script, ctx: Context, out: Analysis, depth: int) -> None:
    _scheduled(script, ctx, out, depth)
    _pipelines_that_empty(script, ctx, out)
    _empty_ruleset(script, ctx, out)


def _scheduled(script: Script, ctx: Context, out: Analysis, depth: int) -> None:
    """Text that ends up in a crontab, cron folder or `at` queue is judged as the commands it runs."""
    sinks: list[tuple[str, bool]] = []  # (what, lines carry a user field)
    fed_at_runtime = False
    for cmd in script.commands:
        prog, args = _program(cmd, ctx.policy)
        for red in cmd.redirects:
            if red.kind == "write" and red.target is not None:
                path = word_path(red.target, None)
                if _is_schedule(ctx, path):
                    sinks.append((path, path.startswith(("/etc/crontab", "/etc/cron.d"))))
        if prog == "tee":
            for t in parse_args(args).positionals:
                path = word_path(t, None)
                if _is_schedule(ctx, path):
                    sinks.append((path, path.startswith(("/etc/crontab", "/etc/cron.d"))))
                    fed_at_runtime |= cmd.stdin is not None and cmd.stdin.text is None
        elif prog in ("crontab", "at", "batch"):
            parsed = parse_args(args, {"-u", "-f", "-q", "-t"})
            reading = not parsed.has("-l", "-r", "-e", "-f", "-c", "-d", "-q", "-i") or parsed.has("-u")
            if prog == "crontab" and (
                parsed.has("-l", "-r", "-e", "-i") or any(p.value != "-" for p in parsed.positionals)
            ):
                reading = False
            if prog != "crontab" and parsed.has("-f", "-l", "-c", "-d", "-r"):
                reading = False
            if reading:
                sinks.append((prog, False))
                fed_at_runtime |= cmd.stdin is None or cmd.stdin.text is None
    if not sinks:
        return
    texts = _static_texts(script, ctx)
    shown = sinks[0][0]
    if fed_at_runtime and any(_fetches(c, ctx) for c in script.commands):
        out.add(
            Verdict.DENY,
            "deny.scheduled-remote-code",
            f"{shown} would be fed text downloaded at run time.",
            shown,
        )
        return
    user_field = any(u for _, u in sinks)
    for text in texts:
        for line in text.splitlines():
            for reading in _cron_readings(line.strip(), user_field):
                verdict = _judge(reading, ctx, depth)
                if verdict is not None:
                    rule, why = verdict
                    out.add(Verdict.DENY, rule, f"{shown} would schedule: {why}", shown)
                    return


def _static_texts(script: Script, ctx: Context) -> list[str]:
    out: list[str] = []
    for cmd in script.commands:
        prog, args = _program(cmd, ctx.policy)
        if prog in ("echo", "printf") and all(w.static for w in args):
            text = " ".join(w.value for w in args if not (w.value.startswith("-") and len(w.value) <= 3))
            out.append(text.replace("\\n", "\n"))
        if cmd.stdin is not None and cmd.stdin.text:
            out.append(cmd.stdin.text)
    out.extend(r.body for r in script.redirects if r.kind in ("heredoc", "herestring") and r.body)
    return out


def _cron_readings(line: str, user_field: bool) -> list[str]:
    if not line or line.startswith("#") or _ENV_LINE.match(line):
        return []
    parts = line.split(None, 6)
    if _CRON_SPECIAL.match(parts[0]):
        rest = line.split(None, 1)[1:] or [""]
        head = rest[0]
    elif len(parts) >= 6 and all(_CRON_FIELD.match(p) for p in parts[:5]):
        head = line.split(None, 5)[5]
    else:
        return [line]  # an `at` script or a cron.hourly script: plain commands
    readings = [head]
    if user_field and len(head.split(None, 1)) == 2:
        readings.append(head.split(None, 1)[1])
    return readings


def _judge(command: str, ctx: Context, depth: int) -> tuple[str, str] | None:
    """(rule, reason) when the scheduled command would be denied if run now."""
    sub = Analysis()
    # Through the analyser's entry point on the context, one level below `depth`.
    run_nested(command, Invocation([], None, depth, None), ctx, sub, None)
    denied = [h for h in sub.hits if h.verdict == Verdict.DENY]
    if not denied:
        return None
    remote = next((h for h in denied if h.rule in _REMOTE_RULES), None)
    if remote is not None:
        return "deny.scheduled-remote-code", f"code fetched or built at run time ({remote.reason})"
    return "deny.scheduled-harm", denied[0].reason


def _fetches(cmd: SimpleCommand, ctx: Context) -> bool:
    prog, _ = _program(cmd, ctx.policy)
    spec = ctx.policy.network.get(prog)
    return spec is not None and not spec.diagnostic and prog not in ("ssh", "git")


def _pipelines_that_empty(script: Script, ctx: Context, out: Analysis) -> None:
    """`find /etc | xargs rm`, `for f in /usr/*; do rm "$f"; done`: a deletion fed a system tree."""
    destroyer = None
    for cmd in script.commands:
        prog, args = _program(cmd, ctx.policy)
        if prog == "xargs":
            inner = [posixpath.basename(w.value) for w in args if not w.value.startswith("-")]
            if any(n in FILE_DESTROYERS for n in inner[:3]):
                destroyer = cmd
        elif prog in FILE_DESTROYERS and any(not w.static for w in args):
            destroyer = cmd
    if destroyer is None:
        return
    for cmd in script.commands:
        prog, args = _program(cmd, ctx.policy)
        if prog == "find":
            starts, expr = find_parts(args)
            s = empties_protected(starts, expr, None, ctx)
            if s is not None and not any(w.value in ("-exec", "-execdir", "-delete") for w in expr):
                out.add(
                    Verdict.DENY,
                    "deny.recursive-protected",
                    f"Deletes every file find lists under {s.value}.",
                    destroyer.text,
                )
                return
    for word in script.loop_words:
        path = word_path(word, None)
        if word.static and (
            ctx.paths.is_protected(path) or (word.glob and ctx.paths.glob_hits_protected(path))
        ):
            out.add(
                Verdict.DENY,
                "deny.recursive-protected",
                f"A loop deletes what it finds in {word.value}.",
                destroyer.text,
            )
            return


def _empty_ruleset(script: Script, ctx: Context, out: Analysis) -> None:
    """`iptables-restore < /dev/null` loads an empty ruleset: a flush under another name."""
    for cmd in script.commands:
        prog, args = _program(cmd, ctx.policy)
        if not prog.endswith("tables-restore") or parse_args(args).has("-n", "--noflush", "-t", "--test"):
            continue
        empty = cmd.stdin is not None and cmd.stdin.text is not None and not cmd.stdin.text.strip()
        empty |= any(
            r.kind == "read" and r.target is not None and r.target.value == "/dev/null" for r in cmd.redirects
        )
        if empty:
            out.add(
                Verdict.DENY,
                "deny.firewall-flush",
                "Restoring an empty ruleset flushes the firewall.",
                cmd.text,
            )
            return
