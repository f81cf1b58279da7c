"""MinHash LSH near-duplicate removal and the grouped, stratified split."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest

from trainer.data import dedup, split

pytestmark = pytest.mark.unit


def _texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)]
    return [" ".join(rng.choices(vocab, k=rng.randint(150, 300))) for _ in range(n)]


def _dedup(texts, threshold=0.85):
    return dedup.deduplicate(texts, threshold=threshold, num_perm=128, bands=16, seed=1, shingle_words=3)


def test_near_duplicates_go_and_distinct_texts_stay():
    base = _texts(300)
    near = []
    for t in base[:50]:
        words = t.split()
        words[len(words) // 2] = "CHANGED"  # one word of ~200: 3-gram Jaccard ~0.97
        near.append(" ".join(words))
    result = _dedup(base + near)
    assert result.keep == [True] * 300 + [False] * 50
    assert result.duplicate_of == {300 + i: i for i in range(50)}


def test_threshold_is_respected():
    (a,) = _texts(1, seed=3)
    words = a.split()
    half = " ".join(words[: len(words) // 2] + [f"new{i}" for i in range(len(words) // 2)])  # Jaccard ~0.33
    assert _dedup([a, half]).keep == [True, True]
    assert _dedup([a, a.upper()]).keep == [True, False]  # case and spacing do not make a text new
    assert _dedup([a, "  ".join(a.split())]).keep == [True, False]


def test_keep_first_follows_the_given_order_and_is_reproducible():
    texts = _texts(200)
    texts += [texts[10], texts[5], texts[10]]
    first, second = _dedup(texts), _dedup(texts)
    assert first.keep == second.keep and first.duplicate_of == second.duplicate_of
    assert first.duplicate_of == {200: 10, 201: 5, 202: 10}


def test_short_and_empty_texts_are_handled():
    result = _dedup(["", "", "ok", "OK", "two words", "two  words", "a b c d"])
    assert result.keep == [True, False, True, False, True, False, True]


def _examples(n_sessions: int, seed: int = 0):
    rng = random.Random(seed)
    out = []
    for s in range(n_sessions):
        strategy, tier = rng.choice([("A", "A"), ("B", "A"), ("B", "B"), ("D", "B"), ("C", None)])
        for k in range(rng.randint(1, 6)):
            out.append(
                {"id": f"{s}:{k}", "metadata": {"session_id": f"s{s}", "strategy": strategy, "tier": tier}}
            )
    return out


def test_split_keeps_each_session_in_one_split_with_the_configured_shares():
    examples = _examples(1500)
    assignment = split.assign(examples, (0.9, 0.05, 0.05), seed=3)
    assert set(assignment) == {e["metadata"]["session_id"] for e in examples}
    sizes = Counter(assignment[e["metadata"]["session_id"]] for e in examples)
    total = len(examples)
    assert sizes["train"] / total == pytest.approx(0.9, abs=0.01)
    assert sizes["val"] / total == pytest.approx(0.05, abs=0.01)
    assert sizes["test"] / total == pytest.approx(0.05, abs=0.01)
    per_stratum: dict[str, Counter[str]] = defaultdict(Counter)
    for e in examples:
        per_stratum[split.stratum(e["metadata"])][assignment[e["metadata"]["session_id"]]] += 1
    for counts in per_stratum.values():
        n = sum(counts.values())
        assert counts["train"] / n == pytest.approx(0.9, abs=0.03)
        assert counts["val"] > 0 and counts["test"] > 0


def test_split_is_a_function_of_input_and_seed():
    examples = _examples(300)
    a = split.assign(examples, (0.9, 0.05, 0.05), seed=1)
    assert a == split.assign(list(reversed(examples)), (0.9, 0.05, 0.05), seed=1)
    assert a != split.assign(examples, (0.9, 0.05, 0.05), seed=2)
