"""The labelled set and the metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import EvalSetError
from rag.evaluate import EvalSet, Question, default_evalset, evaluate, load_evalset, matches
from rag.retriever import bundled_runbooks
from rag.store import Hit

pytestmark = pytest.mark.unit


def test_shipped_set_is_large_enough_and_points_at_shipped_runbooks():
    es = load_evalset(default_evalset())
    assert len(es.questions) >= 40 and len(es.negatives) >= 5
    shipped = {p.name for p in bundled_runbooks().glob("*.md")}
    assert {q.source for q in es.questions} == shipped, "every runbook is asked about"
    assert len({q.text for q in es.questions}) == len(es.questions), "no duplicate question"


@pytest.mark.parametrize(
    "text",
    [
        "questions: nope",
        "- a list",
        "questions:\n  - q: only a question\n",
        "negatives: 3\nquestions: []",
        "{",
    ],
)
def test_malformed_sets_raise_eval_set_error(tmp_path: Path, text):
    f = tmp_path / "set.yaml"
    f.write_text(text)
    with pytest.raises(EvalSetError):
        load_evalset(f)


def test_missing_set_raises_eval_set_error(tmp_path: Path):
    with pytest.raises(EvalSetError):
        load_evalset(tmp_path / "nope.yaml")


def test_matches_relative_suffix():
    assert matches("/srv/docs/disks.md", "disks.md")
    assert matches("/srv/docs/hw/disks.md", "hw/disks.md")
    assert not matches("/srv/docs/old-disks.md", "disks.md")
    assert not matches("/srv/docs/other/disks.md", "hw/disks.md")


def hit(source: str) -> Hit:
    return Hit(text="t", source=f"/docs/{source}", heading="h", score=0.5)


def test_metrics_are_computed_from_ranks():
    answers = {
        "q1": [hit("a.md"), hit("b.md")],  # rank 1
        "q2": [hit("b.md"), hit("a.md")],  # rank 2 -> 1/2
        "q3": [hit("c.md")] * 5,  # miss
        "q4": [hit("x.md")] * 4 + [hit("d.md")],  # rank 5 -> 1/5
        "neg1": [],
        "neg2": [hit("a.md")],
    }
    es = EvalSet(
        [Question("q1", "a.md"), Question("q2", "a.md"), Question("q3", "a.md"), Question("q4", "d.md")],
        ["neg1", "neg2"],
    )
    report = evaluate(lambda q, k: answers[q][:k], es, k=5)
    assert report.recall_at_1 == pytest.approx(1 / 4)
    assert report.recall_at_k == pytest.approx(3 / 4)
    assert report.mrr == pytest.approx((1 + 1 / 2 + 0 + 1 / 5) / 4)
    assert (report.negatives, report.negatives_rejected) == (2, 1)
    assert [(m.question, m.rank) for m in report.misses] == [("q2", 2), ("q3", None), ("q4", 5)]
    assert report.as_dict()["recall@5"] == 0.75
