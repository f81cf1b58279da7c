"""`halops inventory check`: everything that would make a call to an inventory host fail, at once.

Schema problems come from `safety.inventory.load_inventory`; on top of that: host names that
YAML silently collapsed (a duplicated key keeps only the last entry), addresses that are neither
IP addresses nor DNS names, credential files missing, unreadable, too open or not a usable key,
SSH hosts without a trusted host key, HTTP base URLs that point off the host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from pydantic import ValidationError

from agent.executors.credentials import CredentialError, CredentialStore
from agent.executors.hostkeys import HostKeyError, known_host_name, lookup
from halops.errors import ConfigError
from safety.inventory import Host, Inventory, load_inventory

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


@dataclass
class Report:
    inventory: Inventory | None
    problems: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def valid_address(addr: str) -> bool:
    """An IP address (v4/v6) or a DNS name (RFC 1123 labels)."""
    try:
        ipaddress.ip_address(addr.strip("[]"))
        return True
    except ValueError:
        pass
    name = addr.rstrip(".")
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


class _DupLoader(yaml.SafeLoader):
    """SafeLoader that records mapping keys seen twice at the same level."""

    duplicates: list[str]


def _record_duplicates(loader: _DupLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            loader.duplicates.append(f"{key} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_DupLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _record_duplicates)


def duplicate_keys(text: str) -> list[str]:
    loader = _DupLoader(text)
    loader.duplicates = []
    try:
        loader.get_single_data()
    except yaml.YAMLError:
        return []  # load_inventory reports unreadable YAML
    finally:
        loader.dispose()
    return loader.duplicates


def _valid_hosts(path: Path) -> Inventory | None:
    """The hosts of a file that fails validation as a whole which validate one by one."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    hosts = raw.get("hosts") if isinstance(raw, dict) else None
    if not isinstance(hosts, dict):
        return None
    good = {}
    for name, entry in hosts.items():
        try:
            good[str(name)] = Host.model_validate(entry)
        except ValidationError:
            continue
    return Inventory(hosts=good)


def check_inventory(path: Path, credentials: CredentialStore, known_hosts: Path) -> Report:
    from agent.executors.ssh import load_private_key  # paramiko only when checking keys

    try:
        inv = load_inventory(path)
        report = Report(inv)
    except ConfigError as exc:
        # Schema errors do not stop the other checks: hosts that validate on their own are
        # still checked, so one run lists every problem.
        report = Report(None, list(exc.problems) or [("(file)", str(exc))])
        inv = _valid_hosts(path)
        if inv is None:
            return report
    for dup in duplicate_keys(path.read_text(encoding="utf-8")):
        report.problems.append(("(file)", f"key {dup} appears twice; YAML keeps only the last one"))
    by_address: dict[str, list[str]] = {}
    for name, host in inv.hosts.items():
        where = f"hosts.{name}"
        if not valid_address(host.address):
            report.problems.append((f"{where}.address", f"{host.address!r} is not an IP address or DNS name"))
        by_address.setdefault(host.address.lower(), []).append(name)
        if host.ssh:
            problems = credentials.problems(host.ssh.key)
            for msg in problems:
                report.problems.append((f"{where}.ssh.key", msg))
            if not problems:
                try:
                    load_private_key(credentials.read(host.ssh.key), host.ssh.key)
                except (CredentialError, ValueError) as exc:
                    report.problems.append((f"{where}.ssh.key", str(exc)))
            try:
                trusted = lookup(known_hosts, host.address, host.ssh.port)
            except HostKeyError as exc:
                report.problems.append((f"{where}.ssh", str(exc)))
            else:
                if not trusted:
                    report.problems.append(
                        (
                            f"{where}.ssh",
                            f"no host key for {known_host_name(host.address, host.ssh.port)} in "
                            f"{known_hosts}; run `halops inventory trust {name}`",
                        )
                    )
        if host.bmc:
            if not valid_address(host.bmc.address):
                report.problems.append(
                    (f"{where}.bmc.address", f"{host.bmc.address!r} is not an IP address or DNS name")
                )
            for msg in credentials.problems(host.bmc.password):
                report.problems.append((f"{where}.bmc.password", msg))
        if host.http:
            try:
                url = httpx.URL(host.http.base_url)
            except (httpx.InvalidURL, ValueError) as exc:
                report.problems.append((f"{where}.http.base_url", str(exc)))
            else:
                if url.scheme not in ("http", "https"):
                    report.problems.append((f"{where}.http.base_url", "must be an http:// or https:// URL"))
                elif url.host.lower() not in {name.lower(), host.address.lower().strip("[]")}:
                    report.warnings.append(
                        (
                            f"{where}.http.base_url",
                            f"host {url.host!r} is neither the host's name nor its address; "
                            f"requests to it count as off-inventory",
                        )
                    )
    for addr, names in by_address.items():
        if len(names) > 1:
            report.warnings.append(
                (
                    "hosts",
                    f"address {addr} is shared by {', '.join(names)}; lookups by address pick {names[0]}",
                )
            )
    return report
