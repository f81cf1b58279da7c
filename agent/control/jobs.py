"""Fine-tuning jobs for the HTTP API: create (validated before anything starts), list, cancel.

The job store (`trainer.jobs`) is the one truth for the CLI, the timer and the API, so `halops jobs
list` shows API jobs and the API shows CLI jobs. A request is checked completely first (training
file, recipe, overrides, hyperparameters, one job at a time) and only then queued and started; any
problem is a 4xx with nothing written.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.control import recipes
from agent.control.files import FileStore
from agent.control.launcher import Launcher, systemd_scope
from agent.server.errors import ApiError
from trainer.errors import JobBusyError, JobNotFoundError
from trainer.jobs import FINAL, Job, JobStore, TrainLock
from trainer.queued import REQUEST_FILE, RESULT_FILE, dataset_from_files, queue, read_json, work_dirs

STATUS = {
    "pending": "queued",
    "running": "running",
    "completed": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}
SESSIONS = "sessions"


class HalopsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe: str | None = Field(None, description="A recipe name from GET /v1/halops/recipes.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Recipe key: value overrides.")


class Hyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_epochs: float | str | None = None
    batch_size: int | str | None = None
    learning_rate_multiplier: float | str | None = None


class JobCreate(BaseModel):
    """OpenAI's create body; fields halops has no use for (integrations, method) are accepted."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(..., description="Informational, or a recipe name.")
    training_file: str
    validation_file: str | None = None
    hyperparameters: Hyperparameters | None = None
    suffix: str | None = Field(None, max_length=64)
    seed: int | None = None
    metadata: dict[str, str] | None = None
    halops: HalopsOptions | None = None


def model_id(version: int) -> str:
    """The id GET /v1/models lists the version under (agent/control/models_routes.py, prefix halops)."""
    return f"halops-v{version}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process (the trainer unit's user): alive
    try:
        if Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
            return True
        # A killed multi-threaded process shows its leader as a zombie while the other threads
        # are still exiting, and they hold its files (the training lock) until the last one
        # is gone: dead means no thread left but the leader.
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except (OSError, IndexError):
        return False


