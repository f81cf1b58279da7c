"""`halops tool run '<json call>'`: one call through safety and its executor, as an operator."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from halops.cli import ConfigOpt, console, err_console, fail, load
from halops.files import STDIN, need_optional

app = typer.Typer(help="Run one tool call through safety and its executor.", no_args_is_help=True)


@app.command()
def run(
    ctx: typer.Context,
    call: Annotated[
        str,
        typer.Argument(
            help='Tool call as JSON: {"tool": "ssh", "arguments": {...}}; `-`: read it from stdin.'
        ),
    ],
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory", "-i", help="Inventory file (default: executors.inventory).", show_default=False
        ),
    ] = None,
    approve: Annotated[
        bool,
        typer.Option("--approve", help="Run a call the policy sends for approval (never one it denies)."),
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Wall-clock limit in seconds (default: per tool).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Check CALL against the policy, run it if allowed, print the ToolResult as JSON.

    Exit 0 when the result's status is ok, 1 otherwise. The call is audited like the agent's.
    """
    from agent.executors.dispatch import Executors
    from safety.inventory import load_inventory

    need_optional(inventory, "inventory")
    if call == STDIN:
        call = sys.stdin.read()
    settings = load(ctx, config)
    try:
        parsed = json.loads(call)
    except json.JSONDecodeError as exc:
        fail(f"the call is not JSON: {exc}")
    if not isinstance(parsed, dict):
        fail('the call must be a JSON object: {"tool": ..., "arguments": {...}}')
    inv = load_inventory(inventory) if inventory is not None else None
    if timeout is not None:  # the operator's limit replaces every tool's configured one
        settings.executors = settings.executors.model_copy(
            update={
                "shell_timeout_s": timeout,
                "ssh_command_timeout_s": timeout,
                "ipmi_timeout_s": timeout,
                "http_timeout_s": timeout,
            }
        )
    with Executors(settings, inv, env=os.environ) as ex:
        execution = ex.run(parsed, approved=approve, timeout_s=timeout)
    d = execution.decision
    if d is not None:
        err_console.print(
            f"{d.verdict.value} by {d.rule}: {d.reason} (request {execution.request_id})",
            highlight=False,
            soft_wrap=True,
        )
    console.out(execution.result.model_dump_json(indent=2), highlight=False)
    if execution.result.status != "ok":
        raise typer.Exit(1)
