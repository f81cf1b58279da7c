"""What the policy decided about one tool call. This is the contract between safety and executors."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Verdict(StrEnum):
    ALLOW = "allow"  # runs now
    APPROVE = "approve"  # becomes a pending approval; runs once an operator approves it
    DENY = "deny"  # never runs


class Decision(BaseModel):
    verdict: Verdict
    rule: str = Field(description="Id of the policy rule that decided, e.g. 'deny.rm-recursive-system'.")
    reason: str = Field(description="One sentence for the model and the operator.")
    harm: str | None = Field(
        None,
        description="Deny only: the class of damage the call would do ('data', 'firewall', 'kernel', "
        "'persistence', 'system-tree'...), when the denial is about damage.",
    )
    retry_after_s: float | None = Field(
        None, description="Set when a rate limit denied the call: seconds until a token is free."
    )
    command: str | None = Field(
        None,
        description="shell/ssh only, when not denied: the command line rebuilt from the safety "
        "parse, every word re-quoted. Executors run this, never the model's raw string.",
    )
    argv: list[str] | None = Field(
        None,
        description="shell/ssh only: set when the command is one simple command without "
        "redirections, so it can run as a plain argv without any shell.",
    )
