"""The rendered units: this install's paths, and `systemd-analyze verify` with nothing to say.

The retraining units are also run on real systemd (PID 1 in a throwaway systemd-nspawn container):
Conflicts= with the model server, inference coming back after the run, the timer being scheduled.
"""

from __future__ import annotations

import concurrent.futures
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.systemd_units import DEFAULT_SCHEDULE, SystemdError, UnitParams, halops_executable, render_all
from eval.cli import REGRESSED
from tests.support import nspawn
from tests.support.procs import halops_argv
from trainer.config import TrainerSettings

UNIT_NAMES = [
    "halops-agent.service",
    "halops-llama.service",
    "halops-trainer.service",
    "halops-trainer.timer",
]

pytestmark = pytest.mark.integration
needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")


def verify(paths) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, paths)], capture_output=True, text=True
    )


@needs_systemd
def test_system_units_verify_cleanly_with_credentials(tmp_path):
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "web1-ssh-key").write_text("k")
    (creds / "agent-token").write_text("t")
    params = UnitParams(
        halops=halops_executable(),
        data_dir=tmp_path / "data",
        config=tmp_path / "halops.toml",
        credentials_dir=creds,
    )
    paths = render_all(params, tmp_path / "units")
    result = verify(paths)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    agent = (tmp_path / "units" / "halops-agent.service").read_text()
    assert f"ExecStart={halops_executable()} agent serve" in agent
    assert "Type=notify" in agent and "WatchdogSec=" in agent and "User=halops" in agent
    assert f"LoadCredential=agent-token:{creds / 'agent-token'}" in agent
    assert f"LoadCredential=web1-ssh-key:{creds / 'web1-ssh-key'}" in agent
    assert f"ReadWritePaths={tmp_path / 'data'}" in agent and "ProtectSystem=strict" in agent
    assert "@" not in agent.replace("halops-agent.service", "")  # every placeholder filled


@needs_systemd
def test_user_units_drop_system_only_settings(tmp_path):
    params = UnitParams(
        halops=halops_executable(), data_dir=tmp_path, config=tmp_path / "c.toml", user_units=True
    )
    paths = render_all(params, tmp_path / "units")
    result = verify(paths)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    text = "".join(p.read_text() for p in paths)
    assert "User=" not in text and "ProtectSystem" not in text and "WantedBy=default.target" in text


