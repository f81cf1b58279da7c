"""`halops agent serve | export-transcripts`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from halops.cli import ConfigOpt, console, err_console, load
from halops.files import need_optional

app = typer.Typer(help="The agent daemon: OpenAI-compatible chat with tools.", no_args_is_help=True)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default: agent.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: agent.port).")] = None,
    llm_url: Annotated[
        str | None, typer.Option(help="Model server base URL (default: llm.base_url).")
    ] = None,
    inventory: Annotated[
        Path | None, typer.Option(help="Inventory file (default: executors.inventory).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the agent on 127.0.0.1:8080 (POST /v1/chat/completions, approvals, feedback, metrics)."""
    from agent.ports import ensure_free
    from agent.server.serve import run
    from agent.wiring import build_daemon

    need_optional(inventory, "inventory")
    settings = load(ctx, config)
    agent = settings.agent.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    updates = {"agent": agent}
    if llm_url:
        updates["llm"] = settings.llm.model_copy(update={"base_url": llm_url})
    settings = settings.model_copy(update=updates)
    ensure_free(agent.host, agent.port, "agent (agent.port)")  # before loading anything
    daemon = build_daemon(settings, inventory=inventory)
    raise typer.Exit(run(daemon, say=lambda m: err_console.print(m, highlight=False)))


@app.command("export-transcripts")
def export_transcripts(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Write finished turns as ChatML-with-tools JSONL: the trainer's second data source."""
    from agent.executors.dispatch import Executors
    from agent.transcripts.export import export
    from agent.transcripts.store import TranscriptStore

    settings = load(ctx, config)
    if not settings.transcripts_db.exists():
        err_console.print(f"no transcripts yet ({settings.transcripts_db} does not exist)", highlight=False)
        raise typer.Exit(0)
    # Scrub again with today's credentials: a secret added to the inventory after a turn was
    # stored is caught now.
    with Executors(settings) as executors:
        store = TranscriptStore(settings.transcripts_db, scrub=executors.scrub_text)
        try:
            if output is None:
                count = export(store, sys.stdout, executors.scrub_text)
            else:
                tmp = output.with_name(output.name + ".tmp")
                with tmp.open("w") as fh:
                    count = export(store, fh, executors.scrub_text)
                tmp.replace(output)  # never a half-written export under the real name
        finally:
            store.close()
    err_console.print(f"exported {count} turn(s)", highlight=False)
    if output is not None:
        console.print(str(output), highlight=False)
