"""The one SFT recipe, torchtune-style: setup → train → cleanup.

setup: validate (already done by `load_recipe`), materialise the base model as an HF dir, load the
tokenizer and model (NF4 on CUDA when asked), wrap in LoRA, tokenize the data. train: TRL's
SFTTrainer with checkpoints, TensorBoard, metrics.jsonl, cancel and early stopping. cleanup: save the
adapter to a temp dir and rename it into place, so a killed run never leaves something that looks
like a finished adapter.

Heavy imports (torch, transformers, trl, peft) happen inside functions: `halops --help` and the job
commands must not pay seconds for them.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trainer.dataset import build_dataset
from trainer.errors import OutOfMemoryError, TrainerError
from trainer.jobs import JobStore
from trainer.recipe_config import RecipeConfig, cuda_available

log = logging.getLogger("halops.trainer")

ADAPTER_DIR = "adapter"
RECIPE_FILE = "recipe.yaml"
BASE_FILE = "base_model.json"


@dataclass
class RunPaths:
    root: Path

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.root / ADAPTER_DIR

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def log(self) -> Path:
        return self.root / "train.log"


@dataclass
class Setup:
    cfg: RecipeConfig
    paths: RunPaths
    base_dir: Path
    on_cuda: bool
    model: Any = None
    tokenizer: Any = None
    train_ds: Any = None
    val_ds: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def peak_memory_mb(on_cuda: bool) -> float:
    if on_cuda:
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- base model


def materialize_base(base: Path, cache_dir: Path) -> Path:
    """An HF model dir for `base`: itself when it is one; for a GGUF, a cached dequantized copy.

    transformers dequantizes GGUF on load but refuses `save_pretrained` on the result ("quantized
    with gguf, not serializable"), so the model is rebuilt from its config without the
    quantization_config and given the loaded state dict. Merging later needs this 16-bit (here fp32)
    base on disk anyway: adapters are never merged into quantized weights.
    """
    if base.is_dir():
        return base
    stat = base.stat()
    target = cache_dir / f"{base.stem}-{stat.st_size}-{int(stat.st_mtime)}"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(base.parent, gguf_file=base.name)
    loaded = AutoModelForCausalLM.from_pretrained(base.parent, gguf_file=base.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def load_tokenizer(base_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_dir)
    if not tok.chat_template:
        raise TrainerError(
            f"{base_dir}: tokenizer has no chat template; the recipe trains on the model's own"
        )
    # Padding with EOS would be harmless for the loss (pads are masked by position) but generation
    # code that strips pads would eat real EOS; prefer a distinct token when the vocab has one.
    if tok.pad_token is None or tok.pad_token == tok.eos_token:
        for cand in ("<|endoftext|>", "<|finetune_right_pad_id|>", "<pad>", tok.unk_token):
            if cand and cand != tok.eos_token and cand in tok.get_vocab():
                tok.pad_token = cand
                break
        else:
            tok.pad_token = tok.eos_token
    return tok


def compute_dtype(cfg: RecipeConfig, on_cuda: bool) -> Any:
    import torch

    if not on_cuda or cfg.compute_dtype == "fp32":
        return torch.float32
    if cfg.compute_dtype == "bf16" or (cfg.compute_dtype == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def quantization_config(cfg: RecipeConfig, dtype: Any) -> Any:
    """NF4 with double quantization: the QLoRA recipe that fits a 7B base into ~5 GB."""
    if cfg.quantization != "nf4":
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=cfg.double_quant,
        bnb_4bit_compute_dtype=dtype,
    )


def lora_config(cfg: RecipeConfig, num_layers: int | None = None) -> Any:
    from peft import LoraConfig

    layers = None
    if cfg.lora.skip_layers:
        if num_layers is None:
            raise TrainerError(
                "lora.skip_layers needs a model whose config says how many decoder layers it has"
            )
        if cfg.lora.skip_layers >= num_layers:
            raise TrainerError(
                f"lora.skip_layers={cfg.lora.skip_layers} leaves no layer to adapt "
                f"(the model has {num_layers} decoder layers)"
            )
        layers = list(range(cfg.lora.skip_layers, num_layers))
    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        layers_to_transform=layers,
        bias="none",
        task_type="CAUSAL_LM",
    )


def load_model(cfg: RecipeConfig, base_dir: Path, on_cuda: bool) -> Any:
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = compute_dtype(cfg, on_cuda)
    quant = quantization_config(cfg, dtype)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if quant is not None:
        kwargs["quantization_config"] = quant
    if on_cuda:
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    if cfg.random_init:
        config = AutoConfig.from_pretrained(base_dir)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        if on_cuda and quant is None:
            model = model.to("cuda")
    else:
        model = AutoModelForCausalLM.from_pretrained(base_dir, **kwargs)
    model.config.use_cache = False  # the KV cache is useless in training and conflicts with checkpointing
    if quant is not None:
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=cfg.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    return get_peft_model(model, lora_config(cfg, getattr(model.config, "num_hidden_layers", None)))


def setup(cfg: RecipeConfig, run_dir: Path, base_cache: Path) -> Setup:
    on_cuda = cfg.device == "cuda" or (cfg.device == "auto" and cuda_available())
    paths = RunPaths(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RECIPE_FILE).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    base_dir = materialize_base(cfg.resolved_base(), base_cache)
    s = Setup(cfg=cfg, paths=paths, base_dir=base_dir, on_cuda=on_cuda)
    s.tokenizer = load_tokenizer(base_dir)
    assert cfg.dataset_dir is not None
    s.train_ds = build_dataset(
        s.tokenizer, cfg.dataset_dir / "train.jsonl", cfg.max_seq_len, cfg.max_train_examples
    )
    if cfg.eval_steps:
        s.val_ds = build_dataset(
            s.tokenizer, cfg.dataset_dir / "val.jsonl", cfg.max_seq_len, cfg.max_val_examples
        )
    s.model = load_model(cfg, base_dir, on_cuda)
    return s


# ---------------------------------------------------------------- train


def sft_config(s: Setup) -> Any:
    from trl import SFTConfig

    cfg = s.cfg
    dtype_name = str(compute_dtype(cfg, s.on_cuda))
    early = cfg.early_stopping_patience > 0
    return SFTConfig(
        output_dir=str(s.paths.checkpoints),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=float(cfg.warmup_ratio),  # transformers 5: a float in [0, 1) is a ratio
        weight_decay=cfg.weight_decay,
        optim=cfg.optimizer,
        logging_steps=cfg.logging_steps,
        eval_strategy="steps" if cfg.eval_steps else "no",
        eval_steps=cfg.eval_steps or None,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        bf16=s.on_cuda and "bfloat16" in dtype_name,
        fp16=s.on_cuda and "float16" in dtype_name and "bfloat16" not in dtype_name,
        use_cpu=not s.on_cuda,
        use_liger_kernel=cfg.use_liger and s.on_cuda,
        max_length=cfg.max_seq_len,
        packing=cfg.packing,
        report_to=["tensorboard"] if tensorboard_available() else [],
        include_num_input_tokens_seen=True,
        seed=cfg.seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
        save_only_model=False,
    )


def tensorboard_available() -> bool:
    """TensorBoard is optional: without it metrics.jsonl and the job row still carry every metric."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        log.warning("tensorboard is not installed; logging to metrics.jsonl only")
        return False
    return True


class _Stop:
    """SIGTERM (from `halops jobs cancel`) only sets a flag: stopping mid-step would corrupt state."""

    requested = False

    @classmethod
    def handler(cls, signum: int, frame: Any) -> None:
        cls.requested = True


def job_callback(s: Setup, store: JobStore | None, job_id: str | None) -> Any:
    from transformers import TrainerCallback

    class JobCallback(TrainerCallback):
        def __init__(self) -> None:
            self.t0 = time.perf_counter()
            self.last_t = self.t0
            self.last_tokens = 0
            self.latest: dict[str, Any] = {}

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any):
            logs = logs or {}
            now = time.perf_counter()
            tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
            row: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
            if "loss" in logs:
                row["loss"] = logs["loss"]
                row["lr"] = logs.get("learning_rate")
                dt = now - self.last_t
                row["tokens_per_s"] = round((tokens - self.last_tokens) / dt, 1) if dt > 0 else None
                row["s_per_step"] = round(dt / max(1, args.logging_steps), 3)
                self.last_t, self.last_tokens = now, tokens
            if "eval_loss" in logs:
                row["val_loss"] = logs["eval_loss"]
            if len(row) == 2:
                return
            row["peak_mem_mb"] = round(peak_memory_mb(s.on_cuda), 1)
            with s.paths.metrics.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            self.latest.update({k: v for k, v in row.items() if v is not None})
            log.info("%s", json.dumps(row))
            if store and job_id:
                store.update(
                    job_id,
                    step=state.global_step,
                    epoch=state.epoch or 0.0,
                    total=state.max_steps,
                    metrics=self.latest,
                )

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any):
            cancelled = _Stop.requested or bool(store and job_id and store.cancel_requested(job_id))
            if cancelled:
                s.extra["cancelled"] = True
                control.should_training_stop = True
            elif store and job_id and state.global_step % args.logging_steps:
                store.update(job_id, step=state.global_step, epoch=state.epoch or 0.0, total=state.max_steps)
            return control

    return JobCallback()


