"""Rendering the unit files in `systemd/` for this install (`halops systemd install`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from halops.errors import HalopsError
from trainer.config import TrainerSettings

UNITS = (
    "halops-llama.service",
    "halops-agent.service",
    "halops-trainer.service",
    "halops-trainer.timer",
)
DEFAULT_SCHEDULE: str = TrainerSettings.model_fields["schedule"].default
SYSTEM_MARK = "@system@"


class SystemdError(HalopsError):
    """Rendering or installing the units failed."""


def templates_dir() -> Path:
    # halops installs from its checkout (`make run` / `pip install -e .`): the units live beside it.
    return Path(__file__).resolve().parent.parent / "systemd"


def halops_executable() -> Path:
    candidate = Path(sys.executable).parent / "halops"
    if candidate.exists():
        return candidate
    found = shutil.which("halops")
    if found is None:
        raise SystemdError("cannot find the `halops` executable to put in ExecStart=")
    return Path(found)


def check_schedule(schedule: str) -> str:
    """`schedule` as an OnCalendar= value, or SystemdError naming `trainer.schedule`.

    `systemd-analyze calendar` judges the expression where it is installed (it is systemd's own
    parser); without it only the shape is checked and systemd reports a bad value when it loads the timer.
    """
    where = f"trainer.schedule = {schedule!r}"
    if not schedule.strip() or any(c in schedule for c in "\n\r\0"):
        raise SystemdError(f"{where}: expected one systemd OnCalendar= expression on one line")
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return schedule.strip()
    try:
        result = subprocess.run(
            [analyze, "calendar", "--", schedule.strip()], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SystemdError(f"{where}: could not run systemd-analyze calendar: {exc}") from exc
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise SystemdError(
            f"{where} is not a systemd calendar expression (see `man systemd.time`, e.g. "
            f"{DEFAULT_SCHEDULE!r} or 'daily'): {detail}"
        )
    if "Next elapse: never" in result.stdout:
        raise SystemdError(f"{where} never elapses (a date in the past?)")
    return schedule.strip()


@dataclass
class UnitParams:
    halops: Path
    data_dir: Path
    config: Path
    user: str = "halops"
    user_units: bool = False
    credentials_dir: Path | None = None  # each file in it becomes a LoadCredential= line
    schedule: str = DEFAULT_SCHEDULE  # OnCalendar= of halops-trainer.timer ([trainer] schedule)

    def credential_lines(self) -> list[str]:
        if self.user_units or self.credentials_dir is None or not self.credentials_dir.is_dir():
            return []
        return [
            f"LoadCredential={p.name}:{p}"
            for p in sorted(self.credentials_dir.iterdir())
            if p.is_file() and not p.name.startswith(".")
        ]


def render(template: str, params: UnitParams) -> str:
    values = {
        "@HALOPS@": str(params.halops),
        "@DATA_DIR@": str(params.data_dir),
        "@CONFIG@": str(params.config),
        "@USER@": params.user,
        "@DOCS@": str(templates_dir().parent / "README.md"),
        "@WANTED_BY@": "default.target" if params.user_units else "multi-user.target",
    }
    if "@RETRAIN_SCHEDULE@" in template:  # only the timer: no subprocess for the other units
        values["@RETRAIN_SCHEDULE@"] = check_schedule(params.schedule)
    out: list[str] = []
    for line in template.splitlines():
        if line.startswith("# Rendered by"):
            out.append(
                "# Rendered by `halops systemd install`: edit the template in systemd/, not this file."
            )
            continue
        if line.startswith(SYSTEM_MARK):
            if params.user_units:
                continue
            line = line[len(SYSTEM_MARK) :]
        if line.strip() == "@CREDENTIALS@":
            out.extend(params.credential_lines())
            continue
        for key, value in values.items():
            line = line.replace(key, value)
        out.append(line)
    return "\n".join(out) + "\n"


def render_all(params: UnitParams, dest: Path) -> list[Path]:
    # Everything is rendered (and the schedule checked) before the first file is written.
    rendered = {name: render((templates_dir() / f"{name}.in").read_text(), params) for name in UNITS}
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered.items():
        path = dest / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        written.append(path)
    return written


def ensure_user(user: str, home: Path) -> bool:
    """Create the dedicated system user if missing. True when created."""
    if subprocess.run(["id", "-u", user], capture_output=True).returncode == 0:
        return False
    if os.geteuid() != 0:
        raise SystemdError(f"user {user} does not exist and only root can create it")
    subprocess.run(
        [
            "useradd",
            "--system",
            "--home-dir",
            str(home),
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            user,
        ],
        check=True,
    )
    return True
