"""The `prefix` training engine: LoRA SFT that pays for the shared system prompt once per step.

Every agent episode opens with the same static prompt (instructions and tool block, ~360 tokens
of a ~600-token example). On a CPU, tokens are the cost, so this loop:

1. finds the longest token prefix all examples share and runs it once per step, without
   gradients, through the current model (LoRA included) to get its KV cache;
2. runs each batch's suffixes on top of that cache (positions continue after the prefix), so a
   step costs suffix tokens, not whole examples;
3. applies the LM head only at positions that carry a label (assistant tokens): the 49k-vocab
   projection of every prompt token is never computed;
4. runs matmuls in bfloat16 (autocast) where the CPU has native bf16 (AVX512-BF16 / AMX).

The prefix's KV comes from the current weights but no gradient flows into it: the adapter learns
to act on a prompt it reads exactly as at serving time, except that the prompt's own
representation is not tuned (the TRL engine tunes it; measured on the eval, see docs/trainer.md).

Checkpoints, metrics.jsonl rows, job-store updates and cancellation work as in the TRL engine, so
`halops jobs` and resume treat both alike.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import shutil
import time
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError

log = logging.getLogger("halops.trainer")
STATE = "trainer_state.json"


def common_prefix(rows: list[tuple[list[int], list[int]]]) -> int:
    """Tokens every example shares at its start, stopping before any labelled token."""
    first = rows[0][0]
    n = len(first)
    for ids, _ in rows[1:]:
        n = min(n, len(ids))
        for i in range(n):
            if ids[i] != first[i]:
                n = i
                break
    for _ids, mask in rows:
        if 1 in mask[:n]:
            n = mask.index(1)
    # At least two suffix tokens: one to attend from, one to predict.
    return max(0, min(n, min(len(ids) for ids, _ in rows) - 2))


def choice_positions(ids: list[int], mask: list[int], marker: list[int]) -> list[int]:
    """Positions of labelled tokens that name a tool: the token right after each `marker` (the
    tokens of `{"name": "`) inside an assistant turn."""
    n = len(marker)
    if not n:
        return []
    return [i + n for i in range(len(ids) - n) if mask[i + n] == 1 and ids[i : i + n] == marker]


def bf16_supported() -> bool:
    import torch

    try:
        return torch.backends.cpu.get_cpu_capability() in ("AVX512", "AMX") and _cpu_has("avx512_bf16")
    except (AttributeError, OSError):
        return False


def _cpu_has(flag: str) -> bool:
    with contextlib.suppress(OSError):
        return flag in Path("/proc/cpuinfo").read_text()
    return False


def _batches(lengths: list[int], batch: int, rng: random.Random, max_tokens: int = 0) -> list[list[int]]:
    """Shuffled batches of similar length (little padding), in shuffled order.

    `max_tokens` > 0 also caps a batch's padded size (examples × longest), so a batch of long
    episodes is smaller: attention memory grows with length × (prefix + length) per example.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out: list[list[int]] = []
    window = batch * 16
    for i in range(0, len(order), window):
        chunk = sorted(order[i : i + window], key=lambda k: lengths[k])
        current: list[int] = []
        for k in chunk:
            longest = max([lengths[j] for j in current] + [lengths[k]])
            if current and (
                len(current) == batch or (max_tokens and longest * (len(current) + 1) > max_tokens)
            ):
                out.append(current)
                current = []
            current.append(k)
        if current:
            out.append(current)
    rng.shuffle(out)
    return out


