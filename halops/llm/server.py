"""Running the model server: llama-cpp-python's embedded server, or llama.cpp's `llama-server`.

The embedded server runs through `agent.model_server` (EMBEDDED_MODULE), which puts
llama-cpp-python's app behind the Host/Origin guard; an external `llama-server` has no such check
and must stay on loopback.

`halops llm serve` builds the command line here and exec()s it, so the server *is* the process that
systemd or `halops up` supervises: signals reach it directly and its exit status is the real one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from halops.llm.config import ServerSettings

# The embedded server's entry module (llama-cpp-python's app behind the Host/Origin guard). It
# lives in agent/, since it needs safety/; the foundation names it only on the command line.
EMBEDDED_MODULE = "agent.model_server"
# Repeatable option of EMBEDDED_MODULE: a Host name to answer besides loopback and localhost.
ALLOWED_HOST_OPTION = "--halops_allowed_host"


def embedded_argv(settings: ServerSettings, model: Path, *, alias: str) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        EMBEDDED_MODULE,
        "--model",
        str(model),
        "--model_alias",
        alias,
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--n_ctx",
        str(settings.n_ctx),
        "--n_gpu_layers",
        str(settings.n_gpu_layers),
    ]
    if settings.n_threads is not None:
        argv += ["--n_threads", str(settings.n_threads)]
    extra = [settings.host] if settings.host not in ("", "0.0.0.0", "::", "127.0.0.1", "localhost") else []
    for name in [*settings.allowed_hosts, *extra]:  # the bind address itself is no rebinding risk
        argv += [ALLOWED_HOST_OPTION, name]
    return argv


def llama_server_argv(settings: ServerSettings, model: Path, *, alias: str) -> list[str]:
    assert settings.llama_server_binary is not None
    argv = [
        str(settings.llama_server_binary),
        "--model",
        str(model),
        "--alias",
        alias,
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--ctx-size",
        str(settings.n_ctx),
        "--n-gpu-layers",
        str(settings.n_gpu_layers),
        # Use the chat template stored in the GGUF, as the embedded server does.
        "--jinja",
    ]
    if settings.n_threads is not None:
        argv += ["--threads", str(settings.n_threads)]
    return argv


def server_argv(settings: ServerSettings, model: Path, *, alias: str) -> list[str]:
    if settings.llama_server_binary is not None:
        return llama_server_argv(settings, model, alias=alias)
    return embedded_argv(settings, model, alias=alias)


def exec_server(argv: list[str]) -> None:
    """Replace this process with the server. Does not return."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
