"""Pending approvals: lifecycle, exactly-once consumption, expiry, concurrency."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from halops.calls import ToolCall
from halops.errors import HalopsError
from safety import (
    ApprovalError,
    ApprovalExpiredError,
    ApprovalNotFoundError,
    ApprovalStateError,
    ApprovalStatus,
    ApprovalStore,
    check,
)
from safety.approvals import default_db_path

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def store(tmp_path: Path, clock: Clock) -> ApprovalStore:
    return ApprovalStore(tmp_path / "a" / "approvals.sqlite3", ttl_s=60, clock=clock)


def pending(store: ApprovalStore, inventory, command: str = "r''m /tmp/old.log"):  # noqa: ANN201
    call = ToolCall(tool="ssh", arguments={"host": "web1", "command": command})
    decision = check(call, inventory)
    assert decision.verdict == "approve"
    return store.create(call, decision)


def test_lifecycle_and_exact_call(store: ApprovalStore, inventory) -> None:
    a = pending(store, inventory)
    assert a.status == ApprovalStatus.PENDING and a.expires_at == a.created_at + 60
    assert a.reason and a.decision.rule == "approve.file-change"
    assert [x.id for x in store.list()] == [a.id]
    approved = store.approve(a.id, by="alice", note="ok")
    assert approved.status == ApprovalStatus.APPROVED and approved.decided_by == "alice"
    run = store.consume(a.id)
    assert run.call.arguments == {"host": "web1", "command": "r''m /tmp/old.log"}
    assert run.decision.command == "rm /tmp/old.log"  # what executes is the parsed, re-quoted call
    with pytest.raises(ApprovalStateError):
        store.consume(a.id)
    assert store.get(a.id).status == ApprovalStatus.CONSUMED
    assert store.list() == []


def test_same_call_pending_is_not_duplicated(store: ApprovalStore, inventory) -> None:
    a = pending(store, inventory)
    b = pending(store, inventory)
    assert a.id == b.id
    c = pending(store, inventory, "systemctl restart nginx")
    assert c.id != a.id


def test_denied_cannot_run(store: ApprovalStore, inventory) -> None:
    a = pending(store, inventory)
    store.deny(a.id, by="bob")
    with pytest.raises(ApprovalStateError):
        store.consume(a.id)
    with pytest.raises(ApprovalStateError):
        store.approve(a.id)


def test_consume_requires_approval(store: ApprovalStore, inventory) -> None:
    a = pending(store, inventory)
    with pytest.raises(ApprovalStateError):
        store.consume(a.id)


def test_expiry(store: ApprovalStore, inventory, clock: Clock) -> None:
    a = pending(store, inventory)
    clock.t += 61
    with pytest.raises(ApprovalExpiredError):
        store.approve(a.id)
    assert store.get(a.id).status == ApprovalStatus.EXPIRED
    b = pending(store, inventory, "systemctl restart nginx")
    store.approve(b.id)
    clock.t += 61
    with pytest.raises(ApprovalExpiredError):
        store.consume(b.id)


def test_unknown_id_and_error_tree(store: ApprovalStore) -> None:
    with pytest.raises(ApprovalNotFoundError) as info:
        store.approve("nope")
    assert isinstance(info.value, ApprovalError) and isinstance(info.value, HalopsError)


def test_only_approve_decisions(store: ApprovalStore, inventory) -> None:
    call = ToolCall(tool="shell", arguments={"command": "df -h"})
    with pytest.raises(ApprovalStateError):
        store.create(call, check(call, inventory))


def test_persists_across_instances(tmp_path: Path, inventory) -> None:
    path = tmp_path / "x.sqlite3"
    a = pending(ApprovalStore(path), inventory)
    again = ApprovalStore(path)
    assert again.get(a.id).call.arguments["command"] == "r''m /tmp/old.log"
    assert default_db_path(tmp_path) == tmp_path / "safety" / "approvals.sqlite3"


def _consume(args: tuple[str, str]) -> bool:
    path, approval_id = args
    try:
        ApprovalStore(path).consume(approval_id)
        return True
    except ApprovalStateError:
        return False


@pytest.mark.integration
def test_exactly_once_across_processes(tmp_path: Path, inventory) -> None:
    path = tmp_path / "race.sqlite3"
    store = ApprovalStore(path)
    a = pending(store, inventory)
    store.approve(a.id)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_consume, [(str(path), a.id)] * 8)
    assert results.count(True) == 1
