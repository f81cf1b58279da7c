"""Errors of the RAG package, split by what the caller can do about them."""

from __future__ import annotations

from halops.errors import HalopsError


class RagError(HalopsError):
    """Root of the errors raised on purpose by `rag`."""


class EmbedderError(RagError):
    """The embedding model cannot be loaded or run (missing package, bad path, failed export)."""


class StoreError(RagError):
    """The vector store cannot be opened, reached or written."""


class StoreMismatchError(StoreError):
    """The collection was built with another embedding model or backend: it must be re-indexed.

    `stored` and `configured` are the two embedding ids, so a caller can print both.
    """

    def __init__(self, message: str, stored: str, configured: str):
        super().__init__(message)
        self.stored = stored
        self.configured = configured


class StoreBusyError(StoreError):
    """Another ingest is writing to the same local store right now: try again when it is done."""


class EvalSetError(RagError):
    """The labelled evaluation set is unreadable or malformed."""
