"""Greedy first-move generation on held-back prompts: does the model open with a `<tool_call>`?"""

from __future__ import annotations

from typing import Any

from trainer.dataset import to_template_messages


def first_moves(model: Any, tokenizer: Any, prompts: list[list[dict]], max_new_tokens: int = 24) -> list[str]:
    import torch

    outs = []
    model.eval()
    for messages in prompts:
        text = tokenizer.apply_chat_template(
            to_template_messages(messages), tokenize=False, add_generation_prompt=True
        )
        enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            gen = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        outs.append(tokenizer.decode(gen[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))
    return outs


def tool_call_count(texts: list[str]) -> int:
    return sum(1 for t in texts if t.lstrip().startswith("<tool_call>"))
