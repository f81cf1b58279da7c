"""Where a command or request goes: inventory host, the local machine, blocked, or outside.

Only the inventory (and the machine a command runs on) may be contacted; everything else is
exfiltration until an operator says otherwise. Addresses are compared after normalisation, and
the numeric shorthands that resolvers accept (`2852039166`, `0xa9fe.0xa9fe`, `127.1`) are decoded so
a metadata address cannot hide behind them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from enum import StrEnum
from urllib.parse import urlsplit

from safety.inventory import Inventory
from safety.policy import Policy
from safety.shellwords import DYN

_HOSTNAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?\Z")
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}\Z")


class Place(StrEnum):
    LOCAL = "local"  # the machine the command runs on
    INVENTORY = "inventory"
    OUTSIDE = "outside"
    BLOCKED = "blocked"  # metadata services, link-local
    DYNAMIC = "dynamic"  # only known at run time
    MALFORMED = "malformed"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    h = host.strip("[]")
    try:
        addr = ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        if _NUMERIC_HOST.match(h):
            try:
                return ipaddress.IPv4Address(socket.inet_aton(h))
            except OSError:
                return None
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _in_list(host: str, addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None, items: list[str]) -> bool:
    for item in items:
        if "/" in item:
            if addr is not None and addr in ipaddress.ip_network(item, strict=False):
                return True
        elif addr is not None and _ip(item) == addr:
            return True
        elif host == item.lower():
            return True
    return False


def _inventory_hosts(inventory: Inventory) -> set[str]:
    names: set[str] = set()
    for name, host in inventory.hosts.items():
        names.update({name.lower(), host.address.lower()})
        if host.bmc:
            names.add(host.bmc.address.lower())
        if host.http:
            try:
                h = urlsplit(host.http.base_url).hostname
            except ValueError:
                h = None
            if h:
                names.add(h.lower())
    return names


def classify(host: str, inventory: Inventory, policy: Policy) -> Place:
    """Where `host` (a name or address, no port) is."""
    if not host or DYN in host:
        return Place.DYNAMIC if host else Place.MALFORMED
    h = host.strip().lower().rstrip(".")
    addr = _ip(h)
    if addr is None and not _HOSTNAME.match(h):
        return Place.MALFORMED
    if _in_list(h, addr, policy.blocked_hosts) or (addr is not None and addr.is_link_local):
        return Place.BLOCKED
    known = _inventory_hosts(inventory)
    if h in known or (addr is not None and any(_ip(k) == addr for k in known)):
        return Place.INVENTORY
    if _in_list(h, addr, policy.loopback_hosts) or (addr is not None and addr.is_loopback):
        return Place.LOCAL
    return Place.OUTSIDE


def host_of(dest: str) -> str | None:
    """The host named by a destination argument: URL, `user@host:path`, `host:port` or `host`."""
    d = dest.strip()
    if not d:
        return None
    if "://" in d:
        try:
            return urlsplit(d).hostname or None
        except ValueError:
            return None
    if "@" in d:
        d = d.rsplit("@", 1)[1]
    if d.startswith("["):
        end = d.find("]")
        return d[1:end] if end > 0 else None
    if d.count(":") > 1 and "::" not in d.split("/", 1)[0][:-1]:
        try:
            return str(ipaddress.ip_address(d.split("/", 1)[0]))
        except ValueError:
            pass
    return d.split("/", 1)[0].split(":", 1)[0] or None


def looks_remote(dest: str) -> bool:
    """Whether an argument of git/scp/rsync names another host (URL or `host:path`)."""
    if "://" in dest:
        return True
    head = dest.split("/", 1)[0]
    return ":" in head and not head.startswith(("-", ".")) and len(head.split(":", 1)[0]) > 1
