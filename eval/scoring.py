"""How close one parsed reply comes to what a case expects (0-1), without another model as judge.

- tool: 0.4 for a well-formed `<tool_call>`, 0.3 for the expected tool, 0.3 times the share of
  expected fragments found in its arguments ("web1", "df").
- answer: 0.7 times the share of expected keywords in the reply plus 0.3 when its length is within
  bounds (the pipeline overview's recall/length split).
- grounding (episode answers): minus 0.5 times the share of the reply's figures that appear in none
  of the tool results, the calls or the prompt. A small model's typical failure after a tool round
  is a fluent answer with invented numbers; keyword recall alone would not see it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from halops.calls import ToolName
from halops.parser import ParsedReply

UNGROUNDED_WEIGHT = 0.5

# A figure in prose: 95%, 38, 2.0, 1,234. Not digits inside identifiers (web1, sda1, md0, x86_64,
# v1.2): a lookbehind rejects a letter, digit, underscore or dot before it.
_FIGURE = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%)?")
# Numbers in the sources: everywhere, identifiers included, so "md0" grounds a "0" and "1,234"
# grounds "1234"; being generous here only ever spares the model a penalty.
_SOURCE_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


# An expected fragment or keyword: one string, or alternatives of which any one counts
# (`[timedatectl, chronyc]`: either command checks time sync).
Fragment = str | tuple[str, ...]


def matches(fragment: Fragment, text: str) -> bool:
    """Whether `fragment` (or one of its alternatives) is in `text` (lowercased by the caller)."""
    options = (fragment,) if isinstance(fragment, str) else fragment
    return any(o.lower() in text for o in options)


def label(fragment: Fragment) -> str:
    return fragment if isinstance(fragment, str) else "|".join(fragment)


@dataclass(frozen=True)
class Score:
    value: float
    notes: list[str] = field(default_factory=list)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def figures(reply: str) -> list[str]:
    """The figures of a reply that must come from somewhere.

    Single-digit integers without a % are left out: they are list numbering ("1. …"), counts the
    model derives from a listing ("2 GPUs") and ordinals far more often than invented readings.
    """
    out = []
    for match in _FIGURE.finditer(reply):
        whole, frac, pct = match.group(1), match.group(2), match.group(3)
        if not frac and not pct and len(whole) == 1:
            continue
        out.append(match.group(0))
    return out


def source_numbers(texts: Iterable[str]) -> set[float]:
    return {_number(m) for text in texts for m in _SOURCE_NUMBER.findall(text)}


def ungrounded(reply: str, sources: Iterable[str]) -> list[str]:
    """The reply's figures that appear in none of `sources` (compared as numbers: 2.0 == 2)."""
    known = source_numbers(sources)
    return [f for f in figures(reply) if _number(f.rstrip("%")) not in known]


def texts_of(value: Any) -> list[str]:
    """Every string and number inside a JSON-like value (a tool result, a call's arguments)."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [str(k), *texts_of(v)]]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in texts_of(v)]
    return [] if value is None else [str(value)]


def score_tool(reply: ParsedReply, tools: Sequence[str], args_contain: Sequence[Fragment]) -> Score:
    if not reply.calls:
        return Score(0.0, ["no well-formed tool call"] + [e.message for e in reply.errors])
    call = reply.calls[0]
    value, notes = 0.4, []
    if call.tool.lower() in {t.lower() for t in tools}:
        value += 0.3
    else:
        notes.append(f"called {call.tool!r}, expected one of {list(tools)}")
    args = json.dumps(call.arguments, ensure_ascii=False).lower()
    missing = [label(a) for a in args_contain if not matches(a, args)]
    if args_contain:
        value += 0.3 * (len(args_contain) - len(missing)) / len(args_contain)
        if missing:
            notes.append(f"arguments lack {missing}")
    else:
        value += 0.3
    return Score(round(value, 4), notes)


def score_answer(
    reply: ParsedReply, keywords: Sequence[Fragment], min_chars: int, max_chars: int, *, no_tool: bool
) -> Score:
    if no_tool and reply.has_calls:
        return Score(0.0, ["called a tool where a plain answer was expected"])
    text = reply.text.lower()
    missing = [label(k) for k in keywords if not matches(k, text)]
    recall = (len(keywords) - len(missing)) / len(keywords) if keywords else 1.0
    fits = min_chars <= len(reply.text) <= max_chars
    notes = [f"missing keywords {missing}"] if missing else []
    if not fits:
        notes.append(f"{len(reply.text)} characters, expected {min_chars}-{max_chars}")
    return Score(round(0.7 * recall + (0.3 if fits else 0.0), 4), notes)


def score_grounded_answer(
    reply: ParsedReply,
    keywords: Sequence[Fragment],
    min_chars: int,
    max_chars: int,
    sources: Sequence[str],
) -> Score:
    """An answer after tool results: as `score_answer`, less the share of invented figures."""
    base = score_answer(reply, keywords, min_chars, max_chars, no_tool=True)
    if reply.has_calls:
        return base
    seen = figures(reply.text)
    invented = ungrounded(reply.text, sources)
    if not invented:
        return base
    penalty = UNGROUNDED_WEIGHT * len(invented) / len(seen)
    note = f"figures in no tool result: {invented[:8]} (-{penalty:.2f})"
    return Score(round(max(base.value - penalty, 0.0), 4), [*base.notes, note])


@dataclass(frozen=True)
class CallValidity:
    emitted: int
    valid: int
    problems: list[str] = field(default_factory=list)


def call_validity(reply: ParsedReply) -> CallValidity:
    """How many calls the reply emitted and how many of them would validate in the agent.

    A malformed block counts as emitted and invalid: the agent could not run it either. Validation is
    the agent's own (`ToolCall.typed()`), so an unknown tool name ("nginx") is invalid too.
    """
    problems = [f"malformed call: {e.message}" for e in reply.errors]
    valid = 0
    names = {t.value for t in ToolName}
    for call in reply.calls:
        if call.tool not in names:
            problems.append(f"unknown tool {call.tool!r}")
            continue
        try:
            call.typed()
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            lines = [ln.strip() for ln in str(exc).splitlines()[1:3]]
            problems.append(f"invalid arguments for {call.tool!r}: {' '.join(lines)[:200]}")
        else:
            valid += 1
    return CallValidity(len(reply.calls) + len(reply.errors), valid, problems)
