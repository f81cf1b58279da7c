"""Output capture: decode, scrub, digest and cap one output stream as it arrives.

The order matters. Scrubbing runs on the *whole* stream before capping, so a secret that happens to
straddle the cut can never leave half of itself in the kept head or tail; the digest is taken of the
scrubbed, uncapped text, so the audit log can prove which output the model saw without holding
anything derived from a secret. Capping keeps the head (what a command prints first: headers,
the error that started it all) and the tail (the end result, the last log lines) and says how much
was cut in between. Memory stays bounded however much a command prints.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from agent.executors.result import Outcome, Status, ToolResult


class StreamScrubber(Protocol):
    """What `safety.Scrubber` offers: text in, redacted text out, safe across chunk boundaries."""

    def feed(self, chunk: str) -> str: ...

    def finish(self) -> str: ...


ScrubberFactory = Callable[[], StreamScrubber]


class PassThrough:
    """No scrubbing; for code paths whose caller scrubs afterwards, and for tests of capping alone."""

    def feed(self, chunk: str) -> str:
        return chunk

    def finish(self) -> str:
        return ""


@dataclass(frozen=True)
class Captured:
    text: str
    truncated: bool
    total_bytes: int  # UTF-8 bytes of the scrubbed stream before capping
    sha256: str  # of those bytes


# A cut moves back (head) or forward (tail) to a line break when one is this close, so the model
# sees whole lines on both sides of the marker.
_LINE_SNAP = 0.25


def marker(omitted: int, cap: int) -> str:
    return f"\n[... halops: {omitted} bytes cut here, output cap is {cap} bytes per stream ...]\n"


class CappedText:
    """Keeps the first and the last `cap // 2` bytes of everything added; counts the rest."""

    def __init__(self, cap: int):
        self.cap = cap
        self._half = cap // 2
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0
        self._sha = hashlib.sha256()

    def add(self, text: str) -> None:
        if not text:
            return
        data = text.encode("utf-8")
        self._sha.update(data)
        self._total += len(data)
        room = self._half - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            # Trim lazily (at twice the size) so a stream of tiny chunks stays linear.
            if len(self._tail) > 2 * self.cap:
                del self._tail[: len(self._tail) - self.cap]

    def result(self) -> Captured:
        digest = self._sha.hexdigest()
        if self._total <= self.cap:
            text = (bytes(self._head) + bytes(self._tail)).decode("utf-8", "replace")
            return Captured(text, False, self._total, digest)
        head = bytes(self._head)
        tail = bytes(self._tail[-(self.cap - self._half) :])
        snap = int(len(head) * _LINE_SNAP)
        nl = head.rfind(b"\n", len(head) - snap)
        if nl != -1:
            head = head[: nl + 1]
        nl = tail.find(b"\n", 0, snap)
        if nl != -1:
            tail = tail[nl + 1 :]
        omitted = self._total - len(head) - len(tail)
        # A cut can split a multi-byte character; drop its pieces rather than print U+FFFD.
        text = (
            head.decode("utf-8", "ignore").rstrip("\n")
            + marker(omitted, self.cap)
            + tail.decode("utf-8", "ignore")
        )
        return Captured(text, True, self._total, digest)


class OutputStream:
    """Bytes of one stream in, `Captured` out. One writer thread per stream."""

    def __init__(self, cap: int, scrubber: StreamScrubber | None = None):
        # Undecodable bytes (binary output) become U+FFFD: the model gets text, never raw bytes.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._scrubber = scrubber or PassThrough()
        self._capped = CappedText(cap)
        self.written = False
        self.ends_with_newline = False

    def write(self, data: bytes) -> None:
        if data:
            self.write_text(self._decoder.decode(data))

    def write_text(self, text: str) -> None:
        if text:
            self.written = True
            self.ends_with_newline = text.endswith("\n")
            self._capped.add(self._scrubber.feed(text))

    def close(self) -> Captured:
        rest = self._decoder.decode(b"", final=True)
        if rest:
            self._capped.add(self._scrubber.feed(rest))
        self._capped.add(self._scrubber.finish())
        return self._capped.result()


class Streams:
    """The stdout and stderr captures of one call, and the `Outcome` built from them."""

    def __init__(self, cap: int, scrubber_factory: ScrubberFactory | None = None):
        factory = scrubber_factory or PassThrough
        self.stdout = OutputStream(cap, factory())
        self.stderr = OutputStream(cap, factory())

    def outcome(self, status: Status, exit_code: int | None = None, note: str | None = None) -> Outcome:
        """Close both streams. `note` (why it failed, that it timed out) ends stderr, so the cap keeps it."""
        if note:
            sep = "\n" if self.stderr.written and not self.stderr.ends_with_newline else ""
            self.stderr.write_text(f"{sep}halops: {note}\n")
        out, err = self.stdout.close(), self.stderr.close()
        return Outcome(
            ToolResult(
                status=status,
                exit_code=exit_code,
                stdout=out.text,
                stderr=err.text,
                truncated=out.truncated or err.truncated,
            ),
            stdout_sha256=out.sha256,
            stderr_sha256=err.sha256,
            output_bytes=out.total_bytes + err.total_bytes,
        )
