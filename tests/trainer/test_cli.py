"""The trainer's commands on the root CLI, without training a model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from trainer.jobs import JobStore

pytestmark = pytest.mark.unit
runner = CliRunner()


def _store() -> JobStore:
    return JobStore(Path(os.environ["HALOPS_DATA_DIR"]) / "trainer" / "jobs.sqlite")


def test_train_lists_every_config_problem_and_starts_nothing() -> None:
    res = runner.invoke(app, ["train", "lora.r=0", "batch_size=0", "use_liger=true", "device=cpu"])
    assert res.exit_code == 1
    out = res.output
    assert "lora.r" in out and "batch_size" in out and "use_liger" in out and "dataset_dir" in out
    assert _store().list() == []


def test_train_check_validates_without_training(tmp_path: Path) -> None:
    from tests.trainer.toolcall_data import write_dataset

    ds = write_dataset(tmp_path / "ds")
    res = runner.invoke(app, ["train", "--check", f"dataset_dir={ds}", "epochs=1"])
    assert res.exit_code == 0, res.output
    assert "recipe ok" in res.output and '"epochs": 1.0' in res.output


def test_jobs_list_show_logs_cancel(tmp_path: Path) -> None:
    store = _store()
    job = store.create("demo", {"epochs": 1})
    log = tmp_path / "train.log"
    log.write_text("line1\nline2\nline3\n")
    store.update(job.id, log_path=str(log), step=2, total=9, metrics={"loss": 1.25})
    res = runner.invoke(app, ["jobs", "list"])
    assert res.exit_code == 0 and job.id in res.output and "step 2/9" in res.output and "1.2500" in res.output
    res = runner.invoke(app, ["jobs", "show", job.id])
    assert res.exit_code == 0 and json.loads(res.output)["metrics"] == {"loss": 1.25}
    res = runner.invoke(app, ["jobs", "logs", job.id, "--tail", "2"])
    assert res.exit_code == 0 and res.output.strip().splitlines() == ["line2", "line3"]
    res = runner.invoke(app, ["jobs", "cancel", job.id])
    assert res.exit_code == 0 and "cancelled" in res.output
    assert store.get(job.id).status == "cancelled"
    res = runner.invoke(app, ["jobs", "show", "nope"])
    assert res.exit_code == 1 and "no job" in res.output


def test_merge_refuses_a_job_without_finished_adapter() -> None:
    store = _store()
    job = store.create("demo", {})
    store.update(job.id, output_dir="/nonexistent")
    store.finish(job.id, "failed", error="boom")
    res = runner.invoke(app, ["merge", job.id])
    assert res.exit_code == 1 and "no finished adapter" in res.output
