"""Eval reports (JSON on disk) and the comparison that decides whether a candidate regressed."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.errors import EvalError


@dataclass
class CaseResult:
    id: str
    category: str
    score: float
    reply: str  # scrubbed before it is stored
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    calls: int = 0  # tool calls the reply emitted, malformed blocks included
    valid_calls: int = 0  # of those, how many parse and validate against the tool's schema


@dataclass
class EvalReport:
    model: str
    cases_file: str
    created: float = field(default_factory=time.time)
    results: list[CaseResult] = field(default_factory=list)
    digest: str = ""  # eval.gate.cases_digest: reports with different digests are not comparable
    grammar: bool = False  # replies were constrained by the tool grammar (agent.grammar)

    @property
    def overall(self) -> float:
        return round(sum(r.score for r in self.results) / len(self.results), 4) if self.results else 0.0

    @property
    def by_category(self) -> dict[str, float]:
        groups: dict[str, list[float]] = defaultdict(list)
        for r in self.results:
            groups[r.category].append(r.score)
        return {c: round(sum(v) / len(v), 4) for c, v in sorted(groups.items())}

    @property
    def calls_emitted(self) -> int:
        return sum(r.calls for r in self.results)

    @property
    def calls_valid(self) -> int:
        return sum(r.valid_calls for r in self.results)

    @property
    def calls_valid_share(self) -> float | None:
        """Share of emitted calls that are schema-valid; None when the model emitted none."""
        return round(self.calls_valid / self.calls_emitted, 4) if self.calls_emitted else None

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "overall": self.overall,
            "by_category": self.by_category,
            "calls_emitted": self.calls_emitted,
            "calls_valid": self.calls_valid,
            "calls_valid_share": self.calls_valid_share,
        }

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # a reader never sees half a report
        return path

    @classmethod
    def load(cls, path: Path) -> EvalReport:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            results = [CaseResult(**r) for r in data["results"]]
            return cls(
                model=data["model"],
                cases_file=data["cases_file"],
                created=data["created"],
                results=results,
                digest=data.get("digest", ""),
                grammar=bool(data.get("grammar", False)),
            )
        except OSError as exc:
            raise EvalError(f"cannot read eval report {path}: {exc.strerror}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalError(f"{path} is not an eval report ({exc})") from exc


@dataclass
class Verdict:
    regressed: bool
    overall_delta: float
    category_deltas: dict[str, float]
    reasons: list[str]


def compare(
    candidate: EvalReport, baseline: EvalReport, tolerance: float, category_tolerance: float
) -> Verdict:
    """Whether `candidate` is worse than `baseline` beyond the tolerances (see EvalSettings)."""
    base_ids = {r.id for r in baseline.results}
    cand_ids = {r.id for r in candidate.results}
    if base_ids != cand_ids:
        # Scores over different case sets say nothing about each other.
        raise EvalError(
            "the two reports were scored on different cases "
            f"({len(cand_ids ^ base_ids)} differ): evaluate both models on the same set"
        )
    delta = round(candidate.overall - baseline.overall, 4)
    reasons = []
    if delta < -tolerance:
        reasons.append(f"overall score {candidate.overall:.3f} < {baseline.overall:.3f} - {tolerance}")
    base_cat, cand_cat = baseline.by_category, candidate.by_category
    deltas = {c: round(cand_cat[c] - base_cat[c], 4) for c in base_cat}
    for c, d in deltas.items():
        if d < -category_tolerance:
            reasons.append(f"category {c}: {cand_cat[c]:.3f} < {base_cat[c]:.3f} - {category_tolerance}")
    return Verdict(bool(reasons), delta, deltas, reasons)
