"""What the model is shown of one tool call, whatever happened: the `<tool_response>` payload.

The agent loop builds one per call from the executor's result and the policy's decision; the
trainer's synth episodes and the eval build the same payloads, so all three show the model the
same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from halops.prompt import clip


@dataclass
class ToolOutcome:
    """What running one call produced, whatever happened (denied, approval needed, failed...)."""

    status: str  # ok | error | timeout | denied | approval_required
    verdict: str | None = None
    rule: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    duration_ms: float | None = None
    approval_id: str | None = None

    def for_model(self, limit: int) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        if self.status in {"denied", "approval_required", "error"} and self.reason:
            out["reason"] = self.reason
        if self.approval_id:
            out["approval_id"] = self.approval_id
        if self.stdout:
            out["stdout"], cut = clip(self.stdout, limit)
            self.truncated = self.truncated or cut
        if self.stderr:
            out["stderr"], cut = clip(self.stderr, max(limit // 4, 200))
            self.truncated = self.truncated or cut
        if self.truncated:
            out["truncated"] = True
        return out
