"""Train/val/test split, grouped by session and stratified by strategy and tier.

A session's examples (its windows, single turns and subagent runs, which all quote each other)
always land in the same split, or the test set would measure memory. Each session belongs to the
stratum (strategy, tier) most of its examples have. Sessions are lined up stratum by stratum
(shuffled with the seed inside each) and each goes to the split furthest below its share of all
examples lined up so far: every stratum is spread over the splits in proportion, and a small
stratum still adds to val and test in turn instead of always landing in train. Same input and
seed, same split.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

SPLITS = ("train", "val", "test")


def stratum(meta: dict[str, Any]) -> str:
    return f"{meta['strategy']}/{meta.get('tier') or '-'}"


def assign(examples: list[dict[str, Any]], ratios: tuple[float, float, float], seed: int) -> dict[str, str]:
    """session_id → split name."""
    sizes: Counter[str] = Counter()
    strata: dict[str, Counter[str]] = defaultdict(Counter)
    for ex in examples:
        meta = ex["metadata"]
        sizes[meta["session_id"]] += 1
        strata[meta["session_id"]][stratum(meta)] += 1
    groups: dict[str, list[str]] = defaultdict(list)
    for sid in sorted(sizes):
        main = sorted(strata[sid].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        groups[main].append(sid)
    out: dict[str, str] = {}
    filled = dict.fromkeys(SPLITS, 0)
    seen = 0
    for name in sorted(groups):
        sids = groups[name]
        random.Random(f"{seed}:{name}").shuffle(sids)
        for sid in sids:
            seen += sizes[sid]
            # The split furthest below its share of everything so far (ties: train, val, test).
            split = max(SPLITS, key=lambda s: ratios[SPLITS.index(s)] * seen - filled[s])
            out[sid] = split
            filled[split] += sizes[sid]
    return out
