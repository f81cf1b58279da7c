"""Text -> vector: model resolution and the embedding backends.

Three backends compute all-MiniLM-style sentence embeddings (mean pooling, L2-normalised):
`sentence-transformers` (PyTorch; the reference), `onnx` (the same graph in ONNX Runtime: same
vectors; query embedding 4 ms instead of 12, ingest about as fast) and `onnx-int8` (int8 weights:
1.75x the reference's ingest rate per CPU second, 2 ms per query, vectors within 0.98-0.99 cosine
of the reference, same recall on the labelled set; docs/benchmarks.md). The ONNX backends import
neither torch nor transformers at run time; they need them once, to export (rag.onnx_export).
Which model, and the id of its vectors, is `rag.modelspec` (shared with the exporter).

Every embedder has an `embedding_id` naming the model and the numeric flavour of its vectors. The
store records it and refuses a query or an ingest whose id differs, so vectors from two models (or
int8 and float) are never mixed in one collection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.config import RagSettings
from rag.errors import EmbedderError
from rag.modelspec import ModelSpec, _offline, embedding_id, resolve_model


class Embedder(Protocol):
    embedding_id: str
    dim: int
    backend: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...


def make_embedder(settings: RagSettings, data_dir: Path) -> Embedder:
    """The embedder the settings ask for, loading (and for ONNX first exporting) the model."""
    spec = resolve_model(settings.embedding_model)
    if settings.backend == "sentence-transformers":
        return SentenceTransformerEmbedder(spec, settings)
    from rag.onnx_export import ensure_onnx

    int8 = settings.backend == "onnx-int8"
    onnx_path = ensure_onnx(spec, settings.onnx_cache(data_dir), int8=int8)
    return OnnxEmbedder(spec, onnx_path, settings)


class SentenceTransformerEmbedder:
    """The reference backend: sentence-transformers on PyTorch (CPU)."""

    backend = "sentence-transformers"

    def __init__(self, spec: ModelSpec, settings: RagSettings):
        _offline()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise EmbedderError(f"the sentence-transformers backend needs {exc.name}") from exc
        hf_logging.disable_progress_bar()  # "Loading weights" bars would garble our own output
        if settings.embed_threads:
            torch.set_num_threads(settings.embed_threads)
        try:
            self.model = SentenceTransformer(str(spec.path), device="cpu", local_files_only=True)
        except Exception as exc:  # any loader failure means the same thing to the operator
            raise EmbedderError(f"cannot load embedding model from {spec.path}: {exc}") from exc
        self.model.max_seq_length = settings.max_seq_length
        self.batch_size = settings.embed_batch_size
        # Renamed in sentence-transformers 6; the old name still exists (with a warning) before.
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.embedding_id = embedding_id(spec, self.backend)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


class OnnxEmbedder:
    """ONNX Runtime over the exported graph (pooling and normalisation are inside it)."""

    def __init__(self, spec: ModelSpec, onnx_path: Path, settings: RagSettings):
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedderError(f"the {settings.backend} backend needs {exc.name}") from exc
        self.backend = settings.backend
        self.tokenizer = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
        # tokenizer.json ships with fixed padding/truncation to 128: we pad per batch instead
        # (less wasted compute) and truncate where the model was trained to.
        pad = self.tokenizer.padding or {}
        self.pad_id = int(pad.get("pad_id", self.tokenizer.token_to_id("[PAD]") or 0))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(min(settings.max_seq_length, _max_positions(spec)))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = settings.embed_threads or 0  # 0: one per physical core
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # No busy-waiting between ops: on a box shared with the model server, spinning threads
        # burn the cores llama.cpp needs, and measured no faster here (48 vs 43-50 chunks/s).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EmbedderError(f"cannot load {onnx_path}: {exc} (delete it to export again)") from exc
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.batch_size = settings.embed_batch_size
        self.embedding_id = embedding_id(spec, self.backend)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        # Batches of similar length waste little compute on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            out[idx] = self.session.run(None, feed)[0]
        return out


def _max_positions(spec: ModelSpec) -> int:
    try:
        config = json.loads((spec.path / "config.json").read_text())
        return int(config.get("max_position_embeddings", 512))
    except (OSError, ValueError):
        return 512
