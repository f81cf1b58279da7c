"""Claude Code `Bash` calls → the agent's own tools (`shell`, `ssh`, `http`, `ipmi`).

A fine-tune learns the tool names and argument schemas it is shown. The halops agent offers four
tools (halops/calls.py); Claude Code's `Bash` is not one of them, so curate rewrites each Bash
call as the agent call that does the same thing (`data.map_tools`, on by default):

- `ssh [options] [user@]HOST COMMAND...` → `ssh {host, command}`; the remote command is the
  remaining words joined by spaces, which is exactly the string ssh sends to the remote shell
  (`ssh web1 'df -h | head'` → `{"host": "web1", "command": "df -h | head"}`). Options are
  skipped (the executor takes user, port, key and jump host from the inventory); options that
  make ssh do something other than run that command (`-N -f -G -V -O -W -s -Q`) → `shell`. No
  remote command (an interactive login) → not mapped: the call keeps its name.
- `curl [options] URL` → `http {method, url[, headers][, body]}` for one http(s) URL: method from
  `-X/--request`, else HEAD with `-I/--head`, POST with `-d/--data*`, else GET; `-H 'K: V'` into
  `headers`; the `-d` values (joined by `&`, as curl does) as a string `body`. Only a short list
  of options is understood (output flags such as `-s -S -f -L -i`, timeouts); any other option
  (`-o`, `-w`, `-k`, `-u`, `-F`, `-G`, `@file` data, ...) → `shell`.
- `ipmitool [-I lan|lanplus] -H HOST [-U user] [-P pass | -E | -f file] CMD` → `ipmi {host,
  action[, value]}` for `power status|on|off|cycle|reset` (also under `chassis power`), `chassis
  status`, `sensor [list]` / `sdr [list|elist]` (sensors), `sel list|elist`, `sel clear`, `chassis
  bootdev pxe|disk|cdrom|bios` (boot_device) and `chassis identify [force|0]` (identify, value
  on/off). The password, user and key options are dropped, never carried into the arguments (the
  executor takes credentials from the inventory). No `-H` (the local BMC) or any other command
  → `shell`.
- every other Bash command → `shell {command}` with the command string unchanged.

Only one *simple* command maps to ssh/http/ipmi: anything the local shell would do beyond
splitting words and removing quotes sends the whole line to `shell` unchanged. That is an
operator (`| & ; < > ( )`, a newline), a command substitution (`$(`, backticks, also inside double
quotes), a comment, or an expansion (`$VAR`, unquoted `* ? [ { ~`) in a word that the mapped call
would carry (an expansion in a dropped option value, `-i ~/.ssh/key`, does not matter). Inside
single quotes, or double quotes without `$`/backticks, everything is literal: operators inside
ssh's quoted remote command are the remote shell's business.

The line is parsed twice: `shlex.split` (the words) and a small POSIX-quoting scanner (which
words were quoted, where the operators are; shlex cannot tell `'a|b'` from `a|b` once quotes are
removed). Where the two disagree, or shlex cannot parse the line at all (unbalanced quotes, a
heredoc shlex does not understand), the call goes to `shell` unchanged: it is still a command
line that ran on the host, and `shell` is the agent's tool for that.

Not mapped (None, the call is kept as Claude Code wrote it): other tools (`Read`, `Edit`, ...), a
Bash call without a non-blank `command` string, `run_in_background` calls (the agent has no
background shells; their result is a shell id, not output) and interactive ssh logins.

Every mapped result is validated with the agent's argument model (`halops.calls.ARG_MODELS`); a
call that does not validate goes to `shell` instead. Host names are kept as written (`root@db2` →
`db2`, `-H node12-bmc` → `node12-bmc`); inventory names cannot be checked here.
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from halops.calls import ARG_MODELS, ToolName

Word = tuple[str, bool]  # (text after quote removal, literal: no expansion by the local shell)
Mapped = tuple[str, dict[str, Any]]
_SHELL, _KEEP = "shell", "keep"  # what a program's parser answers when it does not map the call

_OPERATORS = frozenset("|&;<>()\n")
_GLOBS = frozenset("*?[{~")  # pathname, brace and tilde expansion when unquoted
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


class _NotSimple(Exception):
    """The line is not one simple command (operators, substitution, comment, bad quoting)."""


def _scan(command: str) -> list[Word]:
    """Split one simple command line into words, as a POSIX shell would, noting expansions.

    Raises `_NotSimple` for anything that makes it more than one simple command.
    """
    words: list[Word] = []
    buf: list[str] = []
    literal, in_word = True, False
    i, n = 0, len(command)

    def end_word() -> None:
        nonlocal buf, literal, in_word
        if in_word:
            words.append(("".join(buf), literal))
        buf, literal, in_word = [], True, False

    while i < n:
        ch = command[i]
        if ch in " \t":
            end_word()
            i += 1
        elif ch == "\\":
            if i + 1 >= n:
                raise _NotSimple("trailing backslash")
            if command[i + 1] != "\n":  # backslash-newline: a line continuation, removed
                buf.append(command[i + 1])
                in_word = True
            i += 2
        elif ch == "'":
            end = command.find("'", i + 1)
            if end < 0:
                raise _NotSimple("no closing single quote")
            buf.append(command[i + 1 : end])
            in_word = True
            i = end + 1
        elif ch == '"':
            in_word = True
            i += 1
            while True:
                if i >= n:
                    raise _NotSimple("no closing double quote")
                c = command[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and command[i + 1] in '$`"\\\n':
                    if command[i + 1] != "\n":
                        buf.append(command[i + 1])
                    i += 2
                    continue
                if c == "`" or command.startswith("$(", i):
                    raise _NotSimple("command substitution")
                if c == "$":
                    literal = False
                buf.append(c)
                i += 1
        elif ch in _OPERATORS or ch == "`" or command.startswith("$(", i):
            raise _NotSimple(f"shell operator {ch!r}")
        elif ch == "#" and not in_word:
            raise _NotSimple("comment")
        else:
            if ch == "$" or ch in _GLOBS:
                literal = False
            buf.append(ch)
            in_word = True
            i += 1
    end_word()
    return words


def _simple_words(command: str) -> list[Word] | None:
    """The words of a single simple command, or None when the line is anything else."""
    try:
        words = _scan(command)
        split = shlex.split(command)
    except (_NotSimple, ValueError):
        return None
    if [w for w, _ in words] != split:  # the two parsers disagree: do not guess
        return None
    return words


def _options(
    args: list[Word], with_value: frozenset[str], flags: frozenset[str]
) -> tuple[list[tuple[str, Word | None]], list[Word]] | None:
    """getopt-style short options up to the first operand: ([(letter, value)], operands).

    Clusters (`-sS`, `-p2222`, `-oBatchMode=yes`) are understood; an unknown letter, or a value
    missing at the end of the line, gives None. `--` ends the options.
    """
    opts: list[tuple[str, Word | None]] = []
    i = 0
    while i < len(args):
        word, _ = args[i]
        if word == "--":
            return opts, args[i + 1 :]
        if not word.startswith("-") or word == "-":
            break
        j = 1
        while j < len(word):
            letter = word[j]
            if letter in with_value:
                if j + 1 < len(word):
                    opts.append((letter, (word[j + 1 :], args[i][1])))
                elif i + 1 < len(args):
                    i += 1
                    opts.append((letter, args[i]))
                else:
                    return None
                break
            if letter not in flags:
                return None
            opts.append((letter, None))
            j += 1
        i += 1
    return opts, args[i:]


def _host(word: Word) -> str | None:
    text, literal = word
    return text if literal and _HOST.match(text) else None


# --- ssh ---------------------------------------------------------------------------------------
_SSH_VALUE = frozenset("pioLJFbcDEeIlmOQRSWwBP")
_SSH_FLAGS = frozenset("46AaCgKkMnqTtvXxYyNfGVs")
# No remote command run, or something other than one: -N -f -G -V -s -O -Q -W.
_SSH_NOT_A_COMMAND = frozenset("NfGVsOQW")


def _ssh(args: list[Word]) -> Mapped | str:
    parsed = _options(args, _SSH_VALUE, _SSH_FLAGS)
    if parsed is None:
        return _SHELL
    opts, rest = parsed
    if any(letter in _SSH_NOT_A_COMMAND for letter, _ in opts) or not rest:
        return _SHELL
    dest, literal = rest[0]
    if "://" in dest:
        return _SHELL
    host = _host((dest.rsplit("@", 1)[-1], literal))
    remote = rest[1:]
    if host is None or not all(lit for _, lit in remote):
        return _SHELL
    if remote and remote[0][0].startswith("-"):  # options after the destination: not guessed at
        return _SHELL
    command = " ".join(w for w, _ in remote)  # what ssh itself sends to the remote shell
    if not command.strip():
        return _KEEP  # an interactive login: nothing the ssh tool can do
    return "ssh", {"host": host, "command": command}


# --- curl --------------------------------------------------------------------------------------
_CURL_FLAGS = {
    "s": "silent",
    "S": "show-error",
    "f": "fail",
    "L": "location",
    "i": "include",
    "I": "head",
    "g": "globoff",
}
_CURL_VALUES = {"X": "request", "H": "header", "d": "data", "m": "max-time"}
_CURL_LONG_FLAGS = {
    "silent",
    "show-error",
    "fail",
    "fail-with-body",
    "location",
    "include",
    "head",
    "globoff",
    "compressed",
    "no-progress-meter",
}
_CURL_LONG_VALUES = {
    "request",
    "header",
    "data",
    "data-raw",
    "data-binary",
    "data-ascii",
    "max-time",
    "connect-timeout",
    "url",
}


def _curl_options(args: list[Word]) -> list[tuple[str, Word | None]] | None:
    """curl's options as (long name, value) and operands as ("", word); None on anything unknown."""
    out: list[tuple[str, Word | None]] = []
    i = 0
    while i < len(args):
        word, literal = args[i]
        if word.startswith("--") and len(word) > 2:
            name = word[2:]
            if name in _CURL_LONG_FLAGS:
                out.append((name, None))
            elif name in _CURL_LONG_VALUES and i + 1 < len(args):
                i += 1
                out.append((name, args[i]))
            else:
                return None  # unknown, `--opt=value` (curl has no such form) or a missing value
        elif word.startswith("-") and len(word) > 1:
            j = 1
            while j < len(word):
                letter = word[j]
                if letter in _CURL_VALUES:
                    if j + 1 < len(word):
                        out.append((_CURL_VALUES[letter], (word[j + 1 :], literal)))
                    elif i + 1 < len(args):
                        i += 1
                        out.append((_CURL_VALUES[letter], args[i]))
                    else:
                        return None
                    break
                if letter not in _CURL_FLAGS:
                    return None
                out.append((_CURL_FLAGS[letter], None))
                j += 1
        else:
            out.append(("", (word, literal)))
        i += 1
    return out


