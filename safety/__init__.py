"""halops safety: the command policy, rate limits, approvals and the credential scrubber.

    decision = safety.check(call, inventory)            # allow | approve | deny, never raises
    clean = safety.scrub(text, known_secrets).text      # [REDACTED:<kind>] for every secret

Settings are passed in explicitly (`SafetySettings`, `load_policy(path)`,
`RateLimiter.from_settings(...)`); nothing is read at import time.
"""

from halops.calls import ToolCall, tool_schemas
from safety.approvals import (
    Approval,
    ApprovalError,
    ApprovalExpiredError,
    ApprovalNotFoundError,
    ApprovalStateError,
    ApprovalStatus,
    ApprovalStore,
    ApprovedCall,
)
from safety.check import check
from safety.config import SafetySettings
from safety.decision import Decision, Verdict
from safety.inventory import Inventory, load_inventory
from safety.policy import Policy, PolicyError, default_policy, load_policy
from safety.ratelimit import RateLimiter
from safety.scrub import Finding, Scrubbed, Scrubber, scrub

__all__ = [
    "Approval",
    "ApprovalError",
    "ApprovalExpiredError",
    "ApprovalNotFoundError",
    "ApprovalStateError",
    "ApprovalStatus",
    "ApprovalStore",
    "ApprovedCall",
    "Decision",
    "Finding",
    "Inventory",
    "Policy",
    "PolicyError",
    "RateLimiter",
    "SafetySettings",
    "Scrubbed",
    "Scrubber",
    "ToolCall",
    "Verdict",
    "check",
    "default_policy",
    "load_inventory",
    "load_policy",
    "scrub",
    "tool_schemas",
]
