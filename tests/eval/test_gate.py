"""The deploy gate end to end, with `llama-server` replaced by a server whose model file scripts it.

Real processes and ports throughout (the gate starts and stops a server per model it scores); only
the model is scripted, so which candidate wins is decided by the test, not by sampling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.settings import Settings
from eval.config import EvalSettings
from eval.errors import EvalError
from eval.gate import REJECTED_FILE, deploy, report_path
from halops.llm.config import ServerSettings
from halops.llm.models import ModelStore
from tests.eval.helpers import CASES, fake_halops_up
from tests.support.procs import halops_argv
from tests.support.scripted_llm import call

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "replies": {
        "disk": call("ssh", host="web1", command="df -h"),
        "BMC": "A baseboard management controller.",
    },
}
TOOLS_ONLY = {"replies": {"disk": call("ssh", host="web1", command="df -h")}, "default": "No idea."}
PROSE_ONLY = {"replies": {"BMC": "A baseboard management controller."}, "default": "Run df on web1."}


@pytest.fixture
def env(tmp_path: Path) -> dict:
    stub = tmp_path / "llama-server"
    stub.write_text(
        f'#!/bin/sh\ncd "{REPO}" && exec "{sys.executable}" -m tests.support.fake_llama_server "$@"\n'
    )
    stub.chmod(0o755)
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES)
    data = Path(os.environ["HALOPS_DATA_DIR"])
    config = tmp_path / "halops.toml"
    config.write_text(
        f'[server]\nllama_server_binary = "{stub}"\nstartup_timeout_s = 30\n[eval]\ncases = "{cases}"\n'
    )
    return {
        "tmp": tmp_path,
        "data": data,
        "config": config,
        "cases": cases,
        "starts": tmp_path / "starts.log",
    }


def model(env: dict, name: str, spec: dict) -> Path:
    path = env["tmp"] / f"{name}.gguf"
    path.write_text(json.dumps({**spec, "starts": str(env["starts"])}))
    return path


def settings(env: dict) -> Settings:
    return Settings(
        data_dir=env["data"],
        server=ServerSettings(llama_server_binary=env["tmp"] / "llama-server", startup_timeout_s=30),
        eval=EvalSettings(cases=env["cases"]),
    )


def deployed_first(env: dict, spec: dict) -> ModelStore:
    store = ModelStore(settings(env).models_dir)
    store.add_version(model(env, "v0", spec), 0)
    store.activate(0)
    return store


def starts(env: dict) -> int:
    return len(env["starts"].read_text().splitlines()) if env["starts"].exists() else 0


def test_a_better_candidate_is_deployed(env: dict) -> None:
    store = deployed_first(env, PROSE_ONLY)
    result = deploy(settings(env), model(env, "cand", GOOD))
    assert result.deployed and result.version == 1 and store.active_version() == 1
    assert result.baseline.overall == 0.5 and result.candidate.overall == 1.0
    assert report_path(settings(env), 0).is_file() and report_path(settings(env), 1).is_file()
    assert (env["tmp"] / "cand.gguf").is_file(), "the job's GGUF is copied in, not taken away"
    assert starts(env) == 2 and not (store.version_path(1).parent / REJECTED_FILE).exists()


def test_a_regression_is_refused_and_force_overrides_it(env: dict) -> None:
    store = deployed_first(env, GOOD)
    run_env = {**os.environ, "HALOPS_CONFIG": str(env["config"])}
    refused = subprocess.run(
        halops_argv("deploy", str(model(env, "worse", TOOLS_ONLY))),
        capture_output=True,
        text=True,
        env=run_env,
    )
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "not deployed" in refused.stdout and "category knowledge" in refused.stdout
    assert store.active_version() == 0, "the deployed model keeps serving"
    reasons = json.loads((store.version_path(1).parent / REJECTED_FILE).read_text())
    assert reasons["against"] == 0 and reasons["reasons"]

    forced = subprocess.run(
        halops_argv("deploy", "--force", str(model(env, "worse", TOOLS_ONLY))),
        capture_output=True,
        text=True,
        env=run_env,
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert store.active_version() == 2 and "deployed v2" in forced.stdout


def test_the_deployed_models_report_is_reused_until_the_cases_change(env: dict) -> None:
    deployed_first(env, PROSE_ONLY)
    deploy(settings(env), model(env, "c1", GOOD))
    assert starts(env) == 2
    deploy(settings(env), model(env, "c2", GOOD))  # baseline v1 was scored when it was a candidate
    assert starts(env) == 3
    env["cases"].write_text(CASES.replace("What is a BMC?", "What does BMC stand for?"))
    deploy(settings(env), model(env, "c3", GOOD))  # other cases: the baseline is scored again
    assert starts(env) == 5


def test_a_candidate_that_cannot_be_served_is_a_clear_error_and_nothing_changes(env: dict) -> None:
    store = deployed_first(env, GOOD)
    with pytest.raises(EvalError) as exc:
        deploy(settings(env), model(env, "broken", {"crash": True}))
    assert "exited with 1" in str(exc.value) and "failed to load model" in str(exc.value)
    assert store.active_version() == 0
    with pytest.raises(EvalError, match="model file not found"):
        deploy(settings(env), env["tmp"] / "missing.gguf")
    assert store.versions() == [0, 1], "only the unservable candidate was registered"


def test_a_deploy_asks_a_running_halops_up_to_reload(env: dict) -> None:

    deployed_first(env, PROSE_ONLY)
    with fake_halops_up(env["data"], env["tmp"] / "hup") as up:
        run_env = {**os.environ, "HALOPS_CONFIG": str(env["config"])}
        out = subprocess.run(
            halops_argv("deploy", str(model(env, "cand", GOOD))), capture_output=True, text=True, env=run_env
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"asked `halops up` (pid {up.pid})" in out.stdout
        assert up.wait(10) == 0 and (env["tmp"] / "hup").read_text() == "hup"
