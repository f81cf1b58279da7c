"""Real systemd (PID 1 in a throwaway nspawn container, ../shared/TESTING.md): `halops status` reads
the units' state, and the API's launcher, running as a systemd service, starts halops-trainer.service
(whose Conflicts= stops the model server) instead of a child of its own.

The rendered units run a stub `halops`; the real `halops status` and launcher run inside the
container from this checkout (bound read-only), with the container's systemctl.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agent.control.status import SHOW_PROPERTIES, parse_show
from agent.systemd_units import UNITS, UnitParams, render_all
from tests.support import nspawn

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
INSIDE = Path("/opt/halops")
LLAMA, TRAINER = "halops-llama.service", "halops-trainer.service"
STUB = """#!/bin/sh
d="$HALOPS_DATA_DIR"
echo "args=$*" >> "$d/calls.log"
case "$1" in
  llm) sleep infinity ;;
  retrain) sleep 1; exit 0 ;;
esac
exit 64
"""


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    reason = nspawn.unavailable_reason()
    if reason:
        pytest.skip(reason)
    top = tmp_path_factory.mktemp("control-systemd")
    opt = top / "opt"
    (opt / "bin").mkdir(parents=True)
    (opt / "data").mkdir()
    (opt / "data").chmod(0o777)
    (opt / "halops.toml").touch()
    (opt / "bin" / "halops").write_text(STUB)
    (opt / "bin" / "halops").chmod(0o755)
    sysusers = top / "sysusers.conf"
    sysusers.write_text(f'u halops - "halops" {INSIDE / "data"}\n')
    units = top / "units"
    render_all(
        UnitParams(halops=INSIDE / "bin" / "halops", data_dir=INSIDE / "data", config=INSIDE / "halops.toml"),
        units,
    )
    # This checkout, its virtualenv and the interpreter behind it, read-only at the same paths.
    code = {REPO, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    binds = [(opt, str(INSIDE), False), (sysusers, "/etc/sysusers.d/halops-test.conf", True)]
    binds += [(p, str(p), True) for p in sorted(code)]
    with nspawn.boot(units, binds=binds, workdir=top / "nspawn") as container:
        yield container


def halops_inside(ct: nspawn.Container, *args: str, timeout: float = 180):
    env = [
        f"PYTHONPATH={REPO}",
        f"HALOPS_DATA_DIR={INSIDE / 'data'}",
        f"HALOPS_CONFIG={INSIDE / 'halops.toml'}",
    ]
    return ct.run("env", *env, "COLUMNS=200", sys.executable, "-m", "agent.cli.main", *args, timeout=timeout)


def test_status_shows_the_units_systemd_runs(ct):
    ct.systemctl("start", LLAMA)
    ct.wait_for_state(LLAMA, "active")
    raw = ct.systemctl("show", "-p", ",".join(SHOW_PROPERTIES), *UNITS).stdout
    assert [b["Id"] for b in parse_show(raw)] == list(UNITS)

    status = json.loads(halops_inside(ct, "status", "--json").stdout)
    units = {u["unit"]: u for u in status["systemd"]["units"]}
    assert status["systemd"]["available"] is True and set(units) == set(UNITS)
    assert (units[LLAMA]["active"], units[LLAMA]["sub"], units[LLAMA]["scope"]) == (
        "active",
        "running",
        "system",
    )
    assert units[LLAMA]["since"]  # ActiveEnterTimestamp
    assert units[TRAINER]["active"] == "inactive" and units["halops-trainer.timer"]["enabled"] == "disabled"
    assert status["gpu"] == {"available": False, "reason": "nvidia-smi not found"}
    tables = halops_inside(ct, "status").stdout
    assert "systemd units" in tables and LLAMA in tables and "running" in tables


LAUNCH = """
from agent.cli.settings import load_settings
from pathlib import Path
from agent.control.launcher import Launcher, systemd_scope
scope = systemd_scope()
print("scope", scope, flush=True)
Launcher(load_settings(), on_exit=lambda *a: None, scope=scope).start("unused", Path("/tmp"))
print("started", flush=True)
"""


def test_a_job_under_systemd_starts_the_trainer_unit_which_takes_the_gpu(ct):
    ct.systemctl("start", LLAMA)
    ct.wait_for_state(LLAMA, "active")
    calls = INSIDE / "data" / "calls.log"
    # The daemon's side, run as a systemd service (INVOCATION_ID, its own cgroup), as halops-agent is.
    out = ct.run(
        "systemd-run",
        "--wait",
        "--pipe",
        "--quiet",
        f"--setenv=PYTHONPATH={REPO}",
        f"--setenv=HALOPS_DATA_DIR={INSIDE / 'data'}",
        f"--setenv=HALOPS_CONFIG={INSIDE / 'halops.toml'}",
        sys.executable,
        "-c",
        LAUNCH,
        timeout=180,
    )
    assert out.stdout.split("\n")[:2] == ["scope system", "started"], out.stdout + out.stderr
    ct.wait_for_state(TRAINER, ("activating", "inactive"), timeout=30)
    ct.wait_for_state(TRAINER, "inactive", timeout=60)
    ct.wait_for_state(LLAMA, "active", timeout=30)  # OnSuccess= brings inference back
    log = ct.run("cat", str(calls)).stdout.splitlines()
    assert "args=retrain" in log and log.index("args=retrain") > log.index("args=llm serve")
    assert ct.show(TRAINER, "Result") == "success"
