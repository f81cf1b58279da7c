"""Decide a shell command line: every simple command, unwrapped, against the policy.

`analyze()` returns every rule that fired (for `halops safety explain`); the most severe verdict
wins. Commands that run other commands (sudo, env, xargs, `sh -c`, eval, `find -exec`, `docker
exec`, interpreters...) are unwrapped recursively, up to `policy.max_depth`. The types the checks
share with this module are in `safety.shellctx`.
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import replace

from safety import codechecks, harmchecks, progchecks
from safety.argspec import parse_args, rule_matches
from safety.decision import Verdict
from safety.paths import is_socket_path, normalize, word_path
from safety.policy import Wrapper
from safety.shellctx import Analysis, Context, Invocation
from safety.shellparse import Script, SimpleCommand, Stdin, parse
from safety.shellwords import DYN, Word


def analyze(line: str, ctx: Context) -> Analysis:
    # The checks recurse into nested commands through the context (see safety.shellctx).
    ctx = replace(ctx, nested=run_nested, invocation=analyze_invocation)
    out = Analysis()
    out.script = _analyze_line(line, ctx, out, depth=0, stdin=None)
    return out


def _analyze_line(
    line: str, ctx: Context, out: Analysis, depth: int, stdin: Stdin | None, unknown: bool = False
) -> Script | None:
    if depth > ctx.policy.max_depth:
        out.add(Verdict.DENY, "deny.too-deep", "Commands nested this deep are not analysed.", line[:80])
        return None
    script = parse(line)
    if script.error:
        out.add(Verdict.DENY, "deny.unparseable", "The command line does not parse as bash.", line[:80])
        return script
    _script_checks(script, ctx, out)
    harmchecks.check_script(script, ctx, out, depth)
    cwd: str | None = None
    for cmd in script.commands:
        _assignment_checks(cmd.assignments, ctx, out, cmd.text)
        # Under xargs or find -exec the line is completed at run time (`sh -c 'rm -rf {}'`).
        inv = Invocation(cmd.words, cmd.stdin or (stdin if cmd.top_level else None), depth, cwd, unknown)
        analyze_invocation(inv, ctx, out)
        cwd = _next_cwd(cmd, cwd)
    return script


def _next_cwd(cmd: SimpleCommand, cwd: str | None) -> str | None:
    """Track `cd` so later relative paths resolve (`cd /; rm -rf *`)."""
    if not cmd.words or cmd.words[0].value not in ("cd", "pushd", "popd"):
        return cwd
    if not cmd.same_shell or cmd.words[0].value == "popd":
        return None  # `(cd /tmp); rm -rf *` runs rm where we started: unknown
    targets = [w for w in cmd.words[1:] if not w.value.startswith("-")]
    if not targets:
        return "~"
    t = targets[0]
    if not t.static or t.glob or t.value == "-":
        return None
    return word_path(t, cwd)


def _script_checks(script: Script, ctx: Context, out: Analysis) -> None:
    paths = ctx.paths
    for red in script.redirects:
        target = red.target
        if red.kind in ("dup", "heredoc", "herestring") or target is None:
            continue
        if target.source.startswith((">(", "<(")):
            continue  # a process substitution: its command is analysed like any other
        shown = f"{red.op} {target.value}"
        if is_socket_path(target.value):
            out.add(
                Verdict.DENY,
                "deny.reverse-shell",
                "Redirection to /dev/tcp or /dev/udp opens a network "
                "connection (reverse shell or exfiltration).",
                shown,
            )
            continue
        path = word_path(target, None)
        if red.kind == "read":
            if paths.reads_credentials(target, None):
                out.add(
                    Verdict.DENY, "deny.read-credentials", "Reading credential files is never allowed.", shown
                )
            continue
        if not target.static:
            out.add(Verdict.DENY, "deny.dynamic-write", "Writing to a file only known at run time.", shown)
        elif paths.is_block_device(path):
            out.add(
                Verdict.DENY, "deny.device-write", "Writing to a disk or memory device destroys data.", shown
            )
        elif paths.is_critical(path):
            out.add(Verdict.DENY, "deny.critical-file-write", "Overwriting this file breaks the host.", shown)
        elif not paths.is_harmless_write(path):
            out.add(Verdict.APPROVE, "approve.redirect-write", "Writing to files changes the host.", shown)
    _assignment_checks(script.assignments, ctx, out, "")
    for name in script.functions:
        for cmd in script.commands:
            if cmd.function == name and cmd.words and cmd.words[0].value == name:
                out.add(
                    Verdict.DENY, "deny.fork-bomb", f"Function {name!r} calls itself (fork bomb).", cmd.text
                )
                break


def _assignment_checks(assignments: list[tuple[str, Word]], ctx: Context, out: Analysis, text: str) -> None:
    for name, _value in assignments:
        if any(fnmatch.fnmatchcase(name, p) for p in ctx.policy.dangerous_variables):
            out.add(
                Verdict.APPROVE,
                "approve.environment",
                f"Setting {name} changes which programs or code run.",
                text or name,
            )


def analyze_invocation(inv: Invocation, ctx: Context, out: Analysis) -> None:
    if not inv.words:
        return
    out.commands.append("  " * inv.depth + inv.text)
    if inv.depth > ctx.policy.max_depth:
        out.add(Verdict.DENY, "deny.too-deep", "Commands nested this deep are not analysed.", inv.text)
        return
    name = inv.words[0]
    if not name.static or name.glob or DYN in name.value or not name.value:
        out.add(Verdict.DENY, "deny.dynamic-command", "The program name is only known at run time.", inv.text)
        return
    program_path = normalize(name.value, None, tilde=name.tilde)
    program = posixpath.basename(program_path.rstrip("/")) or program_path
    before = len(out.hits)
    transparent = _dispatch(program, inv, ctx, out)
    progchecks.check_program(program, inv, ctx, out)
    _declared_rules(program, inv, ctx, out)
    # Only this command's own hits count: `ssh db1 uptime` is not allowed because uptime is.
    mine = [h for h in out.hits[before:] if h.command == inv.text]
    if "/" in name.value and posixpath.dirname(program_path) not in ctx.policy.paths.standard_bin_dirs:
        out.add(
            Verdict.APPROVE,
            "approve.program-path",
            f"{name.value} is not the system {program}: running it needs approval.",
            inv.text,
        )
    elif not transparent and not mine:
        why = (
            f"{program} runs on arguments only known at run time."
            if inv.unknown_args
            else f"{program} is not on the read-only allowlist."
        )
        out.add(Verdict.APPROVE, "approve.not-allowlisted", why, inv.text)


def _declared_rules(program: str, inv: Invocation, ctx: Context, out: Analysis) -> None:
    stdin_text = inv.stdin.text if inv.stdin is not None else None
    args = inv.words[1:]
    for rule in ctx.policy.rules_for(program):
        if rule_matches(rule, program, args, stdin_text):
            if rule.verdict == Verdict.ALLOW and inv.unknown_args:
                continue  # arguments appended at run time (xargs, find -exec) are never "allowed"
            out.add(rule.verdict, rule.id, rule.reason, inv.text)


def _dispatch(program: str, inv: Invocation, ctx: Context, out: Analysis) -> bool:
    """Unwrap commands that run other commands. True when the program itself needs no allow rule."""
    policy = ctx.policy
    args = inv.words[1:]
    wrapper = policy.wrapper_for(program)
    if wrapper is not None:
        _unwrap(program, wrapper, inv, ctx, out)
        return True
    if program in policy.shells:
        codechecks.run_shell(program, inv, ctx, out)
        return True
    if program in policy.source_builtins:
        codechecks.run_source(inv, ctx, out)
        return False
    if program in policy.eval_builtins or program == "trap":
        words = args if program != "trap" else args[:1]
        if any(not w.static for w in words):
            out.add(
                Verdict.DENY, "deny.dynamic-script", f"{program} of text only known at run time.", inv.text
            )
        elif words:
            run_nested(" ".join(w.value for w in words), inv, ctx, out, None)
        return program != "trap"
    if policy.interpreter_for(program) is not None:
        codechecks.run_interpreter(program, inv, ctx, out)
        return True
    subs = policy.container_exec.get(program)
    if subs is not None:
        return _container_exec(program, subs, inv, ctx, out)
    if program == "find":
        codechecks.find_exec(inv, ctx, out)
    if program == "ip":
        pos = parse_args(args, {"-n", "-netns"}).positionals
        if len(pos) >= 3 and [p.value for p in pos[:2]] == ["netns", "exec"]:
            inner_start = args.index(pos[2]) + 1
            nested = Invocation(args[inner_start:], inv.stdin, inv.depth + 1, inv.cwd, inv.unknown_args)
            analyze_invocation(nested, ctx, out)
            out.add(
                Verdict.APPROVE,
                "approve.namespace-exec",
                "Commands in other namespaces need approval.",
                inv.text,
            )
    return False


def run_nested(line: str, inv: Invocation, ctx: Context, out: Analysis, stdin: Stdin | None) -> None:
    _analyze_line(line, ctx, out, inv.depth + 1, stdin, inv.unknown_args)


def _container_exec(program: str, subs: list[str], inv: Invocation, ctx: Context, out: Analysis) -> bool:
    args = inv.words[1:]
    parsed = parse_args(args, {"-n", "--namespace", "--context", "-H", "--host"})
    first = parsed.positionals[0].value if parsed.positionals else ""
    if subs and first not in subs:
        return False
    start = args.index(parsed.positionals[0]) + 1 if subs else 0
    rest = args[start:]
    values = {
        "-e",
        "--env",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--env-file",
        "--detach-keys",
        "-n",
        "--namespace",
        "-c",
        "--container",
        "--context",
        "-p",
        "--pod",
        "--uid",
        "--gid",
    }
    if any(w.value == "--" for w in rest):
        inner = rest[[w.value for w in rest].index("--") + 1 :]
    else:
        pos = parse_args(rest, values).positionals
        inner = rest[rest.index(pos[0]) + 1 :] if pos else []
    out.add(
        Verdict.APPROVE,
        "approve.container-exec",
        "Running commands inside containers needs approval.",
        inv.text,
    )
    if inner:
        analyze_invocation(Invocation(inner, inv.stdin, inv.depth + 1, None, inv.unknown_args), ctx, out)
    return True


def _unwrap(program: str, spec: Wrapper, inv: Invocation, ctx: Context, out: Analysis) -> None:
    args = inv.words[1:]
    readings = [_wrapper_reading(program, spec, args, ctx, out, inv, assume_value=None)]
    ambiguous = readings[0][2]
    if ambiguous is not None:
        out.add(
            Verdict.APPROVE,
            "approve.wrapper-option",
            f"{program}: unknown option {args[ambiguous].value!r}; both readings are checked.",
            inv.text,
        )
        readings.append(_wrapper_reading(program, spec, args, ctx, out, inv, assume_value=ambiguous))
    if spec.min_verdict != Verdict.ALLOW:
        out.add(
            spec.min_verdict,
            f"{spec.min_verdict.value}.{program}",
            spec.reason or f"Commands run through {program} need approval.",
            inv.text,
        )
    for inner, string_cmd, _amb, lookup in readings:
        if lookup:
            continue
        if string_cmd is not None:
            if not string_cmd.static:
                out.add(
                    Verdict.DENY,
                    "deny.dynamic-script",
                    f"{program} runs text only known at run time.",
                    inv.text,
                )
            else:
                run_nested(string_cmd.value, inv, ctx, out, inv.stdin)
            continue
        if spec.join_rest and inner:
            if any(not w.static for w in inner):
                out.add(
                    Verdict.DENY,
                    "deny.dynamic-script",
                    f"{program} runs text only known at run time.",
                    inv.text,
                )
            else:
                run_nested(" ".join(w.value for w in inner), inv, ctx, out, None)
            continue
        if not inner:
            codechecks.bare_wrapper(program, inv, out)
            continue
        unknown = inv.unknown_args or spec.unknown_args
        analyze_invocation(Invocation(inner, inv.stdin, inv.depth + 1, inv.cwd, unknown), ctx, out)


def _wrapper_reading(
    program: str,
    spec: Wrapper,
    args: list[Word],
    ctx: Context,
    out: Analysis,
    inv: Invocation,
    assume_value: int | None,
) -> tuple[list[Word], Word | None, int | None, bool]:
    """(inner command, string command, index of the first unknown option, lookup only)."""
    values = set(spec.value_options)
    flags = set(spec.flag_options)
    strings = set(spec.string_options)
    lookups = set(spec.lookup_options)
    ambiguous: int | None = None
    skipped = 0
    i = 0
    while i < len(args):
        v = args[i].value
        if v == "--":
            i += 1
            break
        if program == "env" and "=" in v and not v.startswith("-") and v.split("=", 1)[0].isidentifier():
            _assignment_checks([(v.split("=", 1)[0], args[i])], ctx, out, inv.text)
            i += 1
            continue
        if len(v) > 1 and v[0] == "-" and not v.startswith(DYN):
            name, eq, attached = v.partition("=") if v.startswith("--") else (v, "", "")
            if name in strings:
                given = Word(attached, "0" * len(attached), args[i].static) if eq else _at(args, i + 1)
                return [], given, ambiguous, False
            if name in lookups:
                return [], None, ambiguous, True
            if name in values or i == assume_value:
                i += 1 if eq else 2
                continue
            if name in flags or v.startswith("--"):
                if name not in flags and not eq and ambiguous is None:
                    ambiguous = i
                i += 1
                continue
            consumed = 1
            for k, letter in enumerate(v[1:], start=1):
                opt = "-" + letter
                if opt in strings:
                    rest = v[k + 1 :]
                    given = Word(rest, "0" * len(rest), args[i].static) if rest else _at(args, i + 1)
                    return [], given, ambiguous, False
                if opt in lookups:
                    return [], None, ambiguous, True
                if opt in values:
                    consumed = 1 if v[k + 1 :] else 2
                    break
                if opt not in flags and ambiguous is None:
                    ambiguous = i
            i += consumed
            continue
        if skipped < spec.skip_positionals:
            skipped += 1
            i += 1
            continue
        break
    return args[i:], None, ambiguous, False


def _at(args: list[Word], i: int) -> Word:
    return args[i] if i < len(args) else Word("", "", True)
