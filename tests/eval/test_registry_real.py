"""`halops models compare` on two real eval reports: the bundled SmolLM2 scored by the real eval
(the session's llama server), once with the tool grammar and once without, as versions 0 and 1."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from eval.registry.versions import report_file
from halops.llm.models import ModelStore, bundled_model
from tests.eval.helpers import CASES, SMART_CASE
from tests.support.procs import halops_argv

pytestmark = [pytest.mark.model, pytest.mark.integration]


def test_compare_prints_win_tie_loss_for_two_real_reports(model_server, tmp_path: Path) -> None:
    data = Path(os.environ["HALOPS_DATA_DIR"])
    store = ModelStore(data / "models")
    store.add_version(bundled_model(), 0, link=True)
    store.add_version(bundled_model(), 1, link=True)
    store.activate(0)
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES + SMART_CASE)
    reports = data / "eval" / "reports"
    env = {**os.environ, "COLUMNS": "200"}
    for version, grammar in ((0, "--grammar"), (1, "--no-grammar")):
        argv = halops_argv(
            "eval", "run", "--url", model_server.url, "--cases", str(cases), grammar,
            "--save", str(report_file(reports, version)),
        )  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    out = subprocess.run(halops_argv("models", "compare", "0", "1"), capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    wins = re.search(r"v0 wins (\d+), v1 wins (\d+), ties (\d+)", out.stdout)
    assert wins is not None, out.stdout
    assert sum(int(n) for n in wins.groups()) == 3
    for case in ("disk", "bmc", "smart"):
        assert case in out.stdout
    assert "tool-use" in out.stdout and "knowledge" in out.stdout and "overall" in out.stdout
