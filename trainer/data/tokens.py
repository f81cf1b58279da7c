"""Token counts with the target model's tokenizer, loaded lazily and never from a model hub.

The default source is the bundled SmolLM2 GGUF. transformers can build a fast tokenizer from a
GGUF's vocabulary, but that takes ~10 s, so the result is saved once as a plain `tokenizer.json`
under `<data_dir>/cache/tokenizers/` and later runs load that with the `tokenizers` library in
~0.1 s. A `tokenizer.json` (or a folder holding one) can be given directly in `data.tokenizer`.

Counts are of the text as the chat template renders it (`<|im_start|>role ... <|im_end|>`), so the
window budget matches what the trainer will actually feed the model.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from trainer.data.errors import TokenizerError


class TokenCounter:
    def __init__(self, tokenizer: Any, identity: str):
        self._tok = tokenizer
        self.identity = identity
        self._memo: dict[str, int] = {}
        encode = getattr(tokenizer, "encode_batch_fast", None)
        self._encode = encode or tokenizer.encode_batch

    def count(self, texts: list[str]) -> list[int]:
        """Token counts of `texts` (no special tokens added): batched, each distinct text once."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            for text, enc in zip(todo, self._encode(todo, add_special_tokens=False), strict=True):
                self._memo[text] = len(enc.ids)
        return [self._memo[t] for t in texts]

    def count_one(self, text: str) -> int:
        return self.count([text])[0]


def _source(configured: Path | None) -> Path:
    if configured is not None:
        path = configured.expanduser()
        if not path.exists():
            raise TokenizerError(f"data.tokenizer {path} does not exist")
        return path
    from halops.errors import ModelNotFoundError
    from halops.llm.models import bundled_model

    try:
        return bundled_model()
    except ModelNotFoundError as exc:
        raise TokenizerError(f"no tokenizer: {exc}; or set data.tokenizer to a tokenizer.json") from None


def _key(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _from_json(path: Path) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise TokenizerError("the `tokenizers` package is missing: pip install 'halops[train]'") from None
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises a bare Exception for a bad file
        raise TokenizerError(f"{path} is not a usable tokenizer.json: {exc}") from None


def _from_gguf(path: Path, cache: Path) -> Any:
    cached = cache / f"{_key(path)}.json"
    if cached.exists():
        return _from_json(cached)
    # Offline on purpose: the GGUF holds the whole vocabulary; nothing may come from a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise TokenizerError(
            "reading a GGUF tokenizer needs transformers and gguf (pip install 'halops[train]' gguf), "
            "or set data.tokenizer to a tokenizer.json"
        ) from None
    try:
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except Exception as exc:  # transformers raises many kinds; all mean "cannot use this file"
        raise TokenizerError(f"cannot build a tokenizer from {path}: {exc}") from None
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise TokenizerError(f"{path} gave a slow tokenizer only; set data.tokenizer to a tokenizer.json")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{cached.name}.tmp-{os.getpid()}")
    backend.save(str(tmp))
    os.replace(tmp, cached)
    return backend


@lru_cache(maxsize=4)
def _load(path_str: str, key: str, cache_str: str) -> Any:
    path = Path(path_str)
    if path.is_dir():
        path = path / "tokenizer.json"
        if not path.exists():
            raise TokenizerError(f"{path.parent} holds no tokenizer.json")
    if path.suffix == ".gguf":
        return _from_gguf(path, Path(cache_str))
    return _from_json(path)


def load_counter(configured: Path | None, cache_dir: Path) -> TokenCounter:
    """The counter for `data.tokenizer` (bundled GGUF when empty); one load per process."""
    path = _source(configured)
    key = _key(path)
    tok = _load(str(path), key, str(cache_dir / "tokenizers"))
    return TokenCounter(tok, identity=f"{path.name}:{key}")


def identity(configured: Path | None) -> str:
    """What the tokenizer is, for stage fingerprints (without loading it)."""
    path = _source(configured)
    return f"{path.name}:{_key(path)}"
