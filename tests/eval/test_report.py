"""The regression decision, and reports on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.errors import EvalError
from eval.report import CaseResult, EvalReport, compare

pytestmark = pytest.mark.unit


def report(**scores: float) -> EvalReport:
    r = EvalReport(model="m", cases_file="c.yaml")
    for name, score in scores.items():
        category = "tool-use" if name.startswith("t") else "knowledge"
        r.results.append(CaseResult(name, category, score, reply=f"reply {name}"))
    return r


def test_equal_or_better_is_not_a_regression() -> None:
    base = report(t1=0.5, t2=0.5, k1=0.5, k2=0.5)
    assert not compare(report(t1=0.5, t2=0.5, k1=0.5, k2=0.5), base, 0.02, 0.15).regressed
    verdict = compare(report(t1=1, t2=1, k1=0.5, k2=0.5), base, 0.02, 0.15)
    assert not verdict.regressed and verdict.overall_delta == pytest.approx(0.25)


def test_small_drop_within_tolerance_passes_larger_one_fails() -> None:
    base = report(t1=0.5, t2=0.5, k1=0.5, k2=0.5)
    assert not compare(report(t1=0.46, t2=0.5, k1=0.5, k2=0.5), base, 0.02, 0.15).regressed
    verdict = compare(report(t1=0.3, t2=0.5, k1=0.5, k2=0.5), base, 0.02, 0.15)
    assert verdict.regressed and "overall score" in verdict.reasons[0]


def test_losing_a_whole_category_fails_even_when_the_average_improves() -> None:
    base = report(t1=0.5, t2=0.5, k1=0.5, k2=0.5)
    verdict = compare(report(t1=1, t2=1, k1=0.3, k2=0.3), base, 0.02, 0.15)
    assert verdict.overall_delta > 0 and verdict.regressed
    assert verdict.reasons == ["category knowledge: 0.300 < 0.500 - 0.15"]


def test_reports_on_different_cases_are_not_compared() -> None:
    with pytest.raises(EvalError, match="different cases"):
        compare(report(t1=1, k1=1), report(t1=1, k2=1), 0.02, 0.15)


def test_report_round_trip_and_bad_files(tmp_path: Path) -> None:
    r = report(t1=1, k1=0.25)
    r.digest = "abc"
    loaded = EvalReport.load(r.save(tmp_path / "r" / "v1.json"))
    assert loaded.results == r.results and loaded.digest == "abc" and loaded.overall == 0.625
    assert list((tmp_path / "r").iterdir()) == [tmp_path / "r" / "v1.json"], "no temp file left"
    (tmp_path / "bad.json").write_text('{"model": "m"}')
    with pytest.raises(EvalError, match="not an eval report"):
        EvalReport.load(tmp_path / "bad.json")
    with pytest.raises(EvalError, match="cannot read"):
        EvalReport.load(tmp_path / "missing.json")


def test_call_validity_is_summed_and_survives_the_round_trip(tmp_path: Path) -> None:
    r = report(t1=1, k1=0.5)
    r.results[0].calls, r.results[0].valid_calls = 3, 2
    r.grammar = True
    data = r.as_dict()
    assert (data["calls_emitted"], data["calls_valid"], data["calls_valid_share"]) == (3, 2, 0.6667)
    loaded = EvalReport.load(r.save(tmp_path / "r.json"))
    assert loaded.calls_emitted == 3 and loaded.calls_valid == 2 and loaded.grammar
    assert report(k1=1).calls_valid_share is None, "no calls: no share, rather than a fake 100 %"


def test_a_report_from_before_call_counting_still_loads(tmp_path: Path) -> None:
    old = {
        "model": "m",
        "cases_file": "c",
        "created": 1.0,
        "digest": "d",
        "results": [{"id": "t1", "category": "tool-use", "score": 1.0, "reply": "x", "notes": []}],
    }
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = EvalReport.load(tmp_path / "old.json")
    assert loaded.results[0].calls == 0 and not loaded.grammar and loaded.overall == 1.0
