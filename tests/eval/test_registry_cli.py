"""`halops models` end to end: real deploys through the gate (llama-server replaced by the scripted
stand-in of test_gate), the real CLI in a subprocess, the registry's SQLite and files on disk."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agent.transcripts.store import TranscriptStore
from halops.llm.models import ModelStore
from tests.eval.helpers import fake_halops_up
from tests.eval.test_gate import GOOD, PROSE_ONLY, TOOLS_ONLY, deployed_first, env, model  # noqa: F401
from tests.support.procs import halops_argv

pytestmark = pytest.mark.integration


def halops(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:  # noqa: F811
    run_env = {**os.environ, "HALOPS_CONFIG": str(env["config"]), "COLUMNS": "200"}
    return subprocess.run(halops_argv(*args), capture_output=True, text=True, env=run_env, input=stdin)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_rollback_after_a_forced_bad_deploy_restores_the_previous_version(env: dict) -> None:  # noqa: F811
    store = deployed_first(env, GOOD)
    ok(halops(env, "deploy", "--force", str(model(env, "worse", TOOLS_ONLY))))
    assert store.active_version() == 1

    out = ok(halops(env, "models", "rollback", "--reason", "forgets what a BMC is"))
    assert "rolled back to v0 (was v1)" in out.stdout
    assert store.active_version() == 0

    history = json.loads(ok(halops(env, "models", "history", "--json")).stdout)
    assert [(h["action"], h["version"], h["previous"], h["actor"]) for h in history] == [
        ("deploy", 1, 0, "cli"),
        ("rollback", 0, 1, "cli"),
    ]
    assert history[0]["verdict"]["regressed"] and history[0]["verdict"]["forced"]
    assert history[1]["reason"] == "forgets what a BMC is"
    listed = {v["version"]: v for v in json.loads(ok(halops(env, "models", "list", "--json")).stdout)}
    assert {v: i["state"] for v, i in listed.items()} == {0: "active", 1: "archived"}
    assert listed[1]["source"] == {"kind": "manual", "file": str((env["tmp"] / "worse.gguf").resolve())}
    assert listed[1]["eval"]["by_category"] == {"knowledge": 0.3, "tool-use": 1.0}
    table = ok(halops(env, "models", "list")).stdout
    assert "v0" in table and "active" in table and "archived" in table

    # The bad version, scored by the gate, against the good one: case by case.
    cmp = ok(halops(env, "models", "compare", "0", "1")).stdout
    assert "v0 wins 1, v1 wins 0, ties 1" in cmp and "knowledge" in cmp and "-0.700" in cmp


def test_activating_a_missing_or_rejected_version_is_a_clear_error_and_changes_nothing(env: dict) -> None:  # noqa: F811
    store = deployed_first(env, GOOD)
    refused = halops(env, "deploy", str(model(env, "worse", TOOLS_ONLY)))
    assert refused.returncode == 3
    link, history = os.readlink(store.current_link), ok(halops(env, "models", "history", "--json")).stdout
    assert [h["action"] for h in json.loads(history)] == ["reject"]

    missing = halops(env, "models", "activate", "7")
    assert missing.returncode == 1 and "no model version 7" in missing.stderr
    rejected = halops(env, "models", "activate", "1")
    assert rejected.returncode == 1 and "rejected by the deploy gate" in rejected.stderr
    assert "--force" in rejected.stderr and "Traceback" not in missing.stderr + rejected.stderr
    assert os.readlink(store.current_link) == link
    assert ok(halops(env, "models", "history", "--json")).stdout == history

    shown = ok(halops(env, "models", "show", "1")).stdout
    assert "rejected" in shown and "category knowledge" in shown
    ok(halops(env, "models", "activate", "1", "--force", "--reason", "need the tool skill today"))
    assert store.active_version() == 1


def test_rollback_asks_a_running_halops_up_to_reload(env: dict) -> None:  # noqa: F811
    store = deployed_first(env, PROSE_ONLY)
    store.add_version(model(env, "v1", GOOD), 1)
    ok(halops(env, "models", "activate", "1"))
    with fake_halops_up(env["data"], env["tmp"] / "hup") as up:
        out = ok(halops(env, "models", "rollback"))
        assert f"asked `halops up` (pid {up.pid})" in out.stdout
        assert up.wait(10) == 0 and (env["tmp"] / "hup").read_text() == "hup"
        assert store.active_version() == 0


def test_live_pairs_from_transcripts_are_judged_blind_and_exported(env: dict, tmp_path: Path) -> None:  # noqa: F811
    store = deployed_first(env, GOOD)
    store.add_version(model(env, "prose", PROSE_ONLY), 1)
    transcripts = TranscriptStore(env["data"] / "transcripts.sqlite", scrub=lambda s: s)
    for question in ("Check disk usage on web1 please", "What is a BMC? password=hunter2hunter2"):
        turn = transcripts.start_turn(
            conversation_id="c1", request_id="r", messages=[{"role": "user", "content": question}]
        )
        transcripts.finish_turn(turn, status="ok", answer="...")
    transcripts.close()

    out = ok(halops(env, "models", "compare", "0", "1", "--live", "5"))
    assert "no report comparison" in out.stderr and "stored 2 pair(s)" in out.stdout
    pending = None
    # The judge's view: no version numbers, either order.
    from eval.registry.db import open_db
    from eval.registry.pairs import list_pairs

    with open_db(ModelStore(env["data"] / "models").root) as db:
        pending = list_pairs(db, judged=False)
    assert len(pending) == 2 and all("hunter2hunter2" not in json.dumps(p) for p in pending)
    disk = next(p for p in pending if "disk" in p["prompt"])
    assert {disk["first"], disk["second"]} == {GOOD["replies"]["disk"], PROSE_ONLY["default"]}

    good_first = "first" if disk["first"] == GOOD["replies"]["disk"] else "second"
    ok(halops(env, "models", "judge", "--pair", disk["id"], "--winner", good_first))
    again = halops(env, "models", "judge", "--pair", disk["id"], "--winner", "tie")
    assert again.returncode == 1 and "judged already" in again.stderr
    judged = ok(halops(env, "models", "judge", stdin="t\n")).stdout  # the interactive judge, one tie
    assert "judged 2, waiting 0" in judged

    prefs = tmp_path / "prefs.jsonl"
    assert "exported 1 preference pair" in ok(halops(env, "models", "export-preferences", str(prefs))).stdout
    [row] = [json.loads(line) for line in prefs.read_text().splitlines()]
    assert row == {
        "prompt": disk["prompt"],
        "chosen": GOOD["replies"]["disk"],
        "rejected": PROSE_ONLY["default"],
    }
