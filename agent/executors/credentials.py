"""Credential files: SSH private keys and BMC passwords, named by the inventory, never inline.

Under systemd, `LoadCredential=NAME:/path` puts each file in a private, unswappable directory that
only the service can read and exports it as `$CREDENTIALS_DIRECTORY`; that directory wins. Without
it (a user install, `halops tool run` from a shell) the files come from `executors.credentials_dir`.

Every value read is remembered: the dispatcher hands them to the scrubber as known secrets, so a
password echoed back by a misconfigured service never reaches the model or the audit log.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from halops.errors import HalopsError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
MAX_CREDENTIAL_BYTES = 64 * 1024
# Names are file names in one flat directory: no separators, no dot files, no traversal.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}$")
# Lines of a multi-line credential (a private key body) this long are secrets on their own: a
# partial leak of a key (one line of `cat id_ed25519 | head -3`) must be scrubbed too.
_MIN_LINE_SECRET = 16


class CredentialError(HalopsError):
    """A credential file is missing, unreadable, too open (not 0600) or badly named."""


class CredentialStore:
    """Reads credential files from one directory, checks their modes, remembers the values."""

    def __init__(self, directory: Path, *, from_systemd: bool = False):
        self.directory = directory
        self.from_systemd = from_systemd
        self._values: dict[str, tuple[tuple[int, int, int], str]] = {}
        self._seen: set[str] = set()  # every value read, also ones since replaced in their file
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, fallback: Path, env: Mapping[str, str] | None = None) -> CredentialStore:
        """`$CREDENTIALS_DIRECTORY` when systemd set it, else `fallback` (executors.credentials_dir)."""
        env = os.environ if env is None else env
        systemd_dir = env.get(CREDENTIALS_ENV)
        if systemd_dir:
            return cls(Path(systemd_dir), from_systemd=True)
        return cls(fallback)

    def path(self, name: str) -> Path:
        if not _NAME.match(name) or ".." in name:
            raise CredentialError(
                f"credential name {name!r} is not a plain file name (letters, digits, . _ @ + -)"
            )
        return self.directory / name

    def problems(self, name: str) -> list[str]:
        """Everything wrong with credential `name`, without reading its value; [] when usable."""
        try:
            path = self.path(name)
        except CredentialError as exc:
            return [str(exc)]
        try:
            st = path.stat()
        except FileNotFoundError:
            return [f"credential file {path} does not exist"]
        except OSError as exc:
            return [f"credential file {path}: {exc.strerror or exc}"]
        out = []
        if not stat.S_ISREG(st.st_mode):
            out.append(f"credential file {path} is not a regular file")
        elif st.st_mode & 0o077:
            out.append(
                f"credential file {path} has mode {stat.S_IMODE(st.st_mode):04o}; "
                f"it must not be readable by group or others (chmod 600)"
            )
        if st.st_size > MAX_CREDENTIAL_BYTES:
            out.append(f"credential file {path} is larger than {MAX_CREDENTIAL_BYTES} bytes")
        if not out and not os.access(path, os.R_OK):
            out.append(f"credential file {path} is not readable by this user")
        return out

    def read(self, name: str) -> str:
        """The credential's value, one trailing newline removed (`echo pw > file` adds one).

        Re-read when the file changed (mtime, size, inode), so a fixed password takes effect
        without a restart; every value ever read stays a known secret.
        """
        problems = self.problems(name)
        if problems:
            raise CredentialError("; ".join(problems))
        path = self.path(name)
        st = path.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            cached = self._values.get(name)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CredentialError(f"cannot read credential file {path}: {exc.strerror or exc}") from None
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialError(f"credential file {path} is not UTF-8 text") from None
        value = value.removesuffix("\n").removesuffix("\r")
        if not value:
            raise CredentialError(f"credential file {path} is empty")
        with self._lock:
            self._values[name] = (stamp, value)
            self._seen.add(value)
        return value

    def preload(self, names: Iterable[str]) -> list[str]:
        """Read every named credential now so all are known secrets; returns the problems found."""
        problems = []
        for name in names:
            try:
                self.read(name)
            except CredentialError as exc:
                problems.append(str(exc))
        return problems

    def known_secrets(self) -> tuple[str, ...]:
        with self._lock:
            values = list(self._seen)
        out: set[str] = set()
        for value in values:
            out.add(value)
            if "\n" in value:
                for line in value.splitlines():
                    line = line.strip()
                    if len(line) >= _MIN_LINE_SECRET and not line.startswith("-----"):
                        out.add(line)
        # Longest first, so a scrubber replacing in order never leaves the tail of a longer secret.
        return tuple(sorted(out, key=len, reverse=True))


def inventory_credential_names(inventory) -> list[str]:
    """Every credential the inventory names (SSH keys and BMC passwords), each once."""
    names: list[str] = []
    for host in inventory.hosts.values():
        for name in (host.ssh.key if host.ssh else None, host.bmc.password if host.bmc else None):
            if name and name not in names:
                names.append(name)
    return names
