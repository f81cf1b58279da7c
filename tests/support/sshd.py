"""A real OpenSSH sshd on 127.0.0.1 for tests (recipe: ../shared/TESTING.md).

sshd insists on /run/sshd; it gets a private tmpfs /run in its own mount namespace (`unshare
--mount`), so the host's /run is never touched. `unshare` and `sh` both exec, so the PID we hold is
sshd itself and stopping it is one signal to that PID.

    with run_sshd(tmp_path) as srv:
        srv.port, srv.client_key, srv.known_hosts_line ...
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import stop

SSHD = "/usr/sbin/sshd"


def available() -> bool:
    return (
        os.path.exists(SSHD)
        and shutil.which("unshare") is not None
        and shutil.which("ssh-keygen") is not None
    )


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, comment: str = "halops-test") -> Path:
    """A fresh unencrypted ed25519 key pair at `path` and `path`.pub."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    path.chmod(0o600)
    return path


@dataclass
class Sshd:
    dir: Path
    port: int
    pid: int
    host_key: Path  # private host key; .pub next to it
    client_key: Path  # private key authorized to log in as the current user
    user: str

    @property
    def known_hosts_line(self) -> str:
        kind, b64 = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {b64}"

    def authorize(self, pubkey_path: Path) -> None:
        with (self.dir / "authorized_keys").open("a") as fh:
            fh.write(pubkey_path.read_text())


def _config(d: Path, port: int) -> Path:
    cfg = d / "sshd_config"
    cfg.write_text(
        f"ListenAddress 127.0.0.1:{port}\n"
        f"HostKey {d / 'hostkey'}\n"
        f"PidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        # Many short-lived connections in the benchmark: do not throttle unauthenticated ones.
        "MaxStartups 100:30:200\n"
        "MaxSessions 64\n"
    )
    return cfg


@contextlib.contextmanager
def run_sshd(
    directory: Path | None = None, *, ready_timeout: float = 10.0, empty_home: bool = False
) -> Iterator[Sshd]:
    """Start sshd on a free port; yields an `Sshd`; stops it by PID on exit.

    `empty_home`: mount an empty tmpfs over the login user's home inside sshd's private mount
    namespace, so the remote shell reads no ~/.bashrc (this box's root .bashrc runs pyenv init,
    ~85 ms per command, which would swamp SSH's own cost in a benchmark).
    """
    own_dir = directory is None
    d = Path(tempfile.mkdtemp(prefix="halops-sshd-")) if own_dir else directory
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "hostkey").exists():
        keygen(d / "hostkey", "halops-test-host")
    if not (d / "clientkey").exists():
        keygen(d / "clientkey", "halops-test-client")
        shutil.copy(d / "clientkey.pub", d / "authorized_keys")
    proc = None
    log = d / "sshd.log"
    try:
        for _attempt in range(5):  # a port picked free can be taken before sshd binds it
            port = free_tcp_port()
            cfg = _config(d, port)
            home = f"mount -t tmpfs tmpfs {Path.home()} && " if empty_home else ""
            inner = (
                "mount --make-rprivate / && mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && "
                f"{home}exec {SSHD} -D -e -f {cfg}"
            )
            with log.open("wb") as fh:
                proc = subprocess.Popen(
                    ["unshare", "--mount", "sh", "-c", inner],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            deadline = time.monotonic() + ready_timeout
            while time.monotonic() < deadline:
                text = log.read_text(errors="replace")
                if "Server listening" in text or proc.poll() is not None:
                    break
                time.sleep(0.02)
            if proc.poll() is None and "Server listening" in log.read_text(errors="replace"):
                break
            _stop(proc)
            proc = None
            if "Address already in use" not in log.read_text(errors="replace"):
                raise RuntimeError(f"sshd did not start:\n{log.read_text(errors='replace')}")
        if proc is None:
            raise RuntimeError("sshd: no free port after 5 attempts")
        yield Sshd(
            dir=d,
            port=port,
            pid=proc.pid,
            host_key=d / "hostkey",
            client_key=d / "clientkey",
            user=getpass.getuser(),
        )
    finally:
        if proc is not None:
            _stop(proc)
        if own_dir:
            shutil.rmtree(d, ignore_errors=True)


def _stop(proc: subprocess.Popen) -> None:
    stop(proc, 5)
