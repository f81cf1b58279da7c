"""Running the daemon's HTTP server: uvicorn, a graceful drain on SIGTERM, systemd notifications."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

import httpx
import uvicorn

from agent.daemon import Daemon
from agent.ports import url_host
from agent.server.app import create_app
from agent.server.notify import notify, watchdog_interval_s

log = logging.getLogger("halops.agent")


def _self_check(url: str) -> bool:
    """The event loop answers a trivial request: what the watchdog should vouch for."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _supervise_notifications(
    server: uvicorn.Server, daemon: Daemon, base: str, say: Callable[[str], None]
) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    # READY=1 only once clients can be served: our HTTP up *and* the model answering.
    while not server.should_exit and not daemon.model_ready():
        notify("STATUS=waiting for the model server")
        time.sleep(1)
    if server.should_exit:
        return
    notify("READY=1\nSTATUS=serving")
    say(f"agent ready at {base}/v1 (model server {daemon.settings.llm.base_url})")
    interval = watchdog_interval_s()
    while interval and not server.should_exit:
        if _self_check(f"{base}/v1/models"):
            notify("WATCHDOG=1")
        time.sleep(interval)


def run(daemon: Daemon, say: Callable[[str], None] = print) -> int:
    settings = daemon.settings.agent
    app = create_app(daemon)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # SIGTERM: stop accepting, let in-flight requests finish for up to this long.
        timeout_graceful_shutdown=int(settings.drain_timeout_s),
        # Up to 64 requests at once; each holds a worker thread for its whole tool loop.
        limit_concurrency=64,
    )
    server = uvicorn.Server(config)
    # The watchdog's self-check goes through loopback: a wildcard is not a Host the guard accepts.
    base = f"http://{url_host(settings.host)}:{settings.port}"
    watcher = threading.Thread(
        target=_supervise_notifications, args=(server, daemon, base, say), daemon=True, name="halops-notify"
    )
    watcher.start()
    # uvicorn re-raises the signal that stopped it once it has drained, restoring the handlers it
    # found first. Finding no-ops there, a drained daemon exits 0 instead of dying "by SIGTERM".
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run()
    finally:
        notify("STOPPING=1")
        daemon.close()
    return 0 if server.started else 1
