"""Static evaluation of one bash word: quotes removed, escapes decoded, expansions marked.

The policy must see what bash would run, not what the text looks like: `r''m`, `\\rm`, `"rm"` and
`$'\\x72m'` are all `rm`. A word whose value depends on the environment or on another command
(`$X`, `$(...)`, `` `...` ``, `$((...))`) is *dynamic*; its unknown parts are replaced by `DYN` so
that path patterns can still be checked against the static rest (`"$HOME/.ssh/id_rsa"`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tree_sitter import Node

# A character that cannot occur in a command line: stands for "unknown text" in a dynamic word.
DYN = "\x00"
# Brace expansion can multiply words (`{a,b}{c,d}...`); past this the word is treated as dynamic.
MAX_BRACE_WORDS = 256

_EXPANSIONS = {
    "simple_expansion",
    "expansion",
    "command_substitution",
    "process_substitution",
    "arithmetic_expansion",
    "brace_expression",
}
_ANSI_SIMPLE = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}  # fmt: skip


# tree-sitter only ever sees ASCII (see `shellparse.parse`); node text is read from the real bytes.
_source = threading.local()


def set_source(data: bytes | None) -> None:
    _source.data = data


def node_bytes(node: Node) -> bytes:
    data = getattr(_source, "data", None)
    return node.text if data is None else data[node.start_byte : node.end_byte]


def node_str(node: Node) -> str:
    return node_bytes(node).decode("utf-8", "replace")


@dataclass(frozen=True)
class Word:
    """One shell word after quote removal. `active` marks characters that were unquoted."""

    value: str
    active: str  # same length as value: "1" where the character was unquoted
    static: bool
    source: str = field(default="", compare=False)

    @property
    def glob(self) -> bool:
        return any(c in "*?[" and a == "1" for c, a in zip(self.value, self.active, strict=True))

    @property
    def tilde(self) -> bool:
        return self.value.startswith("~") and self.active[:1] == "1"

    @property
    def literal(self) -> bool:
        """Fully known and unaffected by globbing/tilde: safe to re-quote as plain text."""
        return self.static and not self.glob and not self.tilde and not _has_brace(self)

    def __str__(self) -> str:
        return self.value


def _w(value: str, active: bool, static: bool = True) -> Word:
    return Word(value, ("1" if active else "0") * len(value), static)


def _join(parts: list[Word], source: str) -> Word:
    return Word(
        "".join(p.value for p in parts),
        "".join(p.active for p in parts),
        all(p.static for p in parts),
        source,
    )


def evaluate(node: Node) -> Word:
    """The value of a word-like node (word, string, concatenation, expansion...)."""
    source = node_str(node)
    return _join(_parts(node), source)


def _parts(node: Node) -> list[Word]:
    t = node.type
    text = node_str(node)
    if t in ("word", "number", "extglob_pattern", "variable_name", "special_variable_name"):
        return [_unquoted(text)]
    if t == "raw_string":
        return [_w(text[1:-1], False)]
    if t == "ansi_c_string":
        return [_w(decode_ansi_c(text[2:-1]), False)]
    if t in ("string", "translated_string"):
        # Text between child nodes (tree-sitter leaves some newlines out of string_content) is
        # content too: take it from the source, not from the children alone.
        out: list[Word] = []
        data = node_bytes(node)
        base = node.start_byte
        pos = 1 if data[:1] == b'"' else 2  # after `"` or `$"`
        end = len(data) - 1
        for child in node.children:
            cs, ce = child.start_byte - base, child.end_byte - base
            if cs < pos or ce > end:
                continue
            if cs > pos:
                out.append(_w(_dquote_content(data[pos:cs].decode("utf-8", "replace")), False))
            if child.type == "string_content":
                out.append(_w(_dquote_content(node_str(child)), False))
            elif child.type in _EXPANSIONS:
                out.append(_dynamic(child))
            else:
                out.extend(_parts(child))
            pos = ce
        if end > pos:
            out.append(_w(_dquote_content(data[pos:end].decode("utf-8", "replace")), False))
        return out
    if t == "concatenation":
        out = []
        for child in node.children:
            if child.is_named:  # skip the `$` token of `a$"b"`
                out.extend(_parts(child))
        return out
    if t in _EXPANSIONS:
        return [_dynamic(node)]
    # Anything else (arrays, test expressions...) is not a plain word: treat as unknown.
    return [Word(DYN, "0", False)]


def _dynamic(node: Node) -> Word:
    # `$HOME` and `${HOME}` keep a recognisable value so home-directory rules still fire.
    text = node_str(node)
    if text in ("$HOME", "${HOME}"):
        return Word("~" + DYN, "10", False)
    return Word(DYN, "0", False)


def _unquoted(text: str) -> Word:
    value: list[str] = []
    active: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":  # backslash-newline is a line continuation: removed
                value.append(text[i + 1])
                active.append("0")
            i += 2
            continue
        value.append(c)
        active.append("1")
        i += 1
    return Word("".join(value), "".join(active), True)


def _dquote_content(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in '$`"\\\n':
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def decode_ansi_c(body: str) -> str:
    """Decode the inside of `$'...'` the way bash does."""
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        i += 2
        if e in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[e])
        elif e in "01234567":
            j = i - 1
            while j < n and j < i + 2 and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i - 1 : j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            j = i
            while j < n and j < i + width and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i:
                out.append("\\" + e)
            else:
                out.append(chr(min(int(body[i:j], 16), 0x10FFFF)))
                i = j
        elif e == "c" and i < n:
            out.append(chr(ord(body[i]) & 0x1F))
            i += 1
        else:
            out.append("\\" + e)
    return "".join(out)


def _has_brace(word: Word) -> bool:
    return _find_brace(word) is not None


def _find_brace(word: Word) -> tuple[int, int, list[int]] | None:
    """First active `{...}` holding an active top-level comma: (open, close, comma positions)."""
    v, a = word.value, word.active
    i = 0
    while i < len(v):
        if v[i] == "{" and a[i] == "1":
            depth = 0
            commas: list[int] = []
            for j in range(i, len(v)):
                if a[j] != "1":
                    continue
                if v[j] == "{":
                    depth += 1
                elif v[j] == "}":
                    depth -= 1
                    if depth == 0:
                        if commas:
                            return i, j, commas
                        break
                elif v[j] == "," and depth == 1:
                    commas.append(j)
        i += 1
    return None


def brace_expand(word: Word) -> list[Word]:
    """bash brace expansion of comma lists (`{rm,-rf,/}` -> three words), in bash's order; capped."""
    out: list[Word] = []
    if not _expand_into(word, out):
        return [Word(DYN, "0", False, word.source)]
    return out


def _expand_into(w: Word, out: list[Word]) -> bool:
    found = _find_brace(w)
    if found is None:
        out.append(w)
        return len(out) <= MAX_BRACE_WORDS
    start, end, commas = found
    bounds = [start, *commas, end]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        alt = Word(
            w.value[:start] + w.value[lo + 1 : hi] + w.value[end + 1 :],
            w.active[:start] + w.active[lo + 1 : hi] + w.active[end + 1 :],
            w.static,
            w.source,
        )
        if not _expand_into(alt, out):
            return False
    return True
