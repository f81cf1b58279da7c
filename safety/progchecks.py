"""Checks that need to understand one program's arguments: paths, recursion, signals, devices.

Declarative rules (`default_policy.yaml`) cover "this program with these options"; what is here
needs logic: which argument is a path and where it points, which PID a `kill` hits, whether an awk
program shells out. Network clients are in `safety.netchecks`, code runners in `safety.codechecks`.
"""

from __future__ import annotations

import re

from safety import harmchecks
from safety.argspec import parse_args
from safety.decision import Verdict
from safety.netchecks import check_network
from safety.paths import is_socket_path, word_path
from safety.shellctx import Analysis, Context, Invocation, run_nested
from safety.shellwords import DYN, Word

# Programs that read directories recursively, and the options that make them do so (None: always).
_RECURSIVE_READERS: dict[str, tuple[str, ...] | None] = {
    "grep": ("-r", "-R", "--recursive", "--dereference-recursive"),
    "egrep": ("-r", "-R", "--recursive"),
    "fgrep": ("-r", "-R", "--recursive"),
    "zgrep": ("-r", "-R", "--recursive"),
    "rg": None,
    "ag": None,
    "tar": None,
    "zip": ("-r", "--recurse-paths"),
    "cp": ("-r", "-R", "-a", "--recursive", "--archive"),
    "scp": ("-r",),
    "rsync": ("-r", "-a", "--recursive", "--archive"),
}
_KV_ARG = re.compile(r"[A-Za-z][\w-]*=")
_SIGNAL = re.compile(r"-(\d+|[A-Za-z][A-Za-z0-9+-]*)\Z")

# awk: system(), pipes to or from commands, output redirection in print.
_AWK_SYSTEM = re.compile(r"\bsystem\s*\(\s*(?:\"((?:\\.|[^\"])*)\")?")
_AWK_IO = re.compile(r"\|\s*getline|\bprintf?\b[^;{}\n]*[>|]|\bgetline\s*<|\bclose\s*\(|\bfflush\s*\(\s*\"")
# sed: the e/w/W/r/R commands and the e/w flags of s///.
_SED_CMD = re.compile(
    r"(?:^|[;\n{}])\s*(?:[0-9$]+|/(?:\\.|[^/])*/)?(?:\s*,\s*(?:[0-9$]+|/(?:\\.|[^/])*/))?\s*!?\s*[ewWrR](?:\s|$)"
)
_SED_SUBST = re.compile(r"s(.)(?:\\.|(?!\1).)*\1(?:\\.|(?!\1).)*\1[gpiIMm0-9]*[ew]")


def _add(out: Analysis, verdict: Verdict, rule: str, reason: str, inv: Invocation) -> None:
    out.add(verdict, rule, reason, inv.text)


