"""`halops agent serve` as a real process: sd_notify READY/WATCHDOG/STOPPING, SIGTERM drain."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time

import httpx
import pytest

from agent.transcripts.store import TranscriptStore
from tests.support.procs import free_port, halops_argv, stop, wait_for
from tests.support.scripted_llm import ScriptedModel

pytestmark = pytest.mark.integration


class NotifySocket:
    """Plays systemd's side of the notify protocol."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def seen(self, needle: str) -> int:
        return sum(needle in m for m in self.messages)

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


def start_agent(tmp_path, llm_port, port, **env_extra):
    env = dict(os.environ)
    env.update(
        HALOPS_DATA_DIR=str(tmp_path / "data"),
        HALOPS_AGENT__PORT=str(port),
        HALOPS_AGENT__RAG_K="0",
        HALOPS_LLM__BASE_URL=f"http://127.0.0.1:{llm_port}/v1",
        HALOPS_LLM__MAX_RETRIES="0",
        **env_extra,
    )
    log = (tmp_path / "agent.log").open("wb")
    return subprocess.Popen(halops_argv("agent", "serve"), stdout=log, stderr=subprocess.STDOUT, env=env)


def test_ready_only_once_the_model_answers_then_watchdog_then_stopping(tmp_path):
    llm_port, port = free_port(), free_port()
    notify = NotifySocket(tmp_path / "notify.sock")
    proc = start_agent(tmp_path, llm_port, port, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
    try:
        assert wait_for(lambda: notify.seen("STATUS=waiting for the model server"), 30)
        assert notify.seen("READY=1") == 0  # HTTP is up, the model is not: not ready yet
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 503
        with ScriptedModel(["hello"], port=llm_port):
            assert wait_for(lambda: notify.seen("READY=1") == 1, 15)
            assert wait_for(lambda: notify.seen("WATCHDOG=1") >= 2, 10)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        assert notify.seen("STOPPING=1") == 1
    finally:
        stop(proc)
        notify.close()


def test_sigterm_drains_in_flight_requests_and_loses_no_transcript(tmp_path):
    llm_port, port = free_port(), free_port()
    with ScriptedModel(["The answer, slowly."], delay_s=3, port=llm_port):
        proc = start_agent(tmp_path, llm_port, port)
        try:
            assert wait_for(lambda: _up(port), 30)
            result = {}

            def ask():
                body = {"messages": [{"role": "user", "content": "take your time"}]}
                result["r"] = httpx.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=30
                )

            asker = threading.Thread(target=ask)
            asker.start()
            time.sleep(1)  # the request is now waiting on the model
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            asker.join(30)
            assert result["r"].status_code == 200
            assert result["r"].json()["choices"][0]["message"]["content"] == "The answer, slowly."
            assert proc.wait(30) == 0 and time.monotonic() - started < 30
            # New connections are refused once draining began.
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{port}/v1/models")
        finally:
            stop(proc)
    store = TranscriptStore(tmp_path / "data" / "transcripts.sqlite", scrub=str)
    (turn,) = store.iter_turns()
    assert turn["status"] == "ok" and turn["answer"] == "The answer, slowly."


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
