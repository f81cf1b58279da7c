"""SQLite job store and the one-job-at-a-time lock.

A job row is the truth `halops jobs` shows: status, config, progress, latest metrics, log path and
artifacts. The lock is an flock on a file next to the database: the kernel drops it when the process
dies, however it dies, so whoever takes it next knows every job still marked running is dead and
marks it failed (its output dir holds no finished adapter, because that is only renamed into place
on success).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.errors import JobBusyError, JobNotFoundError

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
FINAL = ("completed", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    pid INTEGER,
    epoch REAL NOT NULL DEFAULT 0,
    step INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    metrics TEXT NOT NULL DEFAULT '{}',
    log_path TEXT,
    output_dir TEXT,
    artifacts TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass
class Job:
    id: str
    name: str
    status: str
    config: dict[str, Any]
    created: float
    started: float | None = None
    finished: float | None = None
    pid: int | None = None
    epoch: float = 0.0
    step: int = 0
    total: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    log_path: str | None = None
    output_dir: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    cancel_requested: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class JobStore:
    def __init__(self, db_path: Path):
        self.db_path = db_path
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as conn:
            conn.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        # A fresh short-lived connection per call: the training callback, the CLI and a cancel from
        # another terminal all write; WAL + busy timeout keep them from tripping on each other.
        conn = sqlite3.connect(self.db_path, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def create(self, name: str, config: dict[str, Any]) -> Job:
        job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO jobs (id, name, status, config, created) VALUES (?, ?, 'pending', ?, ?)",
                (job_id, name, json.dumps(config, default=str), time.time()),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with self._conn() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                # Unique prefixes are accepted: ids are long and typed by hand.
                rows = conn.execute("SELECT * FROM jobs WHERE id LIKE ?", (job_id + "%",)).fetchall()
                if len(rows) != 1:
                    raise JobNotFoundError(f"no job {job_id!r}" + (" (ambiguous prefix)" if rows else ""))
                row = rows[0]
        return _job(row)

    def list(self, limit: int = 50) -> list[Job]:
        with self._conn() as conn:
            rows = conn.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [_job(r) for r in rows]

    def update(self, job_id: str, **values: Any) -> None:
        for key in ("config", "metrics", "artifacts"):
            if key in values:
                values[key] = json.dumps(values[key], default=str)
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._conn() as conn:
            conn.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values.values(), job_id))  # noqa: S608

    def mark_running(self, job_id: str) -> None:
        self.update(job_id, status="running", started=time.time(), pid=os.getpid(), error=None, finished=None)

    def finish(self, job_id: str, status: str, error: str | None = None) -> None:
        assert status in FINAL
        self.update(job_id, status=status, finished=time.time(), error=error)

    def add_artifact(self, job_id: str, kind: str, path: Path) -> None:
        job = self.get(job_id)
        self.update(job.id, artifacts={**job.artifacts, kind: str(path)})

    def cancel_requested(self, job_id: str) -> bool:
        with self._conn() as conn:
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def request_cancel(self, job_id: str) -> Job:
        """Pending: cancelled at once. Running: flag + SIGTERM; the job stops at its next step."""
        job = self.get(job_id)
        if job.status in FINAL:
            return job
        self.update(job.id, cancel_requested=1)
        if job.status == "pending":
            self.finish(job.id, "cancelled")
        elif job.pid and job.pid != os.getpid():
            try:
                os.kill(job.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        return self.get(job.id)

    def recover_dead(self) -> list[str]:
        """Call while holding the lock: any job still 'running' lost its process; mark it failed."""
        dead = [j.id for j in self.list(limit=10_000) if j.status == "running"]
        for job_id in dead:
            self.finish(job_id, "failed", error="process died (found on next start); outputs discarded")
        return dead


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    for key in ("config", "metrics", "artifacts"):
        data[key] = json.loads(data[key]) if data[key] else {}
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Job(**data)


class TrainLock:
    """Non-blocking exclusive flock: a second `halops train` fails at once instead of queueing."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> TrainLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            raise JobBusyError(
                f"another training job is running (pid {holder or '?'}); one at a time"
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> TrainLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