class PrefixEngine:
    def __init__(self, s: Any, store: Any = None, job_id: str | None = None):
        import torch

        self.s, self.cfg, self.store, self.job_id = s, s.cfg, store, job_id
        self.torch = torch
        self.train_rows = [(r["input_ids"], r["assistant_masks"]) for r in s.train_ds]
        self.val_rows = [(r["input_ids"], r["assistant_masks"]) for r in s.val_ds] if s.val_ds else []
        self.p = common_prefix(self.train_rows + self.val_rows)
        # The tool choice (`{"name": "ssh"` vs `"shell"`) is one token of a call: found once here,
        # weighted in the loss by cfg.tool_choice_weight.
        tokenizer = getattr(s, "tokenizer", None)
        marker = tokenizer.encode('{"name": "', add_special_tokens=False) if tokenizer is not None else []
        self.choices = [set(choice_positions(ids, mask, marker)) for ids, mask in self.train_rows]
        self.val_choices = [set(choice_positions(ids, mask, marker)) for ids, mask in self.val_rows]
        self.prefix = torch.tensor(self.train_rows[0][0][: self.p], dtype=torch.long)
        self.inner = s.model.get_base_model()
        cpu_bf16 = not s.on_cuda and self.cfg.compute_dtype in ("bf16", "auto") and bf16_supported()
        self.amp_dtype = torch.bfloat16 if cpu_bf16 else None
        params = [p for p in s.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=self.cfg.learning_rate, weight_decay=self.cfg.weight_decay)
        self.params = params
        self.lengths = [len(ids) - self.p for ids, _ in self.train_rows]
        per_epoch = len(
            _batches(self.lengths, self.cfg.batch_size, random.Random(0), self.cfg.max_batch_tokens)
        )
        steps_per_epoch = math.ceil(per_epoch / self.cfg.grad_accum)
        self.total = (
            self.cfg.max_steps if self.cfg.max_steps > 0 else math.ceil(steps_per_epoch * self.cfg.epochs)
        )
        warm = int(self.total * self.cfg.warmup_ratio)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda step: self._lr_factor(step, warm))
        log.info(
            "prefix engine: %d shared prefix tokens, %d train / %d val examples, %d steps, %s",
            self.p, len(self.train_rows), len(self.val_rows), self.total,
            "bf16 autocast" if cpu_bf16 else "fp32",
        )  # fmt: skip

    def _lr_factor(self, step: int, warm: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if self.cfg.lr_scheduler.startswith("constant"):
            return 1.0
        progress = (step - warm) / max(1, self.total - warm)
        if self.cfg.lr_scheduler == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return self.torch.autocast("cpu", dtype=self.amp_dtype)

    def _prefix_cache(self, batch: int) -> Any:
        torch = self.torch
        if self.p == 0:
            return None
        was_training = self.s.model.training
        self.s.model.eval()  # no dropout in the prompt's representation: it is read, not learned
        with torch.no_grad(), self._autocast():
            out = self.inner.model(input_ids=self.prefix[None], use_cache=True)
        self.s.model.train(was_training)
        cache = out.past_key_values
        cache.batch_repeat_interleave(batch)
        return cache

    def loss(
        self, rows: list[tuple[list[int], list[int]]], *, grad: bool, choices: list[set[int]] | None = None
    ) -> tuple[Any, int]:
        """Mean cross-entropy over the labelled tokens of `rows` (tool-choice tokens, `choices`,
        weighted by cfg.tool_choice_weight), and how many suffix tokens ran."""
        torch = self.torch
        p = self.p
        width = max(len(ids) for ids, _ in rows) - p
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        attn = torch.zeros(len(rows), width, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        weights = torch.ones(len(rows), width)
        for i, (seq, mask) in enumerate(rows):
            suffix = torch.tensor(seq[p:])
            ids[i, : len(suffix)] = suffix
            attn[i, : len(suffix)] = 1
            labels[i, : len(suffix)] = torch.where(torch.tensor(mask[p:]) == 1, suffix, -100)
            for pos in choices[i] if choices else ():
                weights[i, pos - p] = self.cfg.tool_choice_weight
        cache = self._prefix_cache(len(rows))
        full_attn = torch.cat([torch.ones(len(rows), p, dtype=torch.long), attn], dim=1)
        positions = torch.arange(p, p + width).expand(len(rows), width)
        ctx = contextlib.nullcontext() if grad else torch.no_grad()
        with ctx, self._autocast():
            hidden = self.inner.model(
                input_ids=ids,
                attention_mask=full_attn,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
            ).last_hidden_state
            # Token t is predicted from position t-1; only labelled targets reach the LM head.
            target = labels[:, 1:]
            keep = target != -100
            logits = self.inner.lm_head(hidden[:, :-1][keep])
        per_token = torch.nn.functional.cross_entropy(logits.float(), target[keep], reduction="none")
        w = weights[:, 1:][keep]
        return (per_token * w).sum() / w.sum(), int(attn.sum())

    def validate(self) -> float | None:
        if not self.val_rows:
            return None
        self.s.model.eval()
        total, n = 0.0, 0
        for i in range(0, len(self.val_rows), self.cfg.batch_size):
            chunk = self.val_rows[i : i + self.cfg.batch_size]
            loss, _ = self.loss(chunk, grad=False, choices=self.val_choices[i : i + self.cfg.batch_size])
            total += float(loss) * len(chunk)
            n += len(chunk)
        self.s.model.train()
        return total / n

    # ------------------------------------------------------------ checkpoints

    def save(self, step: int, epoch: float) -> None:
        torch = self.torch
        root = self.s.paths.checkpoints
        tmp = root / f".checkpoint-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.s.model.save_pretrained(tmp)
        torch.save({"opt": self.opt.state_dict(), "sched": self.sched.state_dict()}, tmp / "optimizer.pt")
        (tmp / STATE).write_text(json.dumps({"global_step": step, "epoch": epoch, "engine": "prefix"}))
        final = root / f"checkpoint-{step}"
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        kept = sorted(
            (d for d in root.glob("checkpoint-*") if d.name.split("-")[-1].isdigit()),
            key=lambda d: int(d.name.split("-")[-1]),
        )
        for old in kept[: -self.cfg.save_total_limit]:
            shutil.rmtree(old, ignore_errors=True)

    def restore(self, checkpoint: Path) -> int:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        weights = checkpoint / "adapter_model.safetensors"
        if not weights.exists():
            raise TrainerError(f"{checkpoint}: no adapter weights to resume from")
        set_peft_model_state_dict(self.s.model, load_file(str(weights)))
        state = self.torch.load(checkpoint / "optimizer.pt", weights_only=False)
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        return int(json.loads((checkpoint / STATE).read_text())["global_step"])

    # ------------------------------------------------------------ loop

    def run(self, *, resume_from: Path | None, should_stop: Any, on_log: Any) -> None:
        torch = self.torch
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        step = self.restore(resume_from) if resume_from else 0
        lengths = self.lengths
        micro = cfg.batch_size
        epoch_batches = len(_batches(lengths, micro, random.Random(cfg.seed), cfg.max_batch_tokens))
        self.s.model.train()
        best, bad_evals = math.inf, 0
        t_last, tokens = time.perf_counter(), 0
        micro_done = step * cfg.grad_accum  # batches consumed so far, for resume
        epoch_index = micro_done // epoch_batches
        while step < self.total:
            order = _batches(lengths, micro, random.Random(cfg.seed + epoch_index), cfg.max_batch_tokens)
            for b in order[micro_done % epoch_batches :]:
                loss, ran = self.loss(
                    [self.train_rows[k] for k in b], grad=True, choices=[self.choices[k] for k in b]
                )
                (loss / cfg.grad_accum).backward()
                tokens += ran
                micro_done += 1
                if micro_done % cfg.grad_accum:
                    continue
                torch.nn.utils.clip_grad_norm_(self.params, 1.0)
                self.opt.step()
                self.sched.step()
                self.opt.zero_grad(set_to_none=True)
                step += 1
                epoch = micro_done / epoch_batches
                row: dict[str, Any] = {}
                if step % cfg.logging_steps == 0:
                    now = time.perf_counter()
                    row = {
                        "loss": round(float(loss.detach()), 4),
                        "lr": self.sched.get_last_lr()[0],
                        "tokens_per_s": round(tokens / (now - t_last), 1),
                        "s_per_step": round((now - t_last) / cfg.logging_steps, 3),
                    }
                    t_last, tokens = now, 0
                if cfg.eval_steps and step % cfg.eval_steps == 0:
                    val = self.validate()
                    if val is not None:
                        row["val_loss"] = round(val, 4)
                        best, bad_evals = (val, 0) if val < best else (best, bad_evals + 1)
                on_log(step, epoch, self.total, row)
                if step % cfg.save_steps == 0 or step == self.total:
                    self.save(step, epoch)
                if should_stop():
                    self.s.extra["cancelled"] = True
                    return
                if cfg.early_stopping_patience and bad_evals >= cfg.early_stopping_patience:
                    log.info("early stop at step %d: val loss has not improved for %d evals", step, bad_evals)
                    return
                if step >= self.total:
                    break
            else:
                epoch_index += 1
                micro_done = epoch_index * epoch_batches
                continue
            epoch_index += 1
