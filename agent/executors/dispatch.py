"""The one door to the executors: `Executors.execute(call) -> ToolResult`.

Every call goes: safety.check -> audit (check line, fsync'd) -> executor -> scrub -> audit (exec
line) -> result. Nothing here raises for a bad call, an unreachable host or a broken BMC: the
model gets a `ToolResult` it can read. Only programming errors escape.

Order of the guarantees:
- nothing runs that the policy did not allow (or that an operator did not approve: `approved=True`
  is how the approvals flow re-submits the exact call once);
- nothing runs unaudited: if the check line cannot be written, the call fails closed;
- what runs is the command safety rebuilt (`Decision.command` / `Decision.argv`), never the raw
  string the model wrote;
- output is scrubbed (streaming, before capping) with every loaded credential as a known secret,
  then scrubbed once more as a whole (cheap at the capped size) together with the failure notes.
"""

from __future__ import annotations

import logging
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.audit import AuditLog
from agent.executors.config import ExecutorSettings, resolve_paths
from agent.executors.credentials import CredentialStore, inventory_credential_names
from agent.executors.http import HttpExecutor
from agent.executors.ipmi import IpmiExecutor
from agent.executors.output import ScrubberFactory, Streams
from agent.executors.result import Outcome, Status, ToolResult, failure
from agent.executors.shell import ShellExecutor
from agent.executors.ssh import SshExecutor
from halops.calls import HttpArgs, IpmiArgs, ShellArgs, SshArgs, ToolCall
from safety.decision import Decision, Verdict
from safety.inventory import Inventory, load_inventory

if TYPE_CHECKING:
    from agent.config import ServiceSettings

log = logging.getLogger(__name__)

_FROM_SETTINGS: Any = object()

# check(call, inventory) -> Decision; the default is safety.check with this object's policy/limiter.
Checker = Callable[[ToolCall, Inventory], Decision]


@dataclass
class Execution:
    """A result with the decision behind it (the agent loop shows verdict, rule and reason)."""

    request_id: str
    result: ToolResult
    decision: Decision | None


