"""`halops bootstrap`: killed mid-training and run again, it resumes; it is idempotent; a model the
gate refuses leaves version 0 serving and says why.

Small runs (a few steps on a few dozen episodes, a three-case eval) through the real CLI, model,
converter and gate. The full recipe runs once per test session, in tests/agent/test_bootstrap_e2e.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from halops.llm.models import ModelStore
from tests.support.procs import halops_argv, stop, wait_for
from trainer import bootstrap as boot
from trainer.jobs import JobStore

pytestmark = [pytest.mark.model, pytest.mark.integration, pytest.mark.timeout(1800)]

TINY_CASES = """
hosts: [box1]
cases:
  - id: disk
    kind: tool
    category: tool-use
    prompt: Check disk usage on box1.
    tools: [ssh]
    args_contain: [box1, df]
  - id: know
    kind: answer
    category: knowledge
    prompt: What does RAID stand for? Answer briefly, without tools.
    keywords: [redundant, array]
"""
SMALL = ["max_steps=4", "save_steps=2", "eval_steps=0", "logging_steps=1", "batch_size=4"]


def _env(tmp_path: Path) -> dict[str, str]:
    cases = tmp_path / "cases.yaml"
    cases.write_text(TINY_CASES)
    env = dict(os.environ)
    env["HALOPS_EVAL__CASES"] = str(cases)
    # A loose gate: these runs prove the mechanics, not the model (the full recipe's test does).
    env["HALOPS_EVAL__TOLERANCE"] = "1.0"
    env["HALOPS_EVAL__CATEGORY_TOLERANCE"] = "1.0"
    return env


def test_killed_bootstrap_resumes_then_is_a_no_op(tmp_path: Path) -> None:
    env = _env(tmp_path)
    data_dir = Path(env["HALOPS_DATA_DIR"])
    argv = halops_argv("bootstrap", "--rebuild", "--episodes", "48", *SMALL)
    log = (tmp_path / "first.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        ok = wait_for(
            lambda: (
                proc.poll() is not None
                or any((data_dir / "trainer").glob("runs/*/checkpoints/checkpoint-2/trainer_state.json"))
            ),
            900,
            0.05,
        )
        assert ok and proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        proc.send_signal(signal.SIGKILL)  # the worst case: no cleanup at all
        proc.wait()
    finally:
        stop(proc)
    state = json.loads((data_dir / "bootstrap" / "state.json").read_text())
    assert state["source"] == "rebuild" and state["job_id"]
    assert ModelStore(data_dir / "models").active_version() in (None, 0)

    second = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1500)
    out = second.stdout + second.stderr
    assert second.returncode == 0, out[-3000:]
    assert f"resuming job {state['job_id']}" in out
    assert "Traceback" not in out
    job = JobStore(data_dir / "trainer" / "jobs.sqlite").get(state["job_id"])
    assert job.status == "completed" and job.step == 4
    store = ModelStore(data_dir / "models")
    version = store.active_version()
    assert version is not None and version >= 1
    provenance = json.loads((store.version_path(version).parent / "PROVENANCE.json").read_text())
    assert provenance["source"] == "bootstrap (rebuild)" and provenance["job_id"] == state["job_id"]
    assert store.version_path(version).stat().st_size > 50_000_000  # one self-contained GGUF

    third = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert third.returncode == 0 and "already bootstrapped" in third.stdout + third.stderr


@pytest.mark.unit
def test_refused_model_leaves_version_0_active_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate's own refusal is tested in tests/eval; here, what bootstrap does with it."""
    from typer.testing import CliRunner

    import eval.gate
    from agent.cli.main import app
    from eval.report import EvalReport, Verdict

    data_dir = Path(os.environ["HALOPS_DATA_DIR"])
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")

    def refuse(settings, path, **kw):
        store = ModelStore(settings.models_dir)
        version = store.add_version(path, copy=True)
        report = EvalReport(model=str(path), cases_file="x")
        verdict = Verdict(True, -0.2, {"tool-use": -0.4}, ["tool-use fell 0.40 below version 0"])
        return eval.gate.GateResult(version, False, report, report, 0, verdict)

    monkeypatch.setattr(boot, "_train", lambda *a, **k: adapter)
    monkeypatch.setattr(boot, "_export", lambda *a, **k: gguf)
    monkeypatch.setattr(eval.gate, "deploy", refuse)
    result = CliRunner().invoke(app, ["bootstrap", "--rebuild"])
    assert result.exit_code == 3, result.output
    assert "not deployed" in result.output and "tool-use fell 0.40" in result.output
    store = ModelStore(data_dir / "models")
    assert store.active_version() == 0
    state = json.loads((data_dir / "bootstrap" / "state.json").read_text())
    assert "version" not in state  # so the next run tries again instead of claiming success


@pytest.mark.unit
def test_a_tampered_shipped_adapter_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "bootstrap"
    shipped.mkdir()
    (shipped / "adapter_config.json").write_text("{}")
    (shipped / "adapter_model.safetensors").write_bytes(b"weights")
    pin = tmp_path / "bootstrap.sha256"
    pin.write_text(boot.tree_digest(shipped) + "  bootstrap/\n")
    monkeypatch.setattr(boot, "SHIPPED", shipped)
    monkeypatch.setattr(boot, "SHIPPED_PIN", pin)
    assert boot.shipped_adapter() == shipped
    (shipped / "adapter_model.safetensors").write_bytes(b"other weights")
    with pytest.raises(boot.TrainerError, match="does not match its pin"):
        boot.shipped_adapter()
