"""Helpers shared by the RAG tests (imported by conftest and by test modules)."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np


class FakeEmbedder:
    """Bag-of-words hashing: texts sharing words get similar vectors. Counts what it embeds."""

    backend = "fake"

    def __init__(self, embedding_id: str = "fake/bow|fp32", dim: int = 64):
        self.embedding_id = embedding_id
        self.dim = dim
        self.calls = 0
        self.embedded = 0
        self.fail_after: int | None = None  # raise once this many texts were embedded

    def embed(self, texts):
        if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
            raise RuntimeError("simulated crash while embedding")
        self.calls += 1
        self.embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 0.05  # never the zero vector: cosine of it is undefined
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, 1 + zlib.crc32(word.encode()) % (self.dim - 1)] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def share_onnx_cache(model_data_dir: Path, data_dir: Path) -> None:
    """Point `data_dir`'s ONNX cache at the session's, so a CLI test does not export again."""
    (data_dir / "rag").mkdir(parents=True, exist_ok=True)
    link = data_dir / "rag" / "onnx"
    if not link.exists():
        link.symlink_to(model_data_dir / "rag" / "onnx", target_is_directory=True)
