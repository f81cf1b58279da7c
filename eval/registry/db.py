"""registry.sqlite: version metadata, the append-only deployment history, judging pairs.

One connection per `RegistryDB`, guarded by a lock (the daemon's routes run on worker threads);
every write commits at once. Opening applies pending migrations.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval.registry import migrations

DB_FILE = "registry.sqlite"
ACTIVATING = ("deploy", "activate", "rollback")  # history actions that moved current.gguf


@dataclass(frozen=True)
class HistoryEvent:
    id: int
    at: float
    version: int
    previous: int | None
    actor: str
    action: str
    reason: str | None
    verdict: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RegistryDB:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._lock:
            migrations.apply(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RegistryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # -- history -------------------------------------------------------------------------------

    def record(
        self,
        *,
        version: int,
        action: str,
        actor: str,
        previous: int | None = None,
        reason: str | None = None,
        verdict: dict[str, Any] | None = None,
    ) -> HistoryEvent:
        at = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO history (at, version, previous, actor, action, reason, verdict_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at, version, previous, actor, action, reason, json.dumps(verdict) if verdict else None),
            )
            event_id = cur.lastrowid
        return HistoryEvent(event_id or 0, at, version, previous, actor, action, reason, verdict)

    def history(self, version: int | None = None) -> list[HistoryEvent]:
        """Oldest first."""
        where, params = ("WHERE version = ?", (version,)) if version is not None else ("", ())
        rows = self.query(f"SELECT * FROM history {where} ORDER BY id", params)
        return [
            HistoryEvent(
                r["id"],
                r["at"],
                r["version"],
                r["previous"],
                r["actor"],
                r["action"],
                r["reason"],
                json.loads(r["verdict_json"]) if r["verdict_json"] else None,
            )
            for r in rows
        ]

    # -- version metadata ----------------------------------------------------------------------

    def version_row(self, version: int) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM versions WHERE version = ? AND pruned_at IS NULL", (version,))
        return rows[0] if rows else None

    def set_source(self, version: int, source: dict[str, Any]) -> None:
        # A pruned number can be handed out again (ModelStore takes max + 1): the new file replaces it.
        self.write(
            "INSERT INTO versions (version, source_json, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT(version) DO UPDATE SET source_json = excluded.source_json, "
            "created_at = excluded.created_at, sha256 = NULL, size = NULL, mtime_ns = NULL, pruned_at = NULL",
            (version, json.dumps(source), time.time()),
        )

    def cache_digest(self, version: int, sha256: str, size: int, mtime_ns: int, created: float) -> None:
        self.write(
            "INSERT INTO versions (version, source_json, created_at, sha256, size, mtime_ns) "
            "VALUES (?, NULL, ?, ?, ?, ?) ON CONFLICT(version) DO UPDATE SET "
            "sha256 = excluded.sha256, size = excluded.size, mtime_ns = excluded.mtime_ns",
            (version, created, sha256, size, mtime_ns),
        )

    def mark_pruned(self, version: int) -> None:
        self.write("UPDATE versions SET pruned_at = ? WHERE version = ?", (time.time(), version))


def open_db(models_dir: Path) -> RegistryDB:
    return RegistryDB(models_dir / DB_FILE)