def _curl(args: list[Word]) -> Mapped | str:
    opts = _curl_options(args)
    if opts is None:
        return _SHELL
    urls: list[Word] = []
    method: str | None = None
    head = False
    headers: dict[str, str] = {}
    data: list[str] = []
    for name, value in opts:
        if name in ("", "url"):
            assert value is not None
            urls.append(value)
            continue
        if value is None:
            head = head or name == "head"
            continue
        text, literal = value
        if name in ("max-time", "connect-timeout"):
            continue
        if not literal:
            return _SHELL
        if name == "request":
            if method is not None:
                return _SHELL
            method = text
        elif name == "header":
            key, sep, val = text.partition(":")
            key, val = key.strip(), val.strip()
            if not sep or not key or not val or key.lower() in {k.lower() for k in headers}:
                return _SHELL  # `K;`, `K:` (curl: send empty / remove) or a repeated header
            headers[key] = val
        else:  # data, data-raw, data-binary, data-ascii
            if name != "data-raw" and text.startswith("@"):
                return _SHELL  # read from a file: not known here
            data.append(text)
    if len(urls) != 1 or not urls[0][1]:
        return _SHELL
    url = urls[0][0]
    try:
        parts = urlsplit(url)
    except ValueError:
        return _SHELL
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _SHELL
    if head and (data or method is not None):
        return _SHELL
    if method is None:
        method = "HEAD" if head else "POST" if data else "GET"
    out: dict[str, Any] = {"method": method, "url": url}
    if headers:
        out["headers"] = headers
    if data:
        out["body"] = "&".join(data)
    return "http", out


