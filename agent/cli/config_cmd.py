"""`halops config show | check | reference`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import tomli_w
import typer

from agent.config_check import check_settings
from agent.config_reference import render, write_into
from halops.cli import ConfigOpt, console, err_console, load
from halops.errors import ConfigError
from halops.files import need
from halops.settings import masked_dump, resolve_config_path

app = typer.Typer(help="Show and check the configuration.", no_args_is_help=True)


def _source(ctx: typer.Context, config: Path | None) -> Path | None:
    if config is None and ctx.obj:
        config = ctx.obj.get("config")
    return resolve_config_path(config)


@app.command()
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of TOML.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Print the effective configuration (file + environment + defaults), secrets masked."""
    settings = load(ctx, config)
    data = masked_dump(settings)
    if as_json:
        console.out(json.dumps(data, indent=2), highlight=False)
        return
    source = _source(ctx, config)
    console.out(f"# effective halops configuration (file: {source or 'none, defaults'})")
    console.out(tomli_w.dumps(data), highlight=False)


@app.command()
def check(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Validate the configuration; list every problem with its key. Exit 2 if any."""
    source = _source(ctx, config)
    if source is not None:
        need(source, "config file")  # nothing to list problems of: one line, like every command
    try:
        settings = load(ctx, config)
        problems = check_settings(settings)
    except ConfigError as exc:
        problems = exc.problems or [("(file)", str(exc))]
    if problems:
        err_console.print(
            f"[bold red]{len(problems)} problem(s)[/] in the configuration "
            f"({source or 'defaults and environment'}):",
            highlight=False,
        )
        for key, msg in problems:
            err_console.print(f"  [bold]{key}[/]: {msg}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    console.print(f"configuration OK ({source or 'defaults and environment'})", highlight=False)


@app.command()
def reference(
    write: Annotated[
        Path | None, typer.Option(help="Update the reference block inside this file instead of printing.")
    ] = None,
) -> None:
    """Print the Markdown reference of every setting (the README's config section)."""
    if write is None:
        console.out(render(), highlight=False)
        return
    changed = write_into(need(write, "file"))
    console.print(f"{write}: {'updated' if changed else 'already current'}", highlight=False)
