"""Starting a queued training job: halops-trainer.service under systemd, else a supervised child.

Under systemd (this daemon is a service and the trainer unit is installed) the job runs in
`halops-trainer.service`, whose `Conflicts=halops-llama.service` stops the model server to free the
GPU and brings it back afterwards, exactly as for the timer; its `halops retrain` picks the queued
job up. Elsewhere the daemon runs `halops jobs run ID` itself: niced, in its own session (a Ctrl-C
meant for the daemon's terminal is not a cancel), watched by a thread that reaps it, and asked to
stop (a cancel: SIGTERM) when the daemon closes.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from agent.server.errors import ApiError

log = logging.getLogger("halops.agent")
TRAINER_UNIT = "halops-trainer.service"
SETTINGS_FILE = "settings.toml"


def systemd_scope(env: dict[str, str] | None = None, cgroup: Path = Path("/proc/self/cgroup")) -> str | None:
    """'system' or 'user' when this process is a systemd service and the trainer unit is loaded."""
    env = dict(os.environ) if env is None else env
    if not env.get("INVOCATION_ID") or shutil.which("systemctl") is None:
        return None
    try:
        user = "/user@" in cgroup.read_text()
    except OSError:
        return None
    argv = ["systemctl", *(["--user"] if user else []), "show", "-p", "LoadState", "--value", TRAINER_UNIT]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return ("user" if user else "system") if out.stdout.strip() == "loaded" else None


def write_settings(settings: Any, path: Path) -> dict[str, str]:
    """The daemon's settings as a config file for the job, and the env for what must not be on disk.

    The daemon may have been started with `--config` or built in code: the child must see the same
    data dir, recipe defaults and eval settings. Secret values (the model server's API key) go
    through the environment instead of the file.
    """
    data = settings.model_dump(mode="json", exclude_none=True)
    env: dict[str, str] = {}
    api_key = getattr(settings.llm, "api_key", None)
    data.get("llm", {}).pop("api_key", None)
    if api_key is not None:
        env["HALOPS_LLM__API_KEY"] = api_key.get_secret_value()
    path.write_text(tomli_w.dumps(data))
    path.chmod(0o600)
    return env


class Launcher:
    def __init__(self, settings: Any, *, on_exit: Callable[[str, int], None], scope: str | None = None):
        self.settings = settings
        self.on_exit = on_exit
        self.scope = scope
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        return f"systemd ({self.scope})" if self.scope else "subprocess"

    def start(self, job_id: str, run_dir: Path) -> None:
        if self.scope:
            self._start_unit()
        else:
            self._spawn(job_id, run_dir)

    def _start_unit(self) -> None:
        argv = [
            "systemctl",
            *(["--user"] if self.scope == "user" else []),
            "start",
            "--no-block",
            TRAINER_UNIT,
        ]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ApiError(
                503, f"could not start {TRAINER_UNIT}: {exc}", "server_error", "trainer_start_failed"
            ) from None
        if out.returncode != 0:
            detail = (out.stderr or out.stdout).strip()
            raise ApiError(
                503, f"could not start {TRAINER_UNIT}: {detail}", "server_error", "trainer_start_failed"
            )

    def _spawn(self, job_id: str, run_dir: Path) -> None:
        config = run_dir / SETTINGS_FILE
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALOPS_")}
        env.update(write_settings(self.settings, config))
        env.update(HALOPS_CONFIG=str(config), HALOPS_DATA_DIR=str(self.settings.data_dir))
        argv = [sys.executable, "-m", "agent.cli.main", "jobs", "run", job_id]
        with (run_dir / "process.log").open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(run_dir),
                start_new_session=True,
                preexec_fn=lambda: os.nice(10),  # noqa: PLW1509 - only os.nice, no locks taken
            )
        with self._lock:
            self._children[job_id] = proc
        threading.Thread(target=self._watch, args=(job_id, proc), daemon=True, name=f"job-{job_id}").start()

    def _watch(self, job_id: str, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with self._lock:
            self._children.pop(job_id, None)
        try:
            self.on_exit(job_id, code)
        except Exception:  # noqa: BLE001 - a reaper thread must not die with a traceback on stderr
            log.exception("after job %s exited", job_id)

    def running(self) -> list[str]:
        with self._lock:
            return list(self._children)

    def close(self) -> None:
        """The daemon is stopping: ask its children to stop (a cancel), without waiting for them."""
        with self._lock:
            children = list(self._children.values())
        for proc in children:
            if proc.poll() is None:
                proc.terminate()
