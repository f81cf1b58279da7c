"""Adapter → merged 16-bit model → GGUF (f16, Q4_K_M, Q5_K_M) + Ollama Modelfile, proven to answer.

The converter is llama.cpp's own `convert_hf_to_gguf.py`, taken from llama-cpp-python's source
distribution at run time (pip's download or cache) and cached under the trainer's work dir, so its
architecture support matches the llama.cpp that serves the result and nothing is vendored here.
K-quants come from llama-cpp-python's `llama_model_quantize` binding: the pure-Python gguf package
cannot produce them. Every output is written to a temp dir and renamed into place on success.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from trainer.errors import ConvertError, TrainerError
from trainer.recipe import BASE_FILE

QUANTS = ("Q4_K_M", "Q5_K_M")
_CONVERTER_MEMBERS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def _tmp(target: Path) -> Path:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def _commit(tmp: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


# ---------------------------------------------------------------- merge


def merge(adapter_dir: Path, out_dir: Path, dtype: str = "float16") -> Path:
    """Merge a LoRA adapter into its full-precision base and save an HF dir.

    The base is reloaded unquantized even when training used NF4: merging into 4-bit weights would
    round the small LoRA deltas away. The merge happens in fp32 and is cast to `dtype` only to save.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info_file = adapter_dir / BASE_FILE
    if not (adapter_dir / "adapter_config.json").exists() or not info_file.exists():
        raise TrainerError(f"{adapter_dir} is not a finished adapter (no adapter_config.json / {BASE_FILE})")
    base_dir = Path(json.loads(info_file.read_text())["base_dir"])
    if not (base_dir / "config.json").exists():
        raise TrainerError(f"base model {base_dir} of this adapter is gone; retrain or restore it")
    torch_dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged = merged.to(torch_dtype)
    merged.config.use_cache = True
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    tmp = _tmp(out_dir)
    merged.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    return _commit(tmp, out_dir)


# ---------------------------------------------------------------- converter


def _sdist(version: str, cache: Path) -> Path:
    name = f"llama_cpp_python-{version}.tar.gz"
    if (cache / name).exists():
        return cache / name
    cache.mkdir(parents=True, exist_ok=True)
    # pip serves it from its own cache when it has it, so this works offline after the first time.
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"llama-cpp-python=={version}",
        "-d",
        str(cache),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not (cache / name).exists():
        raise ConvertError(f"cannot fetch llama-cpp-python {version} sdist: {proc.stderr.strip()[-800:]}")
    return cache / name


def converter(tools_dir: Path, version: str) -> Path:
    """Path of a cached convert_hf_to_gguf.py (with its `conversion` and `gguf-py` packages)."""
    target = tools_dir / f"llama.cpp-{version}"
    script = target / "convert_hf_to_gguf.py"
    if script.exists():
        return script
    archive = _sdist(version, tools_dir / "sdist")
    tmp = _tmp(target)
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.name.startswith(prefix) or not member.isfile():
                continue
            rel = member.name[len(prefix) :]
            if rel.startswith(_CONVERTER_MEMBERS):
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                dest.write_bytes(src.read())
    if not (tmp / "convert_hf_to_gguf.py").exists():
        raise ConvertError(f"{archive} has no vendor/llama.cpp/convert_hf_to_gguf.py")
    _commit(tmp, target)
    return script


def to_f16(script: Path, model_dir: Path, out: Path) -> None:
    import importlib.util

    # The converter imports sentencepiece before it looks for tokenizer.model, even for BPE models.
    if importlib.util.find_spec("sentencepiece") is None:
        raise ConvertError("convert_hf_to_gguf.py needs the sentencepiece package: pip install sentencepiece")
    env = {**os.environ, "PYTHONPATH": str(script.parent / "gguf-py")}
    cmd = [sys.executable, str(script), str(model_dir), "--outfile", str(out), "--outtype", "f16"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0 or not out.exists():
        raise ConvertError(f"convert_hf_to_gguf.py failed: {proc.stderr.strip()[-1500:]}")


def quantize(src: Path, dst: Path, kind: str) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.nthread = os.cpu_count() or 1
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0 or not dst.exists():
        raise ConvertError(f"llama_model_quantize {kind} failed (rc={rc})")


def smoke_test(gguf: Path, prompt: str, max_tokens: int = 24) -> str:
    """Load the GGUF with llama.cpp and ask one question; the answer must be non-empty text."""
    from llama_cpp import Llama

    try:
        llm = Llama(model_path=str(gguf), n_ctx=512, n_threads=os.cpu_count() or 1, verbose=False)
        out: Any = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.0
        )
    except Exception as exc:  # noqa: BLE001 - any failure to load or run means the GGUF is not usable
        raise ConvertError(f"{gguf.name} does not load or answer: {exc}") from exc
    text = (out["choices"][0]["message"].get("content") or "").strip()
    if not text:
        raise ConvertError(f"{gguf.name} loaded but produced an empty answer")
    return text


