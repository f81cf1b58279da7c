"""`halops data ...` (filled in by the data issue)."""

import typer

app = typer.Typer(help="Training data: extract, qualify, curate, augment, validate.", no_args_is_help=True)
