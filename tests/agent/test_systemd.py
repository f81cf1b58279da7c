"""The rendered units: this install's paths, and `systemd-analyze verify` with nothing to say."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from agent.systemd_units import UnitParams, halops_executable, render_all
from tests.support.procs import halops_argv

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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["halops-agent.service", "halops-llama.service"]
    assert "ExecStart=" in (tmp_path / "halops-llama.service").read_text()
