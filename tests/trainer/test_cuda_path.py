"""The CUDA-only pieces of the recipe, built and checked on a CPU-only machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trainer import recipe
from trainer.errors import OutOfMemoryError
from trainer.recipe_config import RecipeConfig

pytestmark = pytest.mark.unit


def _setup(tmp_path: Path, on_cuda: bool, **cfg: object) -> recipe.Setup:
    return recipe.Setup(
        cfg=RecipeConfig(**cfg), paths=recipe.RunPaths(tmp_path), base_dir=tmp_path, on_cuda=on_cuda
    )


def test_nf4_double_quant_config() -> None:
    import torch

    q = recipe.quantization_config(RecipeConfig(quantization="nf4"), torch.bfloat16)
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert q.bnb_4bit_compute_dtype == torch.bfloat16
    assert recipe.quantization_config(RecipeConfig(), torch.float32) is None


def test_paged_adamw_8bit_imports_without_cuda() -> None:
    from bitsandbytes.optim import PagedAdamW8bit

    assert PagedAdamW8bit.__name__ == "PagedAdamW8bit"


def test_compute_dtype_is_fp32_on_cpu_and_explicit_on_cuda() -> None:
    import torch

    assert recipe.compute_dtype(RecipeConfig(compute_dtype="bf16"), on_cuda=False) == torch.float32
    assert recipe.compute_dtype(RecipeConfig(compute_dtype="fp16"), on_cuda=True) == torch.float16
    assert recipe.compute_dtype(RecipeConfig(compute_dtype="bf16"), on_cuda=True) == torch.bfloat16


def test_lora_targets_every_attention_and_mlp_projection() -> None:
    lc = recipe.lora_config(RecipeConfig())
    assert (lc.r, lc.lora_alpha, lc.lora_dropout) == (16, 32, 0.05)
    assert set(lc.target_modules) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }


def test_sft_config_carries_the_recipe(tmp_path: Path) -> None:
    args = recipe.sft_config(
        _setup(
            tmp_path, False, max_steps=5, eval_steps=5, save_steps=5, early_stopping_patience=2, packing=True
        )
    )
    assert args.lr_scheduler_type == "cosine" and args.learning_rate == 2e-4 and args.max_steps == 5
    assert args.use_cpu and not args.bf16 and args.packing and args.load_best_model_at_end
    assert args.metric_for_best_model == "eval_loss" and "tensorboard" in args.report_to
    assert args.optim == "adamw_torch" and not args.use_liger_kernel


def test_liger_is_not_imported_on_the_cpu_path() -> None:
    code = (
        "import sys\nfrom trainer import recipe, runner, export, cli\n"
        "assert 'liger_kernel' not in sys.modules\nassert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_out_of_memory_becomes_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    import trl

    class Exploding:
        def __init__(self, **kw: object) -> None:
            pass

        def train(self, resume_from_checkpoint: object = None) -> None:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trl, "SFTTrainer", Exploding)
    s = _setup(tmp_path, False, max_seq_len=4096, batch_size=8, eval_steps=0)
    with pytest.raises(OutOfMemoryError, match="max_seq_len=4096, batch_size=8") as err:
        recipe.train(s)
    assert "gradient_checkpointing" in str(err.value) and "paged_adamw_8bit" in str(err.value)


def test_cancel_request_stops_training_and_leaves_no_adapter(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from trainer.jobs import JobStore

    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create("a", {})
    store.mark_running(job.id)
    s = _setup(tmp_path, False)
    cb = recipe.job_callback(s, store, job.id)
    args, state = SimpleNamespace(logging_steps=1), SimpleNamespace(global_step=3, epoch=0.5, max_steps=9)
    control = SimpleNamespace(should_training_stop=False)
    cb.on_step_end(args, state, control)
    assert not control.should_training_stop
    cb.on_log(args, state, control, logs={"loss": 1.5, "learning_rate": 1e-4})
    assert store.get(job.id).metrics["loss"] == 1.5 and store.get(job.id).step == 3
    assert '"loss": 1.5' in (tmp_path / "metrics.jsonl").read_text()
    store.request_cancel(job.id)
    cb.on_step_end(args, state, control)
    assert control.should_training_stop and recipe.cleanup(s) is None
    assert not (tmp_path / "adapter").exists()
