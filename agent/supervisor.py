"""A small foreground process supervisor for `halops up` (trying halops without systemd).

Children run in their own session, so a terminal's Ctrl-C reaches only the supervisor, which then
stops them in reverse start order: SIGTERM, a grace period, SIGKILL. Each child also gets
PR_SET_PDEATHSIG, so a supervisor killed with SIGKILL does not leave a model server holding the port.
SIGHUP restarts the children marked `reload_on_hup` (the model server, so that it loads a newly
deployed current.gguf) without touching the others; `halops deploy` sends it through the pid file.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.config import SupervisorSettings
from agent.ports import listens
from halops.errors import HalopsError
from halops.pidfile import pid_file, signal_reload

__all__ = ["AlreadyRunningError", "ChildSpec", "Supervisor", "exclusive", "pid_file", "signal_reload"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux/glibc: children may outlive a SIGKILLed supervisor


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    healthy: Callable[[], bool]
    startup_timeout_s: float
    log_path: Path
    env: dict[str, str] | None = None
    reload_on_hup: bool = False
    # The port the child serves: it is ready only once the listening socket there is its own, so
    # another server answering on that port is never taken for it.
    port: int | None = None


@dataclass
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = 0.0
    restarts: int = 0
    restart_at: float | None = None
    ready: bool = False
    events: list[str] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        specs: list[ChildSpec],
        settings: SupervisorSettings,
        *,
        log: Callable[[str], None] = print,
        poll_s: float = 0.2,
    ):
        self.children = [_Child(s, backoff_s=settings.restart_backoff_s) for s in specs]
        self.settings = settings
        self.log = log
        self.poll_s = poll_s
        self.stopping = threading.Event()
        self.reloading = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    def run(self, on_ready: Callable[[], None] | None = None, *, install_signals: bool = True) -> int:
        """Start every child, call `on_ready` once all are healthy, supervise until a signal.

        `install_signals=False` lets an embedding thread (tests) stop it via `stopping` instead:
        Python only allows signal handlers in the main thread.
        """
        previous = (
            {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
            if install_signals
            else {}
        )
        if install_signals:
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: self.reloading.set())
        try:
            for child in self.children:
                self._start(child)
                if not self._wait_healthy(child):
                    if self.stopping.is_set():
                        break
            announced = False
            while not self.stopping.is_set():
                if not announced and all(c.ready for c in self.children):
                    announced = True
                    if on_ready:
                        on_ready()
                if self.reloading.is_set():
                    self.reloading.clear()
                    self._reload()
                self._tick()
                self.stopping.wait(self.poll_s)
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _reload(self) -> None:
        """Restart the reloadable children now: a deliberate restart, not a crash (no backoff)."""
        for child in self.children:
            if child.spec.reload_on_hup and not self.stopping.is_set():
                self.log(f"{child.spec.name}: reloading (SIGHUP)")
                self._terminate(child)
                self._start(child)
                self._wait_healthy(child)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.log(f"received {signal.Signals(signum).name}, stopping")
        self.stopping.set()

    def _start(self, child: _Child) -> None:
        spec = child.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as logf:
            child.proc = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                env=spec.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child.started_at = time.monotonic()
        child.ready = False
        child.restart_at = None
        self.log(f"{spec.name}: started (pid {child.proc.pid}, log {spec.log_path})")

    def _wait_healthy(self, child: _Child) -> bool:
        deadline = time.monotonic() + child.spec.startup_timeout_s
        while not self.stopping.is_set() and time.monotonic() < deadline:
            assert child.proc is not None
            if child.proc.poll() is not None:
                self._crashed(child)
                return False
            if self._listening(child) and child.spec.healthy():
                child.ready = True
                self.log(f"{child.spec.name}: ready")
                return True
            self.stopping.wait(self.poll_s)
        if not self.stopping.is_set():
            self.log(f"{child.spec.name}: not healthy after {child.spec.startup_timeout_s:.0f}s, restarting")
            self._terminate(child)
            self._crashed(child)
        return False

    @staticmethod
    def _listening(child: _Child) -> bool:
        if child.spec.port is None or child.proc is None:
            return True
        return listens(child.proc.pid, child.spec.port) is not False  # None: cannot tell here

    def _tick(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                    self._wait_healthy(child)
                continue
            if child.proc is not None and child.proc.poll() is not None:
                self._crashed(child)
            elif not child.ready and child.proc is not None:
                self._wait_healthy(child)

    def _crashed(self, child: _Child) -> None:
        assert child.proc is not None
        code = child.proc.returncode
        ran_s = time.monotonic() - child.started_at
        if ran_s >= self.settings.stable_after_s:
            child.backoff_s = self.settings.restart_backoff_s
        delay = child.backoff_s
        child.backoff_s = min(child.backoff_s * 2, self.settings.restart_backoff_max_s)
        child.restarts += 1
        child.ready = False
        child.restart_at = time.monotonic() + delay
        self.log(
            f"{child.spec.name}: exited with status {code} after {ran_s:.1f}s; "
            f"restart #{child.restarts} in {delay:.1f}s (see {child.spec.log_path})"
        )

    # -- stopping ------------------------------------------------------------------------------

    def _terminate(self, child: _Child) -> None:
        proc = child.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(self.settings.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self.log(f"{child.spec.name}: no exit {self.settings.stop_timeout_s:.0f}s after SIGTERM, killing")
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                self._terminate(child)
                self.log(f"{child.spec.name}: stopped")


# -- one supervisor per data dir ------------------------------------------------------------------


class AlreadyRunningError(HalopsError):
    """Another supervisor holds the lock of this data dir."""


@contextlib.contextmanager
def exclusive(path: Path, what: str):  # noqa: ANN201 - a context manager
    """Hold an exclusive lock on `path` for the block, or raise `AlreadyRunningError` at once.

    flock, not a pid file check: the kernel drops the lock when its holder dies, however it dies,
    so a stale file never blocks a start and two starts never both win.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise AlreadyRunningError(f"{what} is already running (pid {holder}, lock {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
