"""GPU training benchmark: peak VRAM and tokens/s of the 7B QLoRA recipe, capped to an 8 GB card.

    .venv/bin/python bench/train_gpu.py --model ~/models/Qwen2.5-7B-Instruct
    .venv/bin/python bench/train_gpu.py --model random-qwen2.5-7b     # no download: random weights

Each variant runs in its own process with `torch.cuda.set_per_process_memory_fraction` set so the
process sees only --cap-gb (8 GB by default), for --steps optimizer steps at --seq-len tokens (2048):

  halops        the shipped qwen2.5-7b-qlora-8gb recipe: NF4 double quant, Liger, gradient
                checkpointing, paged_adamw_8bit (halops' SFTTrainer setup)
  halops-noliger  the same without Liger
  plain         plain HF Trainer + PEFT LoRA on the NF4 base with gradient checkpointing and
                adamw_torch: what a straightforward script does

A random model built from the Qwen2.5-7B config measures memory and speed just as well as the real
weights (same shapes); it is built once and saved under --cache. Goal: halops <= 7.5 GB peak and
>= 1.5x plain's tokens/s. An OOM is reported as such, not as a crash.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RECIPE = Path(__file__).resolve().parent.parent / "trainer" / "configs" / "qwen2.5-7b-qlora-8gb.yaml"
QWEN25_7B = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "torch_dtype": "bfloat16",
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}


def random_model(cache: Path) -> Path:
    """Qwen2.5-7B shapes with random bf16 weights, saved once (bitsandbytes quantizes on load)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    target = cache / "random-qwen2.5-7b"
    if (target / "config.json").exists():
        return target
    config = AutoConfig.for_model(**QWEN25_7B)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp)
    tmp.rename(target)
    return target


def dataset(seq_len: int, n: int, vocab: int):  # noqa: ANN201 - a datasets.Dataset
    """Random token sequences of exactly seq_len, every token trained on: measures, not learns."""
    import torch
    from datasets import Dataset

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(100, min(vocab, 150000), (n, seq_len), generator=g).tolist()
    return Dataset.from_list([{"input_ids": row, "assistant_masks": [1] * seq_len} for row in ids])


def worker(args: argparse.Namespace) -> dict:
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, args.cap_gb * 2**30 / total))
    import yaml
    from transformers import TrainerCallback

    from trainer import recipe
    from trainer.recipe_config import RecipeConfig

    data = yaml.safe_load(RECIPE.read_text())
    data.update(
        base_model=args.model_dir,
        max_seq_len=args.seq_len,
        max_steps=args.steps,
        batch_size=1,
        grad_accum=args.grad_accum,
        eval_steps=0,
        save_steps=100000,
        early_stopping_patience=0,
        random_init=False,
    )
    if args.variant == "halops-noliger":
        data["use_liger"] = False
    cfg = RecipeConfig.model_validate(data)
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):  # noqa: ANN002, ANN003
            torch.cuda.synchronize()
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):  # noqa: ANN002, ANN003
            torch.cuda.synchronize()
            times.append(time.perf_counter() - self.t)

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        from transformers import AutoConfig

        vocab = AutoConfig.from_pretrained(args.model_dir).vocab_size
        ds = dataset(args.seq_len, args.steps * args.grad_accum, vocab)
        try:
            if args.variant == "plain":
                from peft import get_peft_model, prepare_model_for_kbit_training
                from transformers import (
                    AutoModelForCausalLM,
                    Trainer,
                    TrainingArguments,
                    default_data_collator,
                )

                dtype = recipe.compute_dtype(cfg, True)
                model = AutoModelForCausalLM.from_pretrained(
                    args.model_dir,
                    quantization_config=recipe.quantization_config(cfg, dtype),
                    dtype=dtype,
                    device_map={"": 0},
                )
                model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
                model = get_peft_model(model, recipe.lora_config(cfg))
                ds = ds.map(lambda r: {"labels": r["input_ids"]}, remove_columns=["assistant_masks"])
                targs = TrainingArguments(
                    output_dir=str(run),
                    max_steps=args.steps,
                    per_device_train_batch_size=1,
                    gradient_accumulation_steps=args.grad_accum,
                    learning_rate=2e-4,
                    optim="adamw_torch",
                    bf16=dtype == torch.bfloat16,
                    fp16=dtype == torch.float16,
                    report_to=[],
                    save_strategy="no",
                    logging_steps=1,
                    disable_tqdm=True,
                )
                trainer = Trainer(
                    model=model,
                    args=targs,
                    train_dataset=ds,
                    data_collator=default_data_collator,
                    callbacks=[Timer()],
                )
            else:
                from trl import SFTTrainer

                model = recipe.load_model(cfg, Path(args.model_dir), on_cuda=True)
                s = recipe.Setup(
                    cfg=cfg, paths=recipe.RunPaths(run), base_dir=Path(args.model_dir), on_cuda=True
                )
                s.model = model
                targs = recipe.sft_config(s)
                targs.report_to = []
                trainer = SFTTrainer(model=model, args=targs, train_dataset=ds, callbacks=[Timer()])
            torch.cuda.reset_peak_memory_stats()
            trainer.train()
        except torch.OutOfMemoryError as exc:
            return {"variant": args.variant, "oom": True, "error": str(exc).splitlines()[0][:200]}
    warm = times[1:] or times
    step_s = sum(warm) / len(warm)
    return {
        "variant": args.variant,
        "oom": False,
        "steps": len(times),
        "s_per_step": round(step_s, 2),
        "tokens_per_s": round(args.seq_len * args.grad_accum / step_s, 1),
        "peak_vram_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "peak_reserved_gb": round(torch.cuda.max_memory_reserved() / 2**30, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="random-qwen2.5-7b", help="Local HF dir, or random-qwen2.5-7b.")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "halops-gpu-bench")
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--cap-gb", type=float, default=8.0)
    ap.add_argument("--variants", default="halops,halops-noliger,plain")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return
    model_dir = (
        random_model(args.cache) if args.model == "random-qwen2.5-7b" else Path(args.model).expanduser()
    )
    results = []
    for variant in args.variants.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--variant",
            variant,
            "--model-dir",
            str(model_dir),
            "--seq-len",
            str(args.seq_len),
            "--steps",
            str(args.steps),
            "--grad-accum",
            str(args.grad_accum),
            "--cap-gb",
            str(args.cap_gb),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        res = json.loads(lines[-1][7:]) if lines else {"variant": variant, "error": proc.stderr[-800:]}
        results.append(res)
        print(json.dumps(res), flush=True)
    by = {r["variant"]: r for r in results}
    if all(by.get(v, {}).get("tokens_per_s") for v in ("halops", "plain")):
        print(f"halops vs plain tokens/s: {by['halops']['tokens_per_s'] / by['plain']['tokens_per_s']:.2f}x")


if __name__ == "__main__":
    main()
