"""The deploy gate: a new GGUF becomes the served model only if it scores no worse than the old one.

Both models are scored on the same cases by `eval.runner`, each on a server of its own
(`eval.serving`). The deployed model's report is kept per version and reused while the cases and
eval settings are unchanged, so a gate usually serves one model, not two. The candidate is
registered as a new version either way (its report beside it), so a rejected model can still be
inspected or deployed by hand with `--force`. The registry (`eval.registry`) records where the
candidate came from and the gate's verdict in the deployment history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.cases import default_cases, load_cases
from eval.errors import EvalError
from eval.registry.registry import Registry
from eval.registry.versions import REJECTED_FILE, report_file
from eval.report import CaseResult, EvalReport, Verdict, compare
from eval.runner import run_eval
from eval.serving import serve
from halops.calls import tool_schemas
from halops.grammar import tool_grammar
from halops.llm.client import LLMClient
from halops.llm.models import ModelStore
from halops.settings import RootSettings as Settings

OnCase = Callable[[CaseResult], None]


@dataclass
class GateResult:
    version: int
    deployed: bool
    candidate: EvalReport
    baseline: EvalReport
    baseline_version: int
    verdict: Verdict


def cases_path(settings: Settings) -> Path:
    return settings.eval.cases or default_cases()


def cases_digest(settings: Settings) -> str:
    """Identifies what a score depends on besides the model: the cases and how they are run."""
    h = hashlib.sha256(cases_path(settings).read_bytes())
    # The tool schemas are part of the prompt: an upgrade that changes them invalidates old scores.
    h.update(
        json.dumps(
            [settings.eval.max_tokens, settings.agent.instructions, tool_schemas(), settings.agent.grammar]
        ).encode()
    )
    return h.hexdigest()[:16]


def evaluate_url(settings: Settings, label: str, on_case: OnCase | None = None) -> EvalReport:
    """Score whatever model answers at settings.llm.base_url."""
    path = cases_path(settings)
    cases = load_cases(path)
    with LLMClient(settings.llm) as client:
        report = run_eval(
            client,
            cases,
            instructions=settings.agent.instructions,
            model=label,
            cases_file=str(path),
            max_tokens=settings.eval.max_tokens,
            case_timeout_s=settings.eval.case_timeout_s,
            on_case=on_case,
            # Scored as the agent runs it: with the tool grammar when the agent uses one.
            grammar=tool_grammar(tool_schemas()) if settings.agent.grammar else None,
        )
    report.digest = cases_digest(settings)
    return report


def evaluate_gguf(settings: Settings, gguf: Path, on_case: OnCase | None = None) -> EvalReport:
    """Serve `gguf` on a private port for the length of the eval and score it."""
    with serve(settings, gguf) as served:
        return evaluate_url(served, str(gguf), on_case)


def report_path(settings: Settings, version: int) -> Path:
    return report_file(settings.eval.resolve_reports_dir(settings.data_dir), version)


def _baseline(settings: Settings, store: ModelStore, version: int, on_case: OnCase | None) -> EvalReport:
    path = report_path(settings, version)
    digest = cases_digest(settings)
    if path.is_file():
        try:
            cached = EvalReport.load(path)
        except EvalError:
            cached = None  # unreadable: score the model again rather than fail the deploy
        if cached is not None and cached.digest == digest:
            return cached
    report = evaluate_gguf(settings, store.version_path(version), on_case)
    report.save(path)
    return report


def verdict_record(verdict: Verdict, *, force: bool) -> dict[str, Any]:
    """The verdict as the deployment history keeps it."""
    return {
        "regressed": verdict.regressed,
        "overall_delta": verdict.overall_delta,
        "category_deltas": verdict.category_deltas,
        "reasons": verdict.reasons,
        "forced": force and verdict.regressed,
    }


def deploy(
    settings: Settings,
    gguf: Path,
    *,
    force: bool = False,
    on_case: OnCase | None = None,
    source: dict[str, Any] | None = None,
    actor: str = "cli",
    reason: str | None = None,
) -> GateResult:
    """Register `gguf`, score it against the active version and activate it unless it regressed.

    `source` says where the GGUF came from (default: a manual deploy of that file) and `actor` who
    asked (cli | api | timer | bootstrap); both go to the registry with the verdict.
    """
    if not gguf.is_file():
        raise EvalError(f"model file not found: {gguf}")
    load_cases(settings.eval.cases)  # bad cases fail here, before any model is loaded
    store = ModelStore(settings.models_dir)
    store.ensure_default()
    base_version = store.active_version()
    if base_version is None:
        raise EvalError(f"{store.current_link} does not point into {store.versions_dir}: activate a version")
    baseline = _baseline(settings, store, base_version, on_case)
    version = store.add_version(gguf, copy=True)
    with Registry.for_settings(settings) as registry:
        registry.register(version, source or {"kind": "manual", "file": str(gguf.resolve())})
    candidate = evaluate_gguf(settings, store.version_path(version), on_case)
    candidate.save(report_path(settings, version))
    verdict = compare(candidate, baseline, settings.eval.tolerance, settings.eval.category_tolerance)
    rejected = store.version_path(version).parent / REJECTED_FILE
    deployed = not verdict.regressed or force
    if deployed:
        rejected.unlink(missing_ok=True)
        store.activate(version)
    else:
        rejected.write_text(
            json.dumps({"against": base_version, "reasons": verdict.reasons}, indent=2) + "\n"
        )
    with Registry.for_settings(settings) as registry:
        registry.record_gate(
            version,
            baseline=base_version,
            deployed=deployed,
            actor=actor,
            verdict=verdict_record(verdict, force=force),
            reason=reason,
        )
    return GateResult(version, deployed, candidate, baseline, base_version, verdict)
