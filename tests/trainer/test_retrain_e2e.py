"""`halops retrain` on the bundled SmolLM2: train → merge → convert → eval gate, as the timer runs it.

The gate's decision itself is tested deterministically in tests/eval/test_gate.py; here the real
model is trained for a few steps and both outcomes are legal, but each must leave its trace: a
deployed new version, or a registered, rejected one while the old model keeps serving.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from eval.gate import REJECTED_FILE
from halops.llm.models import ModelStore
from tests.eval.test_real_model import CASES
from tests.support.procs import halops_argv
from tests.trainer.toolcall_data import write_dataset
from trainer.jobs import JobStore

pytestmark = [pytest.mark.model, pytest.mark.integration, pytest.mark.timeout(1500)]
RECIPE = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "smollm2-135m-cpu.yaml"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES)
    return {**os.environ, "HALOPS_EVAL__CASES": str(cases), **extra}


def test_retrain_trains_converts_and_deploys_only_through_the_gate(tmp_path: Path) -> None:
    data_dir = Path(os.environ["HALOPS_DATA_DIR"])
    ds = write_dataset(tmp_path / "ds")
    overrides = [
        f"dataset_dir={ds}",
        "max_steps=4",
        "max_seq_len=160",
        "batch_size=2",
        "max_val_examples=2",
        "early_stopping_patience=0",
        "name=retrain",
    ]
    proc = subprocess.run(
        halops_argv("retrain", "--skip-data", "--recipe", str(RECIPE), *overrides),
        capture_output=True,
        text=True,
        timeout=1400,
        env=_env(tmp_path),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 3), out[-4000:]
    (job,) = JobStore(data_dir / "trainer" / "jobs.sqlite").list()
    assert job.status == "completed" and {"adapter", "merged", "gguf_Q4_K_M"} <= set(job.artifacts)
    store = ModelStore(data_dir / "models")
    assert store.versions() == [0, 1]
    reports = data_dir / "eval" / "reports"
    base, cand = (json.loads((reports / f"v{v}.json").read_text()) for v in (0, 1))
    assert (
        [r["id"] for r in base["results"]] == [r["id"] for r in cand["results"]] == ["disk", "bmc", "smart"]
    )
    rejected = store.version_path(1).parent / REJECTED_FILE
    if proc.returncode == 0:
        assert store.active_version() == 1 and not rejected.exists() and "deployed v1" in out
    else:
        assert store.active_version() == 0 and rejected.exists() and "not deployed" in out


def test_retrain_without_any_sessions_stops_before_training(tmp_path: Path) -> None:
    empty = tmp_path / "no-sessions"
    empty.mkdir()
    proc = subprocess.run(
        halops_argv("retrain"),
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(tmp_path, HALOPS_DATA__SOURCES=json.dumps([str(empty)])),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no session or transcript files" in proc.stderr
    data_dir = Path(os.environ["HALOPS_DATA_DIR"])
    assert (
        not (data_dir / "trainer" / "jobs.sqlite").exists()
        or not JobStore(data_dir / "trainer" / "jobs.sqlite").list()
    )
