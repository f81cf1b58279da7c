"""`halops up`: run the model server (and the agent, once it exists) in the foreground."""

from __future__ import annotations

import sys

import typer

from agent.cli.common import ConfigOpt, console, load
from agent.llm.client import probe
from agent.llm.models import resolve_model
from agent.supervisor import ChildSpec, Supervisor


def up(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Start halops in the foreground; Ctrl-C stops everything cleanly."""
    settings = load(ctx, config)
    if config is None and ctx.obj:
        config = ctx.obj.get("config")
    # Fail fast here, with a clear message, instead of inside a crash-looping child.
    resolve_model(settings.models_dir, settings.server.model_path)

    server = settings.server
    url = f"http://{server.host}:{server.port}/v1"
    llm = settings.llm.model_copy(update={"base_url": url})
    config_args = ["--config", str(config)] if config else []
    specs = [
        ChildSpec(
            name="model server",
            argv=[sys.executable, "-m", "agent.cli.main", "llm", "serve", *config_args],
            healthy=lambda: probe(llm),
            startup_timeout_s=server.startup_timeout_s,
            log_path=settings.logs_dir / "llm-server.log",
        )
    ]

    def ready() -> None:
        console.print(f"\n[bold green]halops is up[/]: model server at {url}", highlight=False)
        console.print("try:", highlight=False)
        console.print(
            f"  curl -s {url}/chat/completions -H 'Content-Type: application/json' \\\n"
            '    -d \'{"messages":[{"role":"user","content":"How do I check disk usage?"}]}\'',
            highlight=False,
            soft_wrap=True,
        )
        console.print(f'  halops llm chat --url {url} "How do I check disk usage?"', highlight=False)
        console.print("Ctrl-C stops everything.\n", highlight=False)

    sup = Supervisor(specs, settings.supervisor, log=lambda m: console.print(f"[dim]up:[/] {m}"))
    raise typer.Exit(sup.run(on_ready=ready))
