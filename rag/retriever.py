"""The retrieval API the agent uses: `Retriever(...).retrieve(query, k)` -> list of `Hit`.

The embedder and the store are opened on first use, not in the constructor, so building a
Retriever costs nothing and a daemon can create one at start-up without delaying it (call
`warm_up()` to pay the load cost up front instead of on the first question).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import RagSettings
from rag.store import ChunkStore, Hit

if TYPE_CHECKING:
    from halops.settings import RootSettings as Settings
    from rag.embedder import Embedder

__all__ = ["Hit", "Retriever", "bundled_runbooks", "open_retriever"]


def bundled_runbooks() -> Path:
    """The directory of the runbooks shipped with halops."""
    return Path(__file__).resolve().parent / "runbooks"


class Retriever:
    """Top-k chunks for a question, minus those below the relevance threshold."""

    def __init__(
        self,
        settings: RagSettings,
        data_dir: Path,
        *,
        embedder: Embedder | None = None,
        store: ChunkStore | None = None,
    ):
        self.settings = settings
        self.data_dir = data_dir
        self._embedder = embedder
        self._store = store
        # The agent may ask from several threads; loading twice would double the memory.
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from rag.embedder import make_embedder

                self._embedder = make_embedder(self.settings, self.data_dir)
            return self._embedder

    @property
    def store(self) -> ChunkStore:
        embedder = self.embedder
        with self._lock:
            if self._store is None:
                self._store = ChunkStore.open(
                    self.settings, self.data_dir, embedder.embedding_id, embedder.dim
                )
            return self._store

    def warm_up(self) -> None:
        """Load the model and open the store now (raises what the first query would)."""
        self.store.collection(create=False)
        self.embedder.embed(["warm-up"])

    def retrieve(self, query: str, k: int | None = None, *, min_score: float | None = None) -> list[Hit]:
        """At most `k` chunks (default rag.top_k), best first, each scoring at least `min_score`
        (default rag.min_score). An empty list means nothing relevant: say so, do not guess.

        Raises `StoreMismatchError` if the store was built with another embedding model.
        """
        query = query.strip()
        if not query:
            return []
        k = self.settings.top_k if k is None else k
        threshold = self.settings.min_score if min_score is None else min_score
        vector = self.embedder.embed([query])[0]
        return [h for h in self.store.query(vector, k) if h.score >= threshold]


def open_retriever(settings: Settings) -> Retriever:
    """The retriever for a full `Settings` (the agent's usual entry point)."""
    return Retriever(settings.rag, settings.data_dir)
