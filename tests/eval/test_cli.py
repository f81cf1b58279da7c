"""`halops eval run` against a scripted model server: the summary an operator reads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.eval.helpers import CASES
from tests.support.procs import halops_argv
from tests.support.scripted_llm import ScriptedModel, call

pytestmark = pytest.mark.integration


def test_the_summary_reports_schema_valid_calls_and_the_grammar(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES)

    def model(messages: list[dict]) -> str:
        if "disk" in messages[-1]["content"]:
            return call("ssh", host="web1", command="df -h") + call("storage02", path="/")
        return "A baseboard management controller."

    with ScriptedModel(model) as scripted:
        argv = ["eval", "run", "--url", scripted.url, "--cases", str(cases)]
        out = subprocess.run(
            halops_argv(*argv, "--no-grammar", "--save", str(tmp_path / "r.json")),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "schema-valid tool calls: 1/2 (50.0%); grammar off" in out.stdout
        assert "unknown tool 'storage02'" in out.stdout
        saved = json.loads((tmp_path / "r.json").read_text())
        assert saved["calls_emitted"] == 2 and saved["calls_valid_share"] == 0.5
