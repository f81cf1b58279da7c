"""`halops safety ...` through the real Typer app and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent.cli.main import app
from tests.safety.conftest import INVENTORY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # A private config location: nothing from the developer's machine leaks in.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("HALOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HALOPS_CONFIG", raising=False)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(yaml.safe_dump(INVENTORY))
    return inv


@pytest.mark.unit
def test_check_jsonl(env: Path) -> None:
    lines = [
        {"tool": "shell", "arguments": {"command": "df -h"}},
        {"tool": "ssh", "arguments": {"host": "web1", "command": "systemctl restart nginx"}},
        "this is not json",
        {"tool": "ssh", "arguments": {"host": "nope", "command": "uptime"}},
        ["a", "list"],
        {"tool": "http", "arguments": {"method": "GET", "url": "http://web1:8080/health"}},
        {"tool": "shell"},
    ]
    stdin = ("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n").encode()
    stdin += b'{"tool": "shell", "arguments": {"command": "ls \xff"}}\n'  # not UTF-8
    result = CliRunner().invoke(app, ["safety", "check", "--inventory", str(env)], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    verdicts = ["allow", "approve", "deny", "deny", "deny", "allow", "deny", "allow"]
    assert [o["verdict"] for o in out] == verdicts
    assert all(set(o) == {"verdict", "rule", "reason"} for o in out)
    assert out[2]["rule"] == "deny.malformed-input" and "Line 3" in out[2]["reason"]
    assert out[3]["rule"] == "deny.unknown-host"
    assert out[6]["rule"] == "deny.bad-arguments"


@pytest.mark.unit
def test_scrub_file_and_stdin(env: Path, tmp_path: Path) -> None:
    f = tmp_path / "out.log"
    f.write_text("ok\npassword=Hunter2xyz\nAKIAQ4EXAMPLEKEY7ZZZ here\n")
    result = CliRunner().invoke(app, ["safety", "scrub", str(f)])
    assert result.exit_code == 0
    assert result.stdout == "ok\npassword=[REDACTED:password]\n[REDACTED:aws-access-key] here\n"
    assert "redacted 2" in result.stderr and "aws-access-key=1" in result.stderr
    secrets = tmp_path / "secrets.txt"
    secrets.write_text("bmc-Pa55word\n")
    args = ["safety", "scrub", "--secrets-file", str(secrets)]
    result = CliRunner().invoke(app, args, input="x bmc-Pa55word y")
    assert result.stdout == "x [REDACTED:known-secret] y"
    result = CliRunner().invoke(app, ["safety", "scrub"], input="nothing here\n")
    assert result.stdout == "nothing here\n" and "no secrets" in result.stderr


@pytest.mark.unit
def test_explain(env: Path) -> None:
    result = CliRunner().invoke(
        app, ["safety", "explain", "--inventory", str(env), "sudo bash -c 'df -h; r\"\"m -rf /' | grep x"]
    )
    assert result.exit_code == 0, result.output
    assert "rm -rf /" in result.stdout and "deny.recursive-protected" in result.stdout
    assert "allow.diagnostics" in result.stdout  # every rule that fired, not only the winner
    assert "decision deny" in result.stdout
    assert "class data: destroys stored data" in result.stdout
    args = ["safety", "explain", "--inventory", str(env), "--json", "sysctl -w vm.panic_on_oom=1"]
    data = json.loads(CliRunner().invoke(app, args).stdout)
    assert data["decision"]["harm"] == "kernel" and data["decision"]["rule"] == "deny.kernel-critical"
    args = ["safety", "explain", "--inventory", str(env), "--json", "df -h | wc -l"]
    result = CliRunner().invoke(app, args)
    data = json.loads(result.stdout)
    assert data["decision"]["verdict"] == "allow" and data["decision"]["command"] == "df -h | wc -l"
    assert data["commands"] == ["df -h", "wc -l"]


@pytest.mark.integration
def test_subprocess_scrub_passes_invalid_utf8_through(env: Path) -> None:
    data = b"caf\xe9 \xff\xfe token=Zx81QkLmN0pQrStUvW\n"
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "safety", "scrub"],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"caf\xe9 \xff\xfe token=[REDACTED:secret]\n"
    assert b"redacted 1" in proc.stderr
