"""The audit log: one scrubbed JSON line per record, fsync'd, rotated by size."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from agent.audit import AuditLog, scrub_record, scrub_value

pytestmark = pytest.mark.unit


def redact(text: str) -> str:
    return text.replace("hunter2", "[REDACTED:known]")


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_records_are_json_lines_with_time(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "logs" / "audit.jsonl", scrub=redact)
    log.write({"request_id": "r1", "event": "check", "verdict": "allow"})
    log.write({"request_id": "r1", "event": "exec", "status": "ok", "exit_code": 0})
    recs = lines(log.path)
    assert [r["event"] for r in recs] == ["check", "exec"]
    assert recs[0]["time"].endswith("Z") and "T" in recs[0]["time"]
    assert (log.path.stat().st_mode & 0o777) == 0o600


def test_every_string_is_scrubbed_even_nested_and_quoted(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", scrub=redact)
    log.write({"arguments": {"command": 'mysql -p"hunter2"', "list": ["x hunter2"], "hunter2": 1}})
    text = log.path.read_text()
    assert "hunter2" not in text
    rec = lines(log.path)[0]
    assert rec["arguments"]["command"] == 'mysql -p"[REDACTED:known]"'
    assert rec["arguments"]["list"] == ["x [REDACTED:known]"]


def test_scrub_value_leaves_non_strings() -> None:
    assert scrub_value({"a": 1, "b": None, "c": [True, 2.5]}, redact) == {"a": 1, "b": None, "c": [True, 2.5]}


def test_rotation_by_size_keeps_n_backups(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=4096, backups=2, scrub=redact)
    for i in range(200):
        log.write({"i": i, "pad": "x" * 100})
    files = sorted(
        p.name
        for p in tmp_path.iterdir()
        if p.name.startswith("audit.jsonl") and not p.name.endswith(".lock")
    )
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    for name in files:
        assert (tmp_path / name).stat().st_size <= 4096
    # Newest records in the live file, older in .1, older still in .2; nothing torn.
    live, one, two = (lines(tmp_path / n) for n in files)
    assert live[-1]["i"] == 199
    assert one[-1]["i"] + 1 == live[0]["i"]
    assert two[-1]["i"] + 1 == one[0]["i"]


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    logs = [AuditLog(path, max_bytes=50_000, backups=3, scrub=redact) for _ in range(4)]

    def writer(n: int) -> None:
        for i in range(100):
            logs[n].write({"w": n, "i": i, "pad": "y" * 200})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = []
    for p in tmp_path.iterdir():
        if p.name.startswith("audit.jsonl") and not p.name.endswith(".lock"):
            seen += lines(p)  # every line parses
    assert len(seen) <= 400 and len(seen) > 100


def test_scrub_record_is_one_call_and_matches_per_string() -> None:
    calls = []

    def counting(text: str) -> str:
        calls.append(text)
        return redact(text)

    rec = {"a": "x hunter2", "b": [1, "hunter2\nmore"], "hunter2": {"c": None, "d": "plain"}}
    assert scrub_record(rec, counting) == scrub_value(rec, redact)
    assert len(calls) == 1


def test_scrub_record_falls_back_when_the_join_is_unsafe() -> None:
    calls = []

    def counting(text: str) -> str:
        calls.append(text)
        return redact(text)

    rec = {"a": "has \x1ehalops-audit-field\x1e inside", "b": "hunter2"}
    assert scrub_record(rec, counting) == scrub_value(rec, redact)
    assert len(calls) > 1  # per string

    def eats_lines(text: str) -> str:  # a scrubber that swallows the separator lines
        return text.replace("\n", " ")

    assert scrub_record({"a": "1", "b": "2"}, eats_lines) == {"a": "1", "b": "2"}
