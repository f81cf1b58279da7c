"""`halops approvals` against a real daemon, and `halops status` without systemd and nvidia-smi.

The CLI runs as the operator runs it (a subprocess of the console script), finding the daemon from
the settings (agent.port through the environment). Status with systemd is in
test_control_systemd.py (real systemd in a container).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from agent.cli.settings import Settings, load_settings
from agent.control.launcher import write_settings
from agent.control.status import parse_show
from agent.wiring import build_daemon
from eval.report import CaseResult, EvalReport
from halops.llm.models import ModelStore
from tests.support.daemon import serve_daemon
from tests.support.procs import free_port, halops_argv
from tests.support.scripted_llm import ScriptedModel, call
from trainer.jobs import JobStore

pytestmark = pytest.mark.integration


def halops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(halops_argv(*args), capture_output=True, text=True, env=env, timeout=120)


def cli_env(data: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALOPS_")}
    empty = data.parent / "empty.toml"
    empty.touch()
    env.update(
        HALOPS_DATA_DIR=str(data), HALOPS_AGENT__PORT=str(port), HALOPS_CONFIG=str(empty), COLUMNS="220"
    )
    env.update(extra)
    return env


def test_approvals_cli_lists_approves_and_denies_on_the_running_daemon(tmp_path):
    made, kept = tmp_path / "made", tmp_path / "kept"
    script = [
        call("shell", command=f"touch {made}"),
        "Needs approval.",
        call("shell", command=f"touch {kept}"),
        "Same.",
    ]
    with ScriptedModel(script) as model:
        settings = Settings(
            data_dir=tmp_path / "data", llm={"base_url": model.url, "max_retries": 0}, agent={"rag_k": 0}
        )
        with serve_daemon(build_daemon(settings)) as base:
            for question in ("create the first file", "create the second file"):
                r = httpx.post(
                    f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]}
                )
                assert r.status_code == 200, r.text
            env = cli_env(tmp_path / "data", int(base.rsplit(":", 1)[1]))

            listed = halops(env, "approvals", "list", "--json")
            assert listed.returncode == 0, listed.stderr
            pending = json.loads(listed.stdout)
            assert [p["arguments"]["command"] for p in pending] == [f"touch {made}", f"touch {kept}"]
            first, second = (p["id"] for p in pending)
            table = halops(env, "approvals", "list")
            assert "2 pending approval(s)" in table.stdout and "approve.file-change" in table.stdout

            approved = halops(env, "approvals", "approve", first, "--reason", "planned")
            assert approved.returncode == 0, approved.stderr
            assert f"{first}: approved" in approved.stdout and "exit status 0" in approved.stdout
            assert made.exists()
            denied = halops(env, "approvals", "deny", second, "--reason", "not now")
            assert denied.returncode == 0 and f"{second}: denied" in denied.stdout
            assert not kept.exists()

            again = halops(env, "approvals", "approve", first)  # runs once, never twice
            assert again.returncode == 1 and again.stderr.startswith("error: ") and "HTTP 404" in again.stderr
            assert "Traceback" not in again.stderr and not kept.exists()
            assert "no pending approvals" in halops(env, "approvals", "list").stdout


def test_approvals_cli_with_no_daemon_is_a_clear_error(tmp_path):
    port = free_port()
    out = halops(cli_env(tmp_path / "data", port), "approvals", "list")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"agent daemon not reachable at http://127.0.0.1:{port}" in out.stderr


def _populated(data: Path) -> None:
    """A data dir as a running install has it: a served version with its eval, a job, some data."""
    store = ModelStore(data / "models")
    store.ensure_default()
    report = EvalReport(model="v0", cases_file="cases.yaml")
    report.results = [CaseResult("a", "tools", 1.0, ""), CaseResult("b", "knowledge", 0.5, "")]
    report.save(data / "eval" / "reports" / "v0.json")
    jobs = JobStore(data / "trainer" / "jobs.sqlite")
    job = jobs.create("nightly", {})
    jobs.update(job.id, step=3, total=9, metrics={"loss": 1.25})
    jobs.finish(job.id, "failed", error="out of memory")
    (data / "data" / "final").mkdir(parents=True)
    (data / "data" / "final" / "train.jsonl").write_text("x" * 1000)


def test_status_without_systemd_nvidia_smi_or_daemon(tmp_path):
    data = tmp_path / "data"
    _populated(data)
    bare = tmp_path / "bin"  # a PATH with neither systemctl nor nvidia-smi
    bare.mkdir()
    env = cli_env(data, free_port(), PATH=str(bare))
    out = halops(env, "status", "--json")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["systemd"] == {"available": False, "reason": "systemctl not found", "units": []}
    assert s["gpu"] == {"available": False, "reason": "nvidia-smi not found"}
    assert [p["answering"] for p in s["ports"]] == [False, False]
    assert s["model"]["version"] == 0 and s["model"]["eval"]["overall"] == 0.75
    assert s["model"]["eval"]["by_category"] == {"knowledge": 0.5, "tools": 1.0}
    assert s["disk"]["data_stages"] == {"final": 1000} and s["disk"]["by_dir"]["data"] == 1000
    assert s["last_job"]["status"] == "failed" and s["last_job"]["error"] == "out of memory"
    assert s["approvals"] == {"available": True, "pending": []}

    tables = halops(env, "status")
    assert tables.returncode == 0, tables.stderr
    for text in (
        "systemctl not found",
        "nvidia-smi not found",
        "active model: v0",
        "0.750 on 2 cases",
        "out of memory",
    ):
        assert text in tables.stdout, (text, tables.stdout)


def test_status_reads_the_gpu_from_nvidia_smi(tmp_path):
    # nvidia-smi's own CSV, as `--query-gpu=name,memory.used,memory.total,utilization.gpu` prints it.
    bare = tmp_path / "bin"
    bare.mkdir()
    smi = bare / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA GeForce RTX 4060, 5120, 8188, 97'\n")
    smi.chmod(0o755)
    out = halops(cli_env(tmp_path / "data", free_port(), PATH=str(bare)), "status", "--json")
    gpu = json.loads(out.stdout)["gpu"]
    assert gpu == {
        "available": True,
        "gpus": [
            {
                "name": "NVIDIA GeForce RTX 4060",
                "memory_used_mib": 5120.0,
                "memory_total_mib": 8188.0,
                "utilization_pct": 97.0,
            }
        ],
    }


def test_api_status_is_the_cli_status(tmp_path):
    data = tmp_path / "data"
    _populated(data)
    with ScriptedModel(["hi"]) as model:
        settings = Settings(data_dir=data, llm={"base_url": model.url, "max_retries": 0}, agent={"rag_k": 0})
        with serve_daemon(build_daemon(settings)) as base:
            api = httpx.get(f"{base}/v1/halops/status").json()
            cli = json.loads(halops(cli_env(data, int(base.rsplit(":", 1)[1])), "status", "--json").stdout)
    assert api.keys() == cli.keys()
    for key in ("model", "last_job", "approvals", "systemd", "gpu"):
        assert api[key] == cli[key], key
    # (serve_daemon binds a port of its own, not agent.port: compare the model server's entry)
    assert [p["name"] for p in api["ports"]] == ["agent", "model server"]
    assert api["ports"][1] == cli["ports"][1]
    assert abs(api["time"] - time.time()) < 60


# `systemctl show -p Id,LoadState,ActiveState,SubState,UnitFileState,ActiveEnterTimestamp` with the
# four halops units, captured verbatim from systemd 252 (252.39-1~deb12u2) in the nspawn container
# of test_control_systemd.py, halops-llama.service started.
CAPTURED_SHOW = """\
Id=halops-llama.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=disabled
ActiveEnterTimestamp=Thu 2026-12-03 20:13:31 UTC

