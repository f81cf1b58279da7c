"""Jobs queued by the API: the row and request, the dataset split, and what runs (or does not)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.settings import Settings
from trainer.jobs import JobStore, TrainLock
from trainer.queued import REQUEST_FILE, dataset_from_files, has_queued, queue, run_queued, work_dirs
from trainer.recipe_config import RecipeConfig

pytestmark = pytest.mark.unit


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_queue_writes_a_pending_row_and_its_request(tmp_path):
    s = settings(tmp_path)
    work = work_dirs(s)
    assert not has_queued(s)
    job = queue(work, RecipeConfig(name="api", epochs=1), {"training_file": "file-x"})
    assert job.status == "pending" and job.output_dir == str(work.runs / job.id)
    assert json.loads((work.runs / job.id / REQUEST_FILE).read_text()) == {"training_file": "file-x"}
    assert has_queued(s)


def test_a_job_cancelled_while_queued_is_never_started(tmp_path):
    s = settings(tmp_path)
    work = work_dirs(s)
    job = queue(work, RecipeConfig(name="api"), {})
    JobStore(work.db).request_cancel(job.id)
    done = run_queued(s, job.id)
    assert done is not None and done.status == "cancelled" and done.started is None
    assert not (work.runs / job.id / "train.log").exists()
    assert run_queued(s) is None  # nothing queued any more
    TrainLock(work.lock).acquire().release()  # and the lock was let go


def test_jobs_run_of_a_cancelled_job_exits_1_without_training(tmp_path):
    s = settings(tmp_path)
    job = queue(work_dirs(s), RecipeConfig(name="api"), {})
    JobStore(work_dirs(s).db).request_cancel(job.id)
    env = {
        "HALOPS_DATA_DIR": str(s.data_dir),
        "HALOPS_CONFIG": str(tmp_path / "none.toml"),
        "PATH": "/usr/bin",
    }
    (tmp_path / "none.toml").touch()
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "jobs", "run", job.id],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 1 and f"job {job.id}: cancelled" in out.stdout, out.stdout + out.stderr


def test_dataset_from_an_upload_holds_back_a_tenth_the_same_way_each_time(tmp_path):
    work = work_dirs(settings(tmp_path))
    upload = tmp_path / "u.jsonl"
    upload.write_text("".join(json.dumps({"messages": [], "n": i}) + "\n" for i in range(20)))
    ds = dataset_from_files(work, "k1", upload, None)
    train = (ds / "train.jsonl").read_text().splitlines()
    val = (ds / "val.jsonl").read_text().splitlines()
    assert (len(train), len(val)) == (18, 2) and not set(train) & set(val)
    elsewhere = dataset_from_files(work_dirs(settings(tmp_path / "b")), "k1", upload, None)
    assert (elsewhere / "val.jsonl").read_text() == (ds / "val.jsonl").read_text()  # seeded by the key
    one = tmp_path / "one.jsonl"
    one.write_text('{"messages": []}\n')
    single = dataset_from_files(work, "k3", one, None)
    assert (single / "train.jsonl").read_text() == (single / "val.jsonl").read_text() == '{"messages": []}\n'
    explicit = dataset_from_files(work, "k4", upload, one)
    assert len((explicit / "train.jsonl").read_text().splitlines()) == 20
