"""The transcript store's numbered schema migrations (halops.migrations). Append new ones; never
edit one that has shipped.
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
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            client TEXT
        );
        CREATE TABLE turns (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            request_id TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL,            -- running | ok | error | interrupted
            error TEXT,
            messages_json TEXT NOT NULL,     -- the conversation as the client sent it (scrubbed)
            system_prompt TEXT,
            answer TEXT,
            iterations INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            model_ms REAL NOT NULL DEFAULT 0,
            duration_ms REAL
        );
        CREATE INDEX turns_conversation ON turns(conversation_id, started_at);
        CREATE TABLE steps (                 -- one model reply inside a turn
            turn_id TEXT NOT NULL REFERENCES turns(id),
            iteration INTEGER NOT NULL,
            reply TEXT NOT NULL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            model_ms REAL,
            PRIMARY KEY (turn_id, iteration)
        );
        CREATE TABLE tool_calls (
            id TEXT PRIMARY KEY,
            turn_id TEXT NOT NULL REFERENCES turns(id),
            iteration INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            tool TEXT NOT NULL,
            arguments_json TEXT NOT NULL,
            verdict TEXT,
            rule TEXT,
            reason TEXT,
            status TEXT NOT NULL,
            exit_code INTEGER,
            result_json TEXT NOT NULL,       -- exactly what the model was shown (scrubbed)
            duration_ms REAL,
            approval_id TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX tool_calls_turn ON tool_calls(turn_id, iteration, seq);
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            turn_id TEXT NOT NULL REFERENCES turns(id),
            score INTEGER NOT NULL CHECK (score IN (-1, 1)),
            comment TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX feedback_turn ON feedback(turn_id);
        """,
    )


@MIGRATIONS.add
def m002_approval_results(db: sqlite3.Connection) -> None:
    # Results of calls an operator approved (or denied) after the turn that asked ended: they join
    # the conversation at its next request.
    script(
        db,
        """
        CREATE TABLE approval_results (
            approval_id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            tool TEXT NOT NULL,
            payload_json TEXT NOT NULL,
            created_at REAL NOT NULL,
            delivered_turn_id TEXT
        );
        CREATE INDEX approval_results_conversation ON approval_results(conversation_id, delivered_turn_id);
        CREATE TABLE approval_requests (
            approval_id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            turn_id TEXT NOT NULL
        )
        """,
    )


apply = MIGRATIONS.apply
