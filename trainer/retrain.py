"""`halops retrain`: the whole loop the timer runs. Data → fine-tune → merge → GGUF → eval gate.

Each stage is the same code as its own command (`halops data all`, `train`, `merge`, `convert`,
`deploy`), so a retrain that stopped can be finished by hand from where it stopped. Nothing is
served until the gate has scored the new GGUF against the deployed one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.gate import GateResult, OnCase, deploy
from halops.settings import RootSettings as Settings
from trainer.errors import TrainConfigError, TrainerError

Say = Callable[[str], None]


@dataclass
class RetrainResult:
    job_id: str
    gguf: Path
    gate: GateResult


def _count_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def retrain(
    settings: Settings,
    *,
    recipe: Path | None = None,
    overrides: Sequence[str] = (),
    skip_data: bool = False,
    force_deploy: bool = False,
    actor: str = "cli",
    say: Say = lambda _msg: None,
    on_case: OnCase | None = None,
) -> RetrainResult:
    from trainer import export
    from trainer.data import pipeline
    from trainer.jobs import JobStore
    from trainer.recipe_config import load_recipe
    from trainer.runner import WorkDirs, run_job

    final = pipeline.layout(settings).folder("validate")
    recipe = recipe or settings.trainer.default_recipe
    if not skip_data:
        # Validated before the pipeline runs (a typo must not cost a pipeline run); the dataset
        # files may only appear with this run's data, so their absence is judged afterwards.
        try:
            load_recipe(recipe, list(overrides), dataset_default=final)
        except TrainConfigError as exc:
            if any(key != "dataset_dir" for key, _ in exc.problems):
                raise
        say("data: extract → qualify → curate → augment → validate")
        for result in pipeline.run_all(settings):
            say(f"  {result.stage}: {result.status} {result.counts or result.note}")
    cfg = load_recipe(recipe, list(overrides), dataset_default=final)
    train_file = Path(cfg.dataset_dir) / "train.jsonl"
    if _count_lines(train_file) == 0:
        raise TrainerError(f"no training examples in {train_file}: nothing to retrain on")

    work = WorkDirs(settings.trainer.resolve_work_dir(settings.data_dir))
    job = run_job(work, cfg, on_created=lambda j: say(f"train: job {j.id} ({j.output_dir})"))
    if job.status != "completed":
        raise TrainerError(f"training job {job.id} ended {job.status}: {job.error or 'see its log'}")
    run_dir = Path(job.output_dir or work.runs / job.id)
    jobs = JobStore(work.db)

    gguf = export.export_job(
        jobs,
        job,
        run_dir,
        work.tools,
        settings.trainer.llama_cpp_python_version,
        settings.trainer.smoke_prompt,
        say,
    )

    say(f"gate: scoring {gguf.name} against the deployed model")
    gate = deploy(
        settings,
        gguf,
        force=force_deploy,
        on_case=on_case,
        source={"kind": "retrain", "job_id": job.id},
        actor=actor,
    )
    return RetrainResult(job.id, gguf, gate)
