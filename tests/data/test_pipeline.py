"""The whole pipeline on the real fixtures plus hand-written sessions: secrets, determinism, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app, main
from tests.data.helpers import FIXTURES, Log, ops_session, settings_for, tool_use
from trainer.data import jsonl, pipeline
from trainer.data.errors import StageInputError
from trainer.data.stages import Layout

pytestmark = pytest.mark.integration

GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS = "AKIA" + "QWERTYUIOPASDFGH"
KNOWN = "correct-horse-battery-staple-42"
SKILL = """---
name: disk-full
description: Free space on a Linux host whose root or /var filesystem is full.
---
# Disk full

Use this when df -h shows a filesystem above 90%.

## Find what is big

Run `du -xh / | sort -h | tail -20` and look at /var/log, /var/lib/docker and old kernels first.
Journal files can be shrunk with `journalctl --vacuum-size=200M`.

## Tiny

short
"""


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    src = tmp_path / "src" / "-home-ops"
    ops_session(src / "ops-1.jsonl", "ops-1", secret=GITHUB)
    ops_session(src / "ops-2.jsonl", "ops-2", exchanges=4)
    shutil.copy(src / "ops-2.jsonl", src / "ops-2-copy.jsonl")  # the same work twice: dedup's job
    log = Log("leaky")
    log.user(f"Rotate the backup key on db1; the old one is in ~/.aws: {AWS}")
    log.assistant([tool_use("k1", command=f"grep -r {KNOWN} /etc/backup")], "m1")
    log.result("k1", f"/etc/backup/env:PASSPHRASE={KNOWN}\n/etc/backup/env:TOKEN={GITHUB}")
    log.assistant(
        f"Found it: the passphrase {KNOWN} is in /etc/backup/env; rotate it with the vault CLI.", "m2"
    )
    log.write(src / "leaky.jsonl")
    skill = tmp_path / "skills" / "disk-full" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text(SKILL)
    (tmp_path / "known").write_text(KNOWN + "\n")
    return tmp_path / "src"


def _settings(tmp_path: Path, tokenizer_json: Path, **data):
    return settings_for(
        tmp_path,
        tokenizer_json,
        sources=[FIXTURES, tmp_path / "src"],
        skills_dir=tmp_path / "skills",
        known_secrets_file=tmp_path / "known",
        **data,
    )


def _final_bytes(settings) -> dict[str, bytes]:
    folder = Layout(settings.data_dir).folder("validate")
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_all_twice_gives_byte_identical_final_files(tmp_path, sources, tokenizer_json):
    settings = _settings(tmp_path, tokenizer_json)
    first = pipeline.run_all(settings)
    assert [r.status for r in first] == ["ran", "ran", "ran", "skipped", "ran"]
    before = _final_bytes(settings)
    assert sorted(before) == ["data_report.json", "test.jsonl", "train.jsonl", "val.jsonl"]
    again = pipeline.run_all(settings)
    assert [r.status for r in again] == ["up to date", "up to date", "up to date", "skipped", "up to date"]
    assert _final_bytes(settings) == before
    forced = pipeline.run_all(settings, force=True)
    assert all(r.status in ("ran", "skipped") for r in forced)
    assert _final_bytes(settings) == before


def test_planted_secrets_never_reach_final_or_rejected(tmp_path, sources, tokenizer_json):
    settings = _settings(tmp_path, tokenizer_json)
    pipeline.run_all(settings)
    layout = Layout(settings.data_dir)
    extracted = (layout.folder("extract") / "sessions.jsonl").read_text()
    assert GITHUB in extracted and KNOWN in extracted  # planted for real: only validate scrubs
    for folder in (layout.folder("validate"), layout.rejected):
        for path in folder.iterdir():
            body = path.read_text()
            for secret in (GITHUB, AWS, KNOWN):
                assert secret not in body, f"{secret[:8]}... leaked into {path}"
    report = json.loads((layout.folder("validate") / "data_report.json").read_text())
    findings = report["validate"]["scrub"]["findings"]
    assert findings.get("github-token", 0) >= 2 and findings.get("aws-access-key", 0) >= 1
    assert findings.get("known-secret", 0) >= 3
    assert report["validate"]["scrub"]["residual_findings"] == 0
    train = [
        json.loads(line) for line in (layout.folder("validate") / "train.jsonl").read_text().splitlines()
    ]
    val = (layout.folder("validate") / "val.jsonl").read_text() + (
        layout.folder("validate") / "test.jsonl"
    ).read_text()
    assert "[REDACTED:" in json.dumps(train) + val


def test_report_counts_every_stage(tmp_path, sources, tokenizer_json):
    settings = _settings(tmp_path, tokenizer_json)
    pipeline.run_all(settings)
    layout = Layout(settings.data_dir)
    report = json.loads((layout.folder("validate") / "data_report.json").read_text())
    ex = report["stages"]["extract"]
    assert (ex["sessions"], ex["subagents"], ex["compact_summaries_excluded"]) == (16, 7, 5)
    assert ex["compaction_agents_excluded"] == 5 and ex["malformed_lines"] == 6
    assert set(report["stages"]["qualify"]["session"]["tiers"]) <= {"A", "B", "C"}
    final = report["final"]
    splits = {}
    for name in ("train", "val", "test"):
        rows = [json.loads(x) for x in (layout.folder("validate") / f"{name}.jsonl").read_text().splitlines()]
        assert final["examples"][name] == len(rows)
        splits[name] = {r["metadata"]["session_id"] for r in rows}
        for r in rows:
            assert r["metadata"]["n_tokens"] <= settings.data.max_seq_tokens
            assert set(r["metadata"]) >= {"session_id", "strategy", "tier", "domain", "source"}
    assert not (splits["train"] & splits["val"]) and not (splits["train"] & splits["test"])
    assert not (splits["val"] & splits["test"])
    strategies = final["all"]["strategy"]
    assert set(strategies) == {"A", "B", "C", "D"}, strategies
    assert report["validate"]["dedup"]["removed"] >= 4  # ops-2-copy repeats ops-2 word for word
    assert report["validate"]["dedup"]["removed_by_strategy"]
    hist = final["tokens"]["histogram"]
    assert sum(b["count"] for b in hist) == sum(final["examples"].values())
    assert report["settings"]["dedup"]["engine"].startswith("rensa")
    curated = report["stages"]["curate"]["examples"]
    assert curated["strategy C"] == 2  # the skill's purpose and its one substantial section


def test_a_killed_validate_leaves_no_half_file_and_resumes(tmp_path, sources, tokenizer_json, monkeypatch):
    settings = _settings(tmp_path, tokenizer_json)
    pipeline.run_all(settings)
    before = _final_bytes(settings)
    final = Layout(settings.data_dir).folder("validate")
    (final / "train.jsonl").write_text("")  # pretend an earlier run was cut off

    real = jsonl.AtomicWriter.write
    calls = {"n": 0}

    def dying_write(self, obj):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt  # killed in the middle of writing train.jsonl
        real(self, obj)

    monkeypatch.setattr(jsonl.AtomicWriter, "write", dying_write)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_all(settings)
    assert (final / "train.jsonl").read_text() == ""  # the old file, not half a new one
    assert not [p for p in final.iterdir() if jsonl.TMP_MARK in p.name]
    monkeypatch.setattr(jsonl.AtomicWriter, "write", real)
    results = pipeline.run_all(settings)
    assert [r.status for r in results] == ["up to date", "up to date", "up to date", "skipped", "ran"]
    assert _final_bytes(settings) == before


def test_bad_curated_lines_are_refused_with_reasons(tmp_path, sources, tokenizer_json):
    settings = _settings(tmp_path, tokenizer_json)
    pipeline.run_all(settings)
    layout = Layout(settings.data_dir)
    extra = layout.folder("curate") / "sft_singleturn.jsonl"
    broken = {"id": "B:broken", "messages": [{"role": "user", "content": f"hi {GITHUB}"}], "metadata": {}}
    with extra.open("a") as fh:
        fh.write(json.dumps(broken) + "\nnot json\n")
    result = pipeline.run_stage("validate", settings)
    assert result.status == "ran"
    rejected = [json.loads(x) for x in (layout.rejected / "validate.jsonl").read_text().splitlines()]
    row = next(r for r in rejected if r["id"] == "B:broken")
    assert row["problems"][0].startswith("shape") and GITHUB not in row["raw"]
    report = json.loads((layout.folder("validate") / "data_report.json").read_text())
    assert report["validate"]["unreadable_lines"] == 1 and report["validate"]["rejected"]["shape"] == 1


def test_stages_need_their_inputs(tmp_path, tokenizer_json):
    settings = settings_for(tmp_path, tokenizer_json)
    with pytest.raises(StageInputError, match="run `halops data extract` first"):
        pipeline.run_stage("qualify", settings)


def test_cli_all_prints_a_summary_and_errors_cleanly(tmp_path, sources, tokenizer_json, monkeypatch, capsys):
    cfg = tmp_path / "halops.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path / "cli-state"}"\n[data]\ntokenizer = "{tokenizer_json}"\n'
        f'skills_dir = "{tmp_path / "skills"}"\nknown_secrets_file = "{tmp_path / "known"}"\n'
    )
    monkeypatch.delenv("HALOPS_DATA_DIR", raising=False)
    result = CliRunner().invoke(app, ["--config", str(cfg), "data", "all", "--source", str(sources)])
    assert result.exit_code == 0, result.output
    for word in ("extract", "qualify", "curate", "augment", "validate", "skipped", "final data"):
        assert word in result.output
    assert (tmp_path / "cli-state" / "data" / "final" / "train.jsonl").exists()
    assert main(["--config", str(cfg), "data", "extract", "--source", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_all_adds_synth_episodes_to_final_and_reruns_nothing(tmp_path, sources, tokenizer_json):
    settings = _settings(tmp_path, tokenizer_json, synth_episodes=60)
    first = pipeline.run_all(settings)
    names = [r.stage for r in first]
    assert names.index("synth") == names.index("validate") - 1
    report = json.loads((Layout(settings.data_dir).folder("validate") / "data_report.json").read_text())
    assert report["final"]["all"]["strategy"].get("synth", 0) > 0
    again = pipeline.run_all(settings)
    assert {r.stage: r.status for r in again}["synth"] == "up to date"
    assert {r.stage: r.status for r in again}["validate"] == "up to date"
