"""Rendering the conversation for the model: system prompt, tools, retrieved context, tool results.

The agent renders tools itself in the Qwen2.5 / Hermes text format instead of relying on a model
server's tool-call support: the embedded server, llama-server, vLLM and Ollama then all behave the
same, and a fine-tune learns exactly the text it will be shown. Tool results go back as a user turn
of `<tool_response>` blocks, which is how Qwen2.5's own template renders tool messages; it needs no
"tool" role, which chat templates that lack one (SmolLM2's) would mangle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Message = dict[str, Any]

TOOLS_HEADER = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
TOOLS_FOOTER = (
    "\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
FINAL_ROUND = (
    "You have used all your tool rounds. Do not call any tool now: answer the user with what the "
    "tool results above show, and say what is still unknown."
)


class ContextChunk(Protocol):
    text: str
    source: str
    heading: str
    score: float


@dataclass
class RenderedResult:
    name: str
    payload: dict[str, Any]


def system_prompt(
    instructions: str,
    *,
    tools: Sequence[dict[str, Any]] | None,
    context: Sequence[ContextChunk] = (),
    client_system: str | None = None,
) -> str:
    parts = [instructions.strip()]
    if client_system:
        parts.append("# Additional instructions from the client\n\n" + client_system.strip())
    if context:
        lines = ["# Runbook excerpts (cite the source when you use one)"]
        for i, chunk in enumerate(context, 1):
            where = f"{chunk.source} › {chunk.heading}" if chunk.heading else chunk.source
            lines.append(f"\n[{i}] {where}\n{chunk.text.strip()}")
        parts.append("\n".join(lines))
    if tools:
        parts.append(TOOLS_HEADER + "\n".join(json.dumps(t) for t in tools) + TOOLS_FOOTER)
    else:
        parts.append(FINAL_ROUND)
    return "\n\n".join(parts)


def tool_response_message(results: Sequence[RenderedResult]) -> Message:
    blocks = [
        "<tool_response>\n"
        + json.dumps({"name": r.name, **r.payload}, ensure_ascii=False)
        + "\n</tool_response>"
        for r in results
    ]
    return {"role": "user", "content": "\n".join(blocks)}


def clip(text: str, limit: int, marker: str = "\n[... {n} characters cut ...]\n") -> tuple[str, bool]:
    """Head and tail of `text` within `limit` characters; the middle replaced by a marker."""
    if len(text) <= limit:
        return text, False
    note = marker.format(n=len(text) - limit)
    keep = max(limit - len(note), 0)
    head = keep * 2 // 3
    return text[:head] + note + text[len(text) - (keep - head) :], True


def prompt_chars(messages: Sequence[Message]) -> int:
    return sum(len(m.get("content") or "") for m in messages)


def fit_context(messages: list[Message], max_chars: int, floor: int = 400) -> list[Message]:
    """Shrink the oldest tool responses until the prompt fits `max_chars` (or nothing is left).

    The system prompt, the user's words and the model's own replies are never cut: losing old
    command output degrades an answer, losing the question breaks it.
    """
    out = [dict(m) for m in messages]
    for msg in out:
        excess = prompt_chars(out) - max_chars
        if excess <= 0:
            break
        content = msg.get("content") or ""
        if msg["role"] == "user" and content.startswith("<tool_response>"):
            msg["content"], _ = clip(content, max(len(content) - excess, floor))
    return out
