"""Settings of the safety policy (section `[safety]`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SafetySettings(BaseModel):
    """Command policy, rate limits, approvals and scrubbing."""

    model_config = ConfigDict(extra="forbid")

    policy_path: Path | None = Field(
        None,
        description="Policy YAML for this deployment. Empty: the shipped default policy. A file that "
        "starts with `extends: default` adds to the default instead of replacing it.",
    )
    rate_limit_enabled: bool = Field(True, description="Apply the token-bucket rate limits below.")
    rate_global_per_minute: float = Field(
        60.0, gt=0, description="Tool calls per minute across all tools and hosts (refill rate)."
    )
    rate_global_burst: int = Field(
        20, ge=1, description="Calls allowed at once before the global limit bites."
    )
    rate_target_per_minute: float = Field(
        20.0, gt=0, description="Tool calls per minute for one (tool, host) pair (refill rate)."
    )
    rate_target_burst: int = Field(10, ge=1, description="Calls at once to one (tool, host) pair.")
    approval_ttl_s: float = Field(
        3600.0,
        gt=0,
        description="Seconds a pending approval waits for an operator before it expires; "
        "an approved call must also run within this time of its creation.",
    )
    approvals_db: Path | None = Field(
        None, description="SQLite file of pending approvals. Empty: <data_dir>/safety/approvals.sqlite3."
    )
    scrub_min_known_secret_length: int = Field(
        6,
        ge=1,
        description="Known secret values shorter than this are not redacted everywhere (a "
        "password like 'root' would blank out every occurrence of the word); name-based rules still apply.",
    )
