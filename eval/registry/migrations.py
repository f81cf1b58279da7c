"""Numbered schema migrations of registry.sqlite. Append new ones; never edit one that has shipped.

Each runs once, in order, inside a transaction, and is recorded in `_migrations`: an old database
is brought up to date on open, a new one is built by replaying them all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def _script(db: sqlite3.Connection, sql: str) -> None:
    # Not executescript(): it COMMITs first, which would break the migration's transaction.
    # So no comment in a migration may contain a semicolon.
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE versions (              -- what the files cannot say about a version
            version INTEGER PRIMARY KEY,
            source_json TEXT,                -- {"kind": bundled|bootstrap|retrain|manual, ...},
                                             -- NULL: a version from before the registry (derived)
            created_at REAL NOT NULL,
            sha256 TEXT,                     -- cached, valid while size and mtime_ns match the file
            size INTEGER,
            mtime_ns INTEGER,
            pruned_at REAL
        );
        CREATE TABLE history (               -- append-only: rows are inserted, never updated
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            version INTEGER NOT NULL,
            previous INTEGER,                -- the version active before (for a deploy or activation)
            actor TEXT NOT NULL,             -- cli | api | timer | bootstrap
            action TEXT NOT NULL,            -- deploy | reject | activate | rollback | prune
            reason TEXT,
            verdict_json TEXT                -- the gate's verdict, for deploy and reject
        );
        CREATE INDEX history_version ON history(version, id);
        CREATE TABLE pairs (                 -- live A/B answers awaiting or carrying a blind verdict
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            prompt TEXT NOT NULL,
            a_version INTEGER NOT NULL,
            b_version INTEGER NOT NULL,
            a_text TEXT NOT NULL,
            b_text TEXT NOT NULL,
            first TEXT NOT NULL CHECK (first IN ('a', 'b')),  -- which answer the judge sees first
            winner TEXT CHECK (winner IN ('a', 'b', 'tie')),
            judged_at REAL
        );
        CREATE INDEX pairs_judged ON pairs(judged_at, created_at)
        """,
    )


def apply(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations; returns the names applied now.

    `db` must be in autocommit mode (isolation_level=None) so each migration's DDL and its
    `_migrations` row commit together, or not at all.
    """
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    applied = []
    for name, fn in MIGRATIONS:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                db.execute("COMMIT")
                continue
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, strftime('%s','now'))", (name,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
