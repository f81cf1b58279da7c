"""A model server of our own for the length of one eval: the candidate, or the deployed model.

The gate must score a GGUF before it is deployed, so it cannot use the service's server. The same
command line as `halops llm serve` is started on a free loopback port and stopped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from eval.errors import EvalError
from halops.llm.client import probe
from halops.llm.server import server_argv
from halops.settings import RootSettings as Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(settings: Settings, gguf: Path) -> Iterator[Settings]:
    """Serve `gguf` until the block ends; yields settings whose `llm` points at it."""
    if not gguf.is_file():
        raise EvalError(f"model file not found: {gguf}")
    port = _free_port()
    server = settings.server.model_copy(update={"host": "127.0.0.1", "port": port})
    argv = server_argv(server, gguf, alias=settings.llm.model)
    llm = settings.llm.model_copy(update={"base_url": f"http://127.0.0.1:{port}/v1", "api_key": None})
    with tempfile.TemporaryDirectory(prefix="halops-eval-") as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + server.startup_timeout_s
            while not probe(llm, timeout_s=1.0):
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = f"exited with {proc.returncode}" if proc.poll() is not None else "did not answer"
                    tail = log.read_text(errors="replace")[-2000:]
                    raise EvalError(f"model server for {gguf} {why}:\n{tail}")
                time.sleep(0.2)
            yield settings.model_copy(update={"llm": llm, "server": server})
        finally:
            _stop(proc, settings.supervisor.stop_timeout_s)


def _stop(proc: subprocess.Popen, timeout_s: float) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
