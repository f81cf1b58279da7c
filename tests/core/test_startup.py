"""Honest startup: a port in use or a second `halops up` is refused before anything starts, and a
child is ready only when the listening socket is its own (never whoever else answers the port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.config import SupervisorSettings
from agent.ports import PortInUseError, ensure_free, listens
from agent.supervisor import AlreadyRunningError, ChildSpec, Supervisor, exclusive
from tests.support.procs import free_port, halops_argv, port_open, stop, wait_for

pytestmark = pytest.mark.integration

LISTENER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
print("listening", flush=True); time.sleep(60)
"""


@contextmanager
def listening(port: int) -> Iterator[socket.socket]:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(4)
        yield s


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(halops_argv(*args), capture_output=True, text=True, timeout=120, env=env)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_ensure_free_and_listens() -> None:
    port = free_port()
    ensure_free("127.0.0.1", port, "x")
    with listening(port):
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            ensure_free("127.0.0.1", port, "x")
        assert listens(os.getpid(), port) is True
    child = subprocess.Popen([sys.executable, "-c", LISTENER, str(port)], stdout=subprocess.PIPE, text=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert child.stdout.readline().strip() == "listening"
        assert listens(child.pid, port) is True
        assert listens(os.getpid(), port) is True  # its parent: the socket is a descendant's
        assert listens(other.pid, port) is False  # the port is open, but not this process's
    finally:
        stop(child)
        stop(other)


@pytest.mark.parametrize(
    "command", [("llm", "serve"), ("agent", "serve"), ("up",)], ids=["llm-serve", "agent-serve", "up"]
)
def test_port_in_use_is_one_line_and_exit_1(command: tuple[str, ...], tmp_path: Path) -> None:
    port, other = free_port(), free_port()
    env = dict(os.environ, HALOPS_SERVER__PORT=str(port), HALOPS_AGENT__PORT=str(port))
    if command == ("up",):
        env["HALOPS_SERVER__PORT"] = str(other)  # the model server's port is free: the agent's is not
    with listening(port):
        proc = run(*command, env=env)
    line = one_line_error(proc)
    assert f"port {port} on 127.0.0.1 is already in use" in line
    data_dir = Path(env["HALOPS_DATA_DIR"])
    assert not (data_dir / "logs").exists()  # nothing was started


def test_second_up_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = Path(os.environ["HALOPS_DATA_DIR"])
    lock = data_dir / "run" / "up.lock"
    with exclusive(lock, "halops up"):  # as a running `halops up` holds it
        with pytest.raises(AlreadyRunningError, match=f"pid {os.getpid()}"):
            with exclusive(lock, "halops up"):
                pass  # pragma: no cover
        proc = run("up")
    line = one_line_error(proc)
    assert "halops up on" in line and "already running" in line and f"pid {os.getpid()}" in line
    assert not (data_dir / "logs").exists()
    with exclusive(lock, "halops up"):  # released with its holder: a new start is fine
        pass


def test_a_child_is_not_ready_while_someone_else_answers_its_port(tmp_path: Path) -> None:
    port = free_port()
    lines: list[str] = []
    # The child never binds; a stranger holds the port, so a plain health check would pass.
    spec = ChildSpec(
        name="model server",
        argv=[sys.executable, "-c", "import time; time.sleep(30)"],
        healthy=lambda: port_open(port),
        startup_timeout_s=1.5,
        log_path=tmp_path / "child.log",
        port=port,
    )
    sup = Supervisor(
        [spec], SupervisorSettings(stop_timeout_s=2, restart_backoff_s=30), log=lines.append, poll_s=0.05
    )
    ready = threading.Event()
    with listening(port):
        runner = threading.Thread(target=sup.run, kwargs={"on_ready": ready.set, "install_signals": False})
        runner.start()
        try:
            assert wait_for(lambda: any("not healthy after" in ln for ln in lines), 30), lines
            assert not ready.is_set()
            assert not any(ln.endswith(": ready") for ln in lines), lines
        finally:
            sup.stopping.set()
            runner.join(30)


def test_a_child_that_binds_its_port_is_ready(tmp_path: Path) -> None:
    port = free_port()
    lines: list[str] = []
    spec = ChildSpec(
        name="server",
        argv=[sys.executable, "-c", LISTENER, str(port)],
        healthy=lambda: port_open(port),
        startup_timeout_s=30,
        log_path=tmp_path / "child.log",
        port=port,
    )
    sup = Supervisor([spec], SupervisorSettings(stop_timeout_s=2), log=lines.append, poll_s=0.05)
    ready = threading.Event()
    runner = threading.Thread(target=sup.run, kwargs={"on_ready": ready.set, "install_signals": False})
    runner.start()
    try:
        assert ready.wait(30), lines
    finally:
        sup.stopping.set()
        runner.join(30)
