"""RagSettings: documented, strict, validated, reachable through Settings and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.cli.settings import load_settings
from halops.errors import ConfigError
from rag.config import RagSettings

pytestmark = pytest.mark.unit


def test_defaults_are_valid_and_every_field_is_described():
    s = RagSettings()
    assert s.embedding_model == "all-MiniLM-L6-v2"
    assert s.backend == "onnx-int8"
    for name, field in RagSettings.model_fields.items():
        assert field.description, f"rag.{name} has no description"


def test_unknown_key_is_an_error():
    with pytest.raises(ValidationError):
        RagSettings(chunk_size=100)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backend": "tensorflow"},
        {"chunk_tokens": 100, "chunk_overlap": 60},
        {"chroma_url": "chroma.internal:8000"},
        {"collection": "x"},
        {"collection": "bad name!"},
        {"min_score": 2},
        {"max_file_mb": 0},
    ],
)
def test_invalid_values_are_rejected(kwargs):
    with pytest.raises(ValidationError):
        RagSettings(**kwargs)


def test_store_and_cache_paths_derive_from_data_dir(tmp_path: Path):
    s = RagSettings()
    assert s.store_path(tmp_path) == tmp_path / "chroma"
    assert s.onnx_cache(tmp_path) == tmp_path / "rag" / "onnx"
    assert RagSettings(chroma_path=tmp_path / "x").store_path(Path("/nowhere")) == tmp_path / "x"


def test_section_loads_from_file_and_environment(tmp_path: Path):
    cfg = tmp_path / "halops.toml"
    cfg.write_text('[rag]\nbackend = "onnx"\ntop_k = 3\n')
    s = load_settings(cfg, env={})
    assert s.rag.backend == "onnx" and s.rag.top_k == 3
    cfg.write_text("[rag]\nchunk_size = 3\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg, env={})
    assert ("rag.chunk_size", "unknown setting") in exc.value.problems


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "halops.toml"
    cfg.write_text('[rag]\nbackend = "onnx"\n')
    monkeypatch.setenv("HALOPS_RAG__BACKEND", "sentence-transformers")
    assert load_settings(cfg).rag.backend == "sentence-transformers"
