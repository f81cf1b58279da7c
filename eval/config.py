"""Settings of the model eval and the deploy gate (section `[eval]`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class EvalSettings(BaseModel):
    """How a model is scored, and how much worse a candidate may score and still be deployed."""

    model_config = ConfigDict(extra="forbid")

    cases: Path | None = Field(
        None,
        description="YAML file of eval cases. Empty: the shipped set (eval/cases.yaml): tool use, "
        "runbook knowledge and no-tool answers.",
    )
    reports_dir: Path | None = Field(
        None, description="Where eval reports are kept. Empty: <data_dir>/eval/reports."
    )
    tolerance: float = Field(
        0.02,
        ge=0,
        le=1,
        description="A candidate whose overall score is more than this below the deployed model's "
        "is a regression and is not deployed (scores are 0-1).",
    )
    category_tolerance: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Largest drop allowed in any one category (tool use, knowledge, ...): a model "
        "must not buy a better average by losing a whole skill.",
    )
    max_tokens: int = Field(256, gt=0, description="Tokens generated per eval case.")
    case_timeout_s: float = Field(120.0, gt=0, description="Seconds one case may take before it scores 0.")

    def resolve_reports_dir(self, data_dir: Path) -> Path:
        return self.reports_dir or data_dir / "eval" / "reports"
