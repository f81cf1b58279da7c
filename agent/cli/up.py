"""`halops up`: run the model server (and the agent, once it exists) in the foreground."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import typer

from agent.ports import ensure_free, url_host
from agent.supervisor import ChildSpec, Supervisor, exclusive
from halops.cli import ConfigOpt, console, load
from halops.llm.client import probe
from halops.llm.models import resolve_model
from halops.pidfile import pid_file, up_pid_path


def up(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Start halops in the foreground; Ctrl-C stops everything cleanly."""
    settings = load(ctx, config)
    if config is None and ctx.obj:
        config = ctx.obj.get("config")
    # Fail fast here, with a clear message, instead of inside a crash-looping child.
    resolve_model(settings.models_dir, settings.server.model_path)

    server = settings.server
    agent = settings.agent
    url = f"http://{url_host(server.host)}:{server.port}/v1"
    llm = settings.llm.model_copy(update={"base_url": url})
    config_args = ["--config", str(config)] if config else []
    agent_url = f"http://{url_host(agent.host)}:{agent.port}"
    specs = [
        ChildSpec(
            name="model server",
            argv=[sys.executable, "-m", "agent.cli.main", "llm", "serve", *config_args],
            healthy=lambda: probe(llm),
            startup_timeout_s=server.startup_timeout_s,
            log_path=settings.logs_dir / "llm-server.log",
            reload_on_hup=True,  # `halops deploy` → SIGHUP → the new current.gguf is served
            port=server.port,
        ),
        ChildSpec(
            name="agent",
            argv=[sys.executable, "-m", "agent.cli.main", "agent", "serve", "--llm-url", url, *config_args],
            healthy=lambda: _healthy(f"{agent_url}/health"),
            startup_timeout_s=120,
            log_path=settings.logs_dir / "agent.log",
            port=agent.port,
        ),
    ]

    def ready() -> None:
        console.print(
            f"\n[bold green]halops is up[/]: agent at {agent_url}/v1, model server at {url}", highlight=False
        )
        console.print("try:", highlight=False)
        body = '{"messages":[{"role":"user","content":"How full are the disks on this machine?"}]}'
        console.print(
            f"  curl -s {agent_url}/v1/chat/completions -H 'Content-Type: application/json' -d '{body}'",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f'  halops llm chat --url {url} "How do I check disk usage?"   # the bare model', highlight=False
        )
        console.print("Ctrl-C stops everything.\n", highlight=False)

    sup = Supervisor(specs, settings.supervisor, log=lambda m: console.print(f"[dim]up:[/] {m}"))
    # Refuse before starting anything: a second `up` would otherwise hear the first one's servers
    # answer its health checks while its own children cannot bind.
    with exclusive(up_lock_path(settings.data_dir), f"halops up on {settings.data_dir}"):
        ensure_free(server.host, server.port, "model server (server.port)")
        ensure_free(agent.host, agent.port, "agent (agent.port)")
        with pid_file(up_pid_path(settings.data_dir)):
            code = sup.run(on_ready=ready)
    raise typer.Exit(code)


def up_lock_path(data_dir: Path) -> Path:
    return data_dir / "run" / "up.lock"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
