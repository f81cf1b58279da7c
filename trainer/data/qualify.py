"""Stage 2, qualify: six quality dimensions per conversation → `qualified/session_scores.jsonl`.

Each dimension is in 0..1 (n = count, sat = a `data.*_saturation` setting):

- completion  = 0.5·[the last assistant turn says something in prose]
              + 0.25·(1 − unanswered tool calls / tool calls) + 0.25·(1 − interruptions / requests);
              an agent transcript with operator feedback is 1.0 (thumbs up) or 0.0 (thumbs down).
- depth       = min(1, ln(1 + assistant turns) / ln(1 + depth_saturation)): long work counts, with
              diminishing returns.
- domain      = min(1, distinct ops keywords used / domain_saturation), keywords matched as whole
              words in user requests and tool arguments (what the operator asked and what was run).
- tools       = 0.5·min(1, distinct tools / distinct_tools_saturation)
              + 0.5·min(1, tool calls / tools_saturation).
- thinking    = min(1, 2 · assistant turns with thinking / assistant turns).
- errors      = 1 − failed tool results / tool results (1.0 with no tool results): the error ratio,
              turned so that higher is better like the others.

score = Σ weight·dimension / Σ weight; tier A if score ≥ tier_a, B if ≥ tier_b, else C. The
domain label is the keyword domain with most hits ("general" with none).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.data import extract
from trainer.data.config import DIMENSIONS, DataSettings
from trainer.data.errors import StageInputError
from trainer.data.jsonl import BadLines, read_objects, write_jsonl
from trainer.data.stages import (
    Layout,
    NoProgress,
    Progress,
    StageResult,
    fingerprint,
    input_digests,
    run_stage,
)

SCORES = "session_scores.jsonl"
GENERAL = "general"


@dataclass(frozen=True)
class Keywords:
    patterns: dict[str, re.Pattern[str]]

    @classmethod
    def from_settings(cls, ops: dict[str, list[str]]) -> Keywords:
        pats = {}
        for domain, words in sorted(ops.items()):
            words = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
            if words:
                alt = "|".join(re.escape(w) for w in words)
                pats[domain] = re.compile(rf"(?<![\w-])(?:{alt})(?![\w-])", re.IGNORECASE)
        return cls(pats)

    def hits(self, text: str) -> dict[str, set[str]]:
        return {d: {m.lower() for m in p.findall(text)} for d, p in self.patterns.items()}


def signals(conv: dict[str, Any], keywords: Keywords) -> dict[str, Any]:
    turns = conv["turns"]
    assistant = [t for t in turns if t["role"] == "assistant"]
    calls = [c for t in assistant for c in t["tool_calls"]]
    results = [t for t in turns if t["role"] == "tool"]
    requests = [t for t in turns if t["role"] == "user"]
    last = assistant[-1] if assistant else None
    text = "\n".join(t["text"] for t in requests)
    text += "\n" + "\n".join(json.dumps(c["input"], ensure_ascii=False) for c in calls)
    hits = keywords.hits(text)
    return {
        "requests": len(requests),
        "assistant_turns": len(assistant),
        "tool_calls": len(calls),
        "distinct_tools": len({c["name"] for c in calls}),
        "tool_results": len(results),
        "tool_errors": sum(1 for t in results if t.get("is_error")),
        "unanswered_calls": sum(1 for c in calls if c.get("answered") is False),
        "interrupts": sum(1 for t in turns if t["role"] == "context" and t.get("kind") == "interrupt"),
        "thinking_turns": sum(1 for t in assistant if t.get("thinking")),
        "ends_with_answer": bool(last and last["text"].strip()),
        "feedback": conv.get("feedback"),
        "keywords": sorted(set().union(*hits.values())) if hits else [],
        "domain_hits": {d: len(h) for d, h in hits.items() if h},
    }


def dimensions(sig: dict[str, Any], ds: DataSettings) -> dict[str, float]:
    calls, requests, turns = sig["tool_calls"], max(sig["requests"], 1), sig["assistant_turns"]
    completion = (
        0.5 * sig["ends_with_answer"]
        + 0.25 * (1 - sig["unanswered_calls"] / calls if calls else 1.0)
        + 0.25 * (1 - min(sig["interrupts"], requests) / requests)
    )
    if isinstance(sig["feedback"], (int, float)) and sig["feedback"] != 0:
        completion = 1.0 if sig["feedback"] > 0 else 0.0
    dims = {
        "completion": completion,
        "depth": min(1.0, math.log1p(turns) / math.log1p(ds.depth_saturation)),
        "domain": min(1.0, len(sig["keywords"]) / ds.domain_saturation),
        "tools": 0.5 * min(1.0, sig["distinct_tools"] / ds.distinct_tools_saturation)
        + 0.5 * min(1.0, calls / ds.tools_saturation),
        "thinking": min(1.0, 2 * sig["thinking_turns"] / turns) if turns else 0.0,
        "errors": 1 - sig["tool_errors"] / sig["tool_results"] if sig["tool_results"] else 1.0,
    }
    return {k: round(max(0.0, min(1.0, dims[k])), 4) for k in DIMENSIONS}


def score(dims: dict[str, float], ds: DataSettings) -> float:
    total = sum(ds.weights[k] for k in DIMENSIONS)
    return round(sum(ds.weights[k] * dims[k] for k in DIMENSIONS) / total, 4)


def tier(value: float, ds: DataSettings) -> str:
    return "A" if value >= ds.tier_a else "B" if value >= ds.tier_b else "C"


def domain_of(sig: dict[str, Any]) -> str:
    hits = sig["domain_hits"]
    if not hits:
        return GENERAL
    return sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def qualify_one(conv: dict[str, Any], ds: DataSettings, keywords: Keywords) -> dict[str, Any]:
    sig = signals(conv, keywords)
    dims = dimensions(sig, ds)
    value = score(dims, ds)
    return {
        "id": conv["id"],
        "session_id": conv["session_id"],
        "kind": conv["kind"],
        "source": conv["source"],
        "score": value,
        "tier": tier(value, ds),
        "domain": domain_of(sig),
        "dimensions": dims,
        "signals": sig,
    }


def load_conversations(layout: Layout) -> list[dict[str, Any]]:
    folder = layout.folder("extract")
    paths = [folder / extract.SESSIONS, folder / extract.SUBAGENTS]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise StageInputError(f"{missing[0]} is missing: run `halops data extract` first")
    bad = BadLines()
    convs = [c for p in paths for c in read_objects(p, bad)]
    if bad.total:
        raise StageInputError(
            f"{bad.total} unreadable line(s) in extracted/: {bad.samples[0]}; re-run extract"
        )
    return convs


def run(
    layout: Layout, ds: DataSettings, *, force: bool = False, progress: Progress | None = None
) -> StageResult:
    progress = progress or NoProgress()
    folder = layout.folder("extract")
    inputs = input_digests([folder / extract.SESSIONS, folder / extract.SUBAGENTS])
    config = ds.model_dump(
        mode="json",
        include={"ops_keywords", "weights", "tier_a", "tier_b"}
        | {k for k in DataSettings.model_fields if "saturation" in k},
    )
    fp = fingerprint("qualify", inputs, config)

    def body(out_folder: Path) -> tuple[list[Path], StageResult]:
        convs = load_conversations(layout)
        keywords = Keywords.from_settings(ds.ops_keywords)
        rows = [qualify_one(c, ds, keywords) for c in progress.track(convs, len(convs), "qualify")]
        write_jsonl(out_folder / SCORES, layout.guard.rows(rows))
        tiers = Counter(r["tier"] for r in rows)
        counts = {"scored": len(rows), **{f"tier {t}": tiers.get(t, 0) for t in "ABC"}}
        return [out_folder / SCORES], StageResult("qualify", "ran", counts)

    return run_stage(layout, "qualify", fp, force, body)


def load_scores(layout: Layout) -> dict[str, dict[str, Any]]:
    path = layout.folder("qualify") / SCORES
    if not path.exists():
        raise StageInputError(f"{path} is missing: run `halops data qualify` first")
    return {r["id"]: r for r in read_objects(path)}
