"""SSH host keys: the known_hosts file that strict checking trusts, and how a key gets into it.

The ssh executor never learns a key by itself (RejectPolicy): an operator runs `halops inventory
trust HOST`, compares the fingerprint with the host's console (`ssh-keygen -lf
/etc/ssh/ssh_host_ed25519_key.pub`) and confirms. Entries use OpenSSH's format, so the same file
works with `ssh -o UserKnownHostsFile=...` and with `ssh-keygen -F`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from pathlib import Path

import paramiko

from halops.errors import HalopsError


class HostKeyError(HalopsError):
    """The host's key could not be fetched or recorded."""


def known_host_name(address: str, port: int) -> str:
    """The host field OpenSSH writes: `addr` on port 22, `[addr]:port` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's `SHA256:...` fingerprint (what `ssh-keygen -lf` prints)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def load_known_hosts(path: Path) -> paramiko.HostKeys:
    """The file's keys; a missing file is an empty set (nothing trusted yet)."""
    keys = paramiko.HostKeys()
    if path.exists():
        try:
            keys.load(str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise HostKeyError(f"cannot read known_hosts {path}: {exc}") from None
    return keys


def lookup(path: Path, address: str, port: int) -> dict[str, paramiko.PKey]:
    """Trusted keys of one host by key type ({} when unknown); hashed entries match too."""
    entry = load_known_hosts(path).lookup(known_host_name(address, port))
    return dict(entry) if entry else {}


def fetch_host_key(address: str, port: int, timeout: float, prefer: list[str] | None = None) -> paramiko.PKey:
    """The key the server presents in a key exchange; no authentication is attempted.

    `prefer`: key types to ask for first (those already in known_hosts), as the ssh executor's
    client does, so a host with several keys is compared like with like.
    """
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise HostKeyError(f"cannot connect to {address}:{port}: {exc.strerror or exc}") from None
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        if prefer:
            opts = transport.get_security_options()
            wanted = [t for t in prefer if t in opts.key_types]
            opts.key_types = wanted + [t for t in opts.key_types if t not in wanted]
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise HostKeyError(f"SSH key exchange with {address}:{port} failed: {exc}") from None
    finally:
        transport.close()


def record(path: Path, address: str, port: int, key: paramiko.PKey, *, replace: bool = False) -> None:
    """Add the key for this host, keeping every other line; `replace` first drops the host's old keys.

    Written to a temporary file and renamed over the old one, so a crash never leaves a half file.
    """
    name = known_host_name(address, port)
    lines: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if replace and _line_matches(line, name):
                continue
            lines.append(line)
    lines.append(f"{name} {key.get_name()} {key.get_base64()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _line_matches(line: str, name: str) -> bool:
    """Whether a known_hosts line is about host field `name` (plain, comma list or hashed)."""
    fields = line.split()
    if len(fields) < 3 or line.lstrip().startswith("#"):
        return False
    try:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
    except (paramiko.hostkeys.InvalidHostKey, paramiko.SSHException, ValueError):
        return False
    if entry is None:
        return False
    for pattern in entry.hostnames:
        if pattern == name:
            return True
        if pattern.startswith("|1|") and paramiko.HostKeys.hash_host(name, pattern) == pattern:
            return True
    return False
