"""Rendering through SmolLM2's own chat template, with the loss on assistant turns only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.trainer.toolcall_data import example, write_dataset
from trainer.dataset import build_dataset, to_template_messages, tokenize_example
from trainer.errors import TrainerError


@pytest.fixture(scope="module")
def tokenizer():  # noqa: ANN201
    from transformers import AutoTokenizer

    from halops.llm.models import bundled_model

    path = bundled_model()
    return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


@pytest.mark.unit
def test_tool_results_become_one_user_turn_of_tool_response_blocks() -> None:
    msgs = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "<tool_call>\n{}\n</tool_call>"},
        {"role": "tool", "name": "Bash", "content": "a"},
        {"role": "tool", "name": "Read", "content": "b"},
        {"role": "assistant", "content": "done"},
    ]
    out = to_template_messages(msgs)
    assert [m["role"] for m in out] == ["user", "assistant", "user", "assistant"]
    blocks = out[2]["content"].split("\n<tool_response>")
    assert len(blocks) == 2 and out[2]["content"].startswith("<tool_response>\n")
    assert json.loads(out[2]["content"].splitlines()[1]) == {"name": "Bash", "content": "a"}
    with pytest.raises(TrainerError, match="unknown role"):
        to_template_messages([{"role": "robot", "content": "x"}])


@pytest.mark.integration
def test_loss_mask_covers_assistant_turns_and_their_end_token(tokenizer) -> None:  # noqa: ANN001
    from tests.trainer.toolcall_data import HOSTS, TASKS

    row = tokenize_example(tokenizer, example(TASKS[0], HOSTS[0])["messages"], 512)
    assert row is not None
    ids, mask = row["input_ids"], row["assistant_masks"]
    trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained.startswith('<tool_call>\n{"name": "Bash"')
    assert trained.count("<|im_end|>") == 2  # each assistant turn teaches the model to stop
    assert "Check disk usage" not in trained and "tool_response" not in trained and "halops" not in trained
    full = tokenizer.decode(ids)
    assert full.startswith("<|im_start|>system\n") and "<|im_start|>user\n<tool_response>" in full
    # Cut before the first assistant turn: nothing to learn, so the example is dropped.
    assert tokenize_example(tokenizer, example(TASKS[0], HOSTS[0])["messages"], 20) is None


@pytest.mark.integration
def test_build_dataset_reads_the_pipeline_jsonl(tokenizer, tmp_path: Path) -> None:  # noqa: ANN001
    ds = build_dataset(tokenizer, write_dataset(tmp_path) / "train.jsonl", 256, limit=5)
    assert len(ds) == 5 and set(ds.column_names) == {"input_ids", "assistant_masks"}
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(TrainerError, match="bad.jsonl:1"):
        build_dataset(tokenizer, tmp_path / "bad.jsonl", 256)
