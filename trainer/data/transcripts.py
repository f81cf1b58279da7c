"""The agent's own transcripts (`halops agent export-transcripts`, see agent/transcripts/export.py).

Each line is one finished turn: the system prompt, the conversation so far (user and assistant
text only), then this turn's assistant steps with their `<tool_call>` blocks and tool results.
Every line becomes one extracted conversation in the same shape as a Claude Code session: the
earlier exchanges are marked `history` (context for multi-turn windows, never a single-turn
target, since their tool steps are not in this line), the last exchange is the turn itself.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

Turn = dict[str, Any]
SOURCE = "halops-agent"
_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def is_transcript_line(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("messages"), list) and "session_id" in obj


def _parse_calls(text: str, turn_id: str, step: int) -> tuple[str, list[dict[str, Any]]]:
    """The prose and the tool calls of one assistant message (bad blocks stay in the prose)."""
    calls: list[dict[str, Any]] = []
    kept: list[str] = []
    pos = 0
    for i, match in enumerate(_CALL.finditer(text)):
        body = match.group(1)
        fenced = _FENCE.match(body)
        try:
            obj = json.loads(fenced.group(1) if fenced else body)
        except ValueError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            continue
        args = obj.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {"raw": args}
        kept.append(text[pos : match.start()])
        pos = match.end()
        calls.append({"id": f"{turn_id}:{step}:{i}", "name": obj["name"], "input": args})
    kept.append(text[pos:])
    return "".join(kept).strip(), calls


def to_conversation(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, Counter[str]]:
    """One export line → (extracted conversation or None when it holds no exchange, stats)."""
    stats: Counter[str] = Counter()
    turn_id = str(obj.get("id") or "")
    messages = [m for m in obj["messages"] if isinstance(m, dict)]
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    turns: list[Turn] = []
    pending: list[dict[str, Any]] = []  # calls still waiting for their tool message, in order
    for i, msg in enumerate(messages):
        role = msg.get("role")
        content = msg.get("content")
        content = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        if role == "user":
            turn: Turn = {"role": "user", "text": content.strip()}
            if i < last_user:
                turn["history"] = True
            turns.append(turn)
            pending = []
        elif role == "assistant":
            text, calls = _parse_calls(content, turn_id, i)
            turns.append({"role": "assistant", "text": text, "tool_calls": calls, "thinking": ""})
            pending = list(calls)
        elif role == "tool":
            if not pending:
                stats["orphan_tool_results"] += 1
                continue
            call = pending.pop(0)
            call["answered"] = True
            stats["tool_pairs"] += 1
            is_error = _is_error(content)
            stats["tool_errors"] += int(is_error)
            turns.append(
                {
                    "role": "tool",
                    "tool_use_id": call["id"],
                    "name": str(msg.get("name") or call["name"]),
                    "content": content,
                    "is_error": is_error,
                }
            )
    for turn in turns:
        for call in turn.get("tool_calls", ()):
            if not call.get("answered"):
                call["answered"] = False
                stats["unanswered_tool_calls"] += 1
    stats["assistant_turns"] = sum(1 for t in turns if t["role"] == "assistant")
    if not any(t["role"] == "user" for t in turns) or not stats["assistant_turns"]:
        return None, stats
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    conv = {
        "id": turn_id or f"{obj.get('session_id')}:{obj.get('created_at')}",
        "session_id": str(obj.get("session_id") or turn_id),
        "kind": "session",
        "source": SOURCE,
        "system": system,
        "feedback": metadata.get("feedback"),
        # Earlier answers in this line that the operator rated down (see agent/transcripts/export.py).
        "downvoted_history": int(metadata.get("downvoted_history") or 0),
        "started_at": obj.get("created_at"),
        "turns": turns,
    }
    return conv, stats


def _is_error(content: str) -> bool:
    # Tool messages are the JSON payload the model was shown: {"status": "ok" | "error" | ...}.
    try:
        payload = json.loads(content)
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("status") not in (None, "ok")
