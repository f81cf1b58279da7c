"""The recipe config: every knob of one training run, validated all at once before any model loads.

TRL's sft.py style: a flat-ish YAML of model / data / LoRA / training options, `key=value` overrides
from the command line (dotted keys reach nested sections). Validation collects pydantic's field errors
and the cross-field and filesystem checks into one list so the operator fixes everything in one go
instead of discovering problems one failed 30-second model load at a time.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainer.errors import TrainConfigError

SPLITS = ("train", "val")


class LoraOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, gt=0, description="LoRA rank.")
    alpha: int = Field(32, gt=0, description="LoRA scaling numerator (alpha / r scales the update).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    # Every attention and MLP projection: adapting only q/v leaves most of the capacity untouched.
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        min_length=1,
        description="Module names that get adapters.",
    )
    # Backward stops at the lowest adapted layer: on a CPU, leaving the bottom layers frozen cuts a
    # step's backward pass by that share (measured in docs/benchmarks.md, Bootstrap).
    skip_layers: int = Field(
        0,
        ge=0,
        description="The lowest N decoder layers get no adapter (0: every layer). Backward stops above "
        "them, so each skipped layer saves its backward pass.",
    )


class RecipeConfig(BaseModel):
    """One training run. Paths may be relative to the current directory."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("run", min_length=1, description="Label shown in `halops jobs list`.")
    base_model: str = Field(
        "bundled",
        description="Local HF model dir, a .gguf file, or 'bundled' for the shipped SmolLM2 GGUF.",
    )
    random_init: bool = Field(
        False, description="Build the model from base_model's config with random weights (benchmarks)."
    )
    dataset_dir: Path | None = Field(
        None, description="Dir with train.jsonl and val.jsonl. Empty: <data_dir>/data/final."
    )
    max_train_examples: int = Field(0, ge=0, description="Use at most this many train examples; 0 = all.")
    max_val_examples: int = Field(0, ge=0, description="Use at most this many val examples; 0 = all.")
    max_seq_len: int = Field(2048, ge=16, description="Longer examples are cut to this many tokens.")
    packing: bool = Field(False, description="Pack several short examples into one sequence.")
    max_batch_tokens: int = Field(
        0,
        ge=0,
        description="prefix engine: cap a batch at this many padded tokens (examples × longest), "
        "so long examples come in smaller batches; 0: always batch_size.",
    )
    engine: Literal["trl", "prefix"] = Field(
        "trl",
        description="trl: TRL's SFTTrainer. prefix: halops's loop for CPU, which runs the prompt "
        "prefix every example shares once per step and the LM head only on labelled tokens "
        "(trainer/prefix_loop.py).",
    )
    tool_choice_weight: float = Field(
        1.0,
        ge=1.0,
        le=20.0,
        description="prefix engine: loss weight of the token that names the tool in a call "
        '(`{"name": "ssh"`), against 1 for every other labelled token. The choice is one token '
        "among ~30 of a call and ~150 of an answer; >1 makes it count for more.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train.")
    quantization: Literal["none", "nf4"] = Field(
        "none", description="nf4: load the base in 4-bit NF4 (QLoRA); none: full-precision base."
    )
    double_quant: bool = Field(True, description="Quantize the NF4 quantization constants too.")
    compute_dtype: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto: bf16 where the GPU supports it, else fp16; fp32 on CPU."
    )
    use_liger: bool = Field(False, description="Liger fused kernels (CUDA only).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations to save memory.")
    optimizer: Literal["adamw_torch", "paged_adamw_8bit", "adamw_8bit"] = Field(
        "adamw_torch", description="Optimizer; paged_adamw_8bit keeps 8 GB cards alive (CUDA)."
    )
    lora: LoraOptions = Field(default_factory=LoraOptions, description="LoRA adapter shape.")
    epochs: float = Field(3.0, gt=0, description="Passes over the training set.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps; -1 = by epochs.")
    batch_size: int = Field(4, gt=0, description="Sequences per device per step.")
    grad_accum: int = Field(1, gt=0, description="Micro-batches accumulated per optimizer step.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule."
    )
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Fraction of steps warming up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    logging_steps: int = Field(1, gt=0, description="Log metrics every N steps.")
    eval_steps: int = Field(50, ge=0, description="Validate every N steps; 0 = never.")
    save_steps: int = Field(50, gt=0, description="Checkpoint every N steps.")
    save_total_limit: int = Field(2, gt=0, description="Keep this many checkpoints.")
    early_stopping_patience: int = Field(
        0, ge=0, description="Stop after N evaluations without val-loss improvement; 0 = off."
    )
    seed: int = Field(42, description="Random seed.")

    def resolved_base(self) -> Path:
        if self.base_model == "bundled":
            from halops.llm.models import bundled_model

            return bundled_model()
        return Path(self.base_model).expanduser()


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise TrainConfigError(f"override {key}: {part} is not a section", [(key, "not a section")])
    node[parts[-1]] = value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`key=value` strings → nested dict; values parsed as YAML so 3, 2e-4, true, [a, b] work."""
    out: dict[str, Any] = {}
    bad = [item for item in items if "=" not in item]
    if bad:
        raise TrainConfigError("overrides must be key=value", [(item, "expected key=value") for item in bad])
    for item in items:
        key, _, raw = item.partition("=")
        value = yaml.safe_load(raw) if raw else ""
        if isinstance(value, str):
            # YAML 1.1 reads "1e-4" (no dot) as a string; learning rates are written that way.
            try:
                value = float(value)
            except ValueError:
                pass
        _set_dotted(out, key.strip(), value)
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_recipe(
    path: Path | None,
    overrides: list[str] | dict[str, Any] | None = None,
    *,
    dataset_default: Path,
    has_cuda: bool | None = None,
) -> RecipeConfig:
    """Read, override and validate a recipe; raise TrainConfigError listing every problem.

    `has_cuda` None asks torch; the agent daemon, which must not load torch, says what it knows.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TrainConfigError(f"cannot read recipe {path}: {exc}", [(str(path), str(exc))]) from exc
        if not isinstance(loaded, dict):
            raise TrainConfigError(f"recipe {path} is not a mapping", [(str(path), "not a mapping")])
        data = loaded
    extra = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides or {})
    data = _merge(data, extra)
    problems, cfg = _validate(data)
    if cfg is not None:
        if cfg.dataset_dir is None:
            cfg = cfg.model_copy(update={"dataset_dir": dataset_default})
        reported = {key for key, _ in problems}
        problems += [p for p in check_recipe(cfg, has_cuda=has_cuda) if p[0] not in reported]
    if problems or cfg is None:
        raise TrainConfigError(_summary(problems), problems)
    return cfg


