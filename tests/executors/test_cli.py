"""`halops inventory check|list|trust` and `halops tool run`, as subprocesses on a real sshd."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.fleet import Fleet, add_bmc, add_http, add_ssh_host
from tests.support.procs import halops_argv
from tests.support.sshd import keygen

pytestmark = pytest.mark.integration


def halops(fleet: Fleet, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    fleet.write_inventory()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HALOPS_") and k != "CREDENTIALS_DIRECTORY"
    }
    env.update(
        HALOPS_CONFIG=str(fleet.root / "empty.toml"),
        HALOPS_DATA_DIR=str(fleet.root / "data"),
        HALOPS_EXECUTORS__INVENTORY=str(fleet.inventory_path),
        HALOPS_EXECUTORS__CREDENTIALS_DIR=str(fleet.creds),
        HALOPS_EXECUTORS__KNOWN_HOSTS=str(fleet.known_hosts),
        HALOPS_EXECUTORS__AUDIT_LOG=str(fleet.audit_log),
        COLUMNS="200",
    )
    (fleet.root / "empty.toml").touch()
    return subprocess.run(
        halops_argv(*args), capture_output=True, text=True, env=env, input=input, timeout=60, cwd=fleet.root
    )


def test_check_ok(fleet: Fleet, sshd_server, bmc, http_server) -> None:
    add_ssh_host(fleet, sshd_server)
    add_bmc(fleet, bmc)
    add_http(fleet, http_server)
    p = halops(fleet, "inventory", "check")
    assert p.returncode == 0, p.stderr
    assert "inventory OK: 1 host(s)" in p.stdout


def test_check_lists_every_problem(fleet: Fleet, sshd_server, tmp_path: Path) -> None:
    add_ssh_host(fleet, sshd_server, trust=False)
    (fleet.creds / "box_ssh").chmod(0o644)
    fleet.hosts["bad"] = {
        "address": "bad_name!",
        "ssh": {"key": "missing_key"},
        "bmc": {"address": "10.0.0.9", "user": "admin", "password": "missing_pw"},
        "http": {"base_url": "ftp://bad/"},
    }
    fleet.credential("garbage_key", "this is not a key")
    fleet.hosts["junk"] = {"address": "10.0.0.10", "ssh": {"key": "garbage_key"}}
    fleet.hosts["schema"] = {"address": "10.0.0.11", "ssh": {"key": "k", "port": 99999}}
    dup = tmp_path / "dup.yaml"
    dup.write_text(
        fleet.write_inventory().read_text() + "  junk:\n    address: 10.0.0.10\n    ssh: {key: garbage_key}\n"
    )
    p = halops(fleet, "inventory", "check", "--inventory", str(dup))
    assert p.returncode == 2
    err = " ".join(p.stderr.split())  # rich wraps long lines
    for expected in [
        "hosts.box.ssh.key",
        "chmod 600",
        "hosts.box.ssh: no host key for",
        "hosts.bad.address",
        "missing_key does not exist",
        "missing_pw does not exist",
        "hosts.bad.http.base_url",
        "not an OpenSSH/PEM",
        "appears twice",
        "hosts.schema.ssh.port",
    ]:
        assert expected in err, (expected, err)


def test_list(fleet: Fleet, sshd_server, bmc) -> None:
    add_ssh_host(fleet, sshd_server)
    add_bmc(fleet, bmc)
    fleet.hosts["box"]["groups"] = ["web", "prod"]
    p = halops(fleet, "inventory", "list")
    assert p.returncode == 0, p.stderr
    assert "box" in p.stdout and "web,prod" in p.stdout and f"admin@127.0.0.1:{bmc.port}" in p.stdout


def test_trust_records_then_detects_a_changed_key(fleet: Fleet, sshd_server, tmp_path: Path) -> None:
    add_ssh_host(fleet, sshd_server, trust=False)
    fp = subprocess.run(
        ["ssh-keygen", "-lf", str(sshd_server.host_key.with_suffix(".pub"))], capture_output=True, text=True
    ).stdout.split()[1]
    p = halops(fleet, "inventory", "trust", "box", input="n\n")
    assert p.returncode == 1 and fp in p.stdout
    assert fleet.known_hosts.read_text() == ""
    p = halops(fleet, "inventory", "trust", "box", input="y\n")
    assert p.returncode == 0, p.stderr
    assert "recorded" in p.stdout
    assert fleet.known_hosts.read_text().strip() == sshd_server.known_hosts_line
    p = halops(fleet, "inventory", "trust", "box", "--yes")
    assert "already trusted" in p.stdout
    # The host "was reinstalled": known_hosts holds another key now.
    impostor = keygen(tmp_path / "old")
    kind, b64 = impostor.with_suffix(".pub").read_text().split()[:2]
    fleet.known_hosts.write_text(f"# kept\n[127.0.0.1]:{sshd_server.port} {kind} {b64}\n")
    p = halops(fleet, "inventory", "trust", "box", "--yes")
    assert p.returncode == 1 and "DIFFERENT key" in " ".join(p.stderr.split())
    p = halops(fleet, "inventory", "trust", "box", "--yes", "--replace")
    assert p.returncode == 0, p.stderr
    assert fleet.known_hosts.read_text() == f"# kept\n{sshd_server.known_hosts_line}\n"


def test_tool_run_prints_the_result(fleet: Fleet, sshd_server) -> None:
    add_ssh_host(fleet, sshd_server)
    call = json.dumps({"tool": "ssh", "arguments": {"host": "box", "command": "uptime"}})
    p = halops(fleet, "tool", "run", "--inventory", str(fleet.write_inventory()), call, "--approve")
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(p.stdout)
    assert result["status"] == "ok" and "load average" in result["stdout"]
    assert {r["event"] for r in fleet.audit_records()} == {"check", "exec"}
    denied = json.dumps({"tool": "ssh", "arguments": {"host": "box", "command": "rm -rf /"}})
    p = halops(fleet, "tool", "run", denied, "--approve")
    assert p.returncode == 1
    assert json.loads(p.stdout)["status"] == "denied"


def test_tool_run_rejects_non_json(fleet: Fleet) -> None:
    p = halops(fleet, "tool", "run", "{not json")
    assert p.returncode == 1 and "not JSON" in p.stderr
