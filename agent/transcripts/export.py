"""Export transcripts in the trainer's ChatML-with-tools format, one JSON object per line.

    {"id": "turn-…", "source": "halops-agent", "session_id": "conv-…", "created_at": 1700000000.0,
     "messages": [
        {"role": "system", "content": "<the first round's system prompt, tools included>"},
        {"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}, …history…,
        {"role": "assistant", "content": "…<tool_call>{…}</tool_call>"},
        {"role": "tool", "name": "ssh", "content": "{\"status\": \"ok\", …}"},
        {"role": "assistant", "content": "the final answer"}],
     "metadata": {"feedback": 1, "votes": 1, "iterations": 2, "tools": ["ssh"], "statuses": ["ok"],
                  "downvoted_history": 0}}

Assistant tool calls stay plain text in the target model's `<tool_call>` format (what the model
actually wrote); tool results are exactly what the model was shown. Everything was scrubbed when it
was stored, and is scrubbed once more here.

`feedback` is the operator's net rating of this turn (thumbs up +1, down -1). A client resends
earlier answers as history, so a thumbs-down answer can reappear inside a later turn's line:
`downvoted_history` counts those, so the trainer keeps them out of its targets too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import IO, Any

from agent.transcripts.store import TranscriptStore, scrub_obj


def turn_to_example(turn: dict[str, Any], downvoted: frozenset[str] = frozenset()) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": turn["system_prompt"] or ""}]
    messages += [m for m in turn["messages"] if m["role"] in ("user", "assistant")]
    calls_by_iteration: dict[int, list[dict[str, Any]]] = {}
    for call in turn["tool_calls"]:
        calls_by_iteration.setdefault(call["iteration"], []).append(call)
    steps = turn["steps"]
    for step in steps:
        calls = calls_by_iteration.get(step["iteration"], [])
        is_last = step is steps[-1]
        content = turn["answer"] if is_last and not calls else step["reply"]
        messages.append({"role": "assistant", "content": content})
        for call in calls:
            messages.append({"role": "tool", "name": call["tool"], "content": json.dumps(call["result"])})
    return {
        "id": turn["id"],
        "source": "halops-agent",
        "session_id": turn["conversation_id"],
        "created_at": turn["started_at"],
        "messages": messages,
        "metadata": {
            "feedback": turn["feedback"]["score"],
            "votes": turn["feedback"]["votes"],
            "iterations": turn["iterations"],
            "tools": [c["tool"] for c in turn["tool_calls"]],
            "statuses": [c["status"] for c in turn["tool_calls"]],
            "downvoted_history": sum(
                1 for m in turn["messages"] if m["role"] == "assistant" and m["content"].strip() in downvoted
            ),
        },
    }


def export(store: TranscriptStore, out: IO[str], scrub: Callable[[str], str]) -> int:
    count = 0
    for example in iter_examples(store):
        out.write(json.dumps(scrub_obj(example, scrub), ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


def iter_examples(store: TranscriptStore) -> Iterator[dict[str, Any]]:
    turns = [t for t in store.iter_turns(statuses=("ok",)) if t["steps"]]
    downvoted: dict[str, set[str]] = {}
    for turn in turns:
        if turn["feedback"]["score"] < 0 and turn["answer"]:
            downvoted.setdefault(turn["conversation_id"], set()).add(turn["answer"].strip())
    for turn in turns:
        yield turn_to_example(turn, frozenset(downvoted.get(turn["conversation_id"], ())))
