"""The pid file through which `halops deploy` asks a running `halops up` to reload its model server.

`halops up` (agent) publishes its pid here; the deploy gate (eval) sends it SIGHUP after activating
a new model. Both sides only need the path and these two functions.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def up_pid_path(data_dir: Path) -> Path:
    return data_dir / "run" / "up.pid"


@contextlib.contextmanager
def pid_file(path: Path):  # noqa: ANN201 - a context manager
    """Publish this process's pid at `path` for the block's duration (removed only if still ours)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError, ValueError):
            if int(path.read_text().strip()) == os.getpid():
                path.unlink()


def signal_reload(path: Path) -> int | None:
    """SIGHUP the supervisor whose pid is in `path`; its pid, or None when none is running."""
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return None  # no file, garbage, or a stale pid: nothing to reload
    return pid
