"""The vector store: one Chroma collection of chunks, local (persistent) or on a Chroma server.

The collection's metadata records the embedding id (model + vector flavour) and dimension it was
built with. Opening it with another embedder raises `StoreMismatchError`: vectors of two models
live in unrelated spaces, and mixing them would return nonsense with confident scores.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.config import RagSettings
from rag.errors import StoreBusyError, StoreError, StoreMismatchError

META_EMBEDDING = "halops:embedding"
META_DIM = "halops:dim"
META_SCHEMA = "halops:schema"
SCHEMA = 1
# Chroma rejects oversized writes; 1000 rows of 384 floats is far below every limit it has.
WRITE_BATCH = 1000
READ_PAGE = 5000
STAMP_PREFIX = "halops-changed-"


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk. `score` is the cosine similarity to the query (1 = same direction)."""

    text: str
    source: str
    heading: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredChunk:
    id: str
    source: str
    content_hash: str
    file_hash: str
    file_chunks: int  # how many chunks the file had when this one was written (-1: unknown)


def open_client(settings: RagSettings, data_dir: Path, *, ephemeral: bool = False):
    """A Chroma client: in memory (evaluation), a server (`chroma_url`) or the local store."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError as exc:
        raise StoreError("the vector store needs the chromadb package (pip install chromadb)") from exc
    # Telemetry would try to reach the internet from a box that must not.
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if ephemeral:
            return chromadb.EphemeralClient(settings=chroma_settings)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            ssl = url.scheme == "https"
            return chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if ssl else 8000),
                ssl=ssl,
                settings=chroma_settings,
            )
        path = settings.store_path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except StoreError:
        raise
    except Exception as exc:  # chromadb raises ValueError, OSError, httpx errors...: one meaning
        where = settings.chroma_url or str(settings.store_path(data_dir))
        raise StoreError(f"cannot open the vector store at {where}: {exc}") from exc


def not_found_error() -> type[Exception]:
    """chromadb's "no such collection" exception class (imported lazily, like chromadb)."""
    from chromadb.errors import NotFoundError

    return NotFoundError


