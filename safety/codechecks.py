"""Commands that run code: shells, `source`, interpreters, `find -exec`, wrappers without a command.

Code given inline is parsed (shell) or scanned (other languages) and never trusted; code read from a
pipe or a process substitution is unknown and denied: that is how downloaded or decoded scripts run.
"""

from __future__ import annotations

import re
import shlex

from safety.argspec import parse_args
from safety.decision import Verdict
from safety.netchecks import destination
from safety.paths import is_socket_path, normalize, word_path
from safety.shellctx import Analysis, Context, Invocation, analyze_invocation, run_nested
from safety.shellwords import DYN, Word

# find predicates that narrow what -delete removes.
FIND_FILTERS = {
    "-name",
    "-iname",
    "-path",
    "-ipath",
    "-regex",
    "-iregex",
    "-wholename",
    "-iwholename",
    "-lname",
}

# Inline code (python -c, perl -e...): what makes it hostile.
_SHELL_CALL = re.compile(
    r"\b(?:system|popen|exec[lv]?p?e?|execSync|spawnSync|spawn|check_output|check_call|getoutput|"
    r"getstatusoutput|run|call|Popen|shell_exec|passthru|proc_open)\s*\(?\s*"
    r"(?:\[(?P<list>[^\]]*)\]|(?P<q>[\"'])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q))"
)
_BACKTICK = re.compile(r"`([^`]+)`")
_QUOTED = re.compile(r"([\"'])((?:\\.|(?!\1).)*)\1")
_SOCKET = re.compile(
    r"socket|TCPSocket|IO::Socket|fsockopen|net\.connect|net\.Socket|createConnection|/dev/tcp"
)
_SPAWN = re.compile(
    r"subprocess|pty\.spawn|dup2|os\.exec|/bin/(ba|z|k|da)?sh\b|\bspawn|\bexec\b|system\s*\(|popen|"
    r"child_process|proc_open|IO\.popen|\bsh\b|cmd\.exe"
)
_DECODE = re.compile(
    r"b64decode|base64|fromhex|unhexlify|zlib|marshal\.loads|codecs\.decode|rot13|atob\s*\(|Buffer\.from|"
    r"\bunpack\s*\(|decode\(['\"]hex"
)
_EXEC = re.compile(
    r"\bexec\s*\(|\beval\s*\(|\bcompile\s*\(|system\s*\(|popen|subprocess|child_process|Function\s*\("
)
# Library calls that delete trees: with a protected path anywhere in the code, deny.
_RMTREE = re.compile(r"rmtree|rm_rf|rm_r\b|rimraf|rmSync|remove_dir_all|File::Path|rmdir\s*\(.*recursive")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)\]]+")
_PATH_TOKEN = re.compile(r"(?<![\w.])(?:~|/)[\w.@%+=:,/~*?-]+")


def _add(out: Analysis, verdict: Verdict, rule: str, reason: str, inv: Invocation) -> None:
    out.add(verdict, rule, reason, inv.text)


