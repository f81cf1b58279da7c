"""Session-wide fixtures: an isolated data dir, and the real model server on the bundled model."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from halops.llm.client import probe
from halops.llm.config import LlmSettings
from tests.support import httpserver, ipmi, sshd
from tests.support.fleet import Fleet
from tests.support.procs import free_port, halops_argv, stop, wait_for

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the operator's /etc/halops or ~/.config, nor writes to /var/lib/halops."""
    for key in list(os.environ):
        if key.startswith("HALOPS_"):
            monkeypatch.delenv(key)
    empty = tmp_path_factory.getbasetemp() / "empty-halops.toml"
    empty.touch()
    monkeypatch.setenv("HALOPS_CONFIG", str(empty))
    monkeypatch.setenv("HALOPS_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "xdg-config"))


@dataclass
class ModelServer:
    url: str
    port: int
    proc: subprocess.Popen
    log: Path

    def llm_settings(self, **overrides: object) -> LlmSettings:
        return LlmSettings(base_url=self.url, **overrides)


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    """The real llama-cpp-python server on the bundled SmolLM2, started once per test session."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp("model-data")
    log = data_dir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALOPS_")}
    (data_dir / "halops.toml").touch()
    env.update(HALOPS_DATA_DIR=str(data_dir), HALOPS_CONFIG=str(data_dir / "halops.toml"))
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            halops_argv("llm", "serve", "--port", str(port)), stdout=fh, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{port}/v1"
    server = ModelServer(url=url, port=port, proc=proc, log=log)
    ok = wait_for(lambda: proc.poll() is not None or probe(server.llm_settings()), 120, 0.2)
    if not ok or proc.poll() is not None:
        stop(proc)
        pytest.fail(f"model server did not start:\n{log.read_text()[-3000:]}")
    yield server
    stop(proc)


# Real servers for the executor and agent tests, started once per session.


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd.Sshd]:
    if not sshd.available():
        pytest.skip("openssh-server (/usr/sbin/sshd) or unshare not installed")
    # An empty home for the remote shell: tests must not depend on (or wait for) this box's
    # ~/.bashrc, which bash reads for every command sshd starts.
    with sshd.run_sshd(tmp_path_factory.mktemp("sshd"), empty_home=True) as srv:
        yield srv


@pytest.fixture(scope="session")
def bmc() -> Iterator[ipmi.IpmiSim]:
    if not ipmi.available():
        pytest.skip("openipmi (ipmi_sim, sdrcomp) not installed")
    with ipmi.run_ipmi_sim() as sim:
        yield sim


@pytest.fixture(scope="session")
def http_server() -> Iterator[httpserver.HttpServer]:
    with httpserver.run_http_server() as srv:
        yield srv


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    f = Fleet(tmp_path)
    f.creds.mkdir(mode=0o700)
    f.known_hosts.write_text("")
    return f
