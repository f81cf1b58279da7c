"""Every command that takes a file: a missing one is a one-line error and exit 2; `-` is stdin."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent.cli.main import main
from tests.support.procs import free_port, halops_argv

pytestmark = pytest.mark.unit

MISSING = "/nonexistent/halops-missing"
CALL = json.dumps({"tool": "shell", "arguments": {"command": "echo hi"}})

COMMANDS = [
    ["safety", "scrub", MISSING],
    ["safety", "scrub", "--secrets-file", MISSING, "-"],
    ["safety", "check", "--policy", MISSING],
    ["safety", "check", "--inventory", MISSING],
    ["safety", "explain", "--policy", MISSING, "ls"],
    ["safety", "explain", "--inventory", MISSING, "ls"],
    ["inventory", "list", "--inventory", MISSING],
    ["inventory", "check", "--inventory", MISSING],
    ["inventory", "trust", "web1", "--inventory", MISSING],
    ["tool", "run", "--inventory", MISSING, CALL],
    ["agent", "serve", "--inventory", MISSING],
    ["llm", "serve", "--model", MISSING],
    ["--config", MISSING, "config", "show"],
    ["config", "check", "--config", MISSING],
    ["config", "reference", "--write", MISSING],
    ["rag", "ingest", MISSING],
    ["rag", "eval", "--evalset", MISSING],
    ["data", "extract", "--source", MISSING],
    ["data", "all", "--source", MISSING],
    ["train", "--recipe", MISSING],
    ["retrain", "--recipe", MISSING],
    ["merge", MISSING],
    ["convert", MISSING],
    ["eval", "run", "--cases", MISSING],
    ["eval", "compare", MISSING, MISSING],
    ["deploy", MISSING],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:3]) for c in COMMANDS])
def test_missing_file_is_one_line_and_exit_2(argv, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HALOPS_AGENT__PORT", str(free_port()))
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))  # noqa: SIM115 - closed with the test
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error:") and MISSING in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_scrub_dash_reads_stdin() -> None:
    proc = subprocess.run(
        halops_argv("safety", "scrub", "-"),
        input=b"token=Zx81QkLmN0pQrStUvW\nplain\n",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"token=[REDACTED:secret]\nplain\n"


def test_scrub_secrets_file_from_stdin(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("x bmc-Pa55word y\n")
    proc = subprocess.run(
        halops_argv("safety", "scrub", "--secrets-file", "-", str(target)),
        input=b"bmc-Pa55word\n",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"x [REDACTED:known-secret] y\n"
    both = subprocess.run(
        halops_argv("safety", "scrub", "--secrets-file", "-"), capture_output=True, timeout=60
    )
    assert both.returncode == 2 and both.stderr.count(b"\n") == 1


def test_tool_run_reads_the_call_from_stdin(tmp_path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts: {}\n")
    proc = subprocess.run(
        halops_argv("tool", "run", "--inventory", str(inventory), "-"),
        input=CALL.encode(),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stdout"] == "hi\n"