class Executors:
    """All four executors behind one `execute`. Thread-safe; share one per process; `close()` it."""

    def __init__(
        self,
        settings: ServiceSettings,
        inventory: Inventory | None = None,
        *,
        policy: Any = None,
        limiter: Any = _FROM_SETTINGS,
        audit: AuditLog | None = None,
        env: Mapping[str, str] | None = None,
        extra_secrets: Iterable[str] = (),
        checker: Checker | None = None,
        scrubber_factory: Callable[[tuple[str, ...]], Any] | None = None,
        scrub: Callable[[str, tuple[str, ...]], str] | None = None,
    ):
        self.settings: ExecutorSettings = settings.executors
        paths = resolve_paths(settings)
        self.paths = paths
        self.inventory = inventory if inventory is not None else load_inventory(paths.inventory)
        # The deployment's policy file and rate limits, unless a caller (a test) passes its own:
        # `halops tool run` and the daemon must decide exactly alike.
        if policy is None:
            from safety.policy import load_policy

            policy = load_policy(settings.safety.policy_path)
        if limiter is _FROM_SETTINGS:
            from safety.ratelimit import RateLimiter

            limiter = RateLimiter.for_settings(settings.safety)
        self.policy = policy
        self.limiter = limiter
        self.credentials = CredentialStore.from_env(paths.credentials_dir, env)
        # Read every credential now: each is a known secret for the scrubber from the first call,
        # whichever host that call goes to. Missing ones are reported when a call needs them.
        self.credentials.preload(inventory_credential_names(self.inventory))
        self._extra_secrets = tuple(s for s in extra_secrets if s)
        self._checker = checker
        self._scrubber_factory = scrubber_factory
        self._scrub = scrub
        self.audit = audit or AuditLog(
            paths.audit_log,
            max_bytes=self.settings.audit_max_bytes,
            backups=self.settings.audit_backups,
            scrub=lambda text: self.scrub_text(text),
        )
        self.ssh = SshExecutor(self.settings, paths.known_hosts, self.credentials)
        self.ipmi = IpmiExecutor(self.settings, self.credentials)
        self.http = HttpExecutor(self.settings)
        self.shell = ShellExecutor(self.settings, self.known_secrets)
        self._closed = threading.Event()

    # ---- public ----------------------------------------------------------------------------

    def execute(
        self,
        call: ToolCall | Mapping[str, Any],
        *,
        approved: bool = False,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> ToolResult:
        """Check, audit, run, scrub. `timeout_s` can shorten the tool's configured limit, not extend it."""
        return self.run(call, approved=approved, request_id=request_id, timeout_s=timeout_s).result

    def run(
        self,
        call: ToolCall | Mapping[str, Any],
        *,
        approved: bool = False,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> Execution:
        """`execute`, also returning the decision and the request id."""
        start = time.monotonic()
        request_id = request_id or uuid.uuid4().hex
        if not isinstance(call, ToolCall):
            try:
                call = ToolCall.model_validate(dict(call))
            except (ValidationError, TypeError, ValueError) as exc:
                result = self._finish(failure(Status.DENIED, f"malformed tool call: {exc}"), start)
                self._audit_quietly(
                    {"request_id": request_id, "event": "check", "call": _raw(call), "status": result.status}
                )
                return Execution(request_id, result, None)
        record: dict[str, Any] = {
            "request_id": request_id,
            "event": "check",
            "tool": call.tool,
            "arguments": call.arguments,
            "approved": approved,
        }
        try:
            decision = self._check(call)
        except Exception as exc:  # fail closed: a broken policy runs nothing
            result = self._finish(failure(Status.DENIED, f"safety check failed ({exc}); nothing ran"), start)
            self._audit_quietly({**record, "status": result.status, "check_ms": result.duration_ms})
            return Execution(request_id, result, None)
        check_ms = _ms(start)
        record.update(
            verdict=decision.verdict.value,
            rule=decision.rule,
            reason=decision.reason,
            retry_after_s=decision.retry_after_s,
            command=decision.command,
            check_ms=check_ms,
        )
        blocked = self._blocked(decision, approved)
        if blocked is not None:
            result = self._finish(blocked, start)
            self._audit_quietly({**record, "status": result.status})
            return Execution(request_id, result, decision)
        try:
            self.audit.write({**record, "status": "running"})
        except Exception as exc:  # disk full, read-only fs, a scrubber bug: fail closed
            result = self._finish(
                failure(
                    Status.ERROR,
                    f"audit log {self.audit.path} not writable ({exc}); refusing to run unaudited",
                ),
                start,
            )
            return Execution(request_id, result, decision)
        exec_start = time.monotonic()
        try:
            outcome = self._dispatch(call, decision, timeout_s)
        except Exception as exc:
            # A bug (ours, a library's, the scrubber's) must not leave the model without a result,
            # nor let unscrubbed output out: whatever the executor had captured is dropped.
            log.exception("executor %s failed on request %s", call.tool, request_id)
            outcome = failure(
                Status.ERROR,
                f"internal error in the {call.tool} executor ({type(exc).__name__}); output withheld. "
                f"The call may have run: check its effect before repeating it.",
            )
        result = self._finish(outcome, start)
        self._audit_quietly(
            {
                "request_id": request_id,
                "event": "exec",
                "tool": call.tool,
                "host": call.arguments.get("host") if isinstance(call.arguments, dict) else None,
                "verdict": decision.verdict.value,
                "rule": decision.rule,
                "approved": approved,
                "status": result.status,
                "exit_code": result.exit_code,
                "check_ms": check_ms,
                "exec_ms": _ms(exec_start),
                "duration_ms": result.duration_ms,
                "stdout_sha256": outcome.stdout_sha256,
                "stderr_sha256": outcome.stderr_sha256,
                "output_bytes": outcome.output_bytes,
                "truncated": result.truncated,
            }
        )
        return Execution(request_id, result, decision)

    def known_secrets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.credentials.known_secrets() + self._extra_secrets))

    def scrub_text(self, text: str) -> str:
        if not text:
            return text
        if self._scrub is not None:
            return self._scrub(text, self.known_secrets())
        from safety import scrub

        return scrub(text, self.known_secrets()).text

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self.ssh.close()
        self.ipmi.close()
        self.http.close()

    def __enter__(self) -> Executors:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- steps -----------------------------------------------------------------------------

    def _check(self, call: ToolCall, limiter: Any = ...) -> Decision:
        if self._checker is not None:
            return self._checker(call, self.inventory)
        from safety import check

        return check(
            call, self.inventory, policy=self.policy, limiter=self.limiter if limiter is ... else limiter
        )

    @staticmethod
    def _blocked(decision: Decision, approved: bool) -> Outcome | None:
        """The result for a call that must not run now, or None when it may."""
        if decision.verdict == Verdict.DENY:
            msg = f"denied by policy rule {decision.rule}: {decision.reason}"
            if decision.retry_after_s is not None:
                msg += f" (retry after {decision.retry_after_s:.1f} s)"
            return failure(Status.DENIED, msg)
        if decision.verdict == Verdict.APPROVE and not approved:
            return failure(
                Status.APPROVAL_REQUIRED,
                f"needs an operator's approval (rule {decision.rule}): {decision.reason}",
            )
        return None

    def _streams(self) -> Streams:
        secrets = self.known_secrets()
        if self._scrubber_factory is not None:
            factory: ScrubberFactory = lambda: self._scrubber_factory(secrets)  # noqa: E731
        else:
            from safety import Scrubber

            factory = lambda: Scrubber(secrets)  # noqa: E731
        return Streams(self.settings.output_cap_bytes, factory)

    def _dispatch(self, call: ToolCall, decision: Decision, timeout_s: float | None) -> Outcome:
        try:
            args = call.typed()
        except (KeyError, ValueError, ValidationError) as exc:
            return failure(Status.ERROR, f"invalid arguments for {call.tool}: {exc}")
        streams = self._streams()
        ex = self.settings
        own = {ShellArgs: ex.shell_timeout_s, SshArgs: ex.ssh_command_timeout_s, IpmiArgs: ex.ipmi_timeout_s}
        limit = own.get(type(args), ex.http_timeout_s)
        # The caller's limit (the agent's remaining request time) can only shorten the tool's own.
        timeout_s = limit if timeout_s is None else max(0.001, min(timeout_s, limit))
        if isinstance(args, ShellArgs):
            return self.shell.run(decision, streams, timeout_s)
        if isinstance(args, HttpArgs):
            return self.http.run(args, self.inventory, streams, self._hop_check(decision), timeout_s)
        host = self.inventory.get(args.host)
        if host is None:
            return failure(Status.ERROR, f"host {args.host!r} is not in the inventory")
        if isinstance(args, SshArgs):
            command = decision.command or (shlex.join(decision.argv) if decision.argv else None)
            if not command:
                return failure(Status.ERROR, "safety returned no command to run")
            return self.ssh.run(args.host, host, command, streams, timeout_s)
        if isinstance(args, IpmiArgs):
            return self.ipmi.run(args.host, host, args, streams, timeout_s)
        return failure(Status.ERROR, f"no executor for tool {call.tool!r}")

    def _hop_check(self, decision: Decision) -> Callable[[str, str], str | None]:
        """Each redirect hop is judged by the policy as its own GET/POST (no rate-limit token)."""

        def check(method: str, url: str) -> str | None:
            hop = ToolCall(tool="http", arguments={"method": method, "url": url})
            try:
                d = self._check(hop, limiter=None)
            except Exception as exc:
                return f"the policy could not judge it ({exc})"
            if d.verdict == Verdict.DENY:
                return f"denied by policy rule {d.rule}: {d.reason}"
            if d.verdict == Verdict.APPROVE and decision.verdict == Verdict.ALLOW:
                return f"it would need an operator's approval (rule {d.rule})"
            return None

        return check

    def _finish(self, outcome: Outcome, start: float) -> ToolResult:
        r = outcome.result
        try:
            r.stdout = self.scrub_text(r.stdout)
            r.stderr = self.scrub_text(r.stderr)
        except Exception as exc:  # never hand out text that could not be scrubbed
            log.exception("scrubbing failed")
            r.stdout = ""
            r.stderr = f"halops: output withheld: the scrubber failed ({type(exc).__name__})\n"
            if r.status == Status.OK:
                r.status = Status.ERROR
        r.duration_ms = _ms(start)
        return r

    def _audit_quietly(self, record: dict[str, Any]) -> None:
        """Lines after the decision: the call already happened (or never will); log, don't fail."""
        try:
            self.audit.write(record)
        except Exception as exc:
            log.error("audit log %s not writable: %s", self.audit.path, exc)


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)


def _raw(call: object) -> object:
    return call if isinstance(call, dict | list | str | int | float | None) else repr(call)
