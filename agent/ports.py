"""Ports and who holds them: refuse to start on a port in use, and tell our child from a stranger.

A health check over HTTP answers for whoever holds the port. Started while another instance runs,
`halops up` used to hear the *other* servers answer and announce itself ready while its own
children failed to bind. So: check the port is free before starting anything, and count a child
as listening only when the kernel says the listening socket is that child's (Linux /proc).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

from halops.errors import HalopsError

_PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp{,6}


class PortInUseError(HalopsError):
    """Something already listens on the address a server was told to bind."""

    def __init__(self, host: str, port: int, what: str):
        super().__init__(
            f"{what}: port {port} on {host} is already in use (another halops, or another program); "
            "stop it or choose another port"
        )
        self.host, self.port = host, port


def connect_host(host: str) -> str:
    """Where a client on this machine reaches a server bound to `host` (wildcards: loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def url_host(host: str) -> str:
    host = connect_host(host)
    return f"[{host}]" if ":" in host else host


def ensure_free(host: str, port: int, what: str) -> None:
    """Raise `PortInUseError` when (host, port) cannot be bound now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(host or None, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror:
        infos = [(family, socket.SOCK_STREAM, 0, "", (host, port))]
    for fam, kind, proto, _name, addr in infos:
        with socket.socket(fam, kind, proto) as sock:
            # The servers set SO_REUSEADDR too: a port in TIME_WAIT is free for them, so for us.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(addr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUseError(host, port, what) from None
                raise


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    out: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in (_PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    out.add(target[8:-1])
    return out


def _children(pid: int) -> list[int]:
    try:
        text = (_PROC / str(pid) / "task" / str(pid) / "children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def listens(pid: int, port: int) -> bool | None:
    """Whether process `pid` (or a descendant) holds the listening socket on `port`.

    None when this system cannot tell (no /proc): callers then fall back to the health check alone.
    """
    if not (_PROC / "net" / "tcp").exists():
        return None
    wanted = _listening_inodes(port)
    if not wanted:
        return False
    todo, seen = [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        if _socket_inodes(p) & wanted:
            return True
        todo.extend(_children(p))
    return False
