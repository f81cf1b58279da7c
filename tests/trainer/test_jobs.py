"""Job store and lock: statuses, cancel, dead-job recovery, one job at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.errors import JobBusyError, JobNotFoundError
from trainer.jobs import JobStore, TrainLock
from trainer.recipe import finished_adapter

pytestmark = pytest.mark.unit


def test_create_update_list_show(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create("demo", {"epochs": 1})
    assert job.status == "pending" and job.config == {"epochs": 1}
    store.mark_running(job.id)
    store.update(job.id, step=3, total=10, epoch=0.5, metrics={"loss": 1.5})
    store.add_artifact(job.id, "adapter", tmp_path / "a")
    got = store.get(job.id[:12])  # a unique prefix is enough
    assert (got.status, got.step, got.total, got.metrics, got.pid) == (
        "running",
        3,
        10,
        {"loss": 1.5},
        os.getpid(),
    )
    assert got.artifacts == {"adapter": str(tmp_path / "a")}
    store.finish(job.id, "completed")
    assert [j.status for j in store.list()] == ["completed"]
    with pytest.raises(JobNotFoundError):
        store.get("nope")


def test_cancel_pending_is_immediate_and_running_sets_the_flag(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    pending = store.create("a", {})
    assert store.request_cancel(pending.id).status == "cancelled"
    running = store.create("b", {})
    store.mark_running(running.id)  # our own pid: no signal is sent to ourselves
    assert store.request_cancel(running.id).status == "running"
    assert store.cancel_requested(running.id)


def test_cancel_signals_the_training_process(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create("a", {})
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store.update(job.id, status="running", pid=proc.pid)
        store.request_cancel(job.id)
        assert proc.wait(timeout=10) == -15
    finally:
        proc.kill()


def test_lock_allows_one_job_and_dead_jobs_are_marked_failed(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create("a", {})
    lock_path = tmp_path / "train.lock"
    # A process takes the lock, marks its job running, and is killed without cleanup.
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom trainer.jobs import JobStore, TrainLock\n"
        "TrainLock(Path(sys.argv[1])).acquire()\nJobStore(Path(sys.argv[2])).mark_running(sys.argv[3])\n"
        "print('held', flush=True)\ntime.sleep(60)\n"
    )
    argv = [sys.executable, "-c", code, str(lock_path), str(tmp_path / "jobs.sqlite"), job.id]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(JobBusyError, match=str(proc.pid)):
            TrainLock(lock_path).acquire()
        proc.kill()
        proc.wait()
        with TrainLock(lock_path):
            assert store.recover_dead() == [job.id]
        dead = store.get(job.id)
        assert dead.status == "failed" and "process died" in (dead.error or "")
    finally:
        proc.kill()


def test_half_written_adapter_is_never_picked_up(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / ".adapter.tmp-123").mkdir(parents=True)
    (run / ".adapter.tmp-123" / "adapter_config.json").write_text("{}")
    assert finished_adapter(run) is None
    (run / "adapter").mkdir()
    (run / "adapter" / "adapter_config.json").write_text("{}")
    assert finished_adapter(run) is None  # no base_model.json: cleanup never finished
    (run / "adapter" / "base_model.json").write_text("{}")
    assert finished_adapter(run) == run / "adapter"
