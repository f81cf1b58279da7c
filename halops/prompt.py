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

TOOLS_HEADER = "# Tools\n\nTo run a tool, reply with only this, once per call:\n"
TOOLS_HEADER += '<tool_call>\n{"name": "<tool>", "arguments": {<arguments>}}\n</tool_call>\n\n<tools>\n'
TOOLS_FOOTER = "\n</tools>"
FINAL_ROUND = (
    "You have used all your tool rounds. Do not call any tool now: answer the user with what the "
    "tool results above show, and say what is still unknown."
)
CONTEXT_HEADER = "# Runbook excerpts (cite the source when you use one)"


class ContextChunk(Protocol):
    text: str
    source: str
    heading: str
    score: float


@dataclass
class RenderedResult:
    name: str
    payload: dict[str, Any]


def static_prompt(instructions: str, *, tools: Sequence[dict[str, Any]] | None) -> str:
    """The part of the system prompt that is the same for every request: instructions, then tools.

    It opens every prompt byte for byte, so the model server evaluates it once per start and reuses
    its KV cache for every request after (llama.cpp matches the longest common token prefix).
    """
    parts = [instructions.strip()]
    if tools:
        parts.append(TOOLS_HEADER + "\n".join(signature(t) for t in tools) + TOOLS_FOOTER)
    return "\n\n".join(parts)


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "|".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        return "|".join(_type(s) for s in schema["anyOf"])
    return str(schema.get("type", "any"))


def signature(tool: dict[str, Any]) -> str:
    """`ssh(host: string, command: string) - Run a command ...`: a tool in a third of the tokens.

    The full JSON schemas cost ~640 tokens of SmolLM2's tokenizer for four tools, paid by every
    cold request and every training example; a signature line says the same to a model (names,
    types, allowed values, what is optional). The grammar (halops.grammar) still enforces the
    full schema, so nothing is lost in validation.
    """
    fn = tool.get("function", tool)
    params = fn.get("parameters") or {}
    required = set(params.get("required", []))
    args = []
    for name, schema in (params.get("properties") or {}).items():
        hint = f" ({schema['description']})" if "description" in schema and "enum" not in schema else ""
        args.append(f"{name}{'' if name in required else '?'}: {_type(schema)}{hint}")
    return f"{fn['name']}({', '.join(args)}) - {fn.get('description', '')}".rstrip(" -")


def system_prompt(
    instructions: str,
    *,
    tools: Sequence[dict[str, Any]] | None,
    context: Sequence[ContextChunk] = (),
    client_system: str | None = None,
    context_chars: int = 0,
) -> str:
    """The static prompt, then what varies per request: runbook excerpts, the client's system text.

    Nothing per-request comes before the tool block, so a new question only costs its own tokens.
    `context_chars` > 0 clips each excerpt (head kept): on CPU every prompt token is paid per request.
    """
    parts = [static_prompt(instructions, tools=tools)]
    if context:
        lines = [CONTEXT_HEADER]
        for i, chunk in enumerate(context, 1):
            where = f"{chunk.source} › {chunk.heading}" if chunk.heading else chunk.source
            text = chunk.text.strip()
            if context_chars and len(text) > context_chars:
                text = text[:context_chars].rsplit(" ", 1)[0] + " …"
            lines.append(f"\n[{i}] {where}\n{text}")
        parts.append("\n".join(lines))
    if client_system:
        parts.append("# Additional instructions from the client\n\n" + client_system.strip())
    return "\n\n".join(parts)


def final_round(messages: list[Message]) -> list[Message]:
    """The last round's prompt: the same messages, the no-more-tools note after the newest turn.

    The note goes at the end, not into the system prompt, so the cached prefix stays valid.
    """
    out = [dict(m) for m in messages]
    last = out[-1] if out else None
    if last is not None and last["role"] == "user":
        last["content"] = (last.get("content") or "") + "\n\n" + FINAL_ROUND
    else:
        out.append({"role": "user", "content": FINAL_ROUND})
    return out


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