def last_checkpoint(checkpoints: Path) -> Path | None:
    """Newest complete checkpoint; a dir without trainer_state.json was cut off mid-write."""
    found = []
    for d in checkpoints.glob("checkpoint-*"):
        if (d / "trainer_state.json").exists() and d.name.split("-")[-1].isdigit():
            found.append((int(d.name.split("-")[-1]), d))
    return max(found)[1] if found else None


OOM_ADVICE = (
    "out of memory at max_seq_len={len}, batch_size={bs}: lower max_seq_len or batch_size (raise "
    "grad_accum to keep the effective batch), turn on gradient_checkpointing, use quantization=nf4 and "
    "optimizer=paged_adamw_8bit on CUDA"
)


def train(s: Setup, store: JobStore | None = None, job_id: str | None = None, resume: bool = False) -> Any:
    if s.cfg.engine == "prefix":
        return train_prefix(s, store, job_id, resume)
    import torch
    from transformers import EarlyStoppingCallback
    from trl import SFTTrainer

    os.environ["TENSORBOARD_LOGGING_DIR"] = str(s.paths.tensorboard)
    callbacks = [job_callback(s, store, job_id)]
    if s.cfg.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=s.cfg.early_stopping_patience))
    trainer = SFTTrainer(
        model=s.model,
        args=sft_config(s),
        train_dataset=s.train_ds,
        eval_dataset=s.val_ds,
        processing_class=s.tokenizer,
        callbacks=callbacks,
    )
    checkpoint = last_checkpoint(s.paths.checkpoints) if resume else None
    if resume and checkpoint is None:
        log.warning("no complete checkpoint under %s; starting from scratch", s.paths.checkpoints)
    previous = signal.signal(signal.SIGTERM, _Stop.handler)
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except torch.OutOfMemoryError as exc:
        raise OutOfMemoryError(OOM_ADVICE.format(len=s.cfg.max_seq_len, bs=s.cfg.batch_size)) from exc
    except MemoryError as exc:
        raise OutOfMemoryError(OOM_ADVICE.format(len=s.cfg.max_seq_len, bs=s.cfg.batch_size)) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    s.extra["trainer"] = trainer
    return trainer


