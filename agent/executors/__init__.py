"""Tool executors: ssh, ipmi, http and local shell, every call behind the safety policy.

    from agent.executors import Executors
    with Executors(settings) as ex:
        result = ex.execute(ToolCall(tool="ssh", arguments={"host": "web1", "command": "df -h"}))

Modules: `dispatch` (the one entry point), `ssh`, `ipmi`, `http`, `shell` (one executor each),
`output` (scrub + cap), `credentials`, `hostkeys`, `result`, `config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.executors.dispatch import Execution, Executors
    from agent.executors.result import Status, ToolResult

__all__ = ["Execution", "Executors", "Status", "ToolResult"]


def __getattr__(name: str) -> Any:
    # Lazy: agent.config imports agent.executors.config, and every CLI command imports agent.config;
    # paramiko, pyghmi and httpx load only when an executor is actually used.
    if name in ("Execution", "Executors"):
        from agent.executors import dispatch

        return getattr(dispatch, name)
    if name in ("Status", "ToolResult"):
        from agent.executors import result

        return getattr(result, name)
    raise AttributeError(name)
