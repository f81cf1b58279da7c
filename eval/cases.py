"""Eval cases: what a prompt should make the model do, and how close a reply comes (0-1).

Three kinds, scored without another model as judge (eval/scoring.py), so a score is reproducible
and cheap:
- `tool`: the model should call a tool (the expected tool, arguments with the expected fragments).
- `answer`: the model should answer in prose (keywords, length); a tool call where `no_tool` is
  set scores 0, since calling a tool for a definition wastes a round.
- `episode`: the model "already" made the calls in `steps` and got their canned results; its next
  reply is scored, either as a call (`expect: tool`, a closer look) or as the answer (`expect:
  answer`: keywords taken from the results, and every figure not in a result counts against it).

A case file also lists every host name its cases use (`hosts:`), checked on load: the training-data
generator proves with `eval_hosts()` and `eval_prompts()` that none of them leaks into training.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from eval.errors import EvalError
from eval.scoring import (
    Fragment,
    Score,
    label,
    matches,
    score_answer,
    score_grounded_answer,
    score_tool,
    texts_of,
)
from halops.calls import ToolCall, ToolName
from halops.parser import ParsedReply
from halops.prompt import RenderedResult, tool_response_message

Message = dict[str, Any]
KINDS = ("tool", "answer", "episode")
# What `ToolOutcome.for_model` (halops/outcome.py) can put in a result the model sees.
STATUSES = ("ok", "error", "timeout", "denied", "approval_required")
RESULT_KEYS = {"status", "exit_code", "stdout", "stderr", "reason", "approval_id", "truncated"}
_URL_HOST = re.compile(r"https?://([^/:\s'\"?#]+)")
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


def default_cases() -> Path:
    return Path(__file__).with_name("cases.yaml")


@dataclass(frozen=True)
class Step:
    """One call the model made before the scored reply, and what the agent gave back for it."""

    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]

    def messages(self) -> list[Message]:
        # Byte for byte what the agent appends in a tool round: the model's call as it would write
        # it under the grammar, then the rendered result as a user turn.
        call = json.dumps({"name": self.name, "arguments": self.arguments}, ensure_ascii=False)
        return [
            {"role": "assistant", "content": f"<tool_call>\n{call}\n</tool_call>"},
            tool_response_message([RenderedResult(self.name, dict(self.result))]),
        ]


@dataclass(frozen=True)
class EvalCase:
    id: str
    kind: Literal["tool", "answer", "episode"]
    category: str
    prompt: str
    tools: tuple[str, ...] = ()  # any of these names counts as the expected tool
    args_contain: tuple[Fragment, ...] = ()  # a nested list is alternatives: any one counts
    keywords: tuple[Fragment, ...] = ()
    min_chars: int = 1
    max_chars: int = 1200
    no_tool: bool = True
    steps: tuple[Step, ...] = ()  # episode only
    expect: Literal["tool", "answer"] | None = None  # episode only

    @property
    def expects_call(self) -> bool:
        return self.kind == "tool" or (self.kind == "episode" and self.expect == "tool")

    def messages(self, system: str) -> list[Message]:
        """The prompt the model is scored on, built as the agent builds it at run time."""
        out: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": self.prompt}]
        for step in self.steps:
            out.extend(step.messages())
        return out

    def sources(self) -> list[str]:
        """Where a figure in the answer may come from: the question, the calls and their results."""
        out = [self.prompt]
        for step in self.steps:
            out += texts_of(step.arguments) + texts_of(step.result)
        return out

    def hosts(self) -> set[str]:
        """Host names this case refers to: the calls' `host` arguments and every URL's host."""
        found = {m.group(1) for m in _URL_HOST.finditer(self.prompt)}
        for step in self.steps:
            host = step.arguments.get("host")
            if isinstance(host, str):
                found.add(host)
            found |= {m.group(1) for m in _URL_HOST.finditer(json.dumps(step.arguments))}
        return found

    def score(self, reply: ParsedReply) -> Score:
        if self.expects_call:
            return score_tool(reply, self.tools, self.args_contain)
        if self.kind == "episode":
            return score_grounded_answer(reply, self.keywords, self.min_chars, self.max_chars, self.sources())
        return score_answer(reply, self.keywords, self.min_chars, self.max_chars, no_tool=self.no_tool)


@dataclass(frozen=True)
class CaseFile:
    cases: list[EvalCase]
    hosts: frozenset[str] = field(default_factory=frozenset)


def _step(raw: Any, where: str, problems: list[str]) -> Step | None:
    if not isinstance(raw, dict) or set(raw) != {"call", "result"}:
        problems.append(f"{where}: a step is a mapping with exactly `call` and `result`")
        return None
    call, result = raw["call"], raw["result"]
    ok = True
    if (
        not isinstance(call, dict)
        or set(call) - {"name", "arguments"}
        or not isinstance(call.get("arguments", {}), dict)
    ):
        problems.append(f"{where}.call: expected {{name: <tool>, arguments: {{...}}}}")
        ok = False
    elif call.get("name") not in {t.value for t in ToolName}:
        problems.append(f"{where}.call: unknown tool {call.get('name')!r}")
        ok = False
    else:
        try:  # the canned call is what the agent ran: it must be one the agent would accept
            ToolCall(tool=call["name"], arguments=call.get("arguments") or {}).typed()
        except ValueError as exc:
            detail = " ".join(line.strip() for line in str(exc).splitlines()[1:3])
            problems.append(f"{where}.call: arguments do not validate: {detail}")
            ok = False
    if not isinstance(result, dict):
        problems.append(f"{where}.result: expected a mapping (status, stdout, reason ...)")
        return None
    unknown = sorted(set(result) - RESULT_KEYS)
    if unknown:
        problems.append(f"{where}.result: unknown keys {unknown} (allowed: {sorted(RESULT_KEYS)})")
    status = result.get("status")
    if status not in STATUSES:
        problems.append(f"{where}.result: status must be one of {list(STATUSES)}, not {status!r}")
    elif status in ("denied", "approval_required") and not result.get("reason"):
        problems.append(f"{where}.result: a {status!r} result needs a `reason` (the policy's why)")
    elif status in ("error", "timeout") and not any(
        result.get(k) not in (None, "") for k in ("reason", "stderr", "stdout", "exit_code")
    ):
        # The executors say why a call failed in stderr or its exit code (agent/executors/result.py).
        problems.append(f"{where}.result: a {status!r} result needs `stderr`, `exit_code` or `reason`")
    if status == "approval_required" and not result.get("approval_id"):
        problems.append(f"{where}.result: an 'approval_required' result needs an `approval_id`")
    for key in ("stdout", "stderr", "reason", "approval_id"):
        if key in result and not isinstance(result[key], str):
            problems.append(f"{where}.result.{key}: expected a string")
    if "exit_code" in result and not isinstance(result["exit_code"], int):
        problems.append(f"{where}.result.exit_code: expected an integer")
    if not ok:
        return None
    return Step(name=call["name"], arguments=dict(call.get("arguments") or {}), result=dict(result))


def _episode(raw: dict[str, Any], where: str, problems: list[str]) -> tuple[Step, ...]:
    expect = raw.get("expect")
    if expect not in ("tool", "answer"):
        got = "" if expect is None else f", not {expect!r}"
        problems.append(f"{where}: an episode needs `expect: tool` or `expect: answer`{got}")
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        problems.append(f"{where}: an episode needs `steps` (a list of {{call, result}})")
        return ()
    steps = [_step(s, f"{where}.steps[{i}]", problems) for i, s in enumerate(steps_raw)]
    return tuple(s for s in steps if s is not None)


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
    kind = raw["kind"]
    if kind not in KINDS:
        problems.append(f"{where}: kind must be one of {list(KINDS)}, not {kind!r}")
        return None
    steps: tuple[Step, ...] = ()
    if kind == "episode":
        steps = _episode(raw, where, problems)
    elif "steps" in raw or "expect" in raw:
        problems.append(f"{where}: `steps` and `expect` belong to episode cases only")
    wants_call = kind == "tool" or raw.get("expect") == "tool"
    if wants_call and not raw.get("tools"):
        what = "a tool case" if kind == "tool" else "an episode that expects a call"
        problems.append(f"{where}: {what} needs `tools` (the expected tool names)")
    bad_tools = [t for t in raw.get("tools") or () if t not in {n.value for n in ToolName}]
    if bad_tools:
        problems.append(f"{where}: unknown tools {bad_tools} in `tools`")
    if not wants_call and not raw.get("keywords"):
        problems.append(f"{where}: a case that expects an answer needs `keywords`")
    if unknown:
        return None
    values = dict(raw, steps=steps)
    values["tools"] = tuple(str(v) for v in raw.get("tools") or ())
    for key in ("args_contain", "keywords"):
        items = raw.get(key) or []
        if not isinstance(items, list):
            problems.append(f"{where}: `{key}` must be a list")
            return None
        values[key] = tuple(tuple(str(o) for o in v) if isinstance(v, list) else str(v) for v in items)
    try:
        case = EvalCase(**values)
    except TypeError as exc:
        problems.append(f"{where}: {exc}")
        return None
    if kind == "episode" and case.expect == "answer":
        # Keywords of a grounded answer are facts the results show: one found nowhere is a typo
        # that would make the case unwinnable.
        haystack = "\n".join(case.sources()).lower()
        absent = [label(k) for k in case.keywords if not matches(k, haystack)]
        if absent:
            problems.append(f"{where}: keywords {absent} appear in neither the prompt nor any step")
    return case


def _hosts(data: dict[str, Any], problems: list[str]) -> frozenset[str]:
    raw = data.get("hosts", [])
    if not isinstance(raw, list) or not all(isinstance(h, str) for h in raw):
        problems.append("`hosts:` must be a list of host names")
        return frozenset()
    bad = [h for h in raw if not _HOST_NAME.match(h)]
    if bad:
        problems.append(f"`hosts:` has names that are not host names: {bad}")
    dupes = sorted({h for h in raw if raw.count(h) > 1})
    if dupes:
        problems.append(f"`hosts:` lists {dupes} more than once")
    return frozenset(raw)


def load_case_file(path: Path | None = None) -> CaseFile:
    """The cases and hosts in `path` (default: the shipped set); every problem is reported at once."""
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
    unknown = sorted(set(data) - {"cases", "hosts"})
    if unknown:
        problems.append(f"unknown top-level keys {unknown} (expected `cases:` and `hosts:`)")
    hosts = _hosts(data, problems)
    cases = [c for i, raw in enumerate(raw_cases) if (c := _case(raw, f"cases[{i}]", problems))]
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"duplicate ids {dupes}")
    for case in cases:
        stray = sorted(case.hosts() - hosts)
        if stray:
            problems.append(f"case {case.id}: hosts {stray} are not in the top-level `hosts:` list")
    if problems:
        raise EvalError(f"eval cases {path} are invalid:\n  " + "\n  ".join(problems))
    return CaseFile(cases=cases, hosts=hosts)


def load_cases(path: Path | None = None) -> list[EvalCase]:
    return load_case_file(path).cases


def eval_hosts(path: Path | None = None) -> set[str]:
    """Every host name the eval uses: training data must contain none of them."""
    return set(load_case_file(path).hosts)


def eval_prompts(path: Path | None = None) -> list[str]:
    """Every eval prompt: training data must contain none of them."""
    return [c.prompt for c in load_case_file(path).cases]
