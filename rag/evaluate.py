"""Retrieval quality on a labelled set: recall@1, recall@k, MRR, and off-topic rejection.

Scores are computed on what the agent would get: the relevance threshold is applied, so a right
chunk that scores below it counts as a miss. Off-topic questions ("negatives") measure the other
side of the threshold: for them, an empty result is the right answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import yaml

from rag.errors import EvalSetError
from rag.store import Hit


def default_evalset() -> Path:
    return Path(__file__).resolve().parent / "evalset.yaml"


@dataclass(frozen=True)
class Question:
    text: str
    source: str  # path relative to the ingested folder, e.g. "disks.md"


@dataclass
class EvalSet:
    questions: list[Question]
    negatives: list[str] = field(default_factory=list)


@dataclass
class Miss:
    question: str
    expected: str
    rank: int | None  # None: not in the top k
    got: list[str]  # the sources returned, best first


@dataclass
class EvalReport:
    k: int
    n: int
    recall_at_1: float
    recall_at_k: float
    mrr: float
    negatives: int
    negatives_rejected: int
    misses: list[Miss]

    def as_dict(self) -> dict:
        return {
            "k": self.k,
            "questions": self.n,
            "recall@1": round(self.recall_at_1, 4),
            f"recall@{self.k}": round(self.recall_at_k, 4),
            "mrr": round(self.mrr, 4),
            "negatives": self.negatives,
            "negatives_rejected": self.negatives_rejected,
            "misses": [m.__dict__ for m in self.misses],
        }


def load_evalset(path: Path) -> EvalSet:
    """Parse the YAML labelled set; every problem is an `EvalSetError` naming the entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalSetError(f"cannot read the evaluation set {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise EvalSetError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise EvalSetError(f"{path}: expected a mapping with a `questions` list")
    questions = []
    for i, item in enumerate(data["questions"], 1):
        if not isinstance(item, dict) or not item.get("q") or not item.get("source"):
            raise EvalSetError(f"{path}: question {i} needs `q` and `source`")
        questions.append(Question(str(item["q"]), str(item["source"])))
    negatives = data.get("negatives") or []
    if not isinstance(negatives, list):
        raise EvalSetError(f"{path}: `negatives` must be a list of questions")
    return EvalSet(questions, [str(n) for n in negatives])


def matches(hit_source: str, expected: str) -> bool:
    """Does a stored (absolute) source path end with the expected relative path?"""
    want = PurePath(expected).parts
    got = PurePath(hit_source).parts
    return len(got) >= len(want) and got[-len(want) :] == want


def evaluate(
    retrieve: Callable[[str, int], list[Hit]],
    evalset: EvalSet,
    k: int = 5,
    on_question: Callable[[], None] | None = None,
) -> EvalReport:
    """Run every question through `retrieve(query, k)` and score the ranks."""
    hits1 = hitsk = 0
    rr = 0.0
    misses: list[Miss] = []
    for q in evalset.questions:
        hits = retrieve(q.text, k)
        rank = next((i for i, h in enumerate(hits, 1) if matches(h.source, q.source)), None)
        if rank == 1:
            hits1 += 1
        if rank is not None:
            hitsk += 1
            rr += 1.0 / rank
        if rank != 1:
            misses.append(Miss(q.text, q.source, rank, [PurePath(h.source).name for h in hits]))
        if on_question:
            on_question()
    rejected = 0
    for text in evalset.negatives:
        rejected += not retrieve(text, k)
        if on_question:
            on_question()
    n = len(evalset.questions) or 1
    return EvalReport(
        k=k,
        n=len(evalset.questions),
        recall_at_1=hits1 / n,
        recall_at_k=hitsk / n,
        mrr=rr / n,
        negatives=len(evalset.negatives),
        negatives_rejected=rejected,
        misses=misses,
    )
