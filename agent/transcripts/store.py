"""SQLite transcript store. Thread-safe (one connection, one lock); every write commits at once.

Everything written passes through the injected scrubber first, value by value (not the JSON text:
a secret containing a quote or backslash would be escaped in JSON and slip past a text match).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent.transcripts import migrations
from halops.errors import HalopsError

Scrub = Callable[[str], str]


class UnknownTurnError(HalopsError):
    """No turn with that id."""


def scrub_obj(obj: Any, scrub: Scrub) -> Any:
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {k: scrub_obj(v, scrub) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub_obj(v, scrub) for v in obj]
    return obj


class TranscriptStore:
    def __init__(self, path: Path, scrub: Scrub):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._scrub = scrub
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: every commit survives a crash or kill of the daemon; only a power cut can
        # lose the last commits. FULL would fsync each of a turn's ~5 writes on the request path.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._lock:
            migrations.apply(self._db)
            # A turn still "running" at open belonged to a daemon that died mid-request.
            self._db.execute(
                "UPDATE turns SET status = 'interrupted', finished_at = ? WHERE status = 'running'",
                (time.time(),),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _json(self, obj: Any) -> str:
        return json.dumps(scrub_obj(obj, self._scrub), ensure_ascii=False)

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute(sql, params)

    # -- writing -------------------------------------------------------------------------------

    def start_turn(
        self,
        *,
        conversation_id: str,
        request_id: str,
        messages: list[dict[str, Any]],
        client: str | None = None,
    ) -> str:
        turn_id = "turn-" + uuid.uuid4().hex
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO conversations (id, created_at, client) VALUES (?, ?, ?)",
                    (conversation_id, now, client),
                )
                self._db.execute(
                    "INSERT INTO turns (id, conversation_id, request_id, started_at, status,"
                    " messages_json) VALUES (?, ?, ?, ?, 'running', ?)",
                    (turn_id, conversation_id, request_id, now, self._json(messages)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return turn_id

    def add_step(
        self,
        turn_id: str,
        iteration: int,
        reply: str,
        *,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        model_ms: float,
    ) -> None:
        self._write(
            "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?)",
            (turn_id, iteration, self._scrub(reply), prompt_tokens, completion_tokens, model_ms),
        )

    def add_tool_call(
        self,
        turn_id: str,
        *,
        iteration: int,
        seq: int,
        tool: str,
        arguments: dict[str, Any],
        verdict: str | None,
        rule: str | None,
        reason: str | None,
        status: str,
        exit_code: int | None,
        result: dict[str, Any],
        duration_ms: float | None,
        approval_id: str | None = None,
    ) -> str:
        call_id = "call-" + uuid.uuid4().hex
        self._write(
            "INSERT INTO tool_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                call_id,
                turn_id,
                iteration,
                seq,
                tool,
                self._json(arguments),
                verdict,
                rule,
                self._scrub(reason) if reason else reason,
                status,
                exit_code,
                self._json(result),
                duration_ms,
                approval_id,
                time.time(),
            ),
        )
        return call_id

    def finish_turn(
        self,
        turn_id: str,
        *,
        status: str,
        answer: str | None,
        error: str | None = None,
        system_prompt: str | None = None,
        iterations: int = 0,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        model_ms: float = 0.0,
    ) -> None:
        now = time.time()
        self._write(
            "UPDATE turns SET status = ?, answer = ?, error = ?, system_prompt = ?, iterations = ?,"
            " prompt_tokens = ?, completion_tokens = ?, model_ms = ?, finished_at = ?,"
            " duration_ms = (? - started_at) * 1000 WHERE id = ?",
            (
                status,
                self._scrub(answer) if answer else answer,
                self._scrub(error) if error else error,
                self._scrub(system_prompt) if system_prompt else system_prompt,
                iterations,
                prompt_tokens,
                completion_tokens,
                model_ms,
                now,
                now,
                turn_id,
            ),
        )

    def add_feedback(self, turn_id: str, score: int, comment: str | None = None) -> None:
        with self._lock:
            if not self._db.execute("SELECT 1 FROM turns WHERE id = ?", (turn_id,)).fetchone():
                raise UnknownTurnError(f"no response with id {turn_id}")
            self._db.execute(
                "INSERT INTO feedback (turn_id, score, comment, created_at) VALUES (?, ?, ?, ?)",
                (turn_id, score, self._scrub(comment) if comment else comment, time.time()),
            )

    # -- approvals joining a conversation -------------------------------------------------------

    def link_approval(self, approval_id: str, conversation_id: str, turn_id: str) -> None:
        self._write(
            "INSERT OR REPLACE INTO approval_requests VALUES (?, ?, ?)",
            (approval_id, conversation_id, turn_id),
        )

    def approval_conversation(self, approval_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT conversation_id FROM approval_requests WHERE approval_id = ?", (approval_id,)
            ).fetchone()
        return row[0] if row else None

    def add_approval_result(
        self, approval_id: str, conversation_id: str, tool: str, payload: dict[str, Any]
    ) -> None:
        self._write(
            "INSERT OR REPLACE INTO approval_results VALUES (?, ?, ?, ?, ?, NULL)",
            (approval_id, conversation_id, tool, self._json(payload), time.time()),
        )

    def take_approval_results(self, conversation_id: str, turn_id: str) -> list[dict[str, Any]]:
        """Undelivered results for the conversation, marked as delivered to `turn_id`."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT approval_id, tool, payload_json FROM approval_results"
                    " WHERE conversation_id = ? AND delivered_turn_id IS NULL ORDER BY created_at",
                    (conversation_id,),
                ).fetchall()
                self._db.execute(
                    "UPDATE approval_results SET delivered_turn_id = ?"
                    " WHERE conversation_id = ? AND delivered_turn_id IS NULL",
                    (turn_id, conversation_id),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [{"approval_id": r[0], "name": r[1], "payload": json.loads(r[2])} for r in rows]

    # -- reading -------------------------------------------------------------------------------

    def turn(self, turn_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT * FROM turns WHERE id = ?", (turn_id,)).fetchone()
            if row is None:
                raise UnknownTurnError(f"no response with id {turn_id}")
            return self._expand(row)

    def _expand(self, row: sqlite3.Row) -> dict[str, Any]:
        turn = dict(row)
        turn["messages"] = json.loads(turn.pop("messages_json"))
        turn["steps"] = [
            dict(r)
            for r in self._db.execute(
                "SELECT * FROM steps WHERE turn_id = ? ORDER BY iteration", (row["id"],)
            )
        ]
        calls = []
        for r in self._db.execute(
            "SELECT * FROM tool_calls WHERE turn_id = ? ORDER BY iteration, seq", (row["id"],)
        ):
            call = dict(r)
            call["arguments"] = json.loads(call.pop("arguments_json"))
            call["result"] = json.loads(call.pop("result_json"))
            calls.append(call)
        turn["tool_calls"] = calls
        fb = self._db.execute(
            "SELECT COALESCE(SUM(score), 0) AS s, COUNT(*) AS n FROM feedback WHERE turn_id = ?",
            (row["id"],),
        ).fetchone()
        turn["feedback"] = {"score": fb["s"], "votes": fb["n"]}
        return turn

    def iter_turns(self, *, statuses: tuple[str, ...] = ("ok",)) -> Iterator[dict[str, Any]]:
        """Finished turns, oldest first, fully expanded (for export)."""
        marks = ",".join("?" * len(statuses))
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    f"SELECT id FROM turns WHERE status IN ({marks}) ORDER BY started_at, id",
                    statuses,
                )
            ]
        for turn_id in ids:
            yield self.turn(turn_id)

    def recent_prompts(self, limit: int) -> list[str]:
        """The operator's question of the newest finished turns (the last user message), newest
        first, each text once: what a live A/B asks both models."""
        out: list[str] = []
        with self._lock:
            rows = self._db.execute(
                "SELECT messages_json FROM turns WHERE status = 'ok' ORDER BY started_at DESC, id DESC"
            )
            for (messages_json,) in rows:
                users = [m for m in json.loads(messages_json) if m.get("role") == "user"]
                content = users[-1].get("content") if users else None
                if isinstance(content, str) and content.strip() and content not in out:
                    out.append(content)
                    if len(out) >= limit:
                        break
        return out

    def count(self, table: str = "turns") -> int:
        if table not in {"turns", "tool_calls", "steps", "feedback", "conversations", "approval_results"}:
            raise ValueError(table)
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
