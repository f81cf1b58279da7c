"""Building the real daemon from Settings: safety + executors as the tool runner, approvals,
retrieval over the runbooks. Tests build `Daemon` with their own parts instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from agent.daemon import ApprovalError, Daemon, read_token
from agent.executors.dispatch import Executors
from agent.loop.runner import CallContext, ToolOutcome
from agent.transcripts.store import TranscriptStore
from halops.calls import ToolCall
from safety.approvals import ApprovalError as SafetyApprovalError
from safety.approvals import ApprovalStore, default_db_path

log = logging.getLogger("halops.agent")


def outcome_from(execution: Any) -> ToolOutcome:
    result, decision = execution.result, execution.decision
    return ToolOutcome(
        status=str(result.status),
        verdict=str(decision.verdict) if decision else None,
        rule=decision.rule if decision else None,
        # The model needs *why* nothing ran; for failures the executor put the reason in stderr.
        reason=decision.reason if decision and result.status in ("denied", "approval_required") else None,
        exit_code=result.exit_code,
        stdout=result.stdout,
        stderr=result.stderr,
        truncated=result.truncated,
        duration_ms=result.duration_ms,
    )


class ExecutorToolRunner:
    """The loop's tool runner: safety check, executor, scrub; approve verdicts become approvals."""

    def __init__(self, executors: Executors, approvals: ApprovalStore, store: TranscriptStore):
        self.executors = executors
        self.approvals = approvals
        self.store = store

    def run(self, call: ToolCall, *, context: CallContext, timeout_s: float) -> ToolOutcome:
        execution = self.executors.run(call, request_id=context.request_id, timeout_s=timeout_s)
        outcome = outcome_from(execution)
        if outcome.status == "approval_required" and execution.decision is not None:
            approval = self.approvals.create(call, execution.decision)
            self.store.link_approval(approval.id, context.conversation_id, context.turn_id)
            outcome.approval_id = approval.id
            outcome.reason = (
                f"{execution.decision.reason} An operator must approve it (approval id {approval.id}); "
                "tell the user. Once approved it runs once and its result is shown to you next turn."
            )
        return outcome


class ExecutorApprovals:
    """The daemon's approvals API: list pending, and approve (run once) or deny."""

    def __init__(self, approvals: ApprovalStore, executors: Executors, store: TranscriptStore, limit: int):
        self.approvals = approvals
        self.executors = executors
        self.store = store
        self.limit = limit

    def pending(self) -> list[dict[str, Any]]:
        return [
            {
                "id": a.id,
                "tool": a.call.tool,
                "arguments": a.call.arguments,
                "rule": a.decision.rule,
                "reason": a.reason,
                "created_at": a.created_at,
                "expires_at": a.expires_at,
                "conversation_id": self.store.approval_conversation(a.id),
            }
            for a in self.approvals.list()
        ]

    def decide(self, approval_id: str, *, approve: bool, comment: str | None) -> dict[str, Any]:
        try:
            if not approve:
                approval = self.approvals.deny(approval_id, by="api", note=comment)
                self._join(
                    approval_id, approval.call.tool, {"status": "denied", "reason": "an operator denied it"}
                )
                return {"id": approval_id, "status": "denied"}
            self.approvals.approve(approval_id, by="api", note=comment)
            approved = self.approvals.consume(approval_id)
        except SafetyApprovalError as exc:
            raise ApprovalError(str(exc)) from None
        execution = self.executors.run(approved.call, approved=True, request_id=f"approval-{approval_id}")
        outcome = outcome_from(execution)
        self._join(approval_id, approved.call.tool, outcome.for_model(self.limit))
        return {"id": approval_id, "status": "approved", "result": execution.result.model_dump(mode="json")}

    def _join(self, approval_id: str, tool: str, payload: dict[str, Any]) -> None:
        conversation = self.store.approval_conversation(approval_id)
        if conversation is not None:
            self.store.add_approval_result(approval_id, conversation, tool, payload)


def build_daemon(settings: Any, *, inventory: Path | None = None) -> Daemon:
    from rag.retriever import open_retriever
    from safety.inventory import Inventory, load_inventory

    token = read_token(settings)
    inv = None
    if inventory is not None:
        inv = load_inventory(inventory)
    elif settings.executors.inventory is None and not (settings.data_dir / "inventory.yaml").exists():
        # A fresh install has no fleet yet: the local shell tool works, every host is unknown.
        log.warning("no inventory at %s: starting with no hosts", settings.data_dir / "inventory.yaml")
        inv = Inventory()
    safety = settings.safety
    # The agent's own token is a known secret too: it must never reach a transcript.
    executors = Executors(settings, inv, extra_secrets=[token] if token else [])
    store = TranscriptStore(settings.transcripts_db, scrub=executors.scrub_text)
    approvals = ApprovalStore(
        safety.approvals_db or default_db_path(settings.data_dir), ttl_s=safety.approval_ttl_s
    )
    return Daemon(
        settings,
        token=token,
        store=store,
        scrub=executors.scrub_text,
        tools=ExecutorToolRunner(executors, approvals, store),
        approvals=ExecutorApprovals(approvals, executors, store, settings.agent.max_tool_result_chars),
        retriever=open_retriever(settings) if settings.agent.rag_k > 0 else None,
        on_close=[executors.close],
    )