class Jobs:
    cancel_wait_s = 5.0

    def __init__(self, settings: Any, files: FileStore, launcher: Launcher | None = None):
        self.settings = settings
        self.work = work_dirs(settings)
        self.files = files
        self.launcher = launcher or Launcher(settings, on_exit=self._exited, scope=systemd_scope())

    @property
    def store(self) -> JobStore:
        return JobStore(self.work.db)

    # ------------------------------------------------------------------ reading
    def reconcile(self) -> None:
        """A job whose process is gone is failed: killed, OOM-killed, or its unit stopped hard.

        Judged by its pid, not the lock: taking the lock, even briefly, could make a training
        process that is just starting fail with "another job is running".
        """
        if not self.work.db.exists():
            return
        store = self.store
        for job in store.list(limit=100):
            if job.status == "running" and job.pid and not pid_alive(job.pid):
                store.finish(job.id, "failed", error="process died; outputs discarded")

    def _exited(self, job_id: str, code: int) -> None:
        store = self.store
        job = store.get(job_id)
        if job.status == "pending":
            run_dir = Path(job.output_dir or "")
            tail = _tail(run_dir / "process.log")
            store.finish(job.id, "failed", error=f"training process exited ({code}) before starting{tail}")
        elif job.status == "running":
            store.finish(job.id, "failed", error=f"training process died ({code}); outputs discarded")

    def get(self, job_id: str) -> Job:
        self.reconcile()
        try:
            return self.store.get(job_id)
        except JobNotFoundError:
            raise ApiError(404, f"no fine-tuning job {job_id!r}", code="job_not_found") from None

    def list(self, after: str | None, limit: int) -> dict[str, Any]:
        self.reconcile()
        jobs = self.store.list(limit=10_000) if self.work.db.exists() else []
        start = 0
        if after is not None:
            ids = [j.id for j in jobs]
            start = ids.index(after) + 1 if after in ids else len(jobs)
        chunk = jobs[start : start + limit]
        return {
            "object": "list",
            "data": [self.object(j) for j in chunk],
            "has_more": start + limit < len(jobs),
        }

    def object(self, job: Job) -> dict[str, Any]:
        return job_object(job, self.settings.trainer.default_recipe)

    # ------------------------------------------------------------------ writing
    def create(self, body: JobCreate) -> Job:
        dataset = self._dataset(body)
        options = body.halops or HalopsOptions()
        recipe_name = options.recipe
        known = recipes.catalog(self.settings.trainer.default_recipe)
        if recipe_name is None and body.model in known:
            recipe_name = body.model
        recipe_path = recipes.resolve(recipe_name, self.settings.trainer.default_recipe)
        overrides = {**_hyper_overrides(body, recipe_path), **recipes.overrides_of(options.overrides)}
        cfg, problems = recipes.problems(recipe_path, overrides, dataset, check_dataset=True)
        if cfg is None:
            listed = "; ".join(f"{p['key']}: {p['message']}" for p in problems) or "invalid"
            raise ApiError(400, f"invalid training config: {listed}", code="invalid_hyperparameters")
        self._ensure_idle()
        request = {
            "model": body.model,
            "training_file": body.training_file,
            "validation_file": body.validation_file,
            "suffix": body.suffix,
            "metadata": body.metadata,
            "recipe": recipe_path.stem,
            "overrides": overrides,
            "launched_by": self.launcher.mode,
        }
        job = queue(self.work, cfg, request)
        try:
            self.launcher.start(job.id, Path(job.output_dir or ""))
        except ApiError as exc:
            self.store.finish(job.id, "failed", error=str(exc))
            raise
        return self.store.get(job.id)

    def _dataset(self, body: JobCreate) -> Path:
        if body.training_file == SESSIONS:
            if body.validation_file:
                raise ApiError(400, "validation_file cannot be used with training_file 'sessions'")
            final = self.settings.data_dir / "data" / "final"
            if not _lines(final / "train.jsonl"):
                raise ApiError(
                    400,
                    f"training_file 'sessions': no examples in {final / 'train.jsonl'} "
                    "(run `halops data all` first)",
                    code="invalid_training_file",
                )
            return final
        train = self._uploaded(body.training_file, "training_file")
        val = self._uploaded(body.validation_file, "validation_file") if body.validation_file else None
        key = hashlib.sha256(f"{body.training_file}:{body.validation_file}".encode()).hexdigest()[:16]
        return dataset_from_files(self.work, key, train, val)

    def _uploaded(self, file_id: str, field: str) -> Path:
        try:
            self.files.get(file_id)
        except ApiError:
            raise ApiError(
                400, f"{field} {file_id!r}: no such uploaded file (POST /v1/files first)", code="invalid_file"
            ) from None
        return self.files.data_path(file_id)

    def _ensure_idle(self) -> None:
        self.reconcile()
        if self.work.db.exists():
            busy = [j for j in self.store.list(limit=100) if j.status in ("pending", "running")]
            if busy:
                raise ApiError(
                    409,
                    f"training job {busy[0].id} is {STATUS[busy[0].status]}; one job at a time "
                    "(cancel it or wait for it to finish)",
                    code="job_busy",
                )
        try:  # a CLI or timer run that holds the lock but has no row yet
            TrainLock(self.work.lock).acquire().release()
        except JobBusyError as exc:
            raise ApiError(409, str(exc), code="job_busy") from None

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status in FINAL:
            raise ApiError(
                409, f"job {job.id} is already {STATUS[job.status]}; nothing to cancel", code="job_finished"
            )
        job = self.store.request_cancel(job.id)
        # A pending job is cancelled at once; a running one stops at its next training step (or
        # before the next export stage). Wait a little so the answer is usually the final state;
        # until then the job shows "running" with halops.cancel_requested.
        deadline = time.monotonic() + self.cancel_wait_s
        while job.status not in FINAL and time.monotonic() < deadline:
            time.sleep(0.2)
            job = self.get(job.id)
        return job


