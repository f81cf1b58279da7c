"""Tool calls out of a model reply, in the Qwen2.5 / Hermes `<tool_call>` format.

    <tool_call>
    {"name": "ssh", "arguments": {"host": "web1", "command": "df -h"}}
    </tool_call>

Accepted: several blocks per reply; a last block whose closing tag the model never wrote (it hit a
stop sequence or max_tokens); ```json fences inside the tags; `arguments` as an object or as a JSON
string (the OpenAI wire form). Not accepted: JSON in prose outside the tags — a model quoting an
example is not asking for it to run. A malformed block becomes a `CallError` the model is shown, and
does not prevent the reply's other calls from running.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from halops.calls import ToolCall

OPEN, CLOSE = "<tool_call>", "</tool_call>"
# Stop sequences of every completion: the model must not write the tools' answers itself.
STOP = ["<tool_response>"]
_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


@dataclass
class CallError:
    """A `<tool_call>` block that could not be turned into a call."""

    index: int
    raw: str
    message: str


@dataclass
class ParsedReply:
    text: str  # the reply with the tool-call blocks removed: what the model said in prose
    calls: list[ToolCall] = field(default_factory=list)
    errors: list[CallError] = field(default_factory=list)

    @property
    def has_calls(self) -> bool:
        return bool(self.calls or self.errors)


def _decode(body: str) -> dict[str, Any]:
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    body = body.strip()
    if not body:
        raise ValueError("the block is empty; put one JSON object inside <tool_call></tool_call>")
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError('expected a JSON object like {"name": "...", "arguments": {...}}')
    return obj


def _to_call(obj: dict[str, Any]) -> ToolCall:
    name = obj.get("name", obj.get("tool"))
    if not isinstance(name, str) or not name:
        raise ValueError('missing "name": say which tool to call')
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            raise ValueError('"arguments" is a string that is not a JSON object') from None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ValueError('"arguments" must be a JSON object')
    return ToolCall(tool=name, arguments=args)


def parse_reply(reply: str) -> ParsedReply:
    calls: list[ToolCall] = []
    errors: list[CallError] = []
    for index, match in enumerate(_BLOCK.finditer(reply)):
        body = match.group(1)
        try:
            calls.append(_to_call(_decode(body)))
        except ValueError as exc:
            errors.append(CallError(index=index, raw=body.strip()[:500], message=str(exc)))
    text = _BLOCK.sub("", reply).replace(CLOSE, "").strip()
    return ParsedReply(text=text, calls=calls, errors=errors)
