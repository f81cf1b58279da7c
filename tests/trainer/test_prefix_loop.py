"""The prefix engine computes the same loss as a plain forward pass, only cheaper.

A tiny randomly initialised Llama (the bundled model's architecture) with LoRA: the loss over the
labelled tokens from (shared prefix once, suffixes on its KV cache, LM head at label positions)
must equal the usual full-sequence masked loss. Then a few real steps: loss falls, checkpoints
resume, cancel stops it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from trainer.prefix_loop import PrefixEngine, _batches, choice_positions, common_prefix
from trainer.recipe import RunPaths
from trainer.recipe_config import RecipeConfig

pytestmark = pytest.mark.unit


def test_common_prefix_stops_at_first_difference_and_before_labels() -> None:
    rows = [([1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 1, 1]), ([1, 2, 3, 9, 9, 9], [0, 0, 0, 0, 1, 1])]
    assert common_prefix(rows) == 3
    labelled_early = [([1, 2, 3, 4, 5], [0, 1, 1, 1, 1]), ([1, 2, 3, 4, 6], [0, 1, 1, 1, 1])]
    assert common_prefix(labelled_early) == 1
    # Always leaves two suffix tokens: one to read, one to predict.
    same = [([1, 2, 3], [0, 0, 1]), ([1, 2, 3], [0, 0, 1])]
    assert common_prefix(same) == 1


def test_batches_cover_every_example_once() -> None:
    lengths = [random.Random(i).randint(5, 90) for i in range(53)]
    batches = _batches(lengths, 4, random.Random(0))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(53))
    assert all(1 <= len(b) <= 4 for b in batches)


def _tiny_setup(tmp_path: Path, rows: list[tuple[list[int], list[int]]], **cfg: object) -> SimpleNamespace:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128,
    )  # fmt: skip
    model = get_peft_model(
        LlamaForCausalLM(config),
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj", "down_proj"]),
    )
    data = [{"input_ids": ids, "assistant_masks": mask} for ids, mask in rows]
    options: dict = {
        "engine": "prefix", "compute_dtype": "fp32", "batch_size": 3, "logging_steps": 1, "eval_steps": 0,
        "save_steps": 2, "learning_rate": 5e-3, "max_steps": 6, **cfg,
    }  # fmt: skip
    recipe = RecipeConfig(**options)
    return SimpleNamespace(
        cfg=recipe,
        model=model,
        train_ds=data,
        val_ds=data[:2],
        on_cuda=False,
        paths=RunPaths(tmp_path),
        extra={},
    )


def _rows(n: int = 7) -> list[tuple[list[int], list[int]]]:
    rng = random.Random(1)
    prefix = [rng.randrange(64) for _ in range(11)]
    rows = []
    for _ in range(n):
        user = [rng.randrange(64) for _ in range(rng.randint(2, 6))]
        answer = [rng.randrange(64) for _ in range(rng.randint(3, 9))]
        rows.append((prefix + user + answer, [0] * (len(prefix) + len(user)) + [1] * len(answer)))
    return rows


def test_prefix_loss_equals_full_forward_loss(tmp_path: Path) -> None:
    import torch

    rows = _rows()
    engine = PrefixEngine(_tiny_setup(tmp_path, rows))
    assert engine.p == 11
    engine.s.model.eval()
    fast, ran = engine.loss(rows, grad=False)
    # Reference: every example alone, whole sequence, labels on assistant tokens only.
    total, count = 0.0, 0
    with torch.no_grad():
        for ids, mask in rows:
            x = torch.tensor([ids])
            labels = torch.tensor([[t if m else -100 for t, m in zip(ids, mask, strict=True)]])
            out = engine.s.model(input_ids=x)
            logits = out.logits[0, :-1]
            target = labels[0, 1:]
            keep = target != -100
            total += float(torch.nn.functional.cross_entropy(logits[keep], target[keep], reduction="sum"))
            count += int(keep.sum())
    assert float(fast) == pytest.approx(total / count, rel=1e-4)
    assert ran == sum(len(ids) - 11 for ids, _ in rows)  # the prefix is not paid per example


def test_choice_positions_are_the_labelled_tokens_after_the_marker() -> None:
    ids = [5, 7, 8, 3, 9, 7, 8, 4, 6]
    mask = [0, 0, 0, 0, 1, 1, 1, 1, 1]
    # The first marker (7, 8) is in the prompt: only the labelled one counts.
    assert choice_positions(ids, mask, [7, 8]) == [7]
    assert choice_positions(ids, mask, []) == []


class _MarkerTokenizer:
    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        assert text == '{"name": "'
        return [7, 8]


def test_tool_choice_weight_weighs_the_choice_token_in_the_loss(tmp_path: Path) -> None:
    import torch

    rows = [(ids[:-4] + [7, 8] + ids[-2:], mask) for ids, mask in _rows()]
    setup = _tiny_setup(tmp_path, rows, tool_choice_weight=5.0)
    setup.tokenizer = _MarkerTokenizer()
    engine = PrefixEngine(setup)
    assert all(c == {len(ids) - 2} for c, (ids, _) in zip(engine.choices, rows, strict=True))
    engine.s.model.eval()
    weighted, _ = engine.loss(rows, grad=False, choices=engine.choices)
    plain, _ = engine.loss(rows, grad=False)
    total, weight = 0.0, 0.0
    with torch.no_grad():
        for ids, mask in rows:
            logits = engine.s.model(input_ids=torch.tensor([ids])).logits[0, :-1]
            for t in range(1, len(ids)):
                if mask[t]:
                    w = 5.0 if t == len(ids) - 2 else 1.0
                    total += w * float(
                        torch.nn.functional.cross_entropy(logits[t - 1 : t], torch.tensor([ids[t]]))
                    )
                    weight += w
    assert float(weighted) == pytest.approx(total / weight, rel=1e-4)
    assert float(weighted) != pytest.approx(float(plain), rel=1e-4)


def test_training_lowers_loss_checkpoints_and_resumes(tmp_path: Path) -> None:
    rows = _rows()
    s = _tiny_setup(tmp_path, rows)
    engine = PrefixEngine(s)
    before = float(engine.loss(rows, grad=False)[0])
    logged: list[tuple[int, dict]] = []
    engine.run(
        resume_from=None, should_stop=lambda: False, on_log=lambda st, ep, tot, row: logged.append((st, row))
    )
    after = float(engine.loss(rows, grad=False)[0])
    assert after < before
    assert [st for st, _ in logged] == [1, 2, 3, 4, 5, 6]
    assert all("loss" in row and "tokens_per_s" in row for _, row in logged)
    ckpts = sorted(p.name for p in s.paths.checkpoints.glob("checkpoint-*"))
    assert ckpts == ["checkpoint-4", "checkpoint-6"]  # every save_steps=2, the newest save_total_limit=2 kept
    state = json.loads((s.paths.checkpoints / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6

    # A new engine resumed from the checkpoint continues at step 7 with the saved weights.
    s2 = _tiny_setup(tmp_path / "again", rows, **{"max_steps": 8})
    engine2 = PrefixEngine(s2)
    step = engine2.restore(s.paths.checkpoints / "checkpoint-6")
    assert step == 6
    assert float(engine2.loss(rows, grad=False)[0]) == pytest.approx(after, rel=1e-5)


def test_should_stop_cancels_after_the_current_step(tmp_path: Path) -> None:
    s = _tiny_setup(tmp_path, _rows())
    engine = PrefixEngine(s)
    steps: list[int] = []
    engine.run(resume_from=None, should_stop=lambda: True, on_log=lambda st, *a: steps.append(st))
    assert steps == [1]
    assert s.extra["cancelled"] is True


def test_batches_respect_the_token_budget() -> None:
    lengths = [900, 880, 40, 35, 30, 50, 45, 20, 910, 60]
    batches = _batches(lengths, 8, random.Random(0), max_tokens=2000)
    assert sorted(i for b in batches for i in b) == list(range(10))
    for b in batches:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 2000
