"""What every CLI command shares: the --config option, settings loading, output helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from halops.settings import RootSettings

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $HALOPS_CONFIG, /etc/halops/halops.toml, then "
        "~/.config/halops/halops.toml).",
        show_default=False,
    ),
]

console = Console()
err_console = Console(stderr=True)


def load(ctx: typer.Context, config: Path | None) -> RootSettings:
    """Settings for this command: its own --config, else the one given before the sub-command.

    Built by the loader the composition root (agent.cli.main) puts in the root command's context:
    a package's commands get the whole settings tree without importing the code that composes it.
    """
    if config is None and ctx.obj is not None:
        config = ctx.obj.get("config")
    return ctx.obj["load_settings"](config)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
