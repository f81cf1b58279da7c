"""The target tokenizer, built from the bundled GGUF once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.data.tokens import load_counter


@pytest.fixture(scope="session")
def tokenizer_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokenizer.json converted from the bundled SmolLM2 GGUF (the real default path, once)."""
    cache = tmp_path_factory.mktemp("tok-cache")
    load_counter(None, cache)
    (path,) = sorted((cache / "tokenizers").glob("*.json"))
    return path