def scan_code(code: str, program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    """Inline interpreter code: embedded shell commands, credential paths, sockets, URLs."""
    for m in _SHELL_CALL.finditer(code):
        if m.group("list") is not None:
            parts = [q[1] for q in _QUOTED.findall(m.group("list"))]
            if parts:
                run_nested(shlex.join(parts), inv, ctx, out, None)
        elif m.group("s"):
            run_nested(m.group("s").encode().decode("unicode_escape", "replace"), inv, ctx, out, None)
    for m in _BACKTICK.finditer(code):
        run_nested(m.group(1), inv, ctx, out, None)
    for token in _PATH_TOKEN.findall(code):
        token = token.rstrip(",:")
        if (
            is_socket_path(token)
            or ctx.paths.is_credential(normalize(token))
            or (any(c in token for c in "*?") and ctx.paths.glob_may_be_credential(normalize(token)))
        ):
            _add(
                out,
                Verdict.DENY,
                "deny.read-credentials" if not is_socket_path(token) else "deny.reverse-shell",
                f"{program} code touches {token}.",
                inv,
            )
            break
    if _RMTREE.search(code) and any(
        ctx.paths.is_protected(normalize(t.rstrip(",:"))) for t in _PATH_TOKEN.findall(code)
    ):
        _add(
            out,
            Verdict.DENY,
            "deny.recursive-protected",
            f"{program} code deletes a system or home directory.",
            inv,
        )
    if _SOCKET.search(code) and _SPAWN.search(code):
        _add(out, Verdict.DENY, "deny.reverse-shell", f"{program} code connects a socket to a process.", inv)
    if _DECODE.search(code) and _EXEC.search(code):
        _add(out, Verdict.DENY, "deny.decoded-code", f"{program} code runs decoded or hidden code.", inv)
    for url in _URL.findall(code):
        destination(program, Word(url, "0" * len(url), True), False, inv, ctx, out)


def run_stdin_code(program: str, inv: Invocation, ctx: Context, out: Analysis, shell: bool) -> None:
    """A shell or interpreter reading its program from standard input."""
    src = inv.stdin
    if src is None:
        _add(out, Verdict.APPROVE, "approve.interactive", f"{program} without a script waits for input.", inv)
    elif src.kind == "file":
        _add(
            out,
            Verdict.APPROVE,
            "approve.script-file",
            f"{program} runs a script file that is not checked.",
            inv,
        )
    elif src.text is None:
        _add(
            out,
            Verdict.DENY,
            "deny.pipe-to-shell",
            f"{program} would run code produced by another command "
            "(downloaded or decoded scripts are never run).",
            inv,
        )
    elif shell:
        run_nested(src.text, inv, ctx, out, None)
    else:
        scan_code(src.text, program, inv, ctx, out)
        _add(out, Verdict.APPROVE, "approve.inline-code", f"{program} code needs approval.", inv)


def _script_arg(
    program: str, script: Word, inv: Invocation, ctx: Context, out: Analysis, shell: bool
) -> None:
    if script.value in ("-", "/dev/stdin", "/proc/self/fd/0", "/dev/fd/0"):
        run_stdin_code(program, inv, ctx, out, shell)
    elif not script.static:
        _add(
            out,
            Verdict.DENY,
            "deny.remote-code",
            f"{program} would run a script produced at run time (process substitution, downloads).",
            inv,
        )
    else:
        _add(
            out,
            Verdict.APPROVE,
            "approve.script-file",
            f"{program} runs {script.value}, which is not checked.",
            inv,
        )


def run_shell(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    args = inv.words[1:]
    value_opts = set(ctx.policy.shell_value_options)
    command_mode = stdin_mode = False
    i = 0
    while i < len(args):
        v = args[i].value
        if v == "--" or v == "-":
            i += 1
            break
        if v in value_opts:
            i += 2
            continue
        if v.startswith("--"):
            i += 1
            continue
        if len(v) > 1 and v[0] in "-+" and not v.startswith(DYN):
            letters = v[1:]
            command_mode = command_mode or (v[0] == "-" and "c" in letters)
            stdin_mode = stdin_mode or "s" in letters
            i += 2 if ("o" in letters or "O" in letters) else 1
            continue
        break
    rest = args[i:]
    if command_mode:
        if not rest:
            return
        if not rest[0].static:
            _add(
                out, Verdict.DENY, "deny.dynamic-script", f"{program} -c of text only known at run time.", inv
            )
            return
        run_nested(rest[0].value, inv, ctx, out, inv.stdin)
    elif rest and not stdin_mode:
        _script_arg(program, rest[0], inv, ctx, out, shell=True)
    else:
        run_stdin_code(program, inv, ctx, out, shell=True)


def run_source(inv: Invocation, ctx: Context, out: Analysis) -> None:
    args = inv.words[1:]
    if args:
        _script_arg(inv.words[0].value, args[0], inv, ctx, out, shell=True)


def run_interpreter(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    spec = ctx.policy.interpreter_for(program)
    assert spec is not None
    args = parse_args(inv.words[1:], set(spec.value_options) | set(spec.code_options))
    codes = args.value_of(*spec.code_options)
    if codes:
        for code in codes:
            if not code.static:
                _add(
                    out,
                    Verdict.DENY,
                    "deny.dynamic-script",
                    f"{program} runs code only known at run time.",
                    inv,
                )
            else:
                scan_code(code.value, program, inv, ctx, out)
        _add(out, Verdict.APPROVE, "approve.inline-code", f"Inline {program} code needs approval.", inv)
    elif args.has("-m"):
        _add(
            out,
            Verdict.APPROVE,
            "approve.script-file",
            f"{program} -m runs a module that is not checked.",
            inv,
        )
    elif args.positionals:
        _script_arg(program, args.positionals[0], inv, ctx, out, shell=False)
    else:
        run_stdin_code(program, inv, ctx, out, shell=False)


def find_exec(inv: Invocation, ctx: Context, out: Analysis) -> None:
    starts, expr = find_parts(inv.words[1:])
    j = 0
    while j < len(expr):
        v = expr[j].value
        if v in ("-exec", "-execdir", "-ok", "-okdir"):
            k = j + 1
            while k < len(expr) and expr[k].value not in (";", "+"):
                k += 1
            _add(
                out,
                Verdict.APPROVE,
                "approve.find-exec",
                "find -exec runs a command on files found at run time.",
                inv,
            )
            inner = expr[j + 1 : k]
            # `-exec rm {} +` is `-delete` spelled out: the same floor applies.
            if inner and normalize(inner[0].value).rsplit("/", 1)[-1] in FILE_DESTROYERS:
                _deny_emptying(starts, expr, inv, ctx, out, f"find -exec {inner[0].value}")
            analyze_invocation(Invocation(inner, None, inv.depth + 1, inv.cwd, True), ctx, out)
            j = k + 1
            continue
        if v == "-delete":
            _deny_emptying(starts, expr, inv, ctx, out, "find -delete")
            _add(out, Verdict.APPROVE, "approve.file-change", "find -delete removes files.", inv)
        elif v in ("-fprint", "-fprint0", "-fprintf", "-fls"):
            _add(out, Verdict.APPROVE, "approve.file-change", "find writes its output to a file.", inv)
        j += 1


# Programs that destroy the files they are given (run by find -exec, xargs or a loop).
FILE_DESTROYERS = frozenset({"rm", "unlink", "shred", "truncate", "wipe", "srm"})


def empties_protected(starts: list[Word], expr: list[Word], cwd: str | None, ctx: Context) -> Word | None:
    """The start path of a find that lists every file of a protected tree (no name filter), if any."""
    named = any(w.value in FIND_FILTERS for w in expr)
    for s in starts or [Word(".", "1", True)]:
        path = word_path(s, cwd)
        risky = (
            not s.static or ctx.paths.is_protected(path) or (s.glob and ctx.paths.glob_hits_protected(path))
        )
        if risky and (not named or path in ("/", "~", ".") or not s.static):
            return s
    return None


def _deny_emptying(
    starts: list[Word], expr: list[Word], inv: Invocation, ctx: Context, out: Analysis, what: str
) -> None:
    s = empties_protected(starts, expr, inv.cwd, ctx)
    if s is not None:
        _add(
            out,
            Verdict.DENY,
            "deny.recursive-protected",
            f"{what} under {s.value.replace(DYN, '…')} would empty a system directory.",
            inv,
        )


def find_parts(words: list[Word]) -> tuple[list[Word], list[Word]]:
    """(start paths, expression) of a find command's arguments."""
    i = 0
    while i < len(words) and words[i].value in ("-H", "-L", "-P", "-D", "-O"):
        i += 2 if words[i].value == "-D" else 1
    starts: list[Word] = []
    while i < len(words) and not words[i].value.startswith(("-", "(", "!", ")")):
        starts.append(words[i])
        i += 1
    return starts, words[i:]


def bare_wrapper(program: str, inv: Invocation, out: Analysis) -> None:
    """A wrapper given no command: some open a shell, env prints the environment."""
    if program in ("sudo", "doas", "su", "runuser", "sg", "nsenter", "chroot", "script", "machinectl"):
        _add(out, Verdict.APPROVE, "approve.interactive", f"{program} without a command opens a shell.", inv)
    elif program == "env":
        _add(
            out,
            Verdict.APPROVE,
            "approve.environment-print",
            "Printing the environment can expose credentials.",
            inv,
        )
