"""Eval cases: what a prompt should make the model do, and how close a reply comes (0-1).

Two kinds, scored without another model as judge, so a score is reproducible and cheap:
- `tool`: the model should call a tool. 0.4 for a well-formed `<tool_call>`, 0.3 for the expected
  tool, 0.3 times the share of expected fragments found in its arguments ("web1", "df").
- `answer`: the model should answer in prose. 0.7 times the share of expected keywords in the reply
  plus 0.3 when its length is within bounds (the pipeline overview's recall/length split); a tool
  call where `no_tool` is set scores 0, since calling a tool for a definition wastes a round.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from eval.errors import EvalError
from halops.parser import ParsedReply


def default_cases() -> Path:
    return Path(__file__).with_name("cases.yaml")


@dataclass(frozen=True)
class Score:
    value: float
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EvalCase:
    id: str
    kind: Literal["tool", "answer"]
    category: str
    prompt: str
    tools: tuple[str, ...] = ()  # tool: any of these names counts as the expected tool
    args_contain: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    min_chars: int = 1
    max_chars: int = 1200
    no_tool: bool = True

    def score(self, reply: ParsedReply) -> Score:
        return self._tool(reply) if self.kind == "tool" else self._answer(reply)

    def _tool(self, reply: ParsedReply) -> Score:
        if not reply.calls:
            return Score(0.0, ["no well-formed tool call"] + [e.message for e in reply.errors])
        call = reply.calls[0]
        value, notes = 0.4, []
        if call.tool.lower() in {t.lower() for t in self.tools}:
            value += 0.3
        else:
            notes.append(f"called {call.tool!r}, expected one of {list(self.tools)}")
        args = json.dumps(call.arguments, ensure_ascii=False).lower()
        found = [a for a in self.args_contain if a.lower() in args]
        if self.args_contain:
            value += 0.3 * len(found) / len(self.args_contain)
            missing = [a for a in self.args_contain if a not in found]
            if missing:
                notes.append(f"arguments lack {missing}")
        else:
            value += 0.3
        return Score(round(value, 4), notes)

    def _answer(self, reply: ParsedReply) -> Score:
        if self.no_tool and reply.has_calls:
            return Score(0.0, ["called a tool where a plain answer was expected"])
        text = reply.text.lower()
        found = [k for k in self.keywords if k.lower() in text]
        recall = len(found) / len(self.keywords) if self.keywords else 1.0
        fits = self.min_chars <= len(reply.text) <= self.max_chars
        notes = [f"missing keywords {[k for k in self.keywords if k not in found]}"] if recall < 1 else []
        if not fits:
            notes.append(f"{len(reply.text)} characters, expected {self.min_chars}-{self.max_chars}")
        return Score(round(0.7 * recall + (0.3 if fits else 0.0), 4), notes)


def _case(raw: Any, where: str, problems: list[str]) -> EvalCase | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    allowed = {f for f in EvalCase.__dataclass_fields__}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        problems.append(f"{where}: unknown keys {unknown}")
    missing = [k for k in ("id", "kind", "category", "prompt") if not raw.get(k)]
    if missing:
        problems.append(f"{where}: missing {missing}")
        return None
    if raw["kind"] not in ("tool", "answer"):
        problems.append(f"{where}: kind must be 'tool' or 'answer', not {raw['kind']!r}")
        return None
    if raw["kind"] == "tool" and not raw.get("tools"):
        problems.append(f"{where}: a tool case needs `tools` (the expected tool names)")
    if raw["kind"] == "answer" and not raw.get("keywords"):
        problems.append(f"{where}: an answer case needs `keywords`")
    if unknown:
        return None
    values = dict(raw)
    for key in ("tools", "args_contain", "keywords"):
        values[key] = tuple(str(v) for v in values.get(key) or ())
    try:
        return EvalCase(**values)
    except TypeError as exc:
        problems.append(f"{where}: {exc}")
        return None


def load_cases(path: Path | None = None) -> list[EvalCase]:
    """The cases in `path` (default: the shipped set); every problem is reported at once."""
    path = path or default_cases()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalError(f"cannot read eval cases {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise EvalError(f"eval cases {path} are not valid YAML: {exc}") from exc
    raw_cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(raw_cases, list) or not raw_cases:
        raise EvalError(f"eval cases {path}: expected a top-level `cases:` list")
    problems: list[str] = []
    cases = [c for i, raw in enumerate(raw_cases) if (c := _case(raw, f"cases[{i}]", problems))]
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"duplicate ids {dupes}")
    if problems:
        raise EvalError(f"eval cases {path} are invalid:\n  " + "\n  ".join(problems))
    return cases
