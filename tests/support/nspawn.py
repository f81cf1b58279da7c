"""Real systemd as PID 1 in a throwaway container, for testing units (recipe: ../shared/TESTING.md).

`systemd-nspawn --volatile=yes` boots the host's own /usr with an empty tmpfs root, from a private
mount namespace (`unshare --mount`), inside a cgroup of its own that is removed afterwards. The host's
systemd (if any) is never involved and the host's /tmp is never touched: systemd must never be started
directly on the host root (its tmpfiles would empty /tmp).

    with boot(unit_dir, binds=[(host_dir, "/opt/x", False)]) as ct:
        ct.systemctl("start", "a.service")
        ct.wait_for_state("a.service", "active")

Every call has a timeout, and the exit path kills whatever is left, so a hung container fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import pid_alive

TOOLS = ("systemd-nspawn", "nsenter", "unshare")
CGROUP_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()


def unavailable_reason() -> str | None:
    """Why a container cannot be booted here, or None when it can."""
    if os.geteuid() != 0:
        return "booting systemd in systemd-nspawn needs root"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (Debian packages systemd-container, util-linux)"
    if not Path("/usr/lib/systemd/systemd").exists() and not Path("/lib/systemd/systemd").exists():
        return "no systemd in /usr to boot"
    if not _cgroup_hierarchies():
        return "no writable cgroup hierarchy under /sys/fs/cgroup"
    return None


def _cgroup_hierarchies() -> list[Path]:
    """Where the container's own cgroup goes: the named systemd + unified ones (hybrid), or cgroup2."""
    hybrid = [CGROUP_ROOT / h for h in ("systemd", "unified") if (CGROUP_ROOT / h / "cgroup.procs").exists()]
    if hybrid:
        return [h for h in hybrid if os.access(h, os.W_OK)]
    if (CGROUP_ROOT / "cgroup.controllers").exists() and os.access(CGROUP_ROOT, os.W_OK):
        return [CGROUP_ROOT]
    return []


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class ContainerError(RuntimeError):
    """The container did not boot, or did not answer in time."""


