"""A short fine-tune teaches the tool-call format: held-back prompts answered with `<tool_call>`.

Measured on the 2-core dev machine: the base SmolLM2-135M opens with a tool call on 0/4 held-back
prompts; after 12 steps on a dozen examples, on 4/4. The recipe is the shipped CPU one; only the
learning rate is raised so a dozen steps suffice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.learning import first_moves, tool_call_count
from tests.trainer.toolcall_data import held_back_prompts, write_dataset
from trainer import recipe
from trainer.recipe_config import load_recipe

# 2-3 min alone; torch on 2 shared cores slows up to ~10x beside other CPU-bound work.
pytestmark = [pytest.mark.model, pytest.mark.integration, pytest.mark.timeout(1500)]
RECIPE = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "smollm2-135m-cpu.yaml"


def test_short_finetune_learns_the_tool_call_format(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", n_train=12)
    overrides = [
        "max_steps=12",
        "max_seq_len=160",
        "batch_size=4",
        "eval_steps=0",
        "save_steps=1000",
        "early_stopping_patience=0",
        "learning_rate=1e-3",
        "warmup_ratio=0",
    ]
    cfg = load_recipe(RECIPE, overrides, dataset_default=ds)
    s = recipe.setup(cfg, tmp_path / "run", tmp_path / "base")
    prompts = held_back_prompts(4)
    before = first_moves(s.model, s.tokenizer, prompts, max_new_tokens=8)
    assert tool_call_count(before) == 0, before
    recipe.train(s)
    after = first_moves(s.model, s.tokenizer, prompts, max_new_tokens=8)
    assert tool_call_count(after) == 4, after
    assert recipe.cleanup(s) == tmp_path / "run" / "adapter"
