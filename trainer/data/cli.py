"""`halops data extract | qualify | curate | augment | validate | all`.

Each command runs its stage (or says it is up to date), shows a progress bar on stderr and ends
with a summary table. Errors are `HalopsError`s: the main entry point prints them without a
traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from halops.cli import ConfigOpt, console, err_console, load
from halops.files import need

app = typer.Typer(help="Training data: extract, qualify, curate, augment, validate.", no_args_is_help=True)
T = TypeVar("T")

SourceOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--source",
        "-s",
        help="Folder (or file) of Claude Code sessions or agent transcripts; repeatable. "
        "Default: data.sources.",
        show_default=False,
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Run even when the outputs are up to date.")]


class _RichProgress:
    """The stages' progress protocol on one rich bar per loop (stderr, stdout keeps the table)."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def track(self, items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
        task = self.progress.add_task(description, total=total)
        for item in items:
            yield item
            self.progress.advance(task)
        self.progress.update(task, visible=False)


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _summary(results: list) -> None:
    table = Table(title="halops data")
    for col in ("stage", "status", "counts", "seconds"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for r in results:
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items()) or r.note
        seconds = f"{r.seconds:.1f}" if r.status == "ran" else ""
        table.add_row(r.stage, r.status, counts, seconds)
    console.print(table)


def _run(
    ctx: typer.Context, config: Path | None, stage: str, sources: list[Path] | None, force: bool
) -> None:
    from trainer.data import pipeline

    for source in sources or []:
        need(source, "source", "any")
    settings = load(ctx, config)
    with _bar() as bar:
        progress = _RichProgress(bar)
        if stage == "all":
            results = pipeline.run_all(settings, sources=sources, force=force, progress=progress)
        else:
            results = [pipeline.run_stage(stage, settings, sources=sources, force=force, progress=progress)]
    _summary(results)
    if stage in ("all", "validate") and results[-1].status != "skipped":
        console.print(f"final data: {pipeline.layout(settings).folder('validate')}", highlight=False)


@app.command()
def extract(
    ctx: typer.Context, source: SourceOpt = None, force: ForceOpt = False, config: ConfigOpt = None
) -> None:
    """Sessions and agent transcripts → extracted/{sessions,subagents}.jsonl."""
    _run(ctx, config, "extract", source, force)


@app.command()
def qualify(ctx: typer.Context, force: ForceOpt = False, config: ConfigOpt = None) -> None:
    """Score six quality dimensions, assign tiers → qualified/session_scores.jsonl."""
    _run(ctx, config, "qualify", None, force)


@app.command()
def curate(ctx: typer.Context, force: ForceOpt = False, config: ConfigOpt = None) -> None:
    """Strategies A–D in ChatML-with-tools, windowed to max_seq_tokens → curated/sft_*.jsonl."""
    _run(ctx, config, "curate", None, force)


@app.command()
def augment(ctx: typer.Context, force: ForceOpt = False, config: ConfigOpt = None) -> None:
    """Optional: more skill Q&A from data.augment_base_url (skipped when unset)."""
    _run(ctx, config, "augment", None, force)


@app.command()
def validate(ctx: typer.Context, force: ForceOpt = False, config: ConfigOpt = None) -> None:
    """Scrub, check, deduplicate and split → final/{train,val,test}.jsonl and data_report.json."""
    _run(ctx, config, "validate", None, force)


@app.command("all")
def all_(
    ctx: typer.Context, source: SourceOpt = None, force: ForceOpt = False, config: ConfigOpt = None
) -> None:
    """Every stage in order; stages already up to date are not run again."""
    _run(ctx, config, "all", source, force)


@app.command()
def synth(
    ctx: typer.Context,
    episodes: Annotated[
        int | None, typer.Option("--episodes", "-n", min=1, help="How many (default: data.synth_episodes).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default: data.seed).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder (default: <data_dir>/data/synth).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Fleet-skill episodes in the agent's exact format → synth/{train,val,test}.jsonl (seeded)."""
    from trainer.data.synth import run

    settings = load(ctx, config)
    result = run.run(settings, episodes=episodes, seed=seed, out=out)
    table = Table(title="halops data synth")
    table.add_column("split")
    table.add_column("episodes", justify="right")
    for name, n in result.counts.items():
        table.add_row(name, str(n))
    console.print(table)
    console.print(
        "kinds: " + ", ".join(f"{k} {v}" for k, v in result.by_kind.items()), highlight=False
    )
    console.print(f"written: {result.files[0].parent}", highlight=False)
