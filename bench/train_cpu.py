"""CPU training benchmark: s/step, tokens/s and peak RSS of the SmolLM2-135M recipe on this machine.

    flock /tmp/halops-cpu.lock .venv/bin/python bench/train_cpu.py                  # batch 4, 512 tokens
    flock /tmp/halops-cpu.lock .venv/bin/python bench/train_cpu.py --seq-len 256 --steps 8 --grad-ckpt

Runs the shipped `smollm2-135m-cpu.yaml` recipe (plain LoRA, fp32, no gradient checkpointing unless
--grad-ckpt) on synthetic tool-call examples long enough to fill --seq-len, for --steps optimizer
steps; the first step (allocator warm-up, graph set-up) is reported apart. Run it alone: torch on 2
shared cores slows ~10x beside another CPU-bound process.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.trainer.toolcall_data import example, write_dataset  # noqa: E402
from trainer import recipe  # noqa: E402
from trainer.recipe_config import load_recipe  # noqa: E402

RECIPE = Path(__file__).resolve().parent.parent / "trainer" / "configs" / "smollm2-135m-cpu.yaml"


def long_dataset(root: Path, seq_len: int, n: int) -> Path:
    """Tool-call examples whose tool output is padded so each fills about seq_len tokens."""
    from tests.trainer.toolcall_data import HOSTS, TASKS

    write_dataset(root)
    filler = "drwxr-xr-x 2 root root 4096 Nov 21 12:00 /var/log/app\n" * max(1, seq_len // 24)
    with (root / "train.jsonl").open("w") as fh:
        for i in range(n):
            ex = example(TASKS[i % len(TASKS)], HOSTS[i % len(HOSTS)])
            ex["messages"][3]["content"] += "\n" + filler
            fh.write(json.dumps(ex) + "\n")
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--grad-ckpt", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ds = long_dataset(root / "ds", args.seq_len, args.steps * args.batch)
        overrides = [
            f"max_steps={args.steps}",
            f"max_seq_len={args.seq_len}",
            f"batch_size={args.batch}",
            "eval_steps=0",
            "save_steps=100000",
            "early_stopping_patience=0",
            f"gradient_checkpointing={str(args.grad_ckpt).lower()}",
        ]
        cfg = load_recipe(RECIPE, overrides, dataset_default=ds)
        t0 = time.perf_counter()
        s = recipe.setup(cfg, root / "run", Path(tempfile.gettempdir()) / "halops-bench-base")
        setup_s = time.perf_counter() - t0
        recipe.train(s)
        rows = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    warm = steps[1:] or steps
    s_per_step = sum(r["s_per_step"] for r in warm) / len(warm)
    tok_s = sum(r["tokens_per_s"] or 0 for r in warm) / len(warm)
    result = {
        "seq_len": args.seq_len,
        "batch": args.batch,
        "grad_ckpt": args.grad_ckpt,
        "steps": len(steps),
        "setup_s": round(setup_s, 1),
        "first_step_s": steps[0]["s_per_step"],
        "s_per_step": round(s_per_step, 2),
        "tokens_per_s": round(tok_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "final_loss": steps[-1]["loss"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
