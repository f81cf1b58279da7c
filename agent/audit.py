"""The audit log: one JSON line per safety check and per execution, scrubbed, fsync'd, rotated.

It answers "what did the agent run, on whose say-so, and what came back" after the fact, so:
- every line is on disk before the call proceeds (fsync; the executor refuses to run a call whose
  check line could not be written: no unaudited execution);
- every string is scrubbed before it is written (values, not the serialized line: a secret
  containing a quote is escaped by JSON and would no longer match);
- output is recorded as its SHA-256 and size, not its text: the log stays small and holds no
  command output, yet proves which output the model saw;
- rotation is by size (audit.jsonl -> .1 -> .2 ...), under an flock shared by every process
  (the daemon and `halops tool run` may write at once).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Scrub = Callable[[str], str]


def _default_scrub(text: str) -> str:
    from safety import scrub

    return scrub(text).text


def scrub_value(value: Any, scrub: Scrub) -> Any:
    """`value` with every string in it (keys included) passed through `scrub`, one call per string."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {
            scrub_value(k, scrub) if isinstance(k, str) else k: scrub_value(v, scrub)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_value(v, scrub) for v in value]
    return value


# Fields are scrubbed in one pass, joined by a line no secret rule can match; one scrub call per
# record instead of one per string (each call sets up the scrubber's known-secret forms).
_SEP = "\n\x1ehalops-audit-field\x1e\n"


def scrub_record(record: Any, scrub: Scrub) -> Any:
    """Like `scrub_value`, in one scrub call; falls back to per-string when the join is unsafe."""
    strings: list[str] = []

    def collect(v: Any) -> None:
        if isinstance(v, str):
            strings.append(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                collect(k)
                collect(x)
        elif isinstance(v, list | tuple):
            for x in v:
                collect(x)

    collect(record)
    if not strings or any(_SEP.strip("\n") in s for s in strings):
        return scrub_value(record, scrub)
    parts = scrub(_SEP.join(strings)).split(_SEP)
    if len(parts) != len(strings):  # a rule reached across a separator: do it the slow way
        return scrub_value(record, scrub)
    it = iter(parts)

    def rebuild(v: Any) -> Any:
        if isinstance(v, str):
            return next(it)
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                key = rebuild(k)
                out[key] = rebuild(x)
            return out
        if isinstance(v, list | tuple):
            return [rebuild(x) for x in v]
        return v

    return rebuild(record)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    def __init__(
        self, path: Path, *, max_bytes: int = 10 * 1024 * 1024, backups: int = 5, scrub: Scrub | None = None
    ):
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._scrub = scrub or _default_scrub
        self._lock = threading.Lock()
        self._lockfile = path.with_name(path.name + ".lock")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (a `time` field is added first). Raises OSError when it cannot."""
        line = json.dumps(
            {"time": now_iso(), **scrub_record(record, self._scrub)},
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        data = (line + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            lock_fd = os.open(self._lockfile, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                self._rotate_if_needed(len(data))
                created = not self.path.exists()
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if created:
                    _fsync_dir(self.path.parent)
            finally:
                os.close(lock_fd)  # releases the flock

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        # audit.jsonl.(n-1) -> .n, ..., audit.jsonl -> .1; the oldest falls off the end.
        for i in range(self.backups - 1, 0, -1):
            src = self._backup(i)
            if src.exists():
                os.replace(src, self._backup(i + 1))
        os.replace(self.path, self._backup(1))
        _fsync_dir(self.path.parent)

    def _backup(self, i: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{i}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