# --- ipmitool ----------------------------------------------------------------------------------
_IPMI_VALUE = frozenset("IHUPfLpCNRyk")
_IPMI_FLAGS = frozenset("Ev")
_POWER = {
    "status": "power_status",
    "on": "power_on",
    "off": "power_off",
    "cycle": "power_cycle",
    "reset": "power_reset",
}
_IPMI_COMMANDS: dict[tuple[str, ...], tuple[str, str | None]] = {
    **{("power", k): (v, None) for k, v in _POWER.items()},
    **{("chassis", "power", k): (v, None) for k, v in _POWER.items()},
    ("chassis", "status"): ("chassis_status", None),
    ("sensor",): ("sensors", None),
    ("sensor", "list"): ("sensors", None),
    ("sdr",): ("sensors", None),
    ("sdr", "list"): ("sensors", None),
    ("sdr", "elist"): ("sensors", None),
    ("sel", "list"): ("sel_list", None),
    ("sel", "elist"): ("sel_list", None),
    ("sel", "clear"): ("sel_clear", None),
    **{("chassis", "bootdev", d): ("boot_device", d) for d in ("pxe", "disk", "cdrom", "bios")},
    ("chassis", "identify"): ("identify", None),
    ("chassis", "identify", "force"): ("identify", "on"),
    ("chassis", "identify", "0"): ("identify", "off"),
}


