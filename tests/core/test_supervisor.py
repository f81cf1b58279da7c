"""`halops up` and its supervisor: health, crash restarts with backoff, clean stop on signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from agent.config import SupervisorSettings
from agent.supervisor import ChildSpec, Supervisor
from halops.llm.client import LLMClient
from halops.llm.config import LlmSettings
from tests.support.procs import free_port, halops_argv, pid_alive, port_open, stop, wait_for

# A child that serves TCP on PORT, and exits with status 3 after LIFETIME seconds.
CHILD = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
time.sleep(float(sys.argv[2])); sys.exit(3)
"""


@pytest.mark.integration
def test_crashing_child_is_restarted_with_growing_backoff_then_stopped(tmp_path):
    port = free_port()
    lines: list[str] = []
    settings = SupervisorSettings(restart_backoff_s=0.2, restart_backoff_max_s=0.5, stop_timeout_s=2)
    spec = ChildSpec(
        name="flaky",
        argv=[sys.executable, "-c", CHILD, str(port), "0.6"],
        healthy=lambda: port_open(port),
        startup_timeout_s=10,
        log_path=tmp_path / "flaky.log",
    )
    sup = Supervisor([spec], settings, log=lines.append, poll_s=0.05)
    ready = threading.Event()
    runner = threading.Thread(target=sup.run, kwargs={"on_ready": ready.set, "install_signals": False})
    runner.start()
    try:
        assert ready.wait(10)
        assert wait_for(lambda: sup.children[0].restarts >= 3, 15)
    finally:
        sup.stopping.set()
        runner.join(10)
    delays = [float(m) for m in re.findall(r"restart #\d+ in ([\d.]+)s", "\n".join(lines))]
    assert delays[:3] == [0.2, 0.4, 0.5]  # doubles, capped at restart_backoff_max_s
    assert "exited with status 3" in "\n".join(lines)
    assert not runner.is_alive()
    assert sup.children[0].proc.poll() is not None


@pytest.mark.integration
def test_child_that_never_gets_healthy_is_killed_and_retried(tmp_path):
    lines: list[str] = []
    spec = ChildSpec(
        name="stuck",
        argv=[sys.executable, "-c", "import time; time.sleep(60)"],
        healthy=lambda: False,
        startup_timeout_s=0.5,
        log_path=tmp_path / "stuck.log",
    )
    sup = Supervisor([spec], SupervisorSettings(restart_backoff_s=5, stop_timeout_s=2), log=lines.append)
    sup._start(sup.children[0])
    first = sup.children[0].proc
    assert sup._wait_healthy(sup.children[0]) is False
    assert first.poll() is not None  # the stuck child was terminated
    assert any("not healthy after" in line for line in lines)
    assert sup.children[0].restart_at is not None