def check_program(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    """Every built-in argument check that applies to `program`."""
    _recursive_destroy(program, inv, ctx, out)
    _kill(program, inv, ctx, out)
    _device_writers(program, inv, ctx, out)
    check_network(program, inv, ctx, out)
    _path_args(program, inv, ctx, out)
    _recursive_read(program, inv, ctx, out)
    _awk_sed(program, inv, ctx, out)
    harmchecks.check_program(program, inv, ctx, out)


def _candidates(word: Word) -> list[Word]:
    out = [word]
    v = word.value
    m = _KV_ARG.match(v.lstrip("-"))
    if m:  # --file=/etc/shadow, dd if=/dev/sda
        cut = len(v) - len(v.lstrip("-")) + m.end()
        out.append(Word(v[cut:], word.active[cut:], word.static))
    return out


def _path_args(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    metadata_only = program in ctx.policy.paths.metadata_only_programs
    for word in inv.words[1:]:
        for cand in _candidates(word):
            if is_socket_path(cand.value):
                _add(
                    out,
                    Verdict.DENY,
                    "deny.reverse-shell",
                    "/dev/tcp and /dev/udp open network connections (reverse shell or exfiltration).",
                    inv,
                )
                return
            if not metadata_only and ctx.paths.reads_credentials(cand, inv.cwd):
                _add(
                    out,
                    Verdict.DENY,
                    "deny.read-credentials",
                    f"{cand.value.replace(DYN, '…')} is a credential file: reading it is never allowed.",
                    inv,
                )
                return


def _recursive_read(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    if program not in _RECURSIVE_READERS:
        return
    opts = _RECURSIVE_READERS[program]
    args = parse_args(inv.words[1:], {"-e", "-f", "-m", "-A", "-B", "-C", "--exclude", "--include"})
    if opts is not None and not args.has(*opts):
        return
    targets = (
        args.positionals[1:]
        if program in ("grep", "egrep", "fgrep", "zgrep", "rg", "ag")
        else args.positionals
    )
    if program in ("rg", "ag") and len(args.positionals) <= 1:
        targets = [Word(".", "1", True)]
    for t in targets:
        if ctx.paths.holds_credentials(word_path(t, inv.cwd)):
            _add(
                out,
                Verdict.APPROVE,
                "approve.recursive-read",
                f"Reading {t.value.replace(DYN, '…')} recursively would include credential files.",
                inv,
            )
            return


def _recursive_destroy(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    options = ctx.policy.recursive_destroyers.get(program)
    if options is None:
        return
    args = parse_args(inv.words[1:], {"--reference", "--from"})
    if args.has("--no-preserve-root"):
        _add(out, Verdict.DENY, "deny.recursive-protected", "--no-preserve-root exists to delete /.", inv)
        return
    if not args.has(*options):
        return
    targets = args.positionals[1:] if program in ("chmod", "chown", "chgrp", "chattr") else args.positionals
    if program == "setfacl":
        targets = args.positionals
    if inv.unknown_args:
        _add(
            out,
            Verdict.DENY,
            "deny.recursive-dynamic",
            f"Recursive {program} on paths only known at run time.",
            inv,
        )
        return
    for t in targets:
        if not t.static:
            _add(
                out,
                Verdict.DENY,
                "deny.recursive-dynamic",
                f"Recursive {program} on a path only known at run time.",
                inv,
            )
            return
        path = word_path(t, inv.cwd)
        if ctx.paths.is_protected(path) or (t.glob and ctx.paths.glob_hits_protected(path)):
            _add(
                out,
                Verdict.DENY,
                "deny.recursive-protected",
                f"Recursive {program} of {t.value} would destroy a system or home directory.",
                inv,
            )
            return


def _kill(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    policy = ctx.policy
    words = [w.value for w in inv.words[1:]]
    if program in policy.kill_programs:
        pids: list[str] = []
        signal_seen = False
        i = 0
        while i < len(words):
            v = words[i]
            if v == "--":
                pids.extend(words[i + 1 :])
                break
            if v in ("-l", "-L", "--list", "--table"):
                return
            if v in ("-s", "-n", "--signal"):
                i += 2
                signal_seen = True
                continue
            if not signal_seen and _SIGNAL.match(v):
                signal_seen = True
            else:
                pids.append(v)
            i += 1
        if any(_as_int(p) in (1, -1) for p in pids):
            _add(
                out,
                Verdict.DENY,
                "deny.kill-init-or-all",
                "Killing PID 1 or every process (-1) takes the host down.",
                inv,
            )
        return
    if program in policy.pattern_kill_programs:
        args = parse_args(
            inv.words[1:],
            {
                "-u",
                "-U",
                "--euid",
                "--uid",
                "-g",
                "-G",
                "-P",
                "-s",
                "--signal",
                "-t",
                "-n",
                "-F",
                "--pidfile",
                "--ns",
                "--nslist",
            },
        )
        users = [w.value for w in args.value_of("-u", "-U", "--euid", "--uid", "--user")]
        regex_mode = program == "pkill" or args.has("-r", "--regexp")
        patterns = [w.value for w in args.positionals]
        everything = any(_matches_everything(p) for p in patterns) if regex_mode else False
        if everything or (not patterns and any(u in ("root", "0") for u in users)):
            _add(out, Verdict.DENY, "deny.kill-init-or-all", f"{program} would match every process.", inv)


def _as_int(value: str) -> int | None:
    try:
        return int(value, 10)
    except ValueError:
        return None


def _matches_everything(pattern: str) -> bool:
    try:
        return re.search(pattern, "") is not None or re.fullmatch(pattern, "x") is not None
    except re.error:
        return False


def _awk_sed(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    if program in ctx.policy.awk_programs:
        args = parse_args(
            inv.words[1:],
            {
                "-F",
                "-v",
                "-f",
                "-i",
                "-l",
                "-E",
                "--file",
                "--include",
                "--assign",
                "--field-separator",
                "--load",
            },
        )
        if args.has("-f", "--file", "-E"):
            _add(out, Verdict.APPROVE, "approve.awk-program-file", "awk program files are not checked.", inv)
            return
        if any(w.value == "inplace" for w in args.value_of("-i", "--include")):
            _add(out, Verdict.APPROVE, "approve.file-change", "awk -i inplace edits files.", inv)
        if not args.positionals:
            return
        prog = args.positionals[0]
        if not prog.static:
            _add(out, Verdict.APPROVE, "approve.awk-dynamic", "awk program only known at run time.", inv)
            return
        for m in _AWK_SYSTEM.finditer(prog.value):
            _add(out, Verdict.APPROVE, "approve.awk-exec", "awk system() runs commands.", inv)
            if m.group(1):
                run_nested(m.group(1).replace('\\"', '"'), inv, ctx, out, None)
        if _AWK_IO.search(prog.value):
            _add(out, Verdict.APPROVE, "approve.awk-exec", "awk pipes or writes files.", inv)
    elif program in ctx.policy.sed_programs:
        args = parse_args(inv.words[1:], {"-e", "--expression", "-f", "--file", "-l", "--line-length"})
        if args.has("-i", "--in-place") or any(o.startswith("--in-place") for o in args.option_words):
            _add(out, Verdict.APPROVE, "approve.file-change", "sed -i edits files in place.", inv)
        if args.has("-f", "--file"):
            _add(out, Verdict.APPROVE, "approve.sed-script-file", "sed script files are not checked.", inv)
        scripts = args.value_of("-e", "--expression") or args.positionals[:1]
        for s in scripts:
            if not s.static or _SED_CMD.search(s.value) or _SED_SUBST.search(s.value):
                _add(
                    out,
                    Verdict.APPROVE,
                    "approve.sed-exec",
                    "sed e/w/r commands run programs or touch files.",
                    inv,
                )
                return


_DELETERS = {"rm", "unlink"}
_OUTPUT_OPTIONS = {
    "curl": ("-o", "--output"),
    "wget": ("-O", "--output-document", "-o", "--output-file", "-a", "--append-output"),
}


def _device_writers(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    paths = ctx.paths
    targets: list[Word] = []
    if program in _OUTPUT_OPTIONS:
        opts = _OUTPUT_OPTIONS[program]
        spec = ctx.policy.network.get(program)
        values = set(spec.value_options) if spec else set()
        for t in parse_args(inv.words[1:], values | set(opts)).value_of(*opts):
            if t.value != "-" and not paths.is_harmless_write(word_path(t, inv.cwd)):
                targets.append(t)
                _add(out, Verdict.APPROVE, "approve.file-change", f"{program} writes {t.value}.", inv)
    elif program == "dd":
        targets = [c for w in inv.words[1:] if w.value.startswith("of=") for c in _candidates(w)[1:]]
    elif program in ctx.policy.device_writers:
        pos = parse_args(
            inv.words[1:],
            {
                "-s",
                "--size",
                "-t",
                "--target-directory",
                "-S",
                "--suffix",
                "-m",
                "--mode",
                "-o",
                "--owner",
                "-g",
                "--group",
            },
        ).positionals
        last_only = program in ("cp", "mv", "install", "rsync", "ddrescue", "ln")
        targets = pos[-1:] if last_only else pos
    if program in _DELETERS:
        targets = parse_args(inv.words[1:]).positionals
    for t in targets:
        path = word_path(t, inv.cwd)
        if program in _DELETERS:
            if t.static and paths.is_critical(path):
                _add(
                    out, Verdict.DENY, "deny.critical-file-write", f"Deleting {t.value} breaks the host.", inv
                )
            continue
        if not t.static and program == "dd":
            _add(out, Verdict.DENY, "deny.dynamic-write", "dd to an output only known at run time.", inv)
        elif paths.is_block_device(path):
            _add(
                out, Verdict.DENY, "deny.device-write", f"Writing to {t.value} destroys the disk's data.", inv
            )
        elif paths.is_critical(path):
            _add(
                out, Verdict.DENY, "deny.critical-file-write", f"Overwriting {t.value} breaks the host.", inv
            )
