"""Checks of a loaded configuration that a schema cannot express (files, permissions, binaries)."""

from __future__ import annotations

import os
from pathlib import Path

from agent.config import ServiceSettings


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_settings(settings: ServiceSettings) -> list[tuple[str, str]]:
    """Every problem found, each as (dotted key, message). Empty when all is well."""
    problems: list[tuple[str, str]] = []
    data_dir = settings.data_dir
    if data_dir.exists() and not data_dir.is_dir():
        problems.append(("data_dir", f"{data_dir} exists and is not a directory"))
    elif not os.access(_nearest_existing(data_dir), os.W_OK):
        problems.append(("data_dir", f"{data_dir} is not writable (nor creatable) by this user"))

    server = settings.server
    if server.model_path is not None and not server.model_path.is_file():
        problems.append(("server.model_path", f"{server.model_path} is not a file"))
    binary = server.llama_server_binary
    if binary is not None and not (binary.is_file() and os.access(binary, os.X_OK)):
        problems.append(("server.llama_server_binary", f"{binary} is not an executable file"))
    agent = settings.agent
    if agent.host in {"0.0.0.0", "::"} and not agent.allowed_hosts:
        problems.append(
            (
                "agent.allowed_hosts",
                f"agent.host is {agent.host} but no allowed_hosts: clients off this host get 403 (Host "
                "check); add the names or addresses they use",
            )
        )
    if server.host not in {"127.0.0.1", "::1", "localhost"}:
        problems.append(
            ("server.host", f"{server.host} is not loopback: the model server has no authentication")
        )
    return problems
