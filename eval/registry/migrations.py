"""registry.sqlite's numbered schema migrations (halops.migrations). Append new ones; never edit
one that has shipped.
"""

from __future__ import annotations

import sqlite3

from halops.migrations import Migrations, script

MIGRATIONS = Migrations()


@MIGRATIONS.add
def m001_initial(db: sqlite3.Connection) -> None:
    script(
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


apply = MIGRATIONS.apply
