"""Finding documents on disk and turning each into text: discovery, decoding, format conversion.

Every format is converted to Markdown-ish text (headings as `#` lines) so that one chunker handles
them all. Nothing here is fatal for one bad file: binary, undecodable, oversized or unreadable files
come back as `Skipped` entries with a reason, to be counted, never raised.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import yaml

MARKDOWN = frozenset({".md", ".markdown", ".mdx"})
RST = frozenset({".rst", ".rest"})
TEXT = frozenset({".txt", ".text"})
HTML = frozenset({".html", ".htm", ".xhtml"})
SUPPORTED = MARKDOWN | RST | TEXT | HTML
SKILL_FILE = "SKILL.md"

# Skip reasons, reported by `halops rag ingest` as counts.
BINARY = "binary"
UNDECODABLE = "undecodable"
TOO_LARGE = "too large"
UNREADABLE = "unreadable"
UNSUPPORTED = "unsupported type"


@dataclass(frozen=True)
class Candidate:
    """A file discovery found: where it is and, for skill folders, which skill it belongs to."""

    path: Path
    skill: str | None = None
    explicit: bool = False  # named on the command line: any extension is tried as text


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Document:
    """One file's text, ready for the chunker."""

    source: str
    text: str
    markdown: bool  # False: plain text, whose `#` lines are not headings
    title: str | None = None  # root of the heading trail (the skill name for skill folders)


@dataclass
class Discovery:
    files: list[Candidate] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _abs(path: Path) -> Path:
    # Absolute but not resolved: a file reached through a symlink keeps the name the operator sees,
    # and stays "under" the root it was found in (which deletion detection relies on).
    return Path(os.path.normpath(path.absolute()))


def discover(paths: Iterable[Path]) -> Discovery:
    """Every supported file under `paths`, once each, symlink loops broken, in a stable order."""
    out = Discovery()
    seen_files: set[tuple[int, int]] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for root in paths:
        root = _abs(Path(root))
        try:
            st = root.stat()
        except OSError as exc:  # missing, dangling link, link loop (ELOOP)
            out.skipped.append(Skipped(str(root), f"{UNREADABLE}: {exc.strerror or exc}"))
            continue
        if root.is_dir():
            for cand in _walk(root, None, seen_dirs, out):
                _add(cand, seen_files, out)
        else:
            _add(Candidate(root, explicit=True), seen_files, out, st)
    return out


def _add(cand: Candidate, seen: set[tuple[int, int]], out: Discovery, st: os.stat_result | None = None):
    try:
        str(cand.path).encode("utf-8")
    except UnicodeEncodeError:
        # A name in a legacy encoding cannot be stored (Chroma metadata is UTF-8) nor printed.
        shown = str(cand.path).encode("utf-8", "backslashreplace").decode("utf-8")
        out.skipped.append(Skipped(shown, f"{UNDECODABLE}: file name is not UTF-8"))
        return
    try:
        st = st or cand.path.stat()
    except OSError as exc:
        out.skipped.append(Skipped(str(cand.path), f"{UNREADABLE}: {exc.strerror or exc}"))
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:  # the same file through a second link: index it once
        return
    seen.add(key)
    out.files.append(cand)


def _walk(directory: Path, skill: str | None, seen_dirs: set, out: Discovery) -> Iterator[Candidate]:
    try:
        st = directory.stat()
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        out.skipped.append(Skipped(str(directory), f"{UNREADABLE}: {exc.strerror or exc}"))
        return
    # Directory identity, not path, breaks loops: a -> .. would otherwise recurse forever.
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs:
        return
    seen_dirs.add(key)
    skill_md = directory / SKILL_FILE
    links: list[Path] = []
    if skill is None and skill_md.is_file():
        # A Claude skill folder: SKILL.md, every document below it, and what SKILL.md links to.
        skill = _skill_name(skill_md) or directory.name
        links = _linked_files(skill_md)
    for entry in entries:
        if entry.name.startswith("."):  # .git, .venv, editor state: never documentation
            continue
        path = directory / entry.name
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(path, skill, seen_dirs, out)
        elif path.suffix.lower() in SUPPORTED:
            yield Candidate(path, skill)
        elif not _exists(path):
            out.skipped.append(Skipped(str(path), f"{UNREADABLE}: dangling or looping symlink"))
    for path in links:
        yield Candidate(path, skill, explicit=True)


def _exists(path: Path) -> bool:
    try:
        path.stat()
        return True
    except OSError:
        return False


_LINK = re.compile(r"\]\(\s*<?([^)>\s#]+)")