class ChunkStore:
    """The chunks of one collection, guarded by the embedding id it was built with."""

    def __init__(
        self,
        client,
        name: str,
        embedding_id: str,
        dim: int,
        where: str = "",
        *,
        reopen: Callable[[], Any] | None = None,
        stamp: Path | None = None,
    ):
        self.client = client
        self.name = name
        self.embedding_id = embedding_id
        self.dim = dim
        self.where = where or name
        self._collection = None
        # A local Chroma store is read into memory when opened: writes by another process (the
        # daemon's store while `halops rag ingest` runs) are invisible until it is opened again.
        # Writers replace the stamp file when they finish; readers stat it before each use
        # (a microsecond) and reopen the client when it changed.
        self._reopen = reopen
        self._stamp = stamp
        self._seen = self._stamp_state()

    @classmethod
    def open(
        cls, settings: RagSettings, data_dir: Path, embedding_id: str, dim: int, *, ephemeral: bool = False
    ) -> ChunkStore:
        client = open_client(settings, data_dir, ephemeral=ephemeral)
        # An in-memory client is shared by the whole process: a unique name keeps runs apart.
        name = f"eval-{uuid.uuid4().hex[:12]}" if ephemeral else settings.collection
        where = "memory" if ephemeral else settings.chroma_url or str(settings.store_path(data_dir))
        if ephemeral or settings.chroma_url:  # one process or a server: always consistent
            return cls(client, name, embedding_id, dim, where)
        return cls(
            client,
            name,
            embedding_id,
            dim,
            where,
            reopen=lambda: open_client(settings, data_dir),
            stamp=settings.store_path(data_dir) / f"{STAMP_PREFIX}{name}",
        )

    # --- staying current with other processes ---------------------------------------------------

    def _stamp_state(self) -> tuple[int, int] | None:
        if self._stamp is None:
            return None
        try:
            st = self._stamp.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _refresh(self) -> None:
        if self._stamp is None or self._reopen is None:
            return
        state = self._stamp_state()
        if state == self._seen:
            return
        self._seen = state
        self._collection = None
        close = getattr(self.client, "close", None)  # chromadb >= 1.1; older ones just drop it
        if close is not None:
            close()
        self.client = self._reopen()

    @contextlib.contextmanager
    def writer(self):
        """Exclusive right to write a local store: a second ingest fails fast instead of racing.

        Chroma's local store has a single writer; two ingests interleaving their deletes could
        also drop each other's chunks. Servers serialise writes themselves: no lock there.
        """
        if self._stamp is None:
            yield
            return
        path = self._stamp.with_name(f".halops-ingest-{self.name}.lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "w")  # noqa: SIM115 - held for the whole ingest
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc}") from exc
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreBusyError(
                    f"another `halops rag ingest` is writing to {self.where}: wait for it to finish"
                ) from None
            yield

    def mark_changed(self) -> None:
        """Tell stores open in other processes to reload (ingest calls it after writing)."""
        if self._stamp is None:
            return
        tmp = self._stamp.with_name(f".{self._stamp.name}.{os.getpid()}")
        try:
            tmp.write_text(uuid.uuid4().hex)
            os.replace(tmp, self._stamp)  # a new inode every time: robust to coarse mtimes
        except OSError as exc:
            raise StoreError(f"cannot write {self._stamp}: {exc}") from exc
        self._seen = self._stamp_state()

    # --- opening ------------------------------------------------------------------------------

    def collection(self, *, create: bool):
        """The collection, checked against our embedding id; None if absent and not `create`."""
        self._refresh()
        if self._collection is not None:
            return self._collection
        try:
            col = self.client.get_collection(self.name, embedding_function=None)
        except not_found_error():
            if not create:
                return None
            col = self._create()
        except Exception as exc:
            raise StoreError(f"cannot open collection {self.name!r} at {self.where}: {exc}") from exc
        self._check(col)
        self._collection = col
        return col

    def _create(self):
        metadata = {META_EMBEDDING: self.embedding_id, META_DIM: self.dim, META_SCHEMA: SCHEMA}
        try:
            # embedding_function=None: we always pass vectors. Chroma's default function would
            # try to download a model from the internet.
            return self.client.get_or_create_collection(
                self.name,
                metadata=metadata,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
            )
        except Exception as exc:
            raise StoreError(f"cannot create collection {self.name!r} at {self.where}: {exc}") from exc

    def _check(self, col) -> None:
        meta = col.metadata or {}
        stored = str(meta.get(META_EMBEDDING, "unknown (not created by halops)"))
        if stored != self.embedding_id or int(meta.get(META_DIM, -1)) != self.dim:
            raise StoreMismatchError(
                f"the vector store {self.where} (collection {self.name!r}) was built with embeddings "
                f"{stored!r}, but this configuration uses {self.embedding_id!r}. Vectors of different "
                "models cannot be mixed: re-index with `halops rag ingest --reindex`, or set "
                "rag.embedding_model / rag.backend back to what built it.",
                stored=stored,
                configured=self.embedding_id,
            )

    def drop(self) -> None:
        """Delete the whole collection (re-index from scratch)."""
        self._collection = None
        try:
            self.client.delete_collection(self.name)
        except not_found_error():
            pass
        except Exception as exc:
            raise StoreError(f"cannot delete collection {self.name!r}: {exc}") from exc

    # --- reading --------------------------------------------------------------------------------

    def count(self) -> int:
        col = self.collection(create=False)
        return 0 if col is None else self._call(col.count)

    def snapshot(self) -> dict[str, dict[str, StoredChunk]]:
        """Every stored chunk's hashes, by source then id: what incremental ingest compares with."""
        col = self.collection(create=False)
        out: dict[str, dict[str, StoredChunk]] = {}
        if col is None:
            return out
        offset = 0
        while True:
            page = self._call(col.get, include=["metadatas"], limit=READ_PAGE, offset=offset)
            for cid, meta in zip(page["ids"], page["metadatas"] or [], strict=False):
                meta = meta or {}
                source = str(meta.get("source", ""))
                out.setdefault(source, {})[cid] = StoredChunk(
                    cid,
                    source,
                    str(meta.get("content_hash", "")),
                    str(meta.get("file_hash", "")),
                    int(meta.get("file_chunks", -1)),
                )
            if len(page["ids"]) < READ_PAGE:
                return out
            offset += READ_PAGE

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        col = self.collection(create=False)
        if col is None or k <= 0:
            return []
        res = self._call(
            col.query,
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        hits = []
        for text, meta, dist in zip(
            res["documents"][0], res["metadatas"][0], res["distances"][0], strict=False
        ):
            meta = meta or {}
            hits.append(
                Hit(
                    text=text or "",
                    source=str(meta.get("source", "")),
                    heading=str(meta.get("heading", "")),
                    score=round(1.0 - float(dist), 4),  # cosine distance -> similarity
                )
            )
        return hits

    # --- writing --------------------------------------------------------------------------------

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        col = self.collection(create=True)
        for start in range(0, len(ids), WRITE_BATCH):
            end = start + WRITE_BATCH
            self._call(
                col.upsert,
                ids=list(ids[start:end]),
                embeddings=vectors[start:end],
                documents=list(documents[start:end]),
                metadatas=list(metadatas[start:end]),
            )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        col = self.collection(create=True)
        for start in range(0, len(ids), WRITE_BATCH):
            end = start + WRITE_BATCH
            self._call(col.update, ids=list(ids[start:end]), metadatas=list(metadatas[start:end]))

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        col = self.collection(create=False)
        if col is None or not ids:
            return
        for start in range(0, len(ids), WRITE_BATCH):
            self._call(col.delete, ids=ids[start : start + WRITE_BATCH])

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # chromadb's errors share no useful base across versions
            raise StoreError(f"vector store {self.where}: {exc}") from exc