Id=halops-agent.service
LoadState=loaded
ActiveState=inactive
SubState=dead
UnitFileState=disabled
ActiveEnterTimestamp=

Id=halops-trainer.service
LoadState=loaded
ActiveState=inactive
SubState=dead
UnitFileState=static
ActiveEnterTimestamp=

Id=halops-trainer.timer
LoadState=loaded
ActiveState=inactive
SubState=dead
UnitFileState=disabled
ActiveEnterTimestamp=
"""


@pytest.mark.unit
def test_parse_show_reads_systemctl_blocks():
    blocks = parse_show(CAPTURED_SHOW)
    assert [b["Id"] for b in blocks] == [
        "halops-llama.service",
        "halops-agent.service",
        "halops-trainer.service",
        "halops-trainer.timer",
    ]
    assert blocks[0]["ActiveState"] == "active" and blocks[0]["ActiveEnterTimestamp"].startswith("Thu 2026")
    assert blocks[1]["ActiveEnterTimestamp"] == ""


@pytest.mark.unit
def test_the_job_process_gets_the_daemons_settings_and_no_secret_on_disk(tmp_path, monkeypatch):
    s = Settings(
        data_dir=tmp_path / "data",
        llm={"api_key": "sk-secret-value-123"},
        trainer={"work_dir": tmp_path / "w"},
    )
    path = tmp_path / "settings.toml"
    env = write_settings(s, path)
    assert "sk-secret-value-123" not in path.read_text() and path.stat().st_mode & 0o077 == 0
    assert env == {"HALOPS_LLM__API_KEY": "sk-secret-value-123"}
    # What the child process sees: the file, plus the environment the launcher gives it.
    for key, value in {**env, "HALOPS_DATA_DIR": str(s.data_dir)}.items():
        monkeypatch.setenv(key, value)
    back = load_settings(path)
    assert back.model_dump(mode="json") == s.model_dump(mode="json")
    assert back.llm.api_key is not None and back.llm.api_key.get_secret_value() == "sk-secret-value-123"
