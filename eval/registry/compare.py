"""A/B of two versions from their eval reports: case by case, win/tie/loss, per-category deltas.

The gate's `eval.report.compare` answers "did the candidate regress?"; this answers "where do the
two differ?", so it counts every case and keeps each one's scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.errors import EvalError
from eval.registry.errors import IncomparableError
from eval.registry.versions import report_file
from eval.report import EvalReport

TIE_EPSILON = 1e-9  # scores are fractions written with 4 decimals: equal means equal


@dataclass
class CaseDiff:
    id: str
    category: str
    a: float
    b: float
    winner: str  # a | b | tie


@dataclass
class Comparison:
    a: int
    b: int
    a_wins: int
    b_wins: int
    ties: int
    by_category: dict[str, dict[str, float]]
    cases: list[CaseDiff] = field(default_factory=list)
    overall: dict[str, float] = field(default_factory=dict)
    same_digest: bool = True  # False: the reports were scored on other cases or settings

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_reports(a: int, report_a: EvalReport, b: int, report_b: EvalReport) -> Comparison:
    scores_a = {r.id: r for r in report_a.results}
    scores_b = {r.id: r for r in report_b.results}
    if scores_a.keys() != scores_b.keys():
        raise IncomparableError(
            f"v{a} and v{b} were scored on different cases ({len(scores_a.keys() ^ scores_b.keys())} "
            "differ): score both on the same set (`halops eval run --model ... --save ...`)"
        )
    cases = []
    for case_id, ra in scores_a.items():
        rb = scores_b[case_id]
        diff = rb.score - ra.score
        winner = "tie" if abs(diff) <= TIE_EPSILON else ("b" if diff > 0 else "a")
        cases.append(CaseDiff(case_id, ra.category, ra.score, rb.score, winner))
    cat_a, cat_b = report_a.by_category, report_b.by_category
    by_category = {
        c: {"a": cat_a[c], "b": cat_b[c], "delta": round(cat_b[c] - cat_a[c], 4)} for c in sorted(cat_a)
    }
    return Comparison(
        a=a,
        b=b,
        a_wins=sum(c.winner == "a" for c in cases),
        b_wins=sum(c.winner == "b" for c in cases),
        ties=sum(c.winner == "tie" for c in cases),
        by_category=by_category,
        cases=cases,
        overall={
            "a": report_a.overall,
            "b": report_b.overall,
            "delta": round(report_b.overall - report_a.overall, 4),
        },
        same_digest=report_a.digest == report_b.digest,
    )


def load_report(reports_dir: Path, version: int) -> EvalReport:
    path = report_file(reports_dir, version)
    if not path.is_file():
        raise IncomparableError(
            f"v{version} has no eval report ({path}): score it with "
            f"`halops eval run --model <its model.gguf> --save {path}`"
        )
    try:
        return EvalReport.load(path)
    except EvalError as exc:
        raise IncomparableError(str(exc)) from exc
