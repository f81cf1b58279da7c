"""Cutting a document's text into chunks along its headings, with a size limit and overlap.

A chunk never spans two sections: its heading trail ("Disks > SMART > Reallocated sectors") says
exactly where it came from, and is prepended to the text that gets embedded, because a short
section body ("Run `smartctl -a`") means little without its headings. Sections longer than the
limit are cut at paragraph, then line, then sentence, then word boundaries, and each piece after
the first repeats the tail of the previous one (the overlap).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Word-piece tokenizers split punctuation off, long or rare words into several pieces, and digits
# from letters. Counting regex words and punctuation, plus one per 3 characters past the 4th of a
# word, plus one for a word mixing digits and letters, tracks all-MiniLM's tokenizer to within
# 3-6 % on average on runbooks and on prose (tests/rag/test_chunking.py checks the runbooks).
_TOKEN = re.compile(r"\w+|[^\w\s]")
# A "word" with no spaces can be megabytes (a base64 blob): cut pieces by characters as well.
_CHARS_PER_TOKEN = 3  # what count_tokens charges a long word: 1 per 3 characters

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_SENTENCE = re.compile(r"(?<=[.!?:;])\s+")
HEADING_SEP = " > "


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str  # heading trail joined with " > "; "" when the text has no headings
    content_hash: str  # sha256 of heading and text: unchanged chunks are recognised by it

    @property
    def embed_text(self) -> str:
        """What the model sees: headings first, since they name the topic the body assumes."""
        return f"{self.heading}\n\n{self.text}" if self.heading else self.text


def count_tokens(text: str) -> int:
    """Approximate word-piece token count (no tokenizer needed: this runs over whole files)."""
    # findall plus fast str predicates: chunking 10,000 chunks spent 5 s here with a per-match
    # loop; most words are short and purely alphabetic, and isalpha rules out digits in C.
    words = _TOKEN.findall(text)
    n = len(words)
    for word in words:
        if len(word) > 4:
            n += (len(word) - 4) // 3
        if not word.isalpha() and not word.isdigit() and any(c.isdigit() for c in word):
            n += 1
    return n


def make_chunk(text: str, heading: str) -> Chunk:
    digest = hashlib.sha256(f"{heading}\n\x00\n{text}".encode("utf-8", "surrogatepass")).hexdigest()
    return Chunk(text, heading, digest)


def chunk_text(
    text: str,
    *,
    markdown: bool = True,
    title: str | None = None,
    max_tokens: int = 200,
    overlap: int = 30,
) -> list[Chunk]:
    """All chunks of one document, in reading order. Empty sections produce none."""
    chunks: list[Chunk] = []
    for trail, body in sections(text, markdown=markdown):
        if title and (not trail or trail[0].casefold() != title.casefold()):
            trail = (title, *trail)
        heading = HEADING_SEP.join(trail)
        budget = max(16, max_tokens - count_tokens(heading))  # the heading is embedded too
        for piece in split_body(body, budget, min(overlap, budget // 3)):
            chunks.append(make_chunk(piece, heading))
    return chunks


def sections(text: str, *, markdown: bool = True) -> list[tuple[tuple[str, ...], str]]:
    """(heading trail, body) for each section; `#` lines inside code fences are not headings."""
    if not markdown:
        return [((), text.strip())] if text.strip() else []
    out: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    fence: str | None = None

    def flush() -> None:
        joined = "\n".join(body).strip()
        if joined:
            out.append((tuple(t for _, t in stack), joined))
        body.clear()

    def push(level: int, title: str) -> None:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))

    for line in text.splitlines():
        if fence is not None:
            body.append(line)
            m = _FENCE.match(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip(" `~"):
                fence = None
            continue
        if m := _FENCE.match(line):
            fence = m.group(1)
            body.append(line)
            continue
        if (m := _ATX.match(line)) and m.group(2):
            flush()
            push(len(m.group(1)), _clean_heading(m.group(2)))
            continue
        if (m := _SETEXT.match(line)) and body and body[-1].strip() and _is_paragraph_line(body):
            title = body.pop().strip()
            flush()
            push(1 if m.group(1)[0] == "=" else 2, _clean_heading(title))
            continue
        body.append(line)
    flush()
    return out


def _is_paragraph_line(body: list[str]) -> bool:
    # Setext headings underline a one-line paragraph; `---` under a list item or a longer
    # paragraph is a thematic break in practice.
    prev = body[-1].lstrip()
    before_blank = len(body) < 2 or not body[-2].strip()
    return before_blank and not prev.startswith(("-", "*", "+", ">", "|", "    "))


def _clean_heading(title: str) -> str:
    # Headings are shown and embedded: inline markup adds nothing there.
    return re.sub(r"[*_`]+", "", title).strip()


def split_body(body: str, max_tokens: int, overlap: int) -> list[str]:
    """Pieces of at most ~max_tokens, each but the first starting with the previous one's tail."""
    if count_tokens(body) <= max_tokens:
        return [body]
    units = list(_units(body, max_tokens))
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for unit, sep in units:
        n = count_tokens(unit)
        if current and size + n > max_tokens:
            pieces.append(_join(current))
            tail = _tail(pieces[-1], overlap)
            tail_size = count_tokens(tail)
            if tail and tail_size + n <= max_tokens:
                current, size = [tail], tail_size
            else:  # no room for an overlap before this unit: start clean
                current, size = [], 0
        if current:
            current.append(sep)
        current.append(unit)
        size += n
    if current:
        pieces.append(_join(current))
    return [p for p in (x.strip() for x in pieces) if p]


