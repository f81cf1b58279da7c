"""Settings of the tool executors (section `[executors]`).

Paths left empty resolve under `Settings.data_dir` through `resolve_paths()`, so one data dir moves
a whole deployment; nothing here is read at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class ExecutorSettings(BaseModel):
    """Tool executors: where the inventory, credentials and host keys are, limits and timeouts."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    inventory: Path | None = Field(
        None, description="Fleet inventory YAML. Empty: <data_dir>/inventory.yaml."
    )
    credentials_dir: Path | None = Field(
        None,
        description="Directory of credential files (SSH keys, BMC passwords), each 0600, named by "
        "the inventory. systemd's $CREDENTIALS_DIRECTORY (LoadCredential=) wins when set. "
        "Empty: <data_dir>/credentials.",
    )
    known_hosts: Path | None = Field(
        None,
        description="OpenSSH known_hosts file with the trusted SSH host keys (strict checking; "
        "`halops inventory trust HOST` adds to it). Empty: <data_dir>/known_hosts.",
    )
    output_cap_bytes: int = Field(
        16384,
        ge=1024,
        description="Bytes kept per output stream (stdout, stderr); beyond it the head and tail are "
        "kept around a truncation marker.",
    )
    shell_timeout_s: float = Field(60.0, gt=0, description="Wall-clock limit of a local shell command.")
    ssh_connect_timeout_s: float = Field(
        10.0, gt=0, description="Seconds for TCP connect, SSH banner, key exchange and authentication."
    )
    ssh_command_timeout_s: float = Field(
        60.0, gt=0, description="Wall-clock limit of one remote command over SSH."
    )
    ssh_keepalive_s: float = Field(
        30.0, ge=0, description="SSH keepalive interval on reused connections; 0 disables it."
    )
    ipmi_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Wall-clock limit of one IPMI action (login included). A BMC's first sensor "
        "read fetches its SDR and can take several seconds.",
    )
    ipmi_auth_cooldown_s: float = Field(
        300.0,
        ge=0,
        description="After a BMC rejects the login, no further login to it is attempted for this "
        "long (unless its password file changes): BMCs lock accounts after repeated failures.",
    )
    http_timeout_s: float = Field(
        15.0, gt=0, description="Connect/read timeout and wall-clock limit of one HTTP call (all redirects)."
    )
    http_max_body_bytes: int = Field(
        1048576,
        ge=1024,
        description="Bytes of an HTTP response body read at most; the rest is not downloaded.",
    )
    http_max_redirects: int = Field(
        5, ge=0, le=20, description="Redirects followed, each only to an inventory host."
    )
    audit_log: Path | None = Field(
        None, description="Audit log (JSON lines). Empty: <data_dir>/logs/audit.jsonl."
    )
    audit_max_bytes: int = Field(
        10485760, ge=4096, description="Size at which the audit log is rotated to audit.jsonl.1."
    )
    audit_backups: int = Field(5, ge=1, le=100, description="Rotated audit logs kept.")


@dataclass(frozen=True)
class ExecutorPaths:
    """The executors' files with every default resolved against the data dir."""

    inventory: Path
    credentials_dir: Path
    known_hosts: Path
    audit_log: Path


class _Tree(Protocol):
    """What `resolve_paths` reads of the settings tree (agent.config composes this section into
    it, so this module names the shape instead of importing the tree)."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def logs_dir(self) -> Path: ...

    @property
    def executors(self) -> ExecutorSettings: ...


def resolve_paths(settings: _Tree) -> ExecutorPaths:
    ex = settings.executors
    return ExecutorPaths(
        inventory=ex.inventory or settings.data_dir / "inventory.yaml",
        credentials_dir=ex.credentials_dir or settings.data_dir / "credentials",
        known_hosts=ex.known_hosts or settings.data_dir / "known_hosts",
        audit_log=ex.audit_log or settings.logs_dir / "audit.jsonl",
    )
