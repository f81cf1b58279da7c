"""One training job end to end: lock, job row, setup/train/cleanup, final status.

Kept apart from the recipe so the recipe stays a pure setup/train/cleanup sequence and the job
bookkeeping (statuses, dead-job recovery, log file) is testable without loading a model.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trainer import recipe
from trainer.errors import TrainerError
from trainer.jobs import Job, JobStore, TrainLock
from trainer.recipe_config import RecipeConfig

log = logging.getLogger("halops.trainer")


@dataclass
class WorkDirs:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "jobs.sqlite"

    @property
    def lock(self) -> Path:
        return self.root / "train.lock"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def base_cache(self) -> Path:
        return self.root / "base"

    @property
    def tools(self) -> Path:
        return self.root / "tools"


def run_job(
    work: WorkDirs,
    cfg: RecipeConfig | None,
    resume_id: str | None = None,
    on_created: Callable[[Job], None] | None = None,
) -> Job:
    """Train under the lock; returns the final job row (completed, cancelled or failed)."""
    store = JobStore(work.db)
    with TrainLock(work.lock):
        recover(store)
        if resume_id:
            job = store.get(resume_id)
            if job.status == "completed":
                raise TrainerError(f"job {job.id} already completed; nothing to resume")
            cfg = RecipeConfig.model_validate(job.config)
            store.update(job.id, cancel_requested=0)
        else:
            assert cfg is not None
            job = store.create(cfg.name, cfg.model_dump(mode="json"))
            run_dir = work.runs / job.id
            store.update(job.id, output_dir=str(run_dir), log_path=str(run_dir / "train.log"))
            job = store.get(job.id)
        if on_created:
            on_created(job)
        return train_locked(store, work, job, cfg, resume=bool(resume_id))


def recover(store: JobStore) -> None:
    """Call while holding the lock: jobs left running by a dead process are marked failed."""
    for dead in store.recover_dead():
        log.warning("job %s was left running by a dead process; marked failed", dead)


def train_locked(store: JobStore, work: WorkDirs, job: Job, cfg: RecipeConfig, *, resume: bool) -> Job:
    """setup → train → cleanup for a job row that exists; the caller holds the lock."""
    run_dir = Path(job.output_dir or work.runs / job.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = recipe.attach_file_log(run_dir / "train.log")
    store.mark_running(job.id)
    try:
        s = recipe.setup(cfg, run_dir, work.base_cache)
        recipe.train(s, store, job.id, resume=resume)
        adapter = recipe.cleanup(s)
    except KeyboardInterrupt:
        # Ctrl-C in the terminal that runs the job is the operator cancelling it.
        store.finish(job.id, "cancelled", error="interrupted")
        raise
    except BaseException as exc:
        log.error("job %s failed: %s\n%s", job.id, exc, traceback.format_exc())
        store.finish(job.id, "failed", error=str(exc) or type(exc).__name__)
        raise
    finally:
        recipe.detach_file_log(handler)
    if adapter is None:
        store.finish(job.id, "cancelled")
    else:
        store.add_artifact(job.id, "adapter", adapter)
        store.finish(job.id, "completed")
    return store.get(job.id)
