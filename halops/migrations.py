"""Numbered SQLite schema migrations, shared by every store that keeps a database.

A store declares its list (`MIGRATIONS = Migrations()`, then `@MIGRATIONS.add` on functions named
`m001_...`, `m002_...`) and calls `apply(db)` on open. Append new ones; never edit one that has
shipped. Each runs once, in order, inside a transaction, and is recorded in `_migrations`: an old
database is brought up to date on open, a new one is built by replaying them all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

Migration = Callable[[sqlite3.Connection], None]


def script(db: sqlite3.Connection, sql: str) -> None:
    """Run several statements inside the caller's transaction.

    Not executescript(): it COMMITs first, which would break the migration's transaction. So no
    comment in a migration may contain a semicolon.
    """
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


class Migrations:
    def __init__(self) -> None:
        self._steps: list[tuple[str, Migration]] = []

    def add(self, fn: Migration) -> Migration:
        self._steps.append((fn.__name__, fn))
        return fn

    def __iter__(self) -> Iterator[tuple[str, Migration]]:
        return iter(self._steps)

    def apply(self, db: sqlite3.Connection) -> list[str]:
        """Apply pending migrations; returns the names applied now.

        `db` must be in autocommit mode (isolation_level=None) so each migration's DDL and its
        `_migrations` row commit together, or not at all.
        """
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        applied = []
        for name, fn in self._steps:
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
