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
from trainer.data.errors import SecretLeakError, StageInputError
from trainer.data.secretguard import SecretGuard
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


# Secrets planted into copies of the real fixture sessions, one of each shape the scrubber knows.
PLANTED = {
    "github": ("GITHUB_TOKEN is {}", "ghp_" + "Zq9Lm2Xv8Rt4Yp7Ws1Kd3Fh6Jc5Nb0Ga4Ue8"),
    "aws": ("export AWS_ACCESS_KEY_ID={}", "AKIA" + "ZXCVBNMASDFGHJKL"),
    "prose": ("Authorization header for X_ACCESS_TOKEN is {}", "q7Lm2Zt9Rk4Xv8Wp3Nb6"),
    "yaml": ("  DB_PASSWORD: {}", "Hk;9}pQ#zR2w!xV7"),
    "url": ("postgres://app:{}@db1:5432/app", "Sup3r-S3cretPw"),
    "webhook": ("ALERT_WEBHOOK=https://chat.ops.example:8443/hooks/{}", "Zr4kQ9mT2vLx8pW4nB7cD1"),
    "known": ("the backup passphrase is {}", KNOWN),
}


def _plant(text: str, n: int) -> str:
    template, secret = list(PLANTED.values())[n % len(PLANTED)]
    return f"{text}\n{template.format(secret)}"


def _plant_into_fixtures(dst: Path) -> int:
    """Copy the real sessions to `dst` (a temp dir) with a secret in user, assistant and tool text."""
    shutil.copytree(FIXTURES, dst)
    planted = 0
    for path in sorted(dst.rglob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            message = rec.get("message") if isinstance(rec, dict) else None
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                rec["message"]["content"] = _plant(content, planted)
            elif isinstance(content, list):
                for block in content:
                    if not isinstance(block, dict):
                        continue
                    if block.get("type") == "text":
                        block["text"] = _plant(block["text"], planted)
                    elif block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
                        cmd = block["input"].get("command")
                        if isinstance(cmd, str):
                            block["input"]["command"] = _plant(cmd, planted)
                    elif block.get("type") == "tool_result" and isinstance(block.get("content"), str):
                        block["content"] = _plant(block["content"], planted)
                    else:
                        continue
                    break
            else:
                continue
            planted += 1
            lines[i] = json.dumps(rec)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return planted


def test_planted_secrets_leave_no_trace_in_any_file_the_pipeline_writes(tmp_path, sources, tokenizer_json):
    fixtures = tmp_path / "planted-fixtures"
    assert _plant_into_fixtures(fixtures) >= 100
    settings = settings_for(
        tmp_path,
        tokenizer_json,
        sources=[fixtures, tmp_path / "src"],
        skills_dir=tmp_path / "skills",
        known_secrets_file=tmp_path / "known",
    )
    results = pipeline.run_all(settings)
    assert [r.status for r in results] == ["ran", "ran", "ran", "skipped", "ran"]
    assert results[0].counts["redacted"] >= 100  # scrubbed at the first stage
    written = [p for p in (settings.data_dir / "data").rglob("*") if p.is_file()]
    assert len(written) >= 10
    secrets = [secret for _, secret in PLANTED.values()] + [GITHUB, AWS]
    for path in written:
        body = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in body, f"{secret[:8]}... rests in {path}"
            assert json.dumps(secret)[1:-1].encode() not in body, f"{secret[:8]}... (escaped) in {path}"
    report = json.loads((Layout(settings.data_dir).folder("validate") / "data_report.json").read_text())
    assert report["validate"]["scrub"]["residual_findings"] == 0
    train = (Layout(settings.data_dir).folder("validate") / "train.jsonl").read_text()
    assert "[REDACTED:" in train


def test_a_stage_whose_output_still_holds_a_secret_writes_nothing(
    tmp_path, sources, tokenizer_json, monkeypatch
):
    settings = _settings(tmp_path, tokenizer_json)
    pipeline.run_all(settings)
    layout = pipeline.layout(settings)
    before = {p: p.read_bytes() for p in layout.folder("extract").iterdir()}
    # A stage that forgets to scrub: the runner's check must stop its files at the door.
    monkeypatch.setattr(SecretGuard, "rows", lambda self, rows: list(rows))
    with pytest.raises(SecretLeakError, match="extract: .* survived scrubbing"):
        pipeline.run_stage("extract", settings, force=True)
    assert {p: p.read_bytes() for p in layout.folder("extract").iterdir()} == before
    assert not list(layout.root.glob(".staging-*"))


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
    assert main(["--config", str(cfg), "data", "extract", "--source", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


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
