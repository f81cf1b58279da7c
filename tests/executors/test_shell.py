"""The local shell executor: real subprocesses, argv or bash -c, timeouts, a clean environment."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.executors.output import Streams
from agent.executors.shell import ShellExecutor, clean_env
from halops.calls import ToolCall
from safety.decision import Decision, Verdict
from tests.support.fleet import Fleet
from tests.support.procs import pid_alive


def shell(command: str) -> ToolCall:
    return ToolCall(tool="shell", arguments={"command": command})


def allow(command: str | None = None, argv: list[str] | None = None) -> Decision:
    return Decision(verdict=Verdict.ALLOW, rule="allow.test", reason="test", command=command, argv=argv)


@pytest.fixture
def sh(fleet: Fleet):
    with fleet.executors() as ex:
        yield ex


@pytest.mark.unit
def test_clean_env_drops_halops_credentials_and_secret_names() -> None:
    env = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "HALOPS_LLM__API_KEY": "x",
        "CREDENTIALS_DIRECTORY": "/run/credentials/halops.service",
        "BASH_ENV": "/tmp/evil",
        "BASH_FUNC_ls%%": "() { echo pwned; }",
        "GITHUB_TOKEN": "ghp_x",
        "DB_PASSWORD": "pw",
        "SSH_AUTH_SOCK": "/tmp/agent",
        "INNOCENT": "the-bmc-password",
    }
    out = clean_env(env, secrets=["the-bmc-password"])
    assert out == {"PATH": "/usr/bin", "HOME": "/root", "LANG": "C.UTF-8"}


@pytest.mark.integration
def test_argv_runs_without_a_shell(tmp_path: Path) -> None:
    ex = ShellExecutor(_settings())
    # With no shell, $HOME and the ; are plain characters handed to echo.
    o = ex.run(allow(argv=["echo", "$HOME;", "x"]), Streams(16384))
    assert o.result.status == "ok"
    assert o.result.stdout == "$HOME; x\n"


@pytest.mark.integration
def test_pipeline_runs_in_bash_without_startup_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = tmp_path / "bash_env"
    evil.write_text("echo SOURCED\n")
    monkeypatch.setenv("BASH_ENV", str(evil))
    monkeypatch.setenv("HALOPS_SECRET_THING", "s3cr3t")
    ex = ShellExecutor(_settings())
    o = ex.run(allow(command="printf 'b\\na\\n' | sort; env | grep -c HALOPS_ || true"), Streams(16384))
    assert o.result.status == "ok", o.result
    assert o.result.stdout == "a\nb\n0\n"


@pytest.mark.integration
def test_exit_codes_and_missing_program(sh) -> None:
    r = sh.execute(shell("false"), approved=True)
    assert r.status == "error" and r.exit_code == 1
    r = sh.execute(shell("ls /nonexistent-halops"), approved=True)
    assert r.status == "error" and r.exit_code == 2 and "No such file" in r.stderr
    o = ShellExecutor(_settings()).run(allow(argv=["halops-no-such-program"]), Streams(16384))
    assert o.result.status == "error" and o.result.exit_code == 127


@pytest.mark.integration
def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    ex = ShellExecutor(_settings())
    pidfile = tmp_path / "pid"
    t0 = time.monotonic()
    o = ex.run(allow(command=f"sleep 30 & echo $! > {pidfile}; wait"), Streams(16384), timeout=1.0)
    assert o.result.status == "timeout"
    assert time.monotonic() - t0 < 5
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _alive(child), "the background sleep survived the timeout"


@pytest.mark.integration
def test_background_child_holding_the_pipe_does_not_hang(tmp_path: Path) -> None:
    ex = ShellExecutor(_settings())
    t0 = time.monotonic()
    o = ex.run(allow(command="echo started; sleep 30 &"), Streams(16384), timeout=10)
    assert o.result.status == "ok"
    assert o.result.stdout == "started\n"
    assert "background processes" in o.result.stderr
    assert time.monotonic() - t0 < 4


@pytest.mark.integration
def test_big_output_is_capped(sh) -> None:
    r = sh.execute(shell("seq 1 300000"), approved=True)
    assert r.status == "ok" and r.truncated
    assert r.stdout.startswith("1\n2\n") and r.stdout.endswith("300000\n")


def _settings():
    from agent.executors.config import ExecutorSettings

    return ExecutorSettings()


_alive = pid_alive
