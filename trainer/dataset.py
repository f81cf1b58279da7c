"""ChatML-with-tools examples → token ids with a mask that keeps the loss on assistant turns only.

The base model's own chat template renders the text (the template its GGUF carries, so training and
serving see the same bytes). Templates without a tool role (SmolLM2's) would mangle `tool` messages,
so they become user turns of `<tool_response>` blocks, exactly as `agent/loop/prompt.py` sends them at
run time; tool calls stay plain `<tool_call>` text inside assistant content.

The mask is computed from rendered prefixes, not from template `{% generation %}` tags that most
templates lack: an assistant turn is what rendering messages[:i+1] adds after rendering messages[:i]
with a generation prompt, end-of-turn token included, so the model learns to stop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError

Message = dict[str, Any]


def read_jsonl(path: Path, limit: int = 0) -> list[list[Message]]:
    """The `messages` of each example in a data-pipeline JSONL file."""
    out: list[list[Message]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainerError(f"{path}:{lineno}: not JSON: {exc}") from exc
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list) or not messages:
                raise TrainerError(f"{path}:{lineno}: no messages list")
            out.append(messages)
            if limit and len(out) >= limit:
                break
    return out


def to_template_messages(messages: list[Message]) -> list[Message]:
    """Tool results → one user turn of `<tool_response>` blocks per run of consecutive results."""
    out: list[Message] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            out.append({"role": "user", "content": "\n".join(pending)})
            pending.clear()

    for msg in messages:
        role = msg.get("role")
        if role == "tool":
            payload = {"name": msg.get("name", "tool"), "content": msg.get("content", "")}
            pending.append(
                "<tool_response>\n" + json.dumps(payload, ensure_ascii=False) + "\n</tool_response>"
            )
            continue
        flush()
        if role not in ("system", "user", "assistant"):
            raise TrainerError(f"unknown role {role!r}")
        out.append({"role": role, "content": str(msg.get("content") or "")})
    flush()
    return out


def _render(tokenizer: Any, messages: list[Message], generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def assistant_spans(tokenizer: Any, messages: list[Message]) -> tuple[str, list[tuple[int, int]]]:
    """Full rendered text and the character spans of each assistant turn within it."""
    text = _render(tokenizer, messages)
    spans: list[tuple[int, int]] = []
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], generation_prompt=True) if i else ""
        upto = _render(tokenizer, messages[: i + 1])
        # Templates that render each prefix identically make `before` a prefix of `upto` and of the
        # full text; one that does not (date stamps, history rewriting) cannot be masked this way.
        if not upto.startswith(before) or not text.startswith(upto):
            raise TrainerError("chat template does not render prefixes stably; cannot mask assistant turns")
        spans.append((len(before), len(upto)))
    return text, spans


def tokenize_example(tokenizer: Any, messages: list[Message], max_len: int) -> dict[str, list[int]] | None:
    """input_ids + assistant_masks (1 = trained on), cut to max_len; None when nothing is trainable."""
    text, spans = assistant_spans(tokenizer, to_template_messages(messages))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"]
    mask = []
    for start, end in enc["offset_mapping"]:
        mask.append(int(any(start < e and end > s for s, e in spans)))
    ids, mask = ids[:max_len], mask[:max_len]
    if 1 not in mask:
        return None
    return {"input_ids": ids, "assistant_masks": mask}


def build_dataset(tokenizer: Any, path: Path, max_len: int, limit: int = 0) -> Any:
    """A `datasets.Dataset` of pre-tokenized examples (TRL skips its own tokenization then)."""
    from datasets import Dataset

    rows = []
    for messages in read_jsonl(path, limit):
        row = tokenize_example(tokenizer, messages, max_len)
        if row is not None:
            rows.append(row)
    if not rows:
        raise TrainerError(f"{path}: no example with an assistant turn inside max_seq_len={max_len}")
    return Dataset.from_list(rows)
