"""JSONL in and out: tolerant reading, canonical and atomic writing.

Reading never stops at a bad line: it is counted (with its line number) and skipped, so one torn
write does not cost a whole session. Writing goes to a temporary file in the same folder, is
fsync'd, then renamed over the real name: a killed run leaves the previous file or the new one,
never half of one. Output is canonical (sorted keys, no ASCII escaping) so that the same data
always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TMP_MARK = ".tmp-"


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass
class BadLines:
    """Lines that were not JSON objects: counted per reason, the first few kept for the report."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if len(self.samples) < 20:
            self.samples.append(f"{where}: {reason}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def iter_lines(path: Path, bad: BadLines, label: str | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for every line that is valid JSON; the rest goes to `bad`.

    A last line without its newline that does not parse is a write cut short ("truncated"),
    anything else unparsable is "not JSON". Values that are not objects are passed through: what
    an object must hold is the caller's business.
    """
    label = label or str(path)
    with path.open("rb") as fh:
        data = fh.read()
    lines = data.split(b"\n")
    complete = data.endswith(b"\n")
    last = len(lines) - 1
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            reason = "truncated last line" if i == last and not complete else "not JSON"
            bad.add(f"{label}:{i + 1}", reason)
            continue
        if b"\\ud" in raw or b"\\uD" in raw:  # a \uD800-style escape may leave a lone surrogate
            value = _no_lone_surrogates(value)
        yield i + 1, value


def _no_lone_surrogates(value: Any) -> Any:
    """Lone surrogates (a cut emoji in some tool output) cannot be written as UTF-8 nor tokenized."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_no_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {k: _no_lone_surrogates(v) for k, v in value.items()}
    return value


def read_objects(path: Path, bad: BadLines | None = None) -> list[dict[str, Any]]:
    """Every JSON object line of a stage file (stage files are ours: anything else is counted)."""
    bad = bad if bad is not None else BadLines()
    out = []
    for lineno, value in iter_lines(path, bad):
        if isinstance(value, dict):
            out.append(value)
        else:
            bad.add(f"{path}:{lineno}", "not an object")
    return out


class AtomicWriter:
    """Write a file under a temporary name; `commit()` fsyncs and renames it into place."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")
        self._fh = self.tmp.open("w", encoding="utf-8", newline="\n")
        self.count = 0

    def write(self, obj: Any) -> None:
        self._fh.write(dumps(obj))
        self._fh.write("\n")
        self.count += 1

    def write_text(self, text: str) -> None:
        self._fh.write(text)

    def commit(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_jsonl(path: Path, rows: Iterable[Any]) -> int:
    with AtomicWriter(path) as out:
        for row in rows:
            out.write(row)
    return out.count


def write_json(path: Path, obj: Any) -> None:
    with AtomicWriter(path) as out:
        out.write_text(json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2) + "\n")


def remove_stale_temps(folder: Path) -> None:
    """Temporary files a killed run left behind (never the real names)."""
    if folder.is_dir():
        for p in folder.iterdir():
            if TMP_MARK in p.name:
                p.unlink(missing_ok=True)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
