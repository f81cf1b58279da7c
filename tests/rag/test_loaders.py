"""Discovery and decoding: bad input is skipped and counted, never fatal, never looping."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rag import loaders
from rag.loaders import Candidate, Document, Skipped, decode, discover, html_to_markdown, load, read_bytes
from tests.rag.helpers import write

pytestmark = pytest.mark.unit


def names(found) -> list[str]:
    return [c.path.name for c in found.files]


def test_discovers_supported_files_in_stable_order(tmp_path: Path):
    for name in ("b.md", "a.rst", "c.txt", "d.html", "e.png", "f.py", ".hidden.md"):
        write(tmp_path / name, "x")
    write(tmp_path / ".git" / "HEAD.md", "x")
    write(tmp_path / "sub" / "g.markdown", "x")
    found = discover([tmp_path])
    assert names(found) == ["a.rst", "b.md", "c.txt", "d.html", "g.markdown"]
    assert found.skipped == []


def test_explicit_file_of_any_type_is_taken(tmp_path: Path):
    f = write(tmp_path / "notes.conf", "x = 1")
    found = discover([f])
    assert [c.path for c in found.files] == [f] and found.files[0].explicit


def test_missing_path_is_reported_not_raised(tmp_path: Path):
    found = discover([tmp_path / "nope"])
    assert found.files == [] and found.skipped[0].reason.startswith(loaders.UNREADABLE)


def test_directory_symlink_loop_terminates_and_indexes_each_file_once(tmp_path: Path):
    write(tmp_path / "docs" / "a.md", "# A")
    (tmp_path / "docs" / "loop").symlink_to(tmp_path / "docs", target_is_directory=True)
    (tmp_path / "docs" / "up").symlink_to(tmp_path, target_is_directory=True)
    found = discover([tmp_path / "docs"])
    assert names(found) == ["a.md"]


def test_file_symlink_loops_and_dangling_links_are_skipped(tmp_path: Path):
    write(tmp_path / "ok.md", "# ok")
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")
    (tmp_path / "ping.md").symlink_to(tmp_path / "pong.md")
    (tmp_path / "pong.md").symlink_to(tmp_path / "ping.md")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "gone.md")
    found = discover([tmp_path])
    assert names(found) == ["ok.md"]
    skipped = sorted(Path(s.path).name for s in found.skipped)
    assert skipped == ["dangling.md", "ping.md", "pong.md", "self.md"]
    assert all(s.reason.startswith(loaders.UNREADABLE) for s in found.skipped)


def test_root_that_is_a_symlink_loop_is_skipped(tmp_path: Path):
    (tmp_path / "me").symlink_to(tmp_path / "me")
    found = discover([tmp_path / "me"])
    assert found.files == [] and len(found.skipped) == 1


def test_file_linked_twice_is_indexed_once(tmp_path: Path):
    write(tmp_path / "a.md", "# A")
    (tmp_path / "b.md").symlink_to(tmp_path / "a.md")
    assert names(discover([tmp_path])) == ["a.md"]


def test_symlinked_file_keeps_the_name_it_was_found_under(tmp_path: Path):
    real = write(tmp_path / "elsewhere" / "real.md", "# R")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "alias.md").symlink_to(real)
    assert [c.path for c in discover([tmp_path / "docs"]).files] == [tmp_path / "docs" / "alias.md"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_directory_is_skipped(tmp_path: Path):
    write(tmp_path / "locked" / "a.md", "# A")
    (tmp_path / "locked").chmod(0)
    try:
        found = discover([tmp_path])
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert found.files == [] and found.skipped


# --- decoding -----------------------------------------------------------------------------------


def test_decode_accepts_utf8_with_and_without_bom_and_utf16():
    assert decode("héllo".encode()) == "héllo"
    assert decode(b"\xef\xbb\xbfhi") == "hi"
    assert decode("hé".encode("utf-16")) == "hé"


def test_decode_refuses_binary_and_legacy_encodings():
    assert decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") is None
    assert decode("café crème".encode("latin-1")) is None


def test_load_reports_binary_and_undecodable_separately(tmp_path: Path):
    binary = load(Candidate(tmp_path / "x.md"), b"abc\x00\x01\x02" * 10)
    latin = load(Candidate(tmp_path / "y.md"), "façade".encode("latin-1"))
    assert isinstance(binary, Skipped) and binary.reason == loaders.BINARY
    assert isinstance(latin, Skipped) and latin.reason == loaders.UNDECODABLE


def test_fifty_megabyte_file_is_skipped_without_reading_it(tmp_path: Path):
    big = tmp_path / "huge.md"
    line = b"# heading\nsome runbook text that goes on and on\n"
    with big.open("wb") as fh:
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            fh.write(line)
    assert big.stat().st_size >= 50 * 1024 * 1024
    started = time.monotonic()
    result = read_bytes(big, 10 * 1024 * 1024)
    assert isinstance(result, Skipped) and result.reason == loaders.TOO_LARGE
    assert time.monotonic() - started < 0.5


def test_read_bytes_returns_content_under_the_limit(tmp_path: Path):
    assert read_bytes(write(tmp_path / "a.md", "abc"), 10) == b"abc"


# --- formats ------------------------------------------------------------------------------------


def test_markdown_front_matter_gives_the_title(tmp_path: Path):
    doc = load(Candidate(tmp_path / "a.md"), b"---\ntitle: Backups\n---\n# Restore\nsteps\n")
    assert isinstance(doc, Document)
    assert doc.title == "Backups" and doc.markdown and "title:" not in doc.text


def test_plain_text_has_no_headings(tmp_path: Path):
    doc = load(Candidate(tmp_path / "a.txt"), b"# not a heading\ntext\n")
    assert isinstance(doc, Document) and not doc.markdown


def test_rst_titles_become_headings_by_order_of_appearance():
    text = "=====\nTitle\n=====\n\nintro\n\nSection\n-------\n\nbody\n\nSub\n~~~\n\nmore\n\nOther\n-------\n"
    md = loaders.rst_to_markdown(text)
    assert "# Title" in md.splitlines()
    assert "## Section" in md.splitlines() and "### Sub" in md.splitlines()
    assert "## Other" in md.splitlines()


def test_html_text_is_extracted_with_headings():
    html = """<html><head><title>t</title><style>p{color:red}</style></head><body>
    <nav>menu</nav><h1>Disk   full</h1><p>Run &lt;df -h&gt; first.</p>
    <script>alert(1)</script><h2>Inodes</h2><ul><li>one</li><li>two</li></ul>
    <pre>line 1
    line 2</pre></body></html>"""
    md = html_to_markdown(html)
    assert "# Disk full" in md and "## Inodes" in md
    assert "Run <df -h> first." in md
    assert "alert" not in md and "color" not in md and "menu" not in md
    assert "- one" in md and "line 1\n" in md


# --- Claude skill folders -----------------------------------------------------------------------


def make_skill(root: Path) -> Path:
    skill = root / "gpu-triage"
    write(
        skill / "SKILL.md",
        "---\nname: gpu-triage\ndescription: Use when a GPU node reports Xid errors.\n---\n"
        "# GPU triage\nSee [the Xid table](references/xid.md) and run [the script](scripts/collect.sh).\n"
        "Do not follow [this](../../etc/passwd) or [that](https://example.com/x.txt).\n",
    )
    write(skill / "references" / "xid.md", "# Xid codes\n79 fell off the bus\n")
    write(skill / "scripts" / "collect.sh", "#!/bin/sh\nnvidia-bug-report.sh\n")
    write(skill / "scripts" / "unlinked.sh", "echo not linked\n")
    write(root / "etc" / "passwd", "root:x:0:0")
    return skill


def test_skill_folder_brings_skill_md_references_and_linked_files(tmp_path: Path):
    skill = make_skill(tmp_path / "skills")
    found = discover([tmp_path / "skills"])
    got = {c.path.relative_to(tmp_path / "skills").as_posix(): c.skill for c in found.files}
    assert got == {
        "gpu-triage/SKILL.md": "gpu-triage",
        "gpu-triage/references/xid.md": "gpu-triage",
        "gpu-triage/scripts/collect.sh": "gpu-triage",
    }
    doc = load(next(c for c in found.files if c.path.name == "SKILL.md"), (skill / "SKILL.md").read_bytes())
    assert isinstance(doc, Document)
    assert doc.title == "gpu-triage" and doc.text.startswith("Use when a GPU node reports Xid errors.")