def job_object(job: Job, default_recipe: Path) -> dict[str, Any]:
    run_dir = Path(job.output_dir or "")
    request = read_json(run_dir / REQUEST_FILE) if job.output_dir else {}
    result = read_json(run_dir / RESULT_FILE) if job.output_dir else {}
    cfg = job.config
    status = STATUS.get(job.status, job.status)
    eta = _eta(job)
    version = result.get("version")
    recipe_lr = _recipe_lr(request.get("recipe"), default_recipe)
    lr = cfg.get("learning_rate")
    return {
        "id": job.id,
        "object": "fine_tuning.job",
        "created_at": int(job.created),
        "error": (
            {"code": "job_failed", "message": job.error or "failed", "param": None}
            if job.status == "failed"
            else None
        ),
        "fine_tuned_model": model_id(version) if version is not None else None,
        "finished_at": int(job.finished) if job.finished and job.status in FINAL else None,
        "hyperparameters": {
            "n_epochs": cfg.get("epochs"),
            "batch_size": cfg.get("batch_size"),
            "learning_rate_multiplier": round(lr / recipe_lr, 6) if lr and recipe_lr else None,
        },
        "model": request.get("model") or cfg.get("base_model"),
        "organization_id": "halops",
        "result_files": [],
        "seed": cfg.get("seed"),
        "status": status,
        "trained_tokens": None,
        "training_file": request.get("training_file") or str(cfg.get("dataset_dir")),
        "validation_file": request.get("validation_file"),
        "estimated_finish": int(time.time() + eta) if eta is not None else None,
        "integrations": [],
        "metadata": request.get("metadata"),
        "method": {"type": "supervised"},
        "user_provided_suffix": request.get("suffix"),
        "halops": {
            "step": job.step,
            "total": job.total,
            "epoch": job.epoch,
            "eta_s": eta,
            "metrics": job.metrics,
            "recipe": request.get("recipe") or cfg.get("name"),
            "overrides": request.get("overrides", {}),
            "deployed_version": version if result.get("deployed") else None,
            "gate": result or None,
            "cancel_requested": job.cancel_requested,
            "source": "api" if request else "cli",
            "error": job.error,
        },
    }


def _eta(job: Job) -> float | None:
    if job.status != "running" or not job.started or job.step <= 0 or job.total <= job.step:
        return None
    per_step = (time.time() - job.started) / job.step
    return round(per_step * (job.total - job.step), 1)


def _recipe_lr(name: str | None, default_recipe: Path) -> float | None:
    try:
        path = recipes.resolve(name, default_recipe)
        return float(recipes.describe(path)["defaults"].get("learning_rate"))
    except (ApiError, OSError, TypeError, ValueError):
        return None


def _hyper_overrides(body: JobCreate, recipe_path: Path) -> dict[str, str]:
    """OpenAI's hyperparameters as recipe overrides; "auto" (or absent) keeps the recipe's value."""
    hp = body.hyperparameters or Hyperparameters()
    out: dict[str, str] = {}

    def given(value: Any) -> bool:
        return value is not None and value != "auto"

    if given(hp.n_epochs):
        out["epochs"] = str(hp.n_epochs)
    if given(hp.batch_size):
        out["batch_size"] = str(hp.batch_size)
    if given(hp.learning_rate_multiplier):
        try:
            multiplier = float(hp.learning_rate_multiplier)  # type: ignore[arg-type]
        except ValueError:
            raise ApiError(400, "learning_rate_multiplier must be a number or 'auto'") from None
        if multiplier <= 0:
            raise ApiError(400, "learning_rate_multiplier must be positive")
        base = float(recipes.describe(recipe_path)["defaults"].get("learning_rate") or 2e-4)
        out["learning_rate"] = repr(base * multiplier)
    if body.seed is not None:
        out["seed"] = str(body.seed)
    if body.suffix:
        out["name"] = f"{recipe_path.stem}-{body.suffix}"
    return out


def _lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _tail(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return f": {lines[-1][:300]}" if lines else ""
