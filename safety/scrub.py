"""The credential scrubber: the one chokepoint between command output and anything that keeps it.

`scrub(text, known_secrets)` returns the text with every secret replaced by `[REDACTED:<kind>]` and
a count per kind. `Scrubber` does the same on a stream: it only ever scrubs whole lines (and holds a
private key block until it ends), so a secret split across chunks is still found, and
`scrub(a + b) == feed(a) + feed(b) + finish()`.

Speed: ops output is mostly harmless, so a multi-pattern prefilter (hyperscan, when its wheel is
installed) finds the few lines that might hold a secret and only those go through the Python rules.
Without hyperscan every rule runs over the whole text: same result, slower.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from safety.envnames import ENV_RULES
from safety.known_secrets import Variant, variants
from safety.secret_rules import (
    NAMED_RULES,
    PRIVATE_KEY_BEGIN,
    PRIVATE_KEY_END,
    REDACTED,
    VENDOR_RULES,
    SecretRule,
)

try:  # the prefilter is an accelerator, never a requirement
    import hyperscan as _hs
except ImportError:  # pragma: no cover - exercised by forcing the fallback in tests
    _hs = None

# Env-style names before the generic name rules: they take a whole `NAME: v;a}l#ue` value, where
# the generic rules would stop at the first `;` and leave the rest.
ALL_RULES: list[SecretRule] = [*VENDOR_RULES, *ENV_RULES, *NAMED_RULES]
# A line longer than this is scrubbed in pieces when streaming (a token across the cut can be missed).
MAX_LINE = 1 << 20
_PEM_ID = len(ALL_RULES)
_KNOWN_ID = _PEM_ID + 1
_MARKER = re.compile(r"\[REDACTED:[a-z0-9-]+\]")
_REGEXES = [r.regex for r in ALL_RULES]


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


@dataclass(frozen=True)
class Finding:
    kind: str
    count: int


@dataclass(frozen=True)
class Scrubbed:
    text: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def redacted(self) -> int:
        return sum(f.count for f in self.findings)


def _findings(counts: Counter[str]) -> list[Finding]:
    return [Finding(k, n) for k, n in sorted(counts.items())]


@dataclass
class _State:
    in_pem: bool = False  # inside a private key block that started in an earlier line
    counted: bool = False  # that block already has its finding


def _hs_flags(rule: SecretRule) -> int:
    assert _hs is not None
    case = _hs.HS_FLAG_CASELESS if rule.caseless else 0
    # Anchored rules need the start of each trigger match; prefilter mode cannot report starts.
    return case | (_hs.HS_FLAG_SOM_LEFTMOST if rule.anchored else _hs.HS_FLAG_PREFILTER)


_compile_lock = threading.Lock()


@lru_cache(maxsize=1)
def _rules_db() -> object | None:
    """One hyperscan database for every rule plus the private-key marker (compiled once, ~1 s)."""
    if _hs is None:
        return None
    with _compile_lock:
        db = _hs.Database()
        patterns = [r.prefilter.encode() for r in ALL_RULES] + [rb"-----BEGIN"]
        flags = [_hs_flags(r) for r in ALL_RULES] + [_hs.HS_FLAG_CASELESS]
        db.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns), flags=flags)
        return db


def _literal(text: str) -> bytes:
    return "".join(
        c
        if c.isalnum() and c.isascii()
        else "".join(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogatepass"))
        for c in text
    ).encode()


@lru_cache(maxsize=32)
def _known_db(forms: tuple[Variant, ...]) -> object | None:
    if _hs is None or not forms:
        return None
    with _compile_lock:
        db = _hs.Database()
        db.compile(
            expressions=[_literal(v.text) for v in forms],
            ids=[_KNOWN_ID] * len(forms),
            elements=len(forms),
            flags=[0] * len(forms),
        )
        return db


@lru_cache(maxsize=32)
def _known_regex(forms: tuple[Variant, ...]) -> re.Pattern[str] | None:
    if not forms:
        return None
    return re.compile("|".join(re.escape(v.text) for v in forms))


class _Engine:
    def __init__(self, known: tuple[Variant, ...], use_hyperscan: bool):
        self.known = known
        self.b64 = {v.text for v in known if v.base64}
        self.known_re = _known_regex(known)
        self.hs = use_hyperscan and _hs is not None
        self.db = _rules_db() if self.hs else None
        self.kdb = _known_db(known) if self.hs else None
        self._tls = threading.local()

    def _scratches(self) -> tuple[object, object | None]:
        """Scratch space per thread, owned by this engine (which keeps its databases alive).

        hyperscan refuses one scratch in two scans at once, and a scratch made for another
        database corrupts memory: never key them by id(), which is reused after garbage collection.
        """
        pair = getattr(self._tls, "pair", None)
        if pair is None:
            assert _hs is not None
            pair = (_hs.Scratch(self.db), _hs.Scratch(self.kdb) if self.kdb is not None else None)
            self._tls.pair = pair
        return pair

    # ------------------------------------------------------------------ block level
    def scrub_block(self, text: str, state: _State, counts: Counter[str]) -> str:
        if not text:
            return text
        if not self.hs:
            return self._segment(text, state, counts, None, whole=True)
        data = text.encode("utf-8", "surrogatepass")
        hits: dict[int, dict[int, list[int]]] = {}  # line start -> rule id -> trigger starts

        def on_match(rule_id: int, start: int, end: int, flags: int, ctx: object) -> None:
            line = data.rfind(b"\n", 0, max(end - 1, 0)) + 1
            hits.setdefault(line, {}).setdefault(rule_id, []).append(start - line)

        rules_scratch, known_scratch = self._scratches()
        self.db.scan(data, match_event_handler=on_match, scratch=rules_scratch)  # type: ignore[attr-defined]
        if self.kdb is not None:
            self.kdb.scan(data, match_event_handler=on_match, scratch=known_scratch)  # type: ignore[attr-defined]
        if not hits and not state.in_pem:
            return text
        out: list[bytes] = []
        pos = 0  # bytes of `data` already copied to `out`
        cursor = 0  # start of the next line not yet visited
        starts = sorted(hits)
        k = 0
        changed = False
        while True:
            if state.in_pem:
                start = cursor  # inside a private key block every line counts
            else:
                while k < len(starts) and starts[k] < cursor:
                    k += 1
                if k == len(starts):
                    break
                start = starts[k]
            if start >= len(data) and not (start == 0 and not data):
                break
            end = data.find(b"\n", start)
            end = len(data) if end == -1 else end
            ids = hits.get(start, {})
            line = data[start:end].decode("utf-8", "surrogatepass")
            new = self._pem_line(line, state, counts) if (state.in_pem or _PEM_ID in ids) else None
            if new is None:
                new = self._line(line, counts, ids, data[start:end])
            if new != line:
                out.append(data[pos:start])
                out.append(new.encode("utf-8", "surrogatepass"))
                pos = end
                changed = True
            cursor = end + 1
        if not changed:
            return text
        out.append(data[pos:])
        return b"".join(out).decode("utf-8", "surrogatepass")

    def _segment(
        self, text: str, state: _State, counts: Counter[str], ids: set[int] | None, whole: bool
    ) -> str:
        """Scrub complete lines sequentially: private key blocks first, then line rules."""
        lines = text.split("\n")
        changed = False
        for i, line in enumerate(lines):
            new = self._pem_line(line, state, counts)
            if new is None:
                new = self._line(line, counts, ids)
            if new != line:
                lines[i] = new
                changed = True
        return "\n".join(lines) if changed else text

    # ------------------------------------------------------------------ line level
    def _pem_line(self, line: str, state: _State, counts: Counter[str]) -> str | None:
        """The line rewritten when it belongs to a private key block, else None."""
        marker = _marker("private-key")
        if not state.in_pem:
            m = PRIVATE_KEY_BEGIN.search(line) if "-----" in line else None
            if m is None:
                return None
            head, rest = line[: m.end()], line[m.end() :]
            end = PRIVATE_KEY_END.search(rest)
            body = rest[: end.start()] if end else rest
            tail = rest[end.start() :] if end else ""
            state.in_pem = end is None
            state.counted = False
            if _is_body(body, marker):
                self._count_pem(state, counts)
                return head + marker + tail
            return line
        end = PRIVATE_KEY_END.search(line)
        body = line[: end.start()] if end else line
        if end is not None:
            state.in_pem = False
        if not _is_body(body, marker):
            return line
        self._count_pem(state, counts)
        indent = body[: len(body) - len(body.lstrip())]
        return indent + marker + (line[end.start() :] if end else "")

    @staticmethod
    def _count_pem(state: _State, counts: Counter[str]) -> None:
        if not state.counted:  # one finding per key block, however many lines it has
            counts["private-key"] += 1
            state.counted = True

    def _line(
        self, line: str, counts: Counter[str], ids: dict[int, list[int]] | None, raw: bytes | None = None
    ) -> str:
        """Apply the rules (only those whose trigger fired, when `ids` is given) to one line."""
        original = line  # trigger offsets are only valid while the line is unchanged
        if self.known_re is not None and (ids is None or _KNOWN_ID in ids):
            line = self._known(line, counts)
        order = range(len(ALL_RULES)) if ids is None else sorted(i for i in ids if i < _PEM_ID)
        for rule_id in order:
            rule = ALL_RULES[rule_id]
            starts = None
            if rule.anchored and ids is not None and line is original:
                starts = _char_offsets(ids[rule_id], raw, line)
            line = self._apply(rule, _REGEXES[rule_id], line, counts, starts)
        return line

    def _known(self, line: str, counts: Counter[str]) -> str:
        assert self.known_re is not None
        spans: list[tuple[int, int]] = []
        protected = _protected(line)
        for m in self.known_re.finditer(line):
            s, e = m.span()
            if m.group(0) in self.b64:
                while s > 0 and (line[s - 1].isalnum() or line[s - 1] in "+/-_"):
                    s -= 1
                while e < len(line) and (line[e].isalnum() or line[e] in "+/-_="):
                    e += 1
            if not _overlaps(s, e, protected):
                spans.append((s, e))
        return _replace(line, spans, "known-secret", counts)

    @staticmethod
    def _apply(
        rule: SecretRule,
        rx: re.Pattern[str],
        line: str,
        counts: Counter[str],
        starts: list[int] | None = None,
    ) -> str:
        protected = _protected(line) if REDACTED in line else []
        spans: list[tuple[int, int]] = []
        # An anchored rule with known trigger starts is tried there only: a keyword alternation
        # scanned at every position of a line costs ~100x more.
        matches = rx.finditer(line) if starts is None else filter(None, (rx.match(line, p) for p in starts))
        for m in matches:
            for s, e in rule.spans(m):
                if not line.startswith(REDACTED, s) and not _overlaps(s, e, protected):
                    spans.append((s, e))
        return _replace(line, spans, rule.kind, counts)


def _is_body(body: str, marker: str) -> bool:
    """Key material, as opposed to nothing, an escaped newline, or an earlier redaction."""
    core = body.strip().replace("\\n", "").replace("\\r", "").strip()
    return bool(core) and core != marker


def _char_offsets(offsets: list[int], raw: bytes | None, line: str) -> list[int] | None:
    if raw is None:
        return None
    if len(raw) == len(line):  # ASCII: byte and character offsets agree
        return sorted(set(offsets))
    return sorted({len(raw[:o].decode("utf-8", "surrogatepass")) for o in offsets if 0 <= o <= len(raw)})


def _protected(line: str) -> list[tuple[int, int]]:
    return [m.span() for m in _MARKER.finditer(line)] if REDACTED in line else []


def _overlaps(s: int, e: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < pe and ps < e for ps, pe in spans)


def _replace(line: str, spans: list[tuple[int, int]], kind: str, counts: Counter[str]) -> str:
    if not spans:
        return line
    out: list[str] = []
    pos = 0
    for s, e in sorted(spans):
        if s < pos:
            continue
        out.append(line[pos:s])
        out.append(_marker(kind))
        counts[kind] += 1
        pos = e
    out.append(line[pos:])
    return "".join(out)


def _engine(known_secrets: Iterable[str], min_known_length: int, use_hyperscan: bool | None) -> _Engine:
    hs = _hs is not None if use_hyperscan is None else use_hyperscan
    return _cached_engine(tuple(s for s in known_secrets if s), min_known_length, hs)


@lru_cache(maxsize=64)
def _cached_engine(secrets: tuple[str, ...], min_known_length: int, hs: bool) -> _Engine:
    # Executors build a Scrubber per stream with the same secrets: build the variants once.
    return _Engine(variants(secrets, min_known_length), hs)


class Scrubber:
    """Streaming scrubber: `feed()` chunks, then `finish()`; findings accumulate in `findings`."""

    def __init__(
        self,
        known_secrets: Iterable[str] = (),
        *,
        min_known_length: int = 6,
        use_hyperscan: bool | None = None,
    ):
        self._engine = _engine(known_secrets, min_known_length, use_hyperscan)
        self._state = _State()
        self._buf = ""
        self._counts: Counter[str] = Counter()

    @property
    def findings(self) -> list[Finding]:
        return _findings(self._counts)

    def feed(self, chunk: str) -> str:
        self._buf += chunk
        cut = self._buf.rfind("\n") + 1
        if cut == 0:
            if len(self._buf) <= MAX_LINE:
                return ""
            cut = len(self._buf) - 4096  # an endless line: scrub most of it, keep a tail for context
        block, self._buf = self._buf[:cut], self._buf[cut:]
        return self._engine.scrub_block(block, self._state, self._counts)

    def finish(self) -> str:
        block, self._buf = self._buf, ""
        out = self._engine.scrub_block(block, self._state, self._counts)
        self._state = _State()
        return out


def scrub(
    text: str,
    known_secrets: Iterable[str] = (),
    *,
    min_known_length: int = 6,
    use_hyperscan: bool | None = None,
) -> Scrubbed:
    """Redact credentials in `text`. Text without findings is returned unchanged (same object)."""
    s = Scrubber(known_secrets, min_known_length=min_known_length, use_hyperscan=use_hyperscan)
    out = s.feed(text) + s.finish()
    if not s.findings:
        return Scrubbed(text, [])
    return Scrubbed(out, s.findings)


def prefilter_available() -> bool:
    return _hs is not None
