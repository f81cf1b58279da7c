"""Split a program's arguments into options and positionals, and match declarative rules.

Short options cluster (`-rf` is `-r` and `-f`); a cluster stops at the first letter that takes a
value (`-n5`). Unknown clusters are read letter by letter, which can only make a forbidden-option
test fire more often: stricter, never looser.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from safety.policy import Rule
from safety.shellwords import DYN, Word


@dataclass
class Args:
    flags: set[str] = field(default_factory=set)  # every option name present, clusters split
    option_words: list[str] = field(default_factory=list)  # each option as written, without =value
    values: dict[str, list[Word]] = field(default_factory=dict)  # option name -> values given
    positionals: list[Word] = field(default_factory=list)

    def has(self, *names: str) -> bool:
        return any(n in self.flags for n in names)

    def value_of(self, *names: str) -> list[Word]:
        out: list[Word] = []
        for n in names:
            out.extend(self.values.get(n, []))
        return out


def _is_option(word: Word) -> bool:
    v = word.value
    return len(v) > 1 and v[0] == "-" and word.active[:1] in ("1", "0") and not v.startswith(DYN)


def parse_args(words: list[Word], value_options: set[str] | frozenset[str] = frozenset()) -> Args:
    """Options and positionals of `words` (the arguments, without the program name)."""
    args = Args()
    i = 0
    while i < len(words):
        w = words[i]
        v = w.value
        if v == "--":
            args.positionals.extend(words[i + 1 :])
            break
        if not _is_option(w):
            args.positionals.append(w)
            i += 1
            continue
        if v.startswith("--"):
            name, eq, rest = v.partition("=")
            args.flags.add(name)
            args.option_words.append(name)
            if eq:
                args.values.setdefault(name, []).append(Word(rest, w.active[len(name) + 1 :], w.static))
            elif name in value_options and i + 1 < len(words):
                args.values.setdefault(name, []).append(words[i + 1])
                i += 1
            i += 1
            continue
        args.option_words.append(v)
        args.flags.add(v)
        if v in value_options:  # a multi-letter single-dash option (-pm, -exec)
            if i + 1 < len(words):
                args.values.setdefault(v, []).append(words[i + 1])
                i += 1
            i += 1
            continue
        for k in range(1, len(v)):
            name = "-" + v[k]
            args.flags.add(name)
            if name in value_options:
                rest = v[k + 1 :]
                if rest:
                    args.values.setdefault(name, []).append(Word(rest, w.active[k + 1 :], w.static))
                elif i + 1 < len(words):
                    args.values.setdefault(name, []).append(words[i + 1])
                    i += 1
                break
        i += 1
    return args


def _glob(value: str, patterns: list[str]) -> bool:
    low = value.lower()
    return any(fnmatch.fnmatchcase(low, p.lower()) for p in patterns)


def _option_allowed(word: str, only: set[str]) -> bool:
    if word in only:
        return True
    if word.startswith("--") or len(word) < 2:
        return False
    return all("-" + c in only for c in word[1:])


def rule_matches(rule: Rule, program: str, words: list[Word], stdin_text: str | None = None) -> bool:
    """Whether `rule` applies to `program` called with `words` (arguments only)."""
    if not any(fnmatch.fnmatchcase(program, p) for p in rule.programs):
        return False
    args = parse_args(words, frozenset(rule.value_options))
    pos = args.positionals
    if rule.subcommands is not None:
        for sub in rule.subcommands:
            parts = sub.split()
            if len(pos) >= len(parts) and all(
                pos[k].static and pos[k].value.lower() == parts[k].lower() for k in range(len(parts))
            ):
                pos = pos[len(parts) :]
                break
        else:
            return False
    if rule.options_any is not None and not args.has(*rule.options_any):
        return False
    if rule.options_required is not None and not args.has(*rule.options_required):
        return False
    if rule.options_none is not None and args.has(*rule.options_none):
        return False
    if rule.options_only is not None:
        only = set(rule.options_only)
        if not all(_option_allowed(o, only) for o in args.option_words):
            return False
    if rule.args_any is not None and not any(_glob(p.value, rule.args_any) for p in pos):
        return False
    if rule.args_none is not None and any(_glob(p.value, rule.args_none) for p in pos):
        return False
    if rule.max_positionals is not None and len(pos) > rule.max_positionals:
        return False
    regex = rule.compiled_regex
    if regex is not None:
        text = " ".join(w.value for w in words)
        if stdin_text:
            text += "\n" + stdin_text
        if not regex.search(text):
            return False
    return True
