"""Jobs queued by the API: the row and request, the dataset split, and what runs (or does not).

The export after training (merge, convert, gate) is replaced by recorders in the last tests: what is
checked there is the job's bookkeeping around them (statuses, result.json, cancel before the gate);
the real stages run end to end in test_retrain_e2e.py.
"""

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


class _Verdict:
    regressed, overall_delta, category_deltas, reasons = False, 0.05, {"tools": 0.1}, []


class _Report:
    def __init__(self, overall: float):
        self.overall = overall


def _trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[str]):
    """A job whose training completed, with merge/convert/gate replaced by recorders."""
    from eval import gate
    from eval.errors import EvalError
    from trainer import export

    s = settings(tmp_path)
    work = work_dirs(s)
    job = queue(work, RecipeConfig(name="api"), {})
    store = JobStore(work.db)
    store.add_artifact(job.id, "adapter", work.runs / job.id / "adapter")
    store.finish(job.id, "completed")
    gguf = tmp_path / "model-Q4_K_M.gguf"

    def convert(merged, out, *a):
        calls.append("convert")
        if "convert-fails" in calls:
            raise EvalError("the GGUF did not answer")
        return {"files": {"Q4_K_M": str(gguf)}}

    def deploy(settings, path, **kw):
        calls.append(f"deploy {path.name}")
        assert kw == {"source": {"kind": "retrain", "job_id": job.id}, "actor": "api", "reason": kw["reason"]}
        return gate.GateResult(7, True, _Report(0.8), _Report(0.75), 6, _Verdict())

    monkeypatch.setattr(export, "merge", lambda adapter, out, *a: calls.append("merge") or out)
    monkeypatch.setattr(export, "convert", convert)
    monkeypatch.setattr(gate, "deploy", deploy)
    return s, store, work, store.get(job.id)


def test_a_trained_job_is_merged_converted_and_gated_and_the_verdict_kept(tmp_path, monkeypatch):
    from trainer.queued import RESULT_FILE, _publish

    calls: list[str] = []
    s, store, work, job = _trained(tmp_path, monkeypatch, calls)
    done = _publish(s, store, work, job, say=calls.append)
    assert done.status == "completed" and done.error is None
    assert [c for c in calls if not c.startswith(("merge:", "convert:", "gate:"))] == [
        "merge",
        "convert",
        "deploy model-Q4_K_M.gguf",
    ]
    result = json.loads((work.runs / job.id / RESULT_FILE).read_text())
    assert (result["version"], result["deployed"], result["baseline_version"]) == (7, True, 6)
    assert "gate: deployed v7 (overall 0.800)" in calls
    assert "merge: adapter → 16-bit base" in (work.runs / job.id / "train.log").read_text()


def test_a_cancel_after_training_stops_before_the_gate(tmp_path, monkeypatch):
    from trainer.queued import RESULT_FILE, _publish

    calls: list[str] = []
    s, store, work, job = _trained(tmp_path, monkeypatch, calls)
    store.update(job.id, cancel_requested=1)
    done = _publish(s, store, work, job, say=calls.append)
    assert done.status == "cancelled" and "merge" not in calls
    assert not (work.runs / job.id / RESULT_FILE).exists()


def test_an_export_failure_fails_the_job_with_its_reason(tmp_path, monkeypatch):
    from trainer.queued import _publish

    calls: list[str] = ["convert-fails"]
    s, store, work, job = _trained(tmp_path, monkeypatch, calls)
    done = _publish(s, store, work, job, say=calls.append)
    assert done.status == "failed" and done.error == "the GGUF did not answer"
    assert not any(c.startswith("deploy") for c in calls)
