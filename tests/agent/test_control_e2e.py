"""Fine-tuning over the API with the unmodified `openai` client: the real daemon, real training.

The daemon is built as `halops agent serve` builds it (`build_daemon`), with the bundled model
behind it; jobs train the short CPU recipe for a handful of steps at a tiny max_seq_len, in the
supervised `halops jobs run` child the daemon starts.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import openai
import pytest

from agent.cli.settings import Settings
from agent.wiring import build_daemon
from halops.llm.models import ModelStore
from tests.support.daemon import serve_daemon
from tests.support.procs import wait_for
from tests.trainer.toolcall_data import write_dataset
from trainer.jobs import JobStore

pytestmark = [pytest.mark.model, pytest.mark.integration, pytest.mark.timeout(1200)]
TINY = {
    "max_steps": 6,
    "max_seq_len": 160,
    "eval_steps": 2,
    "save_steps": 2,
    "max_val_examples": 1,
    "early_stopping_patience": 0,
}
SLOW_BOX_S = 900  # a model load and a step or two; far more on a busy 2-core box


@pytest.fixture
def daemon(tmp_path, model_server):
    settings = Settings(
        data_dir=tmp_path / "data",
        llm={"base_url": model_server.url, "max_retries": 0},
        agent={"rag_k": 0},
    )
    with serve_daemon(build_daemon(settings)) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0), tmp_path / "data"


def start(c: openai.OpenAI, tmp_path: Path):
    f = c.files.create(file=(write_dataset(tmp_path / "ds") / "train.jsonl").open("rb"), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(
        model="halops",
        training_file=f.id,
        hyperparameters={"n_epochs": 1, "batch_size": 2},
        extra_body={"halops": {"recipe": "smollm2-135m-cpu", "overrides": TINY}},
    )
    return f, job


def metrics_events(c: openai.OpenAI, job_id: str) -> list:
    return [e for e in c.fine_tuning.jobs.list_events(job_id, limit=50) if e.type == "metrics"]


def test_openai_client_uploads_trains_lists_events_cancels_and_lists_models(daemon, tmp_path):
    c, data = daemon
    versions = ModelStore(data / "models").versions()
    f, job = start(c, tmp_path)
    assert job.status in ("queued", "running") and job.training_file == f.id
    assert job.hyperparameters.n_epochs == 1 and job.hyperparameters.batch_size == 2
    assert job.model_extra["halops"]["recipe"] == "smollm2-135m-cpu"

    with pytest.raises(openai.ConflictError) as busy:  # one job at a time
        start(c, tmp_path / "again")
    assert busy.value.code == "job_busy"

    assert wait_for(lambda: bool(metrics_events(c, job.id)), SLOW_BOX_S, 2), c.fine_tuning.jobs.retrieve(
        job.id
    )
    first = metrics_events(c, job.id)[-1]
    assert first.data["step"] == 1 and isinstance(first.data["train_loss"], float)
    running = c.fine_tuning.jobs.retrieve(job.id)
    assert running.status == "running" and running.model_extra["halops"]["total"] == TINY["max_steps"]
    assert [j.id for j in c.fine_tuning.jobs.list()] == [job.id]

    c.fine_tuning.jobs.cancel(job.id)
    assert wait_for(lambda: c.fine_tuning.jobs.retrieve(job.id).status == "cancelled", 300, 1)
    events = list(c.fine_tuning.jobs.list_events(job.id))
    assert events[0].message == "The job was cancelled"
    run = Path(JobStore(data / "trainer" / "jobs.sqlite").get(job.id).output_dir or "")
    assert not (run / "adapter").exists() and not (run / "result.json").exists()
    assert ModelStore(data / "models").versions() == versions  # nothing registered

    with pytest.raises(openai.ConflictError) as finished:
        c.fine_tuning.jobs.cancel(job.id)
    assert finished.value.code == "job_finished"
    assert c.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    assert [m.id for m in c.models.list().data]


def test_a_killed_job_is_marked_failed_and_its_outputs_never_registered(daemon, tmp_path):
    c, data = daemon
    versions = ModelStore(data / "models").versions()
    _, job = start(c, tmp_path)
    store = JobStore(data / "trainer" / "jobs.sqlite")
    assert wait_for(lambda: store.get(job.id).step >= 1, SLOW_BOX_S, 1), store.get(job.id)
    pid = store.get(job.id).pid
    assert pid and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)  # no cleanup at all: the OOM killer, a power cut of the process

    assert wait_for(lambda: c.fine_tuning.jobs.retrieve(job.id).status == "failed", 60, 0.5)
    failed = c.fine_tuning.jobs.retrieve(job.id)
    assert "died" in failed.error.message and failed.fine_tuned_model is None
    run = Path(store.get(job.id).output_dir or "")
    assert not (run / "adapter").exists() and not (run / "gguf").exists()
    assert ModelStore(data / "models").versions() == versions

    # The lock died with the process: the next job is accepted (and cancelled while queued).
    _, nxt = start(c, tmp_path / "next")
    c.fine_tuning.jobs.cancel(nxt.id)
    assert wait_for(lambda: c.fine_tuning.jobs.retrieve(nxt.id).status == "cancelled", 300, 1)
