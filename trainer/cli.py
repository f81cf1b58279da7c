"""`halops train | merge | convert | jobs` (filled in by the trainer issue)."""

import typer

jobs_app = typer.Typer(help="Training jobs: list, show, logs, cancel.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the trainer's commands to the root CLI."""
    app.add_typer(jobs_app, name="jobs")
