"""Output capping: head and tail kept around a marker, line-aware, bounded memory."""

from __future__ import annotations

import hashlib

import pytest

from agent.executors.output import CappedText, OutputStream, Streams
from agent.executors.result import Status

pytestmark = pytest.mark.unit


def test_small_output_is_unchanged() -> None:
    c = CappedText(1024)
    c.add("hello\n")
    c.add("world\n")
    r = c.result()
    assert (r.text, r.truncated, r.total_bytes) == ("hello\nworld\n", False, 12)
    assert r.sha256 == hashlib.sha256(b"hello\nworld\n").hexdigest()


def test_exactly_at_the_cap_is_not_truncated() -> None:
    c = CappedText(1024)
    c.add("x" * 1024)
    r = c.result()
    assert not r.truncated and r.text == "x" * 1024


def test_head_and_tail_kept_with_marker() -> None:
    lines = [f"line {i:05d}\n" for i in range(10000)]
    c = CappedText(4096)
    for line in lines:
        c.add(line)
    r = c.result()
    full = "".join(lines)
    assert r.truncated
    assert r.total_bytes == len(full)
    assert r.sha256 == hashlib.sha256(full.encode()).hexdigest()
    head, rest = r.text.split("\n[... halops: ", 1)
    omitted_text, tail = rest.split(" ...]\n", 1)
    assert full.startswith(head)
    assert full.endswith(tail)
    # Cuts fall on line boundaries: whole lines on both sides.
    assert head.endswith("\n") is False and head.split("\n")[-1].startswith("line ")
    assert tail.startswith("line ") and tail.endswith("line 09999\n")
    omitted = int(omitted_text.split()[0])
    assert omitted == len(full.encode()) - len((head + "\n").encode()) - len(tail.encode())
    assert len(head.encode()) + len(tail.encode()) <= 4096


def test_multibyte_characters_are_not_split() -> None:
    c = CappedText(1024)
    c.add("é" * 5000)  # 10000 bytes, no newlines to snap to
    r = c.result()
    assert r.truncated
    assert "\ufffd" not in r.text
    head, _, tail = r.text.partition("\n[... halops:")
    assert set(head) == {"é"}


def test_memory_stays_bounded() -> None:
    c = CappedText(2048)
    for _ in range(20000):
        c.add("y" * 100)
    assert len(c._tail) <= 2 * 2048 + 100
    assert len(c._head) == 1024


def test_stream_decodes_utf8_split_across_chunks_and_binary() -> None:
    s = OutputStream(1024)
    data = "naïve ✓\n".encode()
    for b in data:
        s.write(bytes([b]))
    s.write(b"\xff\xfe\n")
    r = s.close()
    assert r.text == "naïve ✓\n\ufffd\ufffd\n"


class Redact:
    """A streaming scrubber stand-in: holds back len("secret") - 1 characters between chunks."""

    def __init__(self) -> None:
        self.held = ""

    def feed(self, chunk: str) -> str:
        text = (self.held + chunk).replace("secret", "[REDACTED]")
        self.held, out = text[-5:], text[:-5]
        return out

    def finish(self) -> str:
        out, self.held = self.held, ""
        return out


def test_scrubbing_happens_before_capping() -> None:
    s = OutputStream(1024, Redact())
    for chunk in ("a" * 2000, "sec", "ret", "b" * 10):
        s.write(chunk.encode())
    r = s.close()
    assert "[REDACTED]" in r.text and "secret" not in r.text
    assert r.text.endswith("[REDACTED]" + "b" * 10)


def test_streams_outcome_puts_the_note_last() -> None:
    st = Streams(1024)
    st.stderr.write(b"partial line")
    o = st.outcome(Status.TIMEOUT, note="timed out after 1 s")
    assert o.result.stderr == "partial line\nhalops: timed out after 1 s\n"
    assert o.result.status == "timeout"
    assert o.output_bytes == len(o.result.stderr)
