"""`final/data_report.json`: what each stage kept and dropped, and what the final data looks like.

Only counts, ids and settings, never example text (the report must be safe to share), and no
timestamps or durations, so that the same inputs give the same bytes (timings are in `.state/`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from trainer.data import extract
from trainer.data.config import DataSettings
from trainer.data.jsonl import read_objects
from trainer.data.stages import Layout, read_state

HISTOGRAM_EDGES = (0, 128, 256, 512, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 16384, 32768)


def histogram(lengths: list[int]) -> list[dict[str, int]]:
    edges = [e for e in HISTOGRAM_EDGES if e < max(lengths, default=0)] + [
        max(max(lengths, default=0) + 1, 1)
    ]
    edges = sorted(set(edges) | {0})
    out = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        out.append({"from": lo, "to": hi, "count": sum(1 for n in lengths if lo <= n < hi)})
    return out


def _quantile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def token_stats(lengths: list[int]) -> dict[str, Any]:
    ordered = sorted(lengths)
    return {
        "examples": len(ordered),
        "total": sum(ordered),
        "mean": round(sum(ordered) / len(ordered), 1) if ordered else 0,
        "p50": _quantile(ordered, 0.5),
        "p95": _quantile(ordered, 0.95),
        "max": ordered[-1] if ordered else 0,
        "histogram": histogram(ordered),
    }


def _counter(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    return dict(sorted(Counter(str(r["metadata"].get(key) or "-") for r in rows).items()))


def breakdown(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {k: _counter(rows, k) for k in ("strategy", "tier", "domain", "source", "kind")}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def upstream(layout: Layout) -> dict[str, Any]:
    """What extract, qualify, curate and augment reported, from their own files."""
    ex = extract.load_stats(layout).get("counts", {})
    keep = (
        "sessions",
        "subagents",
        "transcripts",
        "subagents_linked",
        "subagents_unlinked",
        "compaction_agents_excluded",
        "empty_sessions",
        "empty_subagents",
        "malformed_lines",
    )
    extracted = {k: ex.get(k, 0) for k in keep}
    for key in (
        "assistant_turns",
        "merged_records",
        "tool_pairs",
        "unanswered_tool_calls",
        "orphan_tool_results",
        "compact_summaries_excluded",
        "abandoned_records",
        "thinking_blocks",
    ):
        extracted[key] = ex.get(f"thread:{key}", 0) + ex.get(f"subagent_thread:{key}", 0)
    extracted["files"] = {k.split(":", 1)[1]: v for k, v in ex.items() if k.startswith("files:")}
    extracted["malformed"] = extract.load_stats(layout).get("malformed", {})
    scores_path = layout.folder("qualify") / "session_scores.jsonl"
    scores = read_objects(scores_path) if scores_path.exists() else []
    qualified = {
        kind: {
            "tiers": dict(sorted(Counter(s["tier"] for s in scores if s["kind"] == kind).items())),
            "domains": dict(sorted(Counter(s["domain"] for s in scores if s["kind"] == kind).items())),
        }
        for kind in ("session", "subagent")
    }
    curate_state = read_state(layout, "curate") or {}
    augment_state = read_state(layout, "augment") or {}
    return {
        "extract": extracted,
        "qualify": qualified,
        "curate": {
            "examples": dict(curate_state.get("counts", [])),
            "dropped": _read_json(layout.folder("curate") / "stats.json"),
        },
        "augment": dict(augment_state.get("counts", [])),
    }


def settings_summary(ds: DataSettings, engine: str) -> dict[str, Any]:
    return {
        "max_seq_tokens": ds.max_seq_tokens,
        "min_seq_tokens": ds.min_seq_tokens,
        "dedup": {
            "engine": engine,
            "threshold": ds.dedup_threshold,
            "num_perm": ds.dedup_num_perm,
            "bands": ds.dedup_bands,
            "shingle_words": ds.dedup_shingle_words,
        },
        "split": {"ratios": list(ds.split_ratios), "seed": ds.seed},
        "tiers": {"A": ds.tier_a, "B": ds.tier_b},
        "weights": ds.weights,
    }
