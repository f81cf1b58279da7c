"""Extracted turns → ChatML-with-tools messages, the schema every curated example uses.

    {"role": "system", "content": "<instructions>\n\n# Tools ... <tools>{schemas}</tools> ..."}
    {"role": "user", "content": "..."}
    {"role": "assistant", "content": "prose\n<tool_call>\n{\"name\": ..., \"arguments\": {}}\n</tool_call>"}
    {"role": "tool", "name": "Bash", "content": "..."}
    {"role": "assistant", "content": "the answer"}

The same schema as `halops agent export-transcripts`: tool calls are plain text in the target
model's Qwen2.5/Hermes format, the system prompt is rendered by the agent's own `system_prompt()`
with a schema for each tool the example uses, so a fine-tune learns the text it sees at run time.
With `map_tools`, Claude Code's Bash calls become the agent's shell/ssh/http/ipmi calls
(toolmap.py), their results carry the same name, and those tools get the agent's own schemas.

A conversation is cut into exchanges (one user request and the assistant steps that answer it);
a step is one assistant message and the results of its calls, the unit windows never split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from halops import calls as agent_calls
from halops.prompt import system_prompt
from trainer.data import toolmap

Message = dict[str, Any]

# What the tools of Claude Code do, for the schemas in the system prompt; others get a generic line.
TOOL_DESCRIPTIONS = {
    "Bash": "Run a shell command and return its output.",
    "Read": "Read a file from the local filesystem.",
    "Write": "Write a file to the local filesystem.",
    "Edit": "Replace a string in a file.",
    "MultiEdit": "Make several replacements in one file.",
    "Glob": "Find files by glob pattern.",
    "Grep": "Search file contents with a regular expression.",
    "WebFetch": "Fetch a URL and answer a prompt about its content.",
    "WebSearch": "Search the web.",
    "Task": "Start a subagent on a self-contained task and return its report.",
    "TodoWrite": "Update the task list.",
    "BashOutput": "Read the output of a background shell.",
    "TaskOutput": "Read the output of a background task.",
    "KillShell": "Stop a background shell.",
    "NotebookEdit": "Edit a Jupyter notebook cell.",
    "Skill": "Load a skill's instructions.",
    "AskUserQuestion": "Ask the user a multiple-choice question.",
    "EnterPlanMode": "Switch to planning mode.",
    "ExitPlanMode": "Present a plan and leave planning mode.",
}
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"))


def tool_call_text(name: str, arguments: Any) -> str:
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    # A closing tag inside an argument (editing code that handles tool calls) would end the block
    # early; "<\/" is the same string to a JSON parser and ends nothing.
    body = body.replace("</tool_call>", "<\\/tool_call>")
    return f"<tool_call>\n{body}\n</tool_call>"


def cap(text: str, limit: int) -> str:
    """Head and tail of a long tool result, as the agent shows the model at run time."""
    if len(text) <= limit:
        return text
    head = text[: limit // 2]
    tail = text[-(limit - len(head)) :]
    omitted = len(text) - len(head) - len(tail)
    return f"{head}\n[... {omitted} characters cut ...]\n{tail}"


def _json_type(value: Any) -> str:
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return "object"


@cache
def _agent_schemas() -> dict[str, dict[str, Any]]:
    """The agent's own tool schemas by name, in the agent's order (read-only: shared)."""
    return {s["function"]["name"]: s for s in agent_calls.tool_schemas()}


def tool_schemas(calls: list[tuple[str, Any]], *, agent_tools: bool = False) -> list[dict[str, Any]]:
    """OpenAI-style function schemas for the tools the calls of an example use.

    Inferred from the calls (sorted by name); with `agent_tools`, the agent's own tools (shell,
    ssh, ipmi, http) get the exact schemas the agent shows at run time instead, first and in the
    agent's order.
    """
    agent = _agent_schemas() if agent_tools else {}
    used = {name for name, _ in calls}
    out = [schema for name, schema in agent.items() if name in used]
    seen: dict[str, dict[str, Any]] = {}
    for name, args in calls:
        if name in agent:
            continue
        entry = seen.setdefault(name, {"props": {}, "required": None})
        keys = args if isinstance(args, dict) else {}
        for key, value in keys.items():
            entry["props"].setdefault(key, {"type": _json_type(value)})
        present = set(keys)
        entry["required"] = present if entry["required"] is None else entry["required"] & present
    for name in sorted(seen):
        entry = seen[name]
        out.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": TOOL_DESCRIPTIONS.get(name, f"The {name} tool."),
                    "parameters": {
                        "type": "object",
                        "properties": dict(sorted(entry["props"].items())),
                        "required": sorted(entry["required"] or ()),
                    },
                },
            }
        )
    return out


def render_system(instructions: str, calls: list[tuple[str, Any]], *, agent_tools: bool = False) -> str:
    # No calls: instructions alone (system_prompt() without tools says "no more tool rounds").
    if not calls:
        return instructions.strip()
    return system_prompt(instructions, tools=tool_schemas(calls, agent_tools=agent_tools))


def for_count(msg: Message) -> str:
    """The text the chat template makes of `msg` (Qwen2.5: tool results go back as user turns)."""
    if msg["role"] == "tool":
        return f"<|im_start|>user\n<tool_response>\n{msg['content']}\n</tool_response><|im_end|>\n"
    return f"<|im_start|>{msg['role']}\n{msg['content']}<|im_end|>\n"


@dataclass
class Step:
    assistant: Message
    results: list[Message] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    tokens: int = 0

    @property
    def messages(self) -> list[Message]:
        return [self.assistant, *self.results]

    @property
    def answers(self) -> bool:
        """A prose reply with no calls: the end of an answer."""
        return not self.calls and bool(self.assistant["content"].strip())


@dataclass
class Exchange:
    user: Message
    steps: list[Step] = field(default_factory=list)
    history: bool = False  # a transcript's earlier exchange: context, never a single-turn target
    user_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.user_tokens + sum(s.tokens for s in self.steps)

    @property
    def answered(self) -> bool:
        return bool(self.steps) and self.steps[-1].answers

    @property
    def calls(self) -> list[tuple[str, Any]]:
        return [c for s in self.steps for c in s.calls]


@dataclass
class Rendered:
    exchanges: list[Exchange]
    dropped: dict[str, int]


def _assistant_text(
    turn: dict[str, Any], include_thinking: bool, renamed: dict[str, str] | None = None
) -> tuple[str, list[tuple[str, Any]]]:
    """The assistant message's text and its (name, arguments) calls. With `renamed` (a dict to
    fill), calls are mapped onto the agent's tools and each mapped call's id → its new name is
    recorded there, for the tool results that answer it."""
    calls = []
    for c in turn["tool_calls"]:
        if not c.get("answered", True):
            continue
        name, args = c["name"], c["input"]
        if renamed is not None and (mapped := toolmap.map_call(name, args)) is not None:
            name, args = mapped
            if c.get("id") is not None:
                renamed[c["id"]] = name
        calls.append((name, args))
    parts = []
    if include_thinking and turn.get("thinking"):
        parts.append(f"<think>\n{turn['thinking']}\n</think>")
    if turn["text"].strip():
        parts.append(turn["text"].strip())
    parts += [tool_call_text(name, args) for name, args in calls]
    return "\n\n".join(parts), calls


def exchanges(
    turns: list[dict[str, Any]], *, result_chars: int, include_thinking: bool, map_tools: bool = False
) -> Rendered:
    """Group turns into exchanges. Context turns (compaction summaries, interruptions) are left
    out; an answer split over two assistant messages without a call between them is joined.

    With `map_tools`, Bash calls become the agent's tool calls (toolmap.py); a tool result takes
    the name of the call it answers (matched by `tool_use_id`, so parallel calls each keep their
    own name)."""
    out: list[Exchange] = []
    dropped = {"steps_without_request": 0, "unanswered_calls": 0, "empty_assistant": 0}
    renamed: dict[str, str] | None = {} if map_tools else None
    for turn in turns:
        role = turn["role"]
        if role == "user":
            out.append(Exchange({"role": "user", "content": turn["text"]}, history=bool(turn.get("history"))))
        elif role == "assistant":
            dropped["unanswered_calls"] += sum(1 for c in turn["tool_calls"] if c.get("answered") is False)
            content, calls = _assistant_text(turn, include_thinking, renamed)
            if not content:
                dropped["empty_assistant"] += 1
                continue
            if not out:
                dropped["steps_without_request"] += 1
                continue
            steps = out[-1].steps
            if steps and not steps[-1].calls:
                steps[-1].assistant["content"] += "\n\n" + content
                steps[-1].calls = calls
            else:
                steps.append(Step({"role": "assistant", "content": content}, calls=calls))
        elif role == "tool" and out and out[-1].steps:
            body = cap(turn["content"], result_chars) if turn["content"].strip() else "(no output)"
            name = renamed.get(turn.get("tool_use_id"), turn["name"]) if renamed else turn["name"]
            out[-1].steps[-1].results.append({"role": "tool", "name": name, "content": body})
    return Rendered([e for e in out if e.steps], dropped)


def count_tokens(rendered: list[Exchange], counter: Any) -> None:
    """Fill in the token counts of every user message and step (one batch per call)."""
    msgs: list[Message] = []
    for ex in rendered:
        msgs.append(ex.user)
        for step in ex.steps:
            msgs += step.messages
    counts = iter(counter.count([for_count(m) for m in msgs]))
    for ex in rendered:
        ex.user_tokens = next(counts)
        for step in ex.steps:
            step.tokens = sum(next(counts) for _ in step.messages)
