"""The whole path on the bundled SmolLM2: train, get killed, resume, merge, convert, serve.

Slow (a couple of minutes on 2 cores): a handful of steps at a tiny max_seq_len, every stage
through the real `halops` CLI in subprocesses, as an operator would run it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from halops.llm.client import probe
from halops.llm.config import LlmSettings
from tests.support.procs import free_port, halops_argv, stop, wait_for
from tests.trainer.toolcall_data import write_dataset
from trainer.jobs import JobStore

pytestmark = [pytest.mark.model, pytest.mark.integration, pytest.mark.timeout(1500)]
RECIPE = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "smollm2-135m-cpu.yaml"


def _halops(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(halops_argv(*args), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"halops {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def test_train_kill_resume_merge_convert_serve(tmp_path: Path) -> None:
    data_dir = Path(os.environ["HALOPS_DATA_DIR"])
    work = data_dir / "trainer"
    ds = write_dataset(tmp_path / "ds")
    overrides = [
        f"dataset_dir={ds}",
        "max_steps=5",
        "save_steps=2",
        "eval_steps=2",
        "max_seq_len=160",
        "batch_size=2",
        "max_val_examples=2",
        "early_stopping_patience=0",
        "name=e2e",
    ]
    log = (tmp_path / "train1.log").open("wb")
    proc = subprocess.Popen(
        halops_argv("train", "--recipe", str(RECIPE), *overrides), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        ok = wait_for(
            lambda: (
                proc.poll() is not None
                or any(work.glob("runs/*/checkpoints/checkpoint-2/trainer_state.json"))
            ),
            900,  # model load + 2 steps: ~40 s alone, far more on a busy box
            0.05,
        )
        assert ok and proc.poll() is None, (tmp_path / "train1.log").read_text()[-3000:]
        proc.send_signal(signal.SIGKILL)  # no cleanup at all: the worst case
        proc.wait()
    finally:
        stop(proc)
    store = JobStore(work / "jobs.sqlite")
    (job,) = store.list()
    run_dir = Path(job.output_dir or "")
    assert job.status == "running"  # nobody has noticed yet
    assert not (run_dir / "adapter").exists()

    # Listing does not need the lock; the next training start marks the dead job failed, and
    # --resume continues it from checkpoint-2.
    resumed = _halops("train", "--resume", job.id)
    assert "left running by a dead process" in resumed.stderr
    job = store.get(job.id)
    assert job.status == "completed" and job.step == 5 and job.total == 5
    assert (run_dir / "adapter" / "adapter_config.json").exists()
    state = json.loads((run_dir / "checkpoints" / "checkpoint-5" / "trainer_state.json").read_text())
    assert state["global_step"] == 5
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {r["step"] for r in rows if "loss" in r} >= {1, 2, 3, 4, 5}
    assert any("val_loss" in r for r in rows) and all(r["peak_mem_mb"] > 0 for r in rows)
    losses = [r["step"] for r in rows if "loss" in r]
    assert losses.count(1) == 1 and losses.count(5) == 1  # resumed at step 3, not restarted
    if importlib.util.find_spec("tensorboard"):
        assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))

    _halops("merge", job.id)
    out = _halops("convert", job.id).stdout
    gguf_dir = run_dir / "gguf"
    for name in ("model-f16.gguf", "model-Q4_K_M.gguf", "model-Q5_K_M.gguf", "Modelfile"):
        assert (gguf_dir / name).exists(), out
    assert "Q4_K_M answers:" in out
    assert "<|im_start|>{{ .Role }}" in (gguf_dir / "Modelfile").read_text()
    assert set(store.get(job.id).artifacts) >= {"adapter", "merged", "gguf_f16", "gguf_Q4_K_M", "gguf_Q5_K_M"}

    # The quantized fine-tune answers through the embedded server.
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as fh:
        server = subprocess.Popen(
            halops_argv("llm", "serve", "--model", str(gguf_dir / "model-Q4_K_M.gguf"), "--port", str(port)),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        settings = LlmSettings(base_url=f"http://127.0.0.1:{port}/v1")
        assert (
            wait_for(lambda: server.poll() is not None or probe(settings), 120, 0.2) and server.poll() is None
        )
        resp = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            timeout=120,
            json={
                "messages": [{"role": "user", "content": "Check disk usage on web1."}],
                "max_tokens": 32,
                "temperature": 0,
            },
        )
        resp.raise_for_status()
        assert resp.json()["choices"][0]["message"]["content"].strip()
    finally:
        stop(server)
