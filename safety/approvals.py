"""Pending approvals in SQLite: an `approve` verdict waits here for an operator.

Life of an approval: pending -> approved | denied | expired; approved -> consumed (once). The row
keeps the exact parsed call and the decision (with the re-quoted command for shell/ssh), so what
runs is what the operator saw. State changes are single conditional UPDATEs, so two workers can
never both consume one approval.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from halops.calls import ToolCall
from halops.errors import HalopsError
from safety.decision import Decision, Verdict


class ApprovalError(HalopsError):
    """An approval cannot do what was asked. Subclasses say why."""


class ApprovalNotFoundError(ApprovalError):
    """No approval with this id."""


class ApprovalStateError(ApprovalError):
    """The approval is not in a state that allows this (already decided, used, or expired)."""


class ApprovalExpiredError(ApprovalStateError):
    """The approval's time ran out before it was decided or used."""


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CONSUMED = "consumed"


class Approval(BaseModel):
    id: str
    call: ToolCall
    decision: Decision
    status: ApprovalStatus
    created_at: float
    expires_at: float
    decided_at: float | None = None
    decided_by: str | None = None
    note: str | None = None
    consumed_at: float | None = None

    @property
    def reason(self) -> str:
        return self.decision.reason


@dataclass(frozen=True)
class ApprovedCall:
    """What an executor may run, exactly once."""

    id: str
    call: ToolCall
    decision: Decision


_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    call_key TEXT NOT NULL,
    call TEXT NOT NULL,
    decision TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','approved','denied','expired','consumed')),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_at REAL,
    decided_by TEXT,
    note TEXT,
    consumed_at REAL
);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, expires_at);
CREATE INDEX IF NOT EXISTS approvals_key ON approvals (call_key, status);
"""


def _key(call: ToolCall) -> str:
    return json.dumps({"tool": call.tool, "arguments": call.arguments}, sort_keys=True, separators=(",", ":"))


class ApprovalStore:
    """SQLite-backed store; safe to share between threads and processes (one connection per use)."""

    def __init__(self, db_path: Path | str, ttl_s: float = 3600.0, clock: Callable[[], float] = time.time):
        self.db_path = Path(db_path)
        self.ttl_s = ttl_s
        self._clock = clock
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=10.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    def create(self, call: ToolCall, decision: Decision) -> Approval:
        """Record an `approve` decision. An identical call already pending is returned instead."""
        if decision.verdict != Verdict.APPROVE:
            raise ApprovalStateError(
                f"only 'approve' decisions wait for approval, not {decision.verdict.value!r}"
            )
        now = self._clock()
        key = _key(call)
        with self._conn() as db:
            db.execute("BEGIN IMMEDIATE")
            self._expire(db, now)
            row = db.execute(
                "SELECT * FROM approvals WHERE call_key = ? AND status = 'pending'", (key,)
            ).fetchone()
            if row is None:
                approval_id = uuid.uuid4().hex
                db.execute(
                    "INSERT INTO approvals (id, call_key, call, decision, status, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                    (
                        approval_id,
                        key,
                        call.model_dump_json(),
                        decision.model_dump_json(),
                        now,
                        now + self.ttl_s,
                    ),
                )
                row = db.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
            db.execute("COMMIT")
        return _row(row)

    def get(self, approval_id: str) -> Approval:
        with self._conn() as db:
            self._expire(db, self._clock())
            row = db.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        if row is None:
            raise ApprovalNotFoundError(f"no approval {approval_id!r}")
        return _row(row)

    def list(self, status: ApprovalStatus | None = ApprovalStatus.PENDING) -> list[Approval]:
        """Approvals with `status` (all when None), oldest first."""
        with self._conn() as db:
            self._expire(db, self._clock())
            if status is None:
                rows = db.execute("SELECT * FROM approvals ORDER BY created_at").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM approvals WHERE status = ? ORDER BY created_at", (status.value,)
                ).fetchall()
        return [_row(r) for r in rows]

    def approve(self, approval_id: str, by: str = "", note: str | None = None) -> Approval:
        return self._decide(approval_id, ApprovalStatus.APPROVED, by, note)

    def deny(self, approval_id: str, by: str = "", note: str | None = None) -> Approval:
        return self._decide(approval_id, ApprovalStatus.DENIED, by, note)

    def _decide(self, approval_id: str, status: ApprovalStatus, by: str, note: str | None) -> Approval:
        now = self._clock()
        with self._conn() as db:
            self._expire(db, now)
            cur = db.execute(
                "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, note = ? "
                "WHERE id = ? AND status = 'pending'",
                (status.value, now, by, note, approval_id),
            )
            if cur.rowcount != 1:
                self._raise_for(db, approval_id, "decided")
        return self.get(approval_id)

    def consume(self, approval_id: str) -> ApprovedCall:
        """The approved call, exactly once; later calls raise `ApprovalStateError`."""
        now = self._clock()
        with self._conn() as db:
            self._expire(db, now)
            cur = db.execute(
                "UPDATE approvals SET status = 'consumed', consumed_at = ? "
                "WHERE id = ? AND status = 'approved'",
                (now, approval_id),
            )
            if cur.rowcount != 1:
                self._raise_for(db, approval_id, "used")
            row = db.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        approval = _row(row)
        return ApprovedCall(approval.id, approval.call, approval.decision)

    def expire(self) -> int:
        """Mark pending and unused approved approvals past their expiry; returns how many."""
        with self._conn() as db:
            return self._expire(db, self._clock())

    @staticmethod
    def _expire(db: sqlite3.Connection, now: float) -> int:
        cur = db.execute(
            "UPDATE approvals SET status = 'expired' "
            "WHERE status IN ('pending', 'approved') AND expires_at <= ?",
            (now,),
        )
        return cur.rowcount

    @staticmethod
    def _raise_for(db: sqlite3.Connection, approval_id: str, verb: str) -> None:
        row = db.execute("SELECT status FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        if row is None:
            raise ApprovalNotFoundError(f"no approval {approval_id!r}")
        if row["status"] == ApprovalStatus.EXPIRED:
            raise ApprovalExpiredError(f"approval {approval_id} expired")
        raise ApprovalStateError(f"approval {approval_id} is {row['status']}; it cannot be {verb}")


def _row(row: sqlite3.Row) -> Approval:
    return Approval(
        id=row["id"],
        call=ToolCall.model_validate_json(row["call"]),
        decision=Decision.model_validate_json(row["decision"]),
        status=ApprovalStatus(row["status"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        note=row["note"],
        consumed_at=row["consumed_at"],
    )


def default_db_path(data_dir: Path) -> Path:
    return data_dir / "safety" / "approvals.sqlite3"