def _linked_files(skill_md: Path) -> list[Path]:
    """Files SKILL.md links to that the folder walk does not pick up by extension.

    A skill may point at `reference.txt`, `forms.yaml` or a script: those count whatever their
    extension, but only inside the skill folder, so a link cannot pull in the rest of the disk.
    """
    try:
        text = skill_md.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    real_dir = skill_md.parent.resolve()
    found: list[Path] = []
    for target in _LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = _abs(skill_md.parent / target)
        if path.suffix.lower() in SUPPORTED or not path.is_file() or path in found:
            continue  # supported ones come from the walk; missing ones are the author's typo
        if path.resolve().is_relative_to(real_dir):
            found.append(path)
    return found


def _skill_name(skill_md: Path) -> str | None:
    try:
        head = skill_md.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    meta, _ = split_front_matter(head)
    name = meta.get("name")
    return str(name) if name else None


_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[dict, str]:
    """YAML front matter (`---` block at the top) as a dict, and the text after it."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}, text  # not YAML after all: keep the text as it is
    return (meta if isinstance(meta, dict) else {}), text[m.end() :]


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path, max_bytes: int) -> bytes | Skipped:
    """The file's bytes, or why not. The size is checked before reading, so a huge file costs nothing."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped(str(path), TOO_LARGE)
        with path.open("rb") as fh:
            return fh.read(max_bytes + 1)
    except OSError as exc:
        return Skipped(str(path), f"{UNREADABLE}: {exc.strerror or exc}")


def decode(data: bytes) -> str | None:
    """Text of `data`, or None when it is binary or not UTF-8/UTF-16 (with a BOM).

    No guessing of legacy code pages: Latin-1 "decodes" any byte string, so a fallback to it would
    index binary garbage. An operator with such files converts them once with iconv.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def load(cand: Candidate, data: bytes) -> Document | Skipped:
    """Convert one file's bytes to a `Document` (Markdown-ish text), or say why it was skipped."""
    source = str(cand.path)
    text = decode(data)
    if text is None:
        return Skipped(source, BINARY if b"\x00" in data[:8192] else UNDECODABLE)
    suffix = cand.path.suffix.lower()
    markdown = True
    title = cand.skill
    if suffix in MARKDOWN:
        meta, text = split_front_matter(text)
        if cand.path.name == SKILL_FILE and meta.get("description"):
            # The description is what decides when a skill applies: make it searchable.
            text = f"{meta['description']}\n\n{text}"
        if not title and meta.get("title"):
            title = str(meta["title"])
    elif suffix in RST:
        text = rst_to_markdown(text)
    elif suffix in HTML:
        text = html_to_markdown(text)
    elif suffix in TEXT or cand.explicit:
        markdown = False
    else:
        return Skipped(source, UNSUPPORTED)
    return Document(source, text, markdown, title)


# --- reStructuredText -------------------------------------------------------------------------

_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")


def rst_to_markdown(text: str) -> str:
    """Turn RST section titles into `#` headings; the body is kept as it is.

    RST has no fixed heading levels: the first adornment style seen is level 1, the next new one
    level 2, and so on (an overlined style differs from the same character underlined only).
    """
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        over = _ADORN.match(line)
        if (
            over
            and i + 2 < len(lines)
            and lines[i + 1].strip()
            and _ADORN.match(lines[i + 2])
            and lines[i + 2].strip()[0] == over.group(1)
        ):
            style, title, i = (over.group(1), True), lines[i + 1].strip(), i + 3
        elif (
            line.strip()
            and not over
            and i + 1 < len(lines)
            and (under := _ADORN.match(lines[i + 1]))
            and len(lines[i + 1].strip()) >= len(line.strip())
        ):
            style, title, i = (under.group(1), False), line.strip(), i + 2
        else:
            out.append(line)
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        out.append("#" * min(styles.index(style) + 1, 6) + " " + title)
    return "\n".join(out)


# --- HTML ---------------------------------------------------------------------------------------

_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "br",
        "li",
        "tr",
        "table",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "pre",
        "hr",
        "main",
        "header",
        "footer",
        "figure",
    }
)
_DROP = frozenset({"script", "style", "head", "nav", "noscript", "template", "svg", "iframe"})
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "wbr", "source"})


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.drop = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _DROP:
            if tag not in _VOID:
                self.drop += 1
            return
        if re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag != "br" else "\n")
        if tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self.drop = max(0, self.drop - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in _BLOCK:
            self.parts.append("\n\n")
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.drop:
            return
        # Outside <pre>, HTML whitespace is insignificant: newlines inside a heading would
        # otherwise break it in two.
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_markdown(text: str) -> str:
    """Visible text of an HTML page, headings as `#` lines; scripts, styles and navigation dropped."""
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    joined = "".join(parser.parts)
    lines = [ln.strip() if not ln.startswith("    ") else ln.rstrip() for ln in joined.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