def test_cli_install_to_a_directory(tmp_path):
    out = subprocess.run(
        halops_argv("systemd", "install", "--dest", str(tmp_path)), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == UNIT_NAMES
    assert "ExecStart=" in (tmp_path / "halops-llama.service").read_text()
    assert "enable --now halops-trainer.timer" in out.stdout
    assert f"OnCalendar={DEFAULT_SCHEDULE}\n" in (tmp_path / "halops-trainer.timer").read_text()


@needs_systemd
def test_cli_install_uses_the_configured_schedule_and_refuses_a_bad_one(tmp_path):
    def install(name: str, schedule: str) -> subprocess.CompletedProcess:
        config = tmp_path / f"{name}.toml"
        config.write_text(f'[trainer]\nschedule = "{schedule}"\n')
        return subprocess.run(
            halops_argv("systemd", "install", "--dest", str(tmp_path / name), "--config", str(config)),
            capture_output=True,
            text=True,
            timeout=60,
        )

    out = install("u", "Sat *-*-* 01:30")
    assert out.returncode == 0, out.stderr
    assert "OnCalendar=Sat *-*-* 01:30\n" in (tmp_path / "u" / "halops-trainer.timer").read_text()

    out = install("v", "every sunday")
    assert out.returncode == 1
    assert "trainer.schedule" in out.stderr and "every sunday" in out.stderr, out.stderr
    assert not (tmp_path / "v").exists()  # nothing written, not even the services


# The retraining service and its timer.


def trainer_params(tmp_path, **kw) -> UnitParams:
    return UnitParams(
        halops=halops_executable(), data_dir=tmp_path / "data", config=tmp_path / "c.toml", **kw
    )


@needs_systemd
def test_trainer_units_verify_cleanly(tmp_path):
    paths = render_all(trainer_params(tmp_path), tmp_path / "units")
    result = verify(p for p in paths if p.name.startswith("halops-trainer"))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    service = (tmp_path / "units" / "halops-trainer.service").read_text()
    lines = service.splitlines()
    for line in (
        "Type=oneshot",
        f"ExecStart={halops_executable()} retrain",
        f"SuccessExitStatus={REGRESSED}",
        "Conflicts=halops-llama.service",
        "After=halops-llama.service",
        "OnSuccess=halops-llama.service",
        "OnFailure=halops-llama.service",
        "TimeoutStartSec=12h",
        "Nice=10",
        "IOSchedulingClass=idle",
        "User=halops",
        "ProtectSystem=strict",
        f"ReadWritePaths={tmp_path / 'data'}",
        f"Environment=HALOPS_DATA_DIR={tmp_path / 'data'}",
        f"Environment=HALOPS_CONFIG={tmp_path / 'c.toml'}",
    ):
        assert line in lines, line
    assert not any(line.startswith(("Restart=", "WantedBy=")) for line in lines)
    timer = (tmp_path / "units" / "halops-trainer.timer").read_text().splitlines()
    for line in (f"OnCalendar={DEFAULT_SCHEDULE}", "Persistent=true", "RandomizedDelaySec=30min"):
        assert line in timer, line
    assert "WantedBy=timers.target" in timer
    assert not any("@" in line for line in service.splitlines() + timer if not line.startswith("#"))


@needs_systemd
def test_trainer_user_units_verify_cleanly(tmp_path):
    paths = render_all(trainer_params(tmp_path, user_units=True, schedule="daily"), tmp_path / "units")
    result = verify(paths)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    service = (tmp_path / "units" / "halops-trainer.service").read_text()
    assert "User=" not in service and "ProtectSystem" not in service and "Conflicts=halops-llama" in service
    assert "OnCalendar=daily" in (tmp_path / "units" / "halops-trainer.timer").read_text()


@needs_systemd
@pytest.mark.parametrize("schedule", ["every sunday", "Sun 25:00", "2001-01-01 00:00:00"])
def test_a_bad_schedule_is_refused(tmp_path, schedule):
    with pytest.raises(SystemdError, match="trainer.schedule") as err:
        render_all(trainer_params(tmp_path, schedule=schedule), tmp_path / "units")
    assert schedule in str(err.value)
    assert not (tmp_path / "units").exists()


def test_a_schedule_that_would_inject_unit_lines_is_refused(tmp_path):
    with pytest.raises(SystemdError, match="trainer.schedule"):
        render_all(trainer_params(tmp_path, schedule="daily\nExecStart=/bin/sh"), tmp_path / "units")
    with pytest.raises(ValueError, match="one line"):
        TrainerSettings(schedule="daily\n[Service]")
    assert TrainerSettings(schedule=" daily ").schedule == "daily"


# Real systemd: the rendered templates, a stub `halops`, PID 1 in a container.

STUB = """#!/bin/sh
# Stand-in for halops: `llm serve` runs until stopped and takes a moment to let go (as a server
# freeing GPU memory does); `retrain` takes a while, then exits with the status the test wrote.
d="$HALOPS_DATA_DIR"
echo "user=$(id -un) args=$*" >> "$d/calls.log"
case "$1" in
  llm) trap 'sleep 0.5; echo "llm let go" >> "$d/calls.log"; exit 0' TERM; sleep infinity & wait ;;
  retrain) sleep "$(cat "$d/retrain-seconds")"; exit "$(cat "$d/retrain-exit")" ;;
esac
exit 64
"""
INSIDE = Path("/opt/halops")  # where the test's directory appears in the container
LLAMA, TRAINER, TIMER = "halops-llama.service", "halops-trainer.service", "halops-trainer.timer"


@pytest.fixture(scope="module")
def container(tmp_path_factory):
    reason = nspawn.unavailable_reason()
    if reason:
        pytest.skip(reason)
    top = tmp_path_factory.mktemp("nspawn-units")
    opt = top / "opt"
    (opt / "bin").mkdir(parents=True)
    (opt / "data").mkdir()
    (opt / "data").chmod(0o777)  # written by the container's halops user
    (opt / "halops.toml").touch()
    (opt / "bin" / "halops").write_text(STUB)
    (opt / "bin" / "halops").chmod(0o755)
    # The real User=halops, created at boot by systemd-sysusers in the container's volatile /etc.
    sysusers = top / "halops-sysusers.conf"
    sysusers.write_text(f'u halops - "halops" {INSIDE / "data"}\n')
    params = UnitParams(
        halops=INSIDE / "bin" / "halops", data_dir=INSIDE / "data", config=INSIDE / "halops.toml"
    )
    units = top / "units"
    render_all(params, units)
    binds = [(opt, str(INSIDE), False), (sysusers, "/etc/sysusers.d/halops-test.conf", True)]
    with nspawn.boot(units, binds=binds, workdir=top / "nspawn") as ct:
        yield Rig(ct, opt / "data")


@dataclass
class Rig:
    ct: nspawn.Container
    data: Path  # the units' data dir, as the host sees it

    def retrain_will(self, exit_code: int, seconds: float = 2) -> None:
        """What the stub `halops retrain` does next: run for `seconds`, then exit `exit_code`."""
        (self.data / "retrain-exit").write_text(f"{exit_code}\n")
        (self.data / "retrain-seconds").write_text(f"{seconds}\n")

    def calls(self) -> list[str]:
        """What the stub logged, in order: its user and arguments at each start, and "llm let go"."""
        path = self.data / "calls.log"
        return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize(
    "exit_code", [0, REGRESSED, 1], ids=["model-deployed", "gate-kept-the-old-model", "retrain-failed"]
)
def test_real_systemd_training_stops_inference_and_brings_it_back(container, exit_code):
    ct = container.ct
    ct.systemctl("start", LLAMA)
    assert ct.state(LLAMA) == "active"
    llama_pid = ct.show(LLAMA, "MainPID")
    container.retrain_will(exit_code)
    calls_before = len(container.calls())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # What an operator runs for "retrain now": it blocks until the run is over.
        started = time.monotonic()
        run = pool.submit(ct.systemctl, "start", TRAINER, check=False, timeout=30)
        # (a) Conflicts=: inference is stopped while the fine-tune runs.
        ct.wait_for_state(TRAINER, "activating", timeout=10)
        assert ct.state(LLAMA) == "inactive"
        assert ct.state(TRAINER) == "activating"
        result = run.result(timeout=30)
    assert time.monotonic() - started >= 1.5  # it waited for the run, not just the start
    if exit_code in (0, REGRESSED):
        assert result.returncode == 0, result.stdout + result.stderr
        assert ct.state(TRAINER) == "inactive" and ct.show(TRAINER, "Result") == "success"
        assert ct.show(TRAINER, "ExecMainStatus") == str(exit_code)
    else:
        assert result.returncode != 0 and "failed" in result.stderr, result.stderr
        assert ct.state(TRAINER) == "failed" and ct.show(TRAINER, "ExecMainStatus") == "1"
    # (b)/(c) OnSuccess=/OnFailure=: a fresh model server, whatever the outcome.
    ct.wait_for_state(LLAMA, "active", timeout=10)
    assert ct.show(LLAMA, "MainPID") not in ("0", llama_pid)
    # After=: training began only once the model server had let go; it ran as User=halops, sandboxed.
    assert container.calls()[calls_before:] == [
        "llm let go",
        "user=halops args=retrain",
        "user=halops args=llm serve",
    ]
    ct.systemctl("reset-failed", check=False)


def test_real_systemd_stopping_a_training_run_brings_inference_back(container):
    ct = container.ct
    ct.systemctl("start", LLAMA)
    container.retrain_will(0, seconds=60)
    ct.systemctl("start", "--no-block", TRAINER)
    ct.wait_for_state(TRAINER, "activating", timeout=10)
    ct.wait_for_state(LLAMA, "inactive", timeout=10)
    ct.systemctl("stop", TRAINER)
    assert ct.state(TRAINER) == "failed"  # a oneshot killed by SIGTERM ends "failed" ...
    ct.wait_for_state(LLAMA, "active", timeout=10)  # ... and OnFailure= restarts inference
    ct.systemctl("reset-failed", check=False)


def test_real_systemd_timer_is_scheduled(container):
    ct = container.ct
    ct.systemctl("enable", "--now", TIMER)
    assert ct.state(TIMER) == "active"
    assert ct.show(TIMER, "UnitFileState") == "enabled"
    assert ct.show(TIMER, "Unit") == TRAINER
    assert ct.show(TIMER, "RandomizedDelayUSec") == "30min"
    # The next Sunday 03:00 plus the random delay, e.g. "Sun 2026-11-29 03:02:48 UTC".
    next_run = ct.show(TIMER, "NextElapseUSecRealtime")
    assert re.match(r"Sun \d{4}-\d\d-\d\d 03:([0-2]\d:\d\d|30:00) ", next_run), next_run
    listed = ct.systemctl("list-timers", "--all", TIMER).stdout
    assert TIMER in listed and TRAINER in listed, listed
    assert ct.state(TRAINER) in ("inactive", "failed")  # Persistent= with no missed run: no start now


def test_agent_unit_does_not_pull_in_the_model_server(tmp_path):
    # A Wants= would let any agent (re)start stop a running fine-tune through the trainer's Conflicts=.
    params = UnitParams(halops=Path("/usr/bin/true"), data_dir=tmp_path, config=tmp_path / "h.toml")
    (agent,) = [p for p in render_all(params, tmp_path / "units") if p.name == "halops-agent.service"]
    lines = [ln for ln in agent.read_text().splitlines() if not ln.startswith("#")]
    assert "After=halops-llama.service network-online.target" in lines
    assert not any(ln.startswith(("Wants=", "Requires=", "BindsTo=")) for ln in lines)