def _drop(data: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = data
    for part in loc[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    if isinstance(node, dict) and loc and loc[-1] in node:
        del node[loc[-1]]
        return True
    return False


def _validate(data: dict[str, Any]) -> tuple[list[tuple[str, str]], RecipeConfig | None]:
    """Field errors, plus a config built from the valid rest so cross-field checks still run."""
    problems: list[tuple[str, str]] = []
    work = copy.deepcopy(data)
    for _ in range(5):
        try:
            return problems, RecipeConfig.model_validate(work)
        except ValidationError as exc:
            errors = exc.errors()
            problems += [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in errors]
            if not any([_drop(work, tuple(err["loc"])) for err in errors]):
                return problems, None
    return problems, None


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def check_recipe(cfg: RecipeConfig, *, has_cuda: bool | None = None) -> list[tuple[str, str]]:
    """Cross-field and filesystem checks pydantic cannot express; all problems, not the first."""
    problems: list[tuple[str, str]] = []
    cuda = cuda_available() if has_cuda is None else has_cuda
    on_cuda = cfg.device == "cuda" or (cfg.device == "auto" and cuda)
    if cfg.device == "cuda" and not cuda:
        problems.append(("device", "cuda requested but torch sees no CUDA device"))
    if cfg.use_liger and not on_cuda:
        problems.append(("use_liger", "Liger kernels need CUDA; set use_liger=false on CPU"))
    if cfg.use_liger and on_cuda and importlib.util.find_spec("liger_kernel") is None:
        problems.append(("use_liger", "liger-kernel is not installed"))
    if cfg.optimizer in ("paged_adamw_8bit", "adamw_8bit") and not on_cuda:
        problems.append(("optimizer", f"{cfg.optimizer} needs CUDA; use adamw_torch on CPU"))
    if cfg.compute_dtype == "fp16" and not on_cuda:
        problems.append(("compute_dtype", "fp16 mixed precision needs CUDA; use auto, bf16 or fp32"))
    if cfg.compute_dtype == "bf16" and not on_cuda and cfg.engine != "prefix":
        problems.append(("compute_dtype", "bf16 on CPU needs engine=prefix (its bf16 autocast)"))
    if cfg.engine == "prefix" and on_cuda:
        problems.append(("engine", "the prefix engine is for CPU; use engine=trl on CUDA"))
    if cfg.tool_choice_weight != 1.0 and cfg.engine != "prefix":
        problems.append(("tool_choice_weight", "weighting the tool choice needs engine=prefix"))
    if cfg.engine == "prefix" and cfg.packing:
        problems.append(("packing", "the prefix engine shares one prompt prefix; packing would break it"))
    if cfg.quantization == "nf4" and importlib.util.find_spec("bitsandbytes") is None:
        problems.append(("quantization", "nf4 needs bitsandbytes installed"))
    if cfg.early_stopping_patience and not cfg.eval_steps:
        problems.append(("early_stopping_patience", "early stopping needs eval_steps > 0"))
    if cfg.engine == "trl" and cfg.eval_steps and cfg.save_steps % cfg.eval_steps:
        # load_best_model_at_end-style bookkeeping needs checkpoints on evaluation steps.
        problems.append(("save_steps", f"must be a multiple of eval_steps ({cfg.eval_steps})"))
    if cfg.max_steps == 0 or cfg.max_steps < -1:
        problems.append(("max_steps", "must be -1 (by epochs) or positive"))
    if cfg.lora.alpha < cfg.lora.r / 4:
        problems.append(("lora.alpha", "alpha far below r makes the adapter update vanish"))
    base = cfg.resolved_base() if cfg.base_model != "bundled" else None
    if cfg.base_model == "bundled":
        try:
            cfg.resolved_base()
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, it is a config problem here
            problems.append(("base_model", f"bundled model unavailable: {exc}"))
    elif base is not None and not base.exists():
        problems.append(("base_model", f"{base} does not exist"))
    elif base is not None and base.is_dir() and not (base / "config.json").exists():
        problems.append(("base_model", f"{base} has no config.json (not an HF model dir)"))
    elif base is not None and base.is_file() and base.suffix != ".gguf":
        problems.append(("base_model", f"{base} is a file but not a .gguf"))
    if cfg.random_init is False and cfg.dataset_dir is not None:
        for split in SPLITS:
            if not (cfg.dataset_dir / f"{split}.jsonl").is_file():
                problems.append(("dataset_dir", f"{cfg.dataset_dir}/{split}.jsonl is missing"))
    return problems


def _summary(problems: list[tuple[str, str]]) -> str:
    lines = "\n".join(f"  {key}: {msg}" for key, msg in problems)
    return f"invalid training config ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{lines}"
