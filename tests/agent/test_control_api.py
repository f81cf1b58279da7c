"""The control plane's HTTP API without training: uploads, request validation, job rows, events.

The real daemon app on loopback; job rows and run dirs are written the way the trainer writes
them, so every check here is about the API's side. Training itself is in test_control_e2e.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from agent.daemon import Daemon
from halops.outcome import ToolOutcome
from tests.support.daemon import agent_settings, serve_daemon
from tests.support.procs import free_port
from tests.trainer.toolcall_data import write_dataset
from trainer.jobs import JobStore

pytestmark = pytest.mark.integration
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2  # a GitHub token shape the scrubber knows


class NoTools:
    def run(self, call, *, context, timeout_s):
        return ToolOutcome(status="ok", verdict="allow", rule="test", exit_code=0, stdout="")


@pytest.fixture
def api(tmp_path):
    daemon = Daemon(
        agent_settings(tmp_path, f"http://127.0.0.1:{free_port()}/v1"), tools=NoTools(), scrub=lambda s: s
    )
    with serve_daemon(daemon) as base:
        yield base, tmp_path / "data"


def client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)


def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "ds") / "train.jsonl"


def test_upload_is_validated_scrubbed_stored_listed_and_deleted(api, tmp_path):
    base, data = api
    lines = dataset(tmp_path).read_text().splitlines()
    leaky = json.loads(lines[0])
    leaky["messages"][3]["content"] = f"export GITHUB_TOKEN={TOKEN}"
    # No system prompt is fine: OpenAI's format does not require one.
    bare = {"messages": json.loads(lines[1])["messages"][1:]}
    body = "\n".join([json.dumps(leaky), json.dumps(bare), *lines[2:]]) + "\n"
    c = client(base)
    f = c.files.create(file=("mine.jsonl", body.encode()), purpose="fine-tune")
    assert (f.object, f.purpose, f.status, f.filename) == ("file", "fine-tune", "processed", "mine.jsonl")
    assert f.status_details == "1 secret(s) redacted" and f.model_extra["halops"]["examples"] == len(lines)
    stored = (data / "files" / f"{f.id}.jsonl").read_text()
    assert TOKEN not in stored and "[REDACTED" in stored
    assert f.bytes == len(stored.encode())
    assert [x.id for x in c.files.list()] == [f.id]
    assert c.files.retrieve(f.id).id == f.id
    assert c.files.delete(f.id).deleted
    assert list(c.files.list()) == [] and not list((data / "files").iterdir())
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve(f.id)


@pytest.mark.parametrize(
    "content, says",
    [
        (b"just text\n", "line 1: not JSON"),
        (b'{"prompt": "a", "completion": "b"}\n', 'no "messages" list'),
        (b'{"messages": [{"role": "user", "content": "hi"}]}\n', "needs at least a user and an assistant"),
        (b'{"messages": [{"role": "wizard", "content": "hi"}]}\n', "unknown role 'wizard'"),
        (
            b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", '
            b'"content": "<tool_call>\\n{not json\\n</tool_call>"}]}\n',
            "unparsable tool call",
        ),
        (b"\xff\xfe\n", "not UTF-8"),
        (b"\n\n", "no examples"),
    ],
)
def test_an_upload_that_is_not_chatml_jsonl_is_refused_and_nothing_is_stored(api, content, says):
    base, data = api
    with pytest.raises(openai.BadRequestError) as err:
        client(base).files.create(file=("bad.jsonl", content), purpose="fine-tune")
    assert err.value.code == "invalid_file" and says in err.value.message, err.value.message
    assert not (data / "files").exists() or not list((data / "files").iterdir())


def test_wrong_purpose_and_not_multipart_are_400(api, tmp_path):
    base, data = api
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client(base).files.create(file=dataset(tmp_path).open("rb"), purpose="batch")
    r = httpx.post(f"{base}/v1/files", json={"file": "x"})
    assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert not (data / "files").exists()


def _nothing_queued(data: Path) -> None:
    db = data / "trainer" / "jobs.sqlite"
    assert not db.exists() or JobStore(db).list() == []
    assert not (data / "trainer" / "runs").exists()


def test_job_requests_are_checked_before_anything_is_queued(api, tmp_path):
    base, data = api
    c = client(base)
    f = c.files.create(file=dataset(tmp_path).open("rb"), purpose="fine-tune")
    cases = [
        ({"training_file": "file-nope"}, "no such uploaded file"),
        ({"training_file": "sessions"}, "no examples"),
        ({"training_file": f.id, "extra_body": {"halops": {"recipe": "nope"}}}, "unknown recipe"),
        (
            {"training_file": f.id, "extra_body": {"halops": {"overrides": {"epochs": -1, "lora.r": "x"}}}},
            "epochs",
        ),
        (
            {"training_file": f.id, "extra_body": {"halops": {"overrides": {"dataset_dir": "/etc"}}}},
            "dataset_dir",
        ),
        ({"training_file": f.id, "hyperparameters": {"learning_rate_multiplier": -2}}, "positive"),
        ({"training_file": f.id, "hyperparameters": {"batch_size": 0}}, "batch_size"),
    ]
    for kwargs, says in cases:
        with pytest.raises(openai.BadRequestError) as err:
            c.fine_tuning.jobs.create(model="halops", **kwargs)
        assert says in err.value.message, (kwargs, err.value.message)
    _nothing_queued(data)


def test_unknown_job_ids_are_404(api):
    base, _ = api
    c = client(base)
    for call in (
        lambda: c.fine_tuning.jobs.retrieve("nope"),
        lambda: c.fine_tuning.jobs.cancel("nope"),
        lambda: c.fine_tuning.jobs.list_events("nope"),
        lambda: c.fine_tuning.jobs.checkpoints.list("nope"),
    ):
        with pytest.raises(openai.NotFoundError) as err:
            call()
        assert err.value.code == "job_not_found"
    assert httpx.get(f"{base}/v1/halops/jobs/nope/stream").status_code == 404


def _row(data: Path, status: str, **values) -> str:
    store = JobStore(data / "trainer" / "jobs.sqlite")
    job = store.create("demo", {"epochs": 1.0, "batch_size": 2, "learning_rate": 2e-4, "seed": 1})
    run = data / "trainer" / "runs" / job.id
    run.mkdir(parents=True)
    store.update(job.id, status=status, output_dir=str(run), log_path=str(run / "train.log"), **values)
    return job.id


def test_cancelling_a_finished_job_is_a_clear_409_and_changes_nothing(api):
    base, data = api
    job_id = _row(data, "completed", finished=time.time())
    store = JobStore(data / "trainer" / "jobs.sqlite")
    before = store.get(job_id)
    with pytest.raises(openai.ConflictError) as err:
        client(base).fine_tuning.jobs.cancel(job_id)
    assert err.value.code == "job_finished" and "already succeeded" in err.value.message
    assert store.get(job_id) == before


def test_a_second_job_while_one_runs_is_409(api, tmp_path):
    base, data = api
    c = client(base)
    f = c.files.create(file=dataset(tmp_path).open("rb"), purpose="fine-tune")
    running = _row(data, "running", pid=os.getpid(), started=time.time())
    with pytest.raises(openai.ConflictError) as err:
        c.fine_tuning.jobs.create(model="halops", training_file=f.id)
    assert err.value.code == "job_busy" and running in err.value.message
    JobStore(data / "trainer" / "jobs.sqlite").finish(running, "completed")
    # A CLI or timer run holding the lock, before its row exists, counts as well.
    code = "import sys, time; from pathlib import Path; from trainer.jobs import TrainLock\n"
    code += "TrainLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(data / "trainer" / "train.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(openai.ConflictError, match="another training job is running"):
            c.fine_tuning.jobs.create(model="halops", training_file=f.id)
    finally:
        holder.kill()
        holder.wait()
    assert [j.id for j in c.fine_tuning.jobs.list()] == [running]


def test_a_job_whose_process_died_is_failed(api):
    base, data = api
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job_id = _row(data, "running", pid=dead.pid, started=time.time())
    job = client(base).fine_tuning.jobs.retrieve(job_id)
    assert job.status == "failed" and "process died" in job.error.message


LOG = """\
2026-12-03 10:00:00,100 INFO halops.trainer: {"step": 1, "epoch": 0.5, "loss": 2.5, "lr": 0.0002}
2026-12-03 10:00:01,200 WARNING transformers: something to know
2026-12-03 10:00:02,300 INFO halops.trainer: {"step": 2, "epoch": 1.0, "val_loss": 2.25}
2026-12-03 10:00:03,400 ERROR halops.trainer: a line with a secret ghp_%s
Traceback (most recent call last):
""" % ("a1B2c3D4e5F6g7H8i9J0" * 2)


def test_events_and_checkpoints_in_openai_shape_with_pages(api):
    base, data = api
    job_id = _row(data, "cancelled", step=2, total=4, started=time.time() - 5, finished=time.time())
    run = data / "trainer" / "runs" / job_id
    (run / "train.log").write_text(LOG)
    (run / "metrics.jsonl").write_text('{"step": 2, "loss": 2.4}\n{"step": 2, "val_loss": 2.25}\n')
    ckpt = run / "checkpoints" / "checkpoint-2"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text("{}")
    (run / "checkpoints" / "checkpoint-4").mkdir()  # no trainer_state.json: cut off, not listed
    c = client(base)
    events = list(c.fine_tuning.jobs.list_events(job_id, limit=2))  # auto-paginates with `after`
    assert [e.type for e in events] == [
        "message",
        "message",
        "message",
        "metrics",
        "message",
        "metrics",
        "message",
        "message",
    ]
    assert events[0].message == "The job was cancelled" and events[-1].message.startswith("Created")
    metrics = [e for e in events if e.type == "metrics"]
    assert metrics[-1].data == {
        "step": 1,
        "train_loss": 2.5,
        "valid_loss": None,
        "total_steps": 4,
        "epoch": 0.5,
        "lr": 0.0002,
    }
    assert metrics[0].data["valid_loss"] == 2.25 and metrics[0].message == "Step 2/4: validation loss=2.2500"
    assert not [e for e in events if TOKEN in e.message] and "[REDACTED" in events[2].message
    assert {e.level for e in events} == {"info", "warn", "error"}
    assert len({e.id for e in events}) == len(events)
    (ck,) = c.fine_tuning.jobs.checkpoints.list(job_id)
    assert (ck.step_number, ck.metrics.train_loss, ck.metrics.valid_loss) == (2, 2.4, 2.25)
    # The console's stream: every event in order, then [DONE] since the job is final.
    with httpx.stream("GET", f"{base}/v1/halops/jobs/{job_id}/stream", timeout=10) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert [json.loads(x[6:])["id"] for x in lines[:-1]] == [e.id for e in reversed(events)]


def test_recipes_are_listed_and_validated_without_a_model(api):
    base, _ = api
    r = httpx.get(f"{base}/v1/halops/recipes").json()["data"]
    cpu = next(x for x in r if x["name"] == "smollm2-135m-cpu")
    assert cpu["defaults"]["device"] == "cpu" and cpu["description"].startswith("SmolLM2")
    ok = httpx.post(
        f"{base}/v1/halops/recipes/validate", json={"recipe": "smollm2-135m-cpu", "overrides": {"epochs": 1}}
    )
    assert ok.json() == {"ok": True, "recipe": "smollm2-135m-cpu", "problems": []}
    bad = httpx.post(
        f"{base}/v1/halops/recipes/validate",
        json={"recipe": "smollm2-135m-cpu", "overrides": {"epochs": 0, "optimizer": "paged_adamw_8bit"}},
    ).json()
    assert bad["ok"] is False and {p["key"] for p in bad["problems"]} == {"epochs", "optimizer"}
    assert (
        httpx.post(f"{base}/v1/halops/recipes/validate", json={"recipe": "../etc/passwd"}).status_code == 400
    )