def _join(parts: list[str]) -> str:
    return "".join(parts)


def _units(body: str, max_tokens: int):
    """(text, separator before it) at the coarsest granularity that fits the limit.

    The separator is the strongest boundary the unit starts at: a unit opening a paragraph gets
    a blank line before it even when the paragraph itself had to be cut into lines.
    """
    for block in _blocks(body):
        if count_tokens(block) <= max_tokens:
            yield block, "\n\n"
            continue
        block_sep = "\n\n"
        for line in block.split("\n"):
            if count_tokens(line) <= max_tokens:
                yield line, block_sep
                block_sep = "\n"
                continue
            for sentence in _SENTENCE.split(line):
                for piece in (
                    [sentence] if count_tokens(sentence) <= max_tokens else _windows(sentence, max_tokens)
                ):
                    yield piece, block_sep
                    block_sep = " "
            block_sep = "\n"


def _blocks(body: str) -> list[str]:
    """Paragraphs, with a fenced code block kept whole even across its blank lines."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in body.split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and m and m.group(1)[0] == fence[0]:
            fence = None
        if fence is None and not line.strip():
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _windows(text: str, max_tokens: int) -> list[str]:
    """Hard cut of a sentence with no usable boundary: by words, and by characters for blobs."""
    out: list[str] = []
    limit_chars = max_tokens * _CHARS_PER_TOKEN
    current: list[str] = []
    size = 0
    for word in text.split():
        while len(word) > limit_chars:
            out.append(word[:limit_chars])
            word = word[limit_chars:]
        n = count_tokens(word)
        if current and size + n > max_tokens:
            out.append(" ".join(current))
            current, size = [], 0
        current.append(word)
        size += n
    if current:
        out.append(" ".join(current))
    return out


def _tail(text: str, overlap: int) -> str:
    """The last lines (or sentences, or words) of `text` within `overlap` tokens.

    Whole lines keep their layout (list items, commands); a fence marker ends the tail, since half
    a code block would open a fence the next chunk never closes.
    """
    if overlap <= 0:
        return ""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    picked: list[str] = []
    size = 0
    for line in reversed(lines):
        if _FENCE.match(line):
            break
        n = count_tokens(line)
        if size + n > overlap:
            if not picked:  # one long last line: fall back to its last sentences, then words
                return _tail_words(line, overlap)
            break
        picked.insert(0, line)
        size += n
    return "\n".join(picked)


def _tail_words(line: str, overlap: int) -> str:
    sentences = [p for p in _SENTENCE.split(line.strip()) if p]
    picked: list[str] = []
    size = 0
    for sentence in reversed(sentences):
        n = count_tokens(sentence)
        if size + n > overlap:
            break
        picked.insert(0, sentence)
        size += n
    if picked:
        return " ".join(picked)
    words: list[str] = []
    for word in reversed(line.split()):
        size += count_tokens(word)
        if size > overlap:
            break
        words.insert(0, word)
    return " ".join(words)
