"""A throwaway deployment for tests: inventory, 0600 credentials, known_hosts, audit log, settings.

Used with the real servers (`sshd_server`, `bmc`, `http_server` fixtures in tests/conftest.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.cli.settings import Settings
from agent.executors.config import ExecutorSettings
from agent.executors.dispatch import Executors
from tests.support import httpserver, ipmi, sshd
from tests.support.sshd import keygen


@dataclass
class Fleet:
    """A throwaway deployment: write hosts, then build `Executors` on it."""

    root: Path
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def creds(self) -> Path:
        return self.root / "creds"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def inventory_path(self) -> Path:
        return self.root / "inventory.yaml"

    @property
    def audit_log(self) -> Path:
        return self.root / "logs" / "audit.jsonl"

    def credential(self, name: str, value: str | bytes, mode: int = 0o600) -> Path:
        self.creds.mkdir(mode=0o700, exist_ok=True)
        path = self.creds / name
        path.write_bytes(value.encode() if isinstance(value, str) else value)
        path.chmod(mode)
        return path

    def write_inventory(self) -> Path:
        self.inventory_path.write_text(yaml.safe_dump({"hosts": self.hosts}))
        return self.inventory_path

    def settings(self, **overrides: Any) -> Settings:
        ex = {
            "inventory": self.inventory_path,
            "credentials_dir": self.creds,
            "known_hosts": self.known_hosts,
            "audit_log": self.audit_log,
            **self.settings_overrides,
            **overrides,
        }
        return Settings(executors=ExecutorSettings(**ex))

    def executors(self, **kwargs: Any) -> Executors:
        self.write_inventory()
        kwargs.setdefault("env", {})  # never the developer's $CREDENTIALS_DIRECTORY
        overrides = kwargs.pop("settings", {})
        return Executors(self.settings(**overrides), **kwargs)

    def audit_records(self) -> list[dict[str, Any]]:
        if not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines()]


def add_ssh_host(
    fleet: Fleet, srv: sshd.Sshd, name: str = "box", *, trust: bool = True, key: Path | None = None
) -> None:
    key = key or srv.client_key
    cred = f"{name}_ssh"
    fleet.credential(cred, key.read_bytes())
    host = fleet.hosts.setdefault(name, {"address": "127.0.0.1"})
    host["ssh"] = {"user": srv.user, "port": srv.port, "key": cred}
    if trust:
        with fleet.known_hosts.open("a") as fh:
            fh.write(srv.known_hosts_line + "\n")


def add_bmc(fleet: Fleet, sim: ipmi.IpmiSim, name: str = "box", *, password: str | None = None) -> None:
    cred = f"{name}_bmc"
    fleet.credential(cred, (password if password is not None else sim.password) + "\n")
    host = fleet.hosts.setdefault(name, {"address": "127.0.0.1"})
    host["bmc"] = {"address": "127.0.0.1", "port": sim.port, "user": sim.user, "password": cred}


def add_http(fleet: Fleet, srv: httpserver.HttpServer, name: str = "box") -> None:
    host = fleet.hosts.setdefault(name, {"address": "127.0.0.1"})
    host["http"] = {"base_url": srv.url}


def other_key(tmp_path: Path) -> Path:
    """A key pair the sshd does not know."""
    return keygen(tmp_path / "stranger")
