"""What an executor hands back to the model: one `ToolResult` per call, never an exception.

The model reads failures the same way it reads output, so an unreachable host, a rejected host key
or a timeout is a result with a status and an explanation in `stderr`, not a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    OK = "ok"  # ran and succeeded (exit 0, HTTP < 400, BMC answered)
    ERROR = "error"  # ran and failed, or could not run (unreachable, auth, host key)
    TIMEOUT = "timeout"  # killed at its wall-clock limit; output so far is kept
    DENIED = "denied"  # the policy (or a rate limit) refused it; nothing ran
    APPROVAL_REQUIRED = "approval_required"  # needs an operator's approval first; nothing ran


class ToolResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    exit_code: int | None = Field(
        None, description="Process exit status (ssh, shell) or HTTP status code; None when nothing ran."
    )
    stdout: str = Field("", description="Capped and scrubbed standard output (HTTP: status, headers, body).")
    stderr: str = Field("", description="Capped and scrubbed standard error, or why the call failed.")
    truncated: bool = Field(False, description="True when some output was cut at the cap.")
    duration_ms: int = Field(0, ge=0, description="Wall-clock time of the call, safety check included.")


@dataclass
class Outcome:
    """An executor's result plus what only the audit log needs (digests of the full output)."""

    result: ToolResult
    stdout_sha256: str | None = None
    stderr_sha256: str | None = None
    output_bytes: int = 0


def failure(status: Status, message: str, exit_code: int | None = None) -> Outcome:
    """A result for a call that produced no output of its own: the message goes to stderr."""
    return Outcome(ToolResult(status=status, exit_code=exit_code, stderr=message))


class ExecutorFailure(Exception):
    """Internal to the executors: a failure already phrased for the model, with its status.

    Raised deep inside an executor and turned into a `ToolResult` at its edge; never escapes.
    """

    def __init__(self, status: Status, message: str):
        super().__init__(message)
        self.status = status
