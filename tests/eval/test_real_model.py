"""`halops eval run` against the real llama server on the bundled SmolLM2 (served by the eval)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from halops.llm.models import bundled_model
from tests.eval.helpers import CASES as BASE_CASES
from tests.eval.helpers import SMART_CASE
from tests.support.procs import halops_argv

pytestmark = [pytest.mark.model, pytest.mark.integration]

CASES = BASE_CASES + SMART_CASE


def test_eval_of_the_bundled_model_is_complete_and_reproducible(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES)
    scores = []
    for n in (1, 2):
        out = tmp_path / f"r{n}.json"
        proc = subprocess.run(
            halops_argv(
                "eval", "run", "--model", str(bundled_model()), "--cases", str(cases), "--save", str(out)
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        report = json.loads(out.read_text())
        assert [r["id"] for r in report["results"]] == ["disk", "bmc", "smart"]
        assert all(0 <= r["score"] <= 1 and r["error"] is None for r in report["results"])
        assert set(report["by_category"]) == {"tool-use", "knowledge"}
        scores.append([(r["score"], r["reply"]) for r in report["results"]])
    # Greedy decoding: the gate may compare two runs only because one model always scores the same.
    assert scores[0] == scores[1]