CHATML_TEMPLATE = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""


def modelfile(gguf_name: str, chat_template: str | None) -> str:
    """Ollama Modelfile. ChatML (Qwen2.5, SmolLM2) gets an explicit Go template and stop token."""
    lines = [f"FROM ./{gguf_name}"]
    if chat_template and "<|im_start|>" in chat_template:
        lines += [f'TEMPLATE """{CHATML_TEMPLATE}"""', 'PARAMETER stop "<|im_end|>"']
    else:
        lines.append("# Not ChatML: Ollama derives the template from the GGUF's tokenizer.chat_template.")
    lines += ["PARAMETER temperature 0.2", "PARAMETER num_ctx 4096"]
    return "\n".join(lines) + "\n"


def convert(
    model_dir: Path,
    out_dir: Path,
    tools_dir: Path,
    version: str,
    prompt: str,
    quants: tuple[str, ...] = QUANTS,
) -> dict[str, Any]:
    """HF dir → out_dir/{model-f16,model-Q4_K_M,model-Q5_K_M}.gguf + Modelfile; returns paths + answers."""
    if not (model_dir / "config.json").exists():
        raise ConvertError(f"{model_dir} is not an HF model dir (no config.json); run `halops merge` first")
    script = converter(tools_dir, version)
    tmp = _tmp(out_dir)
    f16 = tmp / "model-f16.gguf"
    to_f16(script, model_dir, f16)
    files = {"f16": f16}
    for kind in quants:
        files[kind] = tmp / f"model-{kind}.gguf"
        quantize(f16, files[kind], kind)
    answers = {kind: smoke_test(path, prompt) for kind, path in files.items() if kind != "f16"}
    if not quants:
        answers["f16"] = smoke_test(f16, prompt)
    template = None
    tok_cfg = model_dir / "tokenizer_config.json"
    if tok_cfg.exists():
        template = json.loads(tok_cfg.read_text()).get("chat_template")
    if template is None and (model_dir / "chat_template.jinja").exists():
        template = (model_dir / "chat_template.jinja").read_text()
    main = next((k for k in quants if k == "Q4_K_M"), quants[0] if quants else "f16")
    (tmp / "Modelfile").write_text(modelfile(files[main].name, template))
    _commit(tmp, out_dir)
    return {
        "files": {k: str(out_dir / p.name) for k, p in files.items()},
        "modelfile": str(out_dir / "Modelfile"),
        "answers": answers,
    }


def export_job(
    store: Any,
    job: Any,
    run_dir: Path,
    tools_dir: Path,
    llama_cpp_python_version: str,
    smoke_prompt: str,
    say: Any,
    between: Any = lambda: None,
) -> Path:
    """A finished job's adapter → merged model → GGUFs, each recorded as the job's artifact.

    Returns the GGUF the gate should score (Q4_K_M when made). `between()` runs between the
    stages: the API's queued jobs check for a cancel there (`halops retrain` has no such check).
    """
    between()
    say("merge: adapter → 16-bit base")
    merged = merge(Path(job.artifacts["adapter"]), run_dir / "merged")
    store.add_artifact(job.id, "merged", merged)
    say("convert: GGUF f16, Q4_K_M, Q5_K_M (each must answer a question)")
    converted = convert(merged, run_dir / "gguf", tools_dir, llama_cpp_python_version, smoke_prompt)
    for kind, path in converted["files"].items():
        store.add_artifact(job.id, f"gguf_{kind}", Path(path))
    between()
    return Path(converted["files"].get("Q4_K_M") or next(iter(converted["files"].values())))
