"""Entry point of the `halops` console script: the composition root.

The only module that knows every package: it mounts each package's commands and hands them the
whole settings tree (`agent.cli.settings`) through the root command's context.
"""

from __future__ import annotations

import sys

import typer

from agent.cli import agent_cmd, config_cmd, inventory, llm, models_cmd, systemd_cmd, tool, up
from agent.cli.settings import load_settings
from eval import cli as eval_cli
from halops.cli import ConfigOpt, err_console
from halops.errors import ConfigError, HalopsError
from halops.files import InputFileError
from rag import cli as rag_cli
from safety import cli as safety_cli
from trainer import cli as trainer_cli
from trainer.data import cli as data_cli

app = typer.Typer(
    name="halops",
    help="Self-hosted ops agent: local model server, RAG, safe tools, retraining.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(llm.app, name="llm")
app.add_typer(agent_cmd.app, name="agent")
app.add_typer(systemd_cmd.app, name="systemd")
app.command("up")(up.up)
app.add_typer(models_cmd.app, name="models")
app.add_typer(safety_cli.app, name="safety")
app.add_typer(inventory.app, name="inventory")
app.add_typer(tool.app, name="tool")
app.add_typer(rag_cli.app, name="rag")
app.add_typer(data_cli.app, name="data")
trainer_cli.register(app)
eval_cli.register(app)


@app.callback()
def _root(ctx: typer.Context, config: ConfigOpt = None) -> None:
    ctx.obj = {"config": config, "load_settings": load_settings}


def _print_error(exc: HalopsError) -> int:
    problems = exc.problems if isinstance(exc, ConfigError) else []
    message = str(exc)
    if problems and all(key == "(file)" for key, _ in problems):
        # A file that is missing, unreadable or not parseable: one line says which and why.
        message += "".join(f" ({msg})" for _, msg in problems if msg not in message)
        problems = []
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    for key, msg in problems:
        err_console.print(f"  {key}: {msg}", highlight=False, soft_wrap=True)
    return 2 if isinstance(exc, ConfigError | InputFileError) else 1


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, prog_name="halops")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except HalopsError as exc:
        return _print_error(exc)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
