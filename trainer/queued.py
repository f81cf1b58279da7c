"""Jobs queued by the control plane's HTTP API, and the run that finishes them.

The API validates a request, writes the job row as `pending` (with `request.json`, what was asked,
in its run dir) and returns at once; the training process is started separately: `halops jobs run
ID` under the daemon's supervision, or `halops-trainer.service` (its `halops retrain` picks up the
oldest queued job) where systemd runs halops, so `Conflicts=` hands the GPU over as for the timer.

One process does train → merge → convert → gate for the job, holding the training lock for all of
it: "one job at a time" covers the export too, not only the fine-tune. A job cancelled while still
pending is never started; one killed at any stage stays `running` until the next holder of the lock
marks it failed, and nothing it made is registered (the gate is its last step).
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from halops.errors import HalopsError
from halops.settings import RootSettings as Settings
from trainer import recipe
from trainer.jobs import Job, JobStore, TrainLock
from trainer.recipe_config import RecipeConfig
from trainer.runner import WorkDirs, recover, train_locked

log = logging.getLogger("halops.trainer")
REQUEST_FILE = "request.json"
RESULT_FILE = "result.json"
Say = Callable[[str], None]


class _Cancelled(BaseException):
    """SIGTERM (a cancel, `systemctl stop`) during merge, convert or the gate."""


def work_dirs(settings: Settings) -> WorkDirs:
    return WorkDirs(settings.trainer.resolve_work_dir(settings.data_dir))


def queue(work: WorkDirs, cfg: RecipeConfig, request: dict[str, Any]) -> Job:
    """A pending job row with its run dir and `request.json`; nothing runs yet."""
    store = JobStore(work.db)
    job = store.create(cfg.name, cfg.model_dump(mode="json"))
    run_dir = work.runs / job.id
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / REQUEST_FILE, request)
    store.update(job.id, output_dir=str(run_dir), log_path=str(run_dir / "train.log"))
    return store.get(job.id)


def dataset_from_files(work: WorkDirs, key: str, train: Path, val: Path | None) -> Path:
    """A dataset dir (train.jsonl + val.jsonl) for uploaded files, built once per file pair.

    Without a validation file a tenth of the examples (at least one) is held back for val, in a
    seeded order so the same upload always splits the same way.
    """
    target = work.root / "datasets" / key
    if (target / "train.jsonl").is_file() and (target / "val.jsonl").is_file():
        return target
    lines = [line for line in train.read_text(encoding="utf-8").splitlines() if line.strip()]
    if val is not None:
        train_lines = lines
        val_lines = [line for line in val.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        order = list(range(len(lines)))
        random.Random(key).shuffle(order)
        held = set(order[: max(1, len(lines) // 10)]) if len(lines) > 1 else set()
        train_lines = [line for i, line in enumerate(lines) if i not in held] or lines
        val_lines = [line for i, line in enumerate(lines) if i in held] or lines
    tmp = target.with_name(f".{key}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "train.jsonl").write_text("\n".join(train_lines) + "\n", encoding="utf-8")
    (tmp / "val.jsonl").write_text("\n".join(val_lines) + "\n", encoding="utf-8")
    try:
        tmp.rename(target)
    except OSError:  # another request built it meanwhile: theirs is the same
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    return target


def next_queued(store: JobStore) -> Job | None:
    pending = [j for j in store.list(limit=10_000) if j.status == "pending"]
    return min(pending, key=lambda j: j.created) if pending else None


def has_queued(settings: Settings) -> bool:
    work = work_dirs(settings)
    return work.db.exists() and next_queued(JobStore(work.db)) is not None


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def _raise_cancelled(signum: int, frame: Any) -> None:
    raise _Cancelled


def run_queued(settings: Settings, job_id: str | None = None, say: Say = lambda _m: None) -> Job | None:
    """Run one queued job (the oldest when no id is given) to its end; None when none is queued.

    A job that is no longer pending (cancelled before it started) is returned as it is.
    """
    work = work_dirs(settings)
    store = JobStore(work.db)
    with TrainLock(work.lock):
        recover(store)
        job = store.get(job_id) if job_id else next_queued(store)
        if job is None or job.status != "pending":
            return job
        say(f"train: job {job.id} ({job.output_dir})")
        cfg = RecipeConfig.model_validate(job.config)
        # From here a SIGTERM is a cancel: during setup it is remembered (the first training step
        # stops), never the default death that would leave the row to be found dead.
        previous = signal.signal(signal.SIGTERM, recipe._Stop.handler)
        try:
            job = train_locked(store, work, job, cfg, resume=False)
        except HalopsError as exc:
            say(f"job {job.id} failed: {exc}")
            return store.get(job.id)
        finally:
            signal.signal(signal.SIGTERM, previous)
        if job.status != "completed":
            return job
        return _publish(settings, store, work, job, say)


def _publish(settings: Settings, store: JobStore, work: WorkDirs, job: Job, say: Say) -> Job:
    """merge → convert → gate for a trained job; the row stays `running` until the gate decides."""
    from eval.gate import deploy
    from halops.pidfile import signal_reload, up_pid_path
    from trainer import export

    run_dir = Path(job.output_dir or work.runs / job.id)
    store.update(job.id, status="running", finished=None)
    handler = recipe.attach_file_log(run_dir / "train.log")
    previous = signal.signal(signal.SIGTERM, _raise_cancelled)

    def step(message: str) -> None:
        log.info("%s", message)
        say(message)

    def between() -> None:
        if store.cancel_requested(job.id):
            raise _Cancelled

    try:
        gguf = export.export_job(
            store,
            job,
            run_dir,
            work.tools,
            settings.trainer.llama_cpp_python_version,
            settings.trainer.smoke_prompt,
            step,
            between,
        )
        step(f"gate: scoring {gguf.name} against the deployed model")
        # Past this point a SIGTERM no longer interrupts: the gate registers and activates as one.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        gate = deploy(
            settings,
            gguf,
            source={"kind": "retrain", "job_id": job.id},
            actor="api",
            reason=f"fine-tuning job {job.id} (HTTP API)",
        )
        result = {
            "version": gate.version,
            "deployed": gate.deployed,
            "baseline_version": gate.baseline_version,
            "candidate_overall": gate.candidate.overall,
            "baseline_overall": gate.baseline.overall,
            "regressed": gate.verdict.regressed,
            "overall_delta": gate.verdict.overall_delta,
            "category_deltas": gate.verdict.category_deltas,
            "reasons": gate.verdict.reasons,
        }
        _write_json(run_dir / RESULT_FILE, result)
        store.add_artifact(job.id, "result", run_dir / RESULT_FILE)
        if gate.deployed:
            step(f"gate: deployed v{gate.version} (overall {gate.candidate.overall:.3f})")
            pid = signal_reload(up_pid_path(settings.data_dir))
            if pid is not None:
                step(f"asked `halops up` (pid {pid}) to restart its model server")
        else:
            step(f"gate: v{gate.version} regressed and stays inactive: {'; '.join(gate.verdict.reasons)}")
        store.finish(job.id, "completed")
    except _Cancelled:
        step(f"job {job.id} cancelled before its model was registered")
        store.finish(job.id, "cancelled", error="cancelled during export")
    except HalopsError as exc:
        log.error("job %s failed: %s", job.id, exc)
        say(f"job {job.id} failed: {exc}")
        store.finish(job.id, "failed", error=str(exc))
    except BaseException as exc:
        store.finish(job.id, "failed", error=str(exc) or type(exc).__name__)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        recipe.detach_file_log(handler)
    return store.get(job.id)
