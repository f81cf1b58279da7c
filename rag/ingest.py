"""Incremental ingest: make the store mirror the documents under the given paths.

Each chunk's id derives from its source path and content hash, so "is this chunk already
embedded?" is a set lookup. A file whose bytes hash the same as when it was ingested is not even
decoded. Chunks of changed files that no longer exist, and every chunk of a file that vanished (or
became unreadable, binary or empty) under an ingested path, are deleted. Chunks from sources
outside the given paths are left alone: one store can hold several trees ingested separately.

Order matters for interruptions: new chunks are written batch by batch before anything is
deleted, so a killed ingest leaves extra chunks (removed by the next run), never missing ones,
and the next run does not embed again what was written.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.chunking import Chunk, chunk_text
from rag.config import RagSettings
from rag.embedder import Embedder
from rag.loaders import Document, Skipped, discover, file_hash, load, read_bytes
from rag.store import ChunkStore

EMPTY = "empty"
CHUNKER_VERSION = 1  # bump when loaders/chunking change their output for the same input
EMBED_BATCH = 64  # chunks per embed call and progress step
# Chunks per store write. Chroma's per-call cost (validation, a SQLite transaction, an HNSW
# batch) is a large share of a 64-chunk write; 512 halves the store's part of an ingest. An
# exception or Ctrl-C writes what was embedded; only a SIGKILL loses up to this many chunks.
STORE_BATCH = 512


class Progress(Protocol):
    def start(self, stage: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _NoProgress:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass
class IngestReport:
    files_changed: int = 0  # new or modified: decoded and chunked
    files_unchanged: int = 0
    files_removed: int = 0  # sources whose every chunk was deleted
    chunks_embedded: int = 0
    chunks_kept: int = 0
    chunks_removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        # "unreadable: Permission denied" and "unreadable: Too many levels..." count together.
        return dict(Counter(s.reason.split(":")[0] for s in self.skipped))

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Pending:
    ids: list[str] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    metas: list[dict] = field(default_factory=list)


def chunk_id(source: str, content_hash: str, duplicate: int) -> str:
    digest = hashlib.sha256(f"{source}\x00{content_hash}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:40] if duplicate == 0 else f"{digest[:40]}-{duplicate}"


def chunk_document(doc: Document, settings: RagSettings) -> list[Chunk]:
    return chunk_text(
        doc.text,
        markdown=doc.markdown,
        title=doc.title,
        max_tokens=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
    )


def ingest(
    paths: Iterable[Path],
    store: ChunkStore,
    embedder: Embedder,
    settings: RagSettings,
    *,
    reindex: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring `store` in line with the documents under `paths`; see the module docstring.

    Raises `StoreBusyError` if another ingest is writing to the same local store.
    """
    with store.writer():
        return _ingest(paths, store, embedder, settings, reindex=reindex, progress=progress)


