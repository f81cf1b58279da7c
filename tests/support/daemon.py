"""Run the agent daemon's real HTTP server in a thread, on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from agent.cli.settings import Settings
from agent.daemon import Daemon
from agent.server.app import create_app
from tests.support.procs import free_port


@contextmanager
def serve_daemon(daemon: Daemon) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(daemon), host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        daemon.close()


def agent_settings(tmp_path, llm_url: str, **agent) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        llm={"base_url": llm_url, "max_retries": 0, "read_timeout_s": 10},
        agent={"rag_k": 0, **agent},
    )