def train_prefix(s: Setup, store: JobStore | None, job_id: str | None, resume: bool) -> Any:
    """The CPU engine (trainer/prefix_loop.py) with the same metrics, job rows and cancel."""
    from trainer.prefix_loop import PrefixEngine

    engine = PrefixEngine(s)
    latest: dict[str, Any] = {}

    def on_log(step: int, epoch: float, total: int, row: dict[str, Any]) -> None:
        if row:
            peak = round(peak_memory_mb(False), 1)
            row = {"step": step, "epoch": round(epoch, 4), **row, "peak_mem_mb": peak}
            with s.paths.metrics.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            latest.update({k: v for k, v in row.items() if v is not None})
            log.info("%s", json.dumps(row))
        if store and job_id:
            extra = {"metrics": latest} if row else {}
            store.update(job_id, step=step, epoch=epoch, total=total, **extra)

    def should_stop() -> bool:
        return _Stop.requested or bool(store and job_id and store.cancel_requested(job_id))

    checkpoint = last_checkpoint(s.paths.checkpoints) if resume else None
    if resume and checkpoint is None:
        log.warning("no complete checkpoint under %s; starting from scratch", s.paths.checkpoints)
    previous = signal.signal(signal.SIGTERM, _Stop.handler)
    try:
        engine.run(resume_from=checkpoint, should_stop=should_stop, on_log=on_log)
    except MemoryError as exc:
        raise OutOfMemoryError(OOM_ADVICE.format(len=s.cfg.max_seq_len, bs=s.cfg.batch_size)) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    return engine


# ---------------------------------------------------------------- cleanup


def cleanup(s: Setup) -> Path | None:
    """Save the adapter atomically (temp dir + rename); None when the run was cancelled."""
    if s.extra.get("cancelled"):
        return None
    tmp = s.paths.root / f".{ADAPTER_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    s.model.save_pretrained(tmp)
    s.tokenizer.save_pretrained(tmp)
    (tmp / BASE_FILE).write_text(json.dumps({"base_dir": str(s.base_dir), "base_model": s.cfg.base_model}))
    shutil.copy(s.paths.root / RECIPE_FILE, tmp / RECIPE_FILE)
    shutil.rmtree(s.paths.adapter, ignore_errors=True)
    tmp.rename(s.paths.adapter)
    return s.paths.adapter


def finished_adapter(run_dir: Path) -> Path | None:
    """The adapter of a run only if it was renamed into place (so training completed)."""
    adapter = run_dir / ADAPTER_DIR
    return adapter if (adapter / "adapter_config.json").exists() and (adapter / BASE_FILE).exists() else None


def attach_file_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("halops.trainer", "transformers", "trl", "peft"):
        logging.getLogger(name).addHandler(handler)
    logging.getLogger("halops.trainer").setLevel(logging.INFO)
    if not any(
        isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is sys.stderr
        for h in log.handlers
    ):
        log.addHandler(logging.StreamHandler(sys.stderr))
    return handler


def detach_file_log(handler: logging.Handler) -> None:
    for name in ("halops.trainer", "transformers", "trl", "peft"):
        logging.getLogger(name).removeHandler(handler)
    handler.close()