def _ingest(
    paths: Iterable[Path],
    store: ChunkStore,
    embedder: Embedder,
    settings: RagSettings,
    *,
    reindex: bool,
    progress: Progress | None,
) -> IngestReport:
    progress = progress or _NoProgress()
    started = time.monotonic()
    report = IngestReport()
    roots = [Path(os.path.normpath(Path(p).absolute())) for p in paths]
    if reindex:
        store.drop()
    store.collection(create=True)  # refuses a store built with another embedder, before any work
    found = discover(roots)
    report.skipped.extend(found.skipped)
    existing = store.snapshot()
    present: dict[str, set[str]] = {}
    pending = _Pending()
    kept_ids: list[str] = []
    kept_metas: list[dict] = []
    max_bytes = int(settings.max_file_mb * 1024 * 1024)

    progress.start("reading", len(found.files))
    for cand in found.files:
        progress.advance()
        source = str(cand.path)
        data = read_bytes(cand.path, max_bytes)
        if isinstance(data, Skipped):
            report.skipped.append(data)
            continue
        fhash = _file_key(data, cand.skill, settings)
        old = existing.get(source, {})
        # Unchanged means same bytes *and* every chunk present: an ingest killed halfway through
        # a file leaves some of its chunks written with the new hash and the rest missing.
        if old and all(c.file_hash == fhash and c.file_chunks == len(old) for c in old.values()):
            report.files_unchanged += 1
            report.chunks_kept += len(old)
            present[source] = set(old)
            continue
        doc = load(cand, data)
        if isinstance(doc, Skipped):
            report.skipped.append(doc)
            continue
        chunks = chunk_document(doc, settings)
        if not chunks:
            report.skipped.append(Skipped(source, EMPTY))
            continue
        report.files_changed += 1
        ids = _assign_ids(source, chunks)
        present[source] = set(ids)
        for position, (cid, chunk) in enumerate(zip(ids, chunks, strict=True)):
            meta = {
                "source": source,
                "heading": chunk.heading,
                "content_hash": chunk.content_hash,
                "file_hash": fhash,
                "position": position,
                "file_chunks": len(chunks),
                "skill": cand.skill or "",
            }
            if cid in old:
                kept_ids.append(cid)  # same text: keep the vector, refresh where it sits
                kept_metas.append(meta)
            else:
                pending.ids.append(cid)
                pending.chunks.append(chunk)
                pending.metas.append(meta)

    report.embed_seconds = _embed_and_write(pending, store, embedder, progress)
    report.chunks_embedded = len(pending.ids)
    report.chunks_kept += len(kept_ids)
    if kept_ids:
        store.update_metadata(kept_ids, kept_metas)

    stale: list[str] = []
    for source, chunks in existing.items():
        if not _under(source, roots):
            continue
        gone = set(chunks) - present.get(source, set())
        stale.extend(sorted(gone))
        if gone and source not in present:
            report.files_removed += 1
    store.delete(stale)
    report.chunks_removed = len(stale)
    if reindex or pending.ids or kept_ids or stale:
        store.mark_changed()
    report.seconds = time.monotonic() - started
    return report


def _file_key(data: bytes, skill: str | None, settings: RagSettings) -> str:
    """Hash of what a file's chunks depend on: its bytes, and how it is cut and titled.

    Changing chunk_tokens must re-chunk files whose bytes did not change, so it is part of the key.
    """
    recipe = f"{CHUNKER_VERSION}|{settings.chunk_tokens}|{settings.chunk_overlap}|{skill or ''}|"
    return file_hash(recipe.encode() + data)


def _assign_ids(source: str, chunks: list[Chunk]) -> list[str]:
    # Two identical chunks in one file (a repeated warning box) need distinct ids.
    seen: Counter[str] = Counter()
    ids = []
    for chunk in chunks:
        ids.append(chunk_id(source, chunk.content_hash, seen[chunk.content_hash]))
        seen[chunk.content_hash] += 1
    return ids


def _embed_and_write(pending: _Pending, store: ChunkStore, embedder: Embedder, progress: Progress) -> float:
    progress.start("embedding", len(pending.ids))
    # Shortest first, across all files: every batch is padded to its longest text, and chunks of
    # one file differ in length, so file order wastes ~10 % of the model's work on padding.
    order = sorted(range(len(pending.ids)), key=lambda i: len(pending.chunks[i].embed_text))
    spent = 0.0
    buffered: list[int] = []
    parts: list[np.ndarray] = []

    def flush() -> None:
        if buffered:
            # Emptied first: a failed write is not retried by the error path below.
            idx, vectors = list(buffered), np.concatenate(parts)
            buffered.clear()
            parts.clear()
            _write(pending, idx, vectors, store)

    try:
        for start in range(0, len(order), EMBED_BATCH):
            idx = order[start : start + EMBED_BATCH]
            t0 = time.monotonic()
            vectors = embedder.embed([pending.chunks[i].embed_text for i in idx])
            spent += time.monotonic() - t0
            parts.append(np.asarray(vectors, dtype=np.float32))
            buffered.extend(idx)
            if len(buffered) >= STORE_BATCH:
                flush()
            progress.advance(len(idx))
    except BaseException:
        # An embedder error or Ctrl-C keeps what was already embedded: the next run skips it.
        flush()
        raise
    flush()
    return spent


def _write(pending: _Pending, idx: list[int], vectors: np.ndarray, store: ChunkStore) -> None:
    store.add(
        [pending.ids[i] for i in idx],
        vectors,
        [pending.chunks[i].text for i in idx],
        [pending.metas[i] for i in idx],
    )


def _under(source: str, roots: list[Path]) -> bool:
    for root in roots:
        r = str(root)
        if source == r or source.startswith(r.rstrip(os.sep) + os.sep):
            return True
    return False
