"""The fleet inventory (`inventory.yaml`): hosts, how to reach them, and credential *names*.

Credentials never appear inline: `ssh.key` and `bmc.password` name files that the executors read
from `$CREDENTIALS_DIRECTORY` or `executors.credentials_dir`.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from halops.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SshEndpoint(_Model):
    user: str = Field("root", description="Login user.")
    port: int = Field(22, ge=1, le=65535)
    key: str = Field(description="Name of the credential file holding the private key.")


class BmcEndpoint(_Model):
    address: str = Field(description="BMC address (IP or DNS name).")
    port: int = Field(623, ge=1, le=65535)
    user: str = Field(description="BMC user name.")
    password: str = Field(description="Name of the credential file holding the BMC password.")


class HttpEndpoint(_Model):
    base_url: str = Field(description="Base URL of the host's HTTP service, e.g. http://web1:8080.")


class Host(_Model):
    address: str = Field(description="IP address or DNS name of the host.")
    groups: list[str] = Field(default_factory=list)
    ssh: SshEndpoint | None = None
    bmc: BmcEndpoint | None = None
    http: HttpEndpoint | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        v = v.strip()
        if not v or any(c.isspace() for c in v) or "/" in v or "@" in v:
            raise ValueError("must be an IP address or a DNS name")
        return v


class Inventory(_Model):
    hosts: dict[str, Host] = Field(default_factory=dict)

    def get(self, name: str) -> Host | None:
        return self.hosts.get(name)

    def find_by_address(self, address: str) -> tuple[str, Host] | None:
        """The inventory host whose name, address, BMC address or base URL host is `address`."""
        target = _norm(address)
        for name, host in self.hosts.items():
            if target in {_norm(name), _norm(host.address)}:
                return name, host
            if host.bmc and _norm(host.bmc.address) == target:
                return name, host
        return None


def _norm(addr: str) -> str:
    addr = addr.strip().strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr


def load_inventory(path: Path) -> Inventory:
    """Parse and validate an inventory file; `ConfigError` lists every problem with its key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"inventory not found: {path}", [("(file)", f"{path} does not exist")]) from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"inventory {path} is not readable YAML", [("(file)", str(exc))]) from exc
    try:
        return Inventory.model_validate(raw)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(f"{len(problems)} problem(s) in inventory {path}", problems) from exc