@dataclass
class Container:
    name: str
    nspawn: subprocess.Popen
    init_pid: int  # the container's systemd, as the host sees it
    log: Path

    def run(self, *argv: str, timeout: float = 15.0, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside the container (all its namespaces, via nsenter)."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_PAGER": "cat", "SYSTEMD_COLORS": "0"}
        cmd = ["nsenter", "-t", str(self.init_pid), "-m", "-u", "-i", "-n", "-p", *argv]
        try:
            result = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as exc:
            raise ContainerError(f"{' '.join(argv)}: no answer in {timeout} s") from exc
        if check and result.returncode != 0:
            raise ContainerError(
                f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def systemctl(self, *args: str, timeout: float = 15.0, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("systemctl", "--no-pager", *args, timeout=timeout, check=check)

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", unit, "-p", prop, "--value").stdout.strip()

    def state(self, unit: str) -> str:
        return self.show(unit, "ActiveState")

    def wait_for_state(self, unit: str, states: str | Iterable[str], timeout: float = 15.0) -> str:
        """Poll until `unit`'s ActiveState is one of `states`; raises ContainerError on timeout."""
        wanted = {states} if isinstance(states, str) else set(states)
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(unit)
            if state in wanted:
                return state
            if time.monotonic() > deadline:
                raise ContainerError(
                    f"{unit} stayed {state!r}, wanted {sorted(wanted)} within {timeout} s\n"
                    + self.journal(unit)
                )
            time.sleep(0.1)

    def journal(self, unit: str | None = None, lines: int = 40) -> str:
        args = ["journalctl", "--no-pager", "-n", str(lines), "-o", "short-monotonic"]
        if unit:
            args += ["-u", unit]
        try:
            return self.run(*args, check=False, timeout=10).stdout
        except ContainerError as exc:
            return str(exc)


@contextlib.contextmanager
def boot(
    unit_dir: Path,
    *,
    binds: Iterable[tuple[Path, str, bool]] = (),
    workdir: Path | None = None,
    boot_timeout: float = 30.0,
    stop_timeout: float = 15.0,
) -> Iterator[Container]:
    """Boot systemd with `unit_dir` as /run/systemd/system; `binds`: (host path, container path, read-only).

    Yields once `systemctl is-system-running` says running or degraded; powers the container off (and
    kills what is left after `stop_timeout`) on exit.
    """
    reason = unavailable_reason()
    if reason:
        raise ContainerError(reason)
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="halops-nspawn-")) if own_dir else workdir
    work.mkdir(parents=True, exist_ok=True)
    name = f"halops-ct-{os.getpid()}-{next(_counter)}"
    root = work / "root"
    root.mkdir(exist_ok=True)
    machine_id = work / "machine-id"
    # A fixed machine id: without one, a first boot would enable every installed unit.
    machine_id.write_text(secrets.token_hex(16) + "\n")
    cgroups = [h / name for h in _cgroup_hierarchies()]
    bind_args = [f"--bind{'-ro' if ro else ''}={host}:{inside}" for host, inside, ro in binds]
    script = (
        "set -e\n"
        + "".join(f"mkdir -p {cg} && echo $$ > {cg}/cgroup.procs\n" for cg in cgroups)
        + "mount --make-rprivate /\n"
        "mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn\n"
        f"mount --bind / {root}\n"
        'exec systemd-nspawn "$@"\n'
    )
    nspawn_args = [
        "-D",
        str(root),
        "--volatile=yes",
        "-M",
        name,
        "--register=no",
        "--keep-unit",
        "--console=pipe",
        "--private-network",
        f"--bind-ro={machine_id}:/etc/machine-id",
        f"--bind-ro={unit_dir}:/run/systemd/system",
        *bind_args,
        "-b",
    ]
    log = work / "nspawn.log"
    proc: subprocess.Popen | None = None
    ct: Container | None = None
    try:
        with log.open("wb") as fh:
            # unshare and sh both exec: proc.pid ends up being systemd-nspawn itself.
            proc = subprocess.Popen(
                ["unshare", "--mount", "sh", "-c", script, "start-container", *nspawn_args],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + boot_timeout
        init_pid = None
        while init_pid is None:
            if proc.poll() is not None:
                raise ContainerError(f"systemd-nspawn exited {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise ContainerError(f"no systemd in the container after {boot_timeout} s:\n{_tail(log)}")
            init_pid = next((p for p in _children(proc.pid) if _comm(p) == "systemd"), None)
            if init_pid is None:
                time.sleep(0.05)
        ct = Container(name=name, nspawn=proc, init_pid=init_pid, log=log)
        remaining = max(1.0, deadline - time.monotonic())
        # systemd's bus socket appears a moment after PID 1 does: retry until `--wait` can connect.
        while True:
            try:
                state = ct.run(
                    "systemctl", "is-system-running", "--wait", check=False, timeout=remaining
                ).stdout.strip()
            except ContainerError as exc:
                raise ContainerError(f"boot did not finish in {boot_timeout} s:\n{_tail(log)}") from exc
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise ContainerError(f"system state {state!r} after boot:\n{_tail(log)}")
            time.sleep(0.1)
            remaining = max(1.0, deadline - time.monotonic())
        yield ct
    finally:
        if proc is not None:
            _shutdown(proc, ct, stop_timeout)
        _remove_cgroups(cgroups)
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _shutdown(proc: subprocess.Popen, ct: Container | None, timeout: float) -> None:
    if proc.poll() is None and ct is not None:
        with contextlib.suppress(ContainerError):
            # The bus connection may be reset as PID 1 goes down: the exit status means nothing.
            ct.run("systemctl", "poweroff", "--no-block", check=False, timeout=10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    if proc.poll() is None:
        # Killing the container's PID 1 takes its whole PID namespace with it; then nspawn exits.
        if ct is not None and pid_alive(ct.init_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(ct.init_pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


def _remove_cgroups(cgroups: list[Path]) -> None:
    for cg in cgroups:
        if not cg.exists():
            continue
        for _ in range(50):
            leftovers = [int(p) for d in cg.rglob("*") if d.name == "cgroup.procs" for p in _read(d).split()]
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            dirs = sorted((d for d in [cg, *cg.rglob("*")] if d.is_dir()), key=lambda d: -len(d.parts))
            for d in dirs:
                with contextlib.suppress(OSError):
                    d.rmdir()
            if not cg.exists():
                break
            time.sleep(0.1)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