def _ipmitool(args: list[Word]) -> Mapped | str:
    parsed = _options(args, _IPMI_VALUE, _IPMI_FLAGS)
    if parsed is None:
        return _SHELL
    opts, rest = parsed
    values = dict(opts)  # the -P, -U, -f, -y, -k values are read past and never kept
    if len(values) != len(opts):
        return _SHELL  # an option given twice
    interface = values.get("I")
    if interface is not None and interface[0] not in ("lan", "lanplus"):
        return _SHELL
    host = _host(values["H"]) if values.get("H") else None  # no -H: the local BMC
    if host is None or not all(lit for _, lit in rest):
        return _SHELL
    found = _IPMI_COMMANDS.get(tuple(w for w, _ in rest))
    if found is None:
        return _SHELL
    action, value = found
    out: dict[str, Any] = {"host": host, "action": action}
    if value is not None:
        out["value"] = value
    return "ipmi", out


_PROGRAMS = {"ssh": _ssh, "curl": _curl, "ipmitool": _ipmitool}


def _valid(name: str, args: dict[str, Any]) -> bool:
    try:
        ARG_MODELS[ToolName(name)].model_validate(args)
    except ValidationError:
        return False
    return True


def map_call(name: str, arguments: Any) -> Mapped | None:
    """The agent call for a Claude Code call, or None when it is kept as it is (see the module)."""
    if name != "Bash" or not isinstance(arguments, dict):
        return None
    command = arguments.get("command")
    if not isinstance(command, str) or not command.strip() or arguments.get("run_in_background"):
        return None
    shell: Mapped = ("shell", {"command": command})
    words = _simple_words(command)
    program = _PROGRAMS.get(os.path.basename(words[0][0])) if words and words[0][1] else None
    if program is None:
        return shell if _valid(*shell) else None
    mapped = program(words[1:])
    if mapped == _KEEP:
        return None
    if isinstance(mapped, str):
        return shell
    return mapped if _valid(*mapped) else shell
