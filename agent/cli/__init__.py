"""The `halops` command line: one Typer app, one sub-command group per package."""