@pytest.mark.model
def test_halops_up_serves_restarts_a_killed_server_and_stops_cleanly(tmp_path):
    port, agent_port = free_port(), free_port()
    env = dict(
        os.environ,
        HALOPS_SERVER__PORT=str(port),
        HALOPS_AGENT__PORT=str(agent_port),
        HALOPS_SUPERVISOR__RESTART_BACKOFF_S="0.5",
    )
    proc = subprocess.Popen(
        halops_argv("up"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    text = lambda: "".join(output)  # noqa: E731
    try:
        # The ready banner is several lines: wait for its last one, not its first.
        assert wait_for(lambda: "Ctrl-C stops everything" in text(), 120), text()
        assert "halops is up" in text()
        assert "curl -s" in text() and f"127.0.0.1:{agent_port}/v1" in text()
        assert "agent: ready" in text()
        llm = LlmSettings(base_url=f"http://127.0.0.1:{port}/v1", max_tokens=8)
        with LLMClient(llm) as client:
            assert client.chat([{"role": "user", "content": "Hi"}]).content

        child_pid = int(re.search(r"model server: started \(pid (\d+)", text()).group(1))
        os.kill(child_pid, signal.SIGKILL)
        assert wait_for(lambda: "restart #1" in text(), 10), text()
        assert wait_for(lambda: text().count("model server: ready") >= 2, 60), text()
        with LLMClient(llm) as client:
            assert client.chat([{"role": "user", "content": "Hi again"}]).content
        new_pid = int(re.findall(r"model server: started \(pid (\d+)", text())[-1])

        agent_pid = int(re.search(r"agent: started \(pid (\d+)", text()).group(1))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert "model server: stopped" in text() and "agent: stopped" in text()
        assert text().index("agent: stopped") < text().index("model server: stopped")  # reverse order
        assert not pid_alive(agent_pid)
        assert wait_for(lambda: not pid_alive(new_pid), 5)
        assert not port_open(port)
    finally:
        stop(proc)


@pytest.mark.integration
def test_children_die_with_a_killed_supervisor(tmp_path):
    # A SIGKILLed supervisor cannot clean up; PR_SET_PDEATHSIG must take its children down.
    script = (
        "import sys\n"
        "from agent.config import SupervisorSettings\n"
        "from agent.supervisor import ChildSpec, Supervisor\n"
        f"spec = ChildSpec('sleeper', [sys.executable, '-c', 'import time; time.sleep(120)'],"
        f" lambda: True, 5, __import__('pathlib').Path({str(tmp_path / 'c.log')!r}))\n"
        "Supervisor([spec], SupervisorSettings(), log=lambda m: print(m, flush=True)).run()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    child_pid = int(re.search(r"pid (\d+)", line).group(1))
    assert pid_alive(child_pid)
    proc.kill()
    proc.wait()
    assert wait_for(lambda: not pid_alive(child_pid), 5)


@pytest.mark.integration
def test_reload_restarts_only_the_reloadable_child_and_counts_no_crash(tmp_path):
    ports = [free_port(), free_port()]
    specs = [
        ChildSpec(
            name=name,
            argv=[sys.executable, "-c", CHILD, str(port), "600"],
            healthy=lambda port=port: port_open(port),
            startup_timeout_s=10,
            log_path=tmp_path / f"{name}.log",
            reload_on_hup=name == "model",
        )
        for name, port in zip(("model", "agent"), ports, strict=True)
    ]
    lines: list[str] = []
    sup = Supervisor(specs, SupervisorSettings(stop_timeout_s=2), log=lines.append, poll_s=0.05)
    ready = threading.Event()
    runner = threading.Thread(target=sup.run, kwargs={"on_ready": ready.set, "install_signals": False})
    runner.start()
    try:
        assert ready.wait(15)
        before = [c.proc.pid for c in sup.children]
        sup.reloading.set()  # what the SIGHUP handler does
        assert wait_for(lambda: sup.children[0].proc.pid != before[0] and sup.children[0].ready, 15)
        assert sup.children[1].proc.pid == before[1], "the agent is left alone"
        assert [c.restarts for c in sup.children] == [0, 0] and "model: reloading (SIGHUP)" in lines
    finally:
        sup.stopping.set()
        runner.join(10)


@pytest.mark.unit
def test_pid_file_and_reload_signal(tmp_path):
    from agent.supervisor import pid_file, signal_reload

    path = tmp_path / "run" / "up.pid"
    assert signal_reload(path) is None  # nothing running: nothing to signal
    got: list[int] = []
    previous = signal.signal(signal.SIGHUP, lambda signum, _frame: got.append(signum))
    try:
        with pid_file(path):
            assert path.read_text().strip() == str(os.getpid())
            assert signal_reload(path) == os.getpid()
            assert wait_for(lambda: got == [signal.SIGHUP], 5)
        assert not path.exists(), "removed when the supervisor ends"
    finally:
        signal.signal(signal.SIGHUP, previous)
    path.write_text("999999999\n")  # a stale pid from a supervisor that was SIGKILLed
    assert signal_reload(path) is None
