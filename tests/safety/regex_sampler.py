"""Generate strings from a regex: the test oracle that turns gitleaks' rules into secret samples.

gitleaks' regexes are Go syntax; `to_python()` converts the few differences (mid-pattern `(?i)`,
POSIX classes, `\\z`). Samples are what a person would plausibly write: ASCII, `\\s` is a space or
tab (a newline between a name and its `=` is not a realistic leak), and open repeats stay short.
"""

from __future__ import annotations

import random
import re
import string

try:  # Python 3.11+
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as P  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

_PRINTABLE = [c for c in string.printable if c not in "\n\r\x0b\x0c"]
_CATEGORIES = {
    C.CATEGORY_DIGIT: string.digits,
    C.CATEGORY_NOT_DIGIT: string.ascii_letters + "_-. ",
    C.CATEGORY_SPACE: " \t",
    C.CATEGORY_NOT_SPACE: "".join(c for c in _PRINTABLE if c not in " \t"),
    C.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    C.CATEGORY_NOT_WORD: " -.:/=+,",
}
_POSIX = {
    "alnum": "A-Za-z0-9",
    "alpha": "A-Za-z",
    "digit": "0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "xdigit": "0-9A-Fa-f",
    "space": " \\t",
    "punct": "!-/:-@\\[-`{-~",
}


def to_python(go: str) -> str:
    """A Go (RE2) regex as an equivalent Python one."""
    s = re.sub(r"\[:(\w+):\]", lambda m: _POSIX.get(m.group(1), m.group(0)), go)
    s = s.replace("\\z", "\\Z")
    # Go allows `(?i)` anywhere, applying to the rest of the enclosing group; Python only at the start.
    while True:
        idx = _mid_flag(s)
        if idx < 0:
            return s
        end = _group_end(s, idx + 4)
        s = s[:idx] + "(?i:" + s[idx + 4 : end] + ")" + s[end:]


def _mid_flag(s: str) -> int:
    """Index of the first `(?i)` that is not at the very start (those Python rejects), or -1."""
    for m in re.finditer(r"\(\?i\)", s):
        if m.start() > 0 and s[m.start() - 1] != "\\":
            return m.start()
    return -1


def _group_end(s: str, i: int) -> int:
    depth = 0
    in_class = False
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return len(s)


class Sampler:
    def __init__(self, rng: random.Random, max_extra: int = 8):
        self.rng = rng
        self.max_extra = max_extra

    def sample(self, pattern: str) -> str:
        parsed = P.parse(pattern)
        groups: dict[int, str] = {}
        caseless = bool(parsed.state.flags & re.IGNORECASE)
        return self._seq(list(parsed), groups, caseless)

    def _seq(self, items: list, groups: dict[int, str], caseless: bool, repeated: bool = False) -> str:
        return "".join(self._item(op, av, groups, caseless, repeated) for op, av in items)

    def _item(self, op, av, groups: dict[int, str], caseless: bool, repeated: bool = False) -> str:  # noqa: ANN001
        r = self.rng
        if op is C.LITERAL:
            return chr(av)
        if op is C.NOT_LITERAL:
            return r.choice([c for c in _PRINTABLE if ord(c) != av])
        if op is C.ANY:
            # A lone `.` in gitleaks' rules means a literal dot (hooks.slack.com, xoxe.xoxb).
            return r.choice(_PRINTABLE) if repeated else "."
        if op is C.IN:
            return self._class(av, caseless)
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            lo, hi, body = av
            hi = lo + self.max_extra if hi is C.MAXREPEAT else min(hi, lo + self.max_extra)
            return "".join(self._seq(list(body), groups, caseless, True) for _ in range(r.randint(lo, hi)))
        if op is C.SUBPATTERN:
            group, add, _del, body = av
            inner_caseless = caseless or bool(add & re.IGNORECASE)
            if _del & re.IGNORECASE:
                inner_caseless = False
            text = self._seq(list(body), groups, inner_caseless, repeated)
            if group is not None:
                groups[group] = text
            return text
        if op is C.BRANCH:
            return self._seq(list(r.choice(av[1])), groups, caseless, repeated)
        if op is C.GROUPREF:
            return groups.get(av, "")
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            return ""
        if op is C.CATEGORY:
            return r.choice(_CATEGORIES[av])
        raise ValueError(f"unsupported regex op {op}")

    def _class(self, items, caseless: bool) -> str:  # noqa: ANN001
        chars: set[str] = set()
        negate = False
        for op, av in items:
            if op is C.NEGATE:
                negate = True
            elif op is C.LITERAL:
                chars.add(chr(av))
            elif op is C.RANGE:
                chars.update(chr(c) for c in range(av[0], min(av[1], 126) + 1))
            elif op is C.CATEGORY:
                chars.update(_CATEGORIES[av])
        if caseless:
            chars |= {c.swapcase() for c in chars if c.isalpha()}
        if negate:
            chars = {c for c in _PRINTABLE if c not in chars}
        pool = sorted(c for c in chars if c in _PRINTABLE or c == " ") or sorted(chars)
        return self.rng.choice(pool)
