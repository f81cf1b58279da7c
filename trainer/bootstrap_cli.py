"""`halops bootstrap`: the command around trainer/bootstrap.py, with a progress bar and ETA."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from halops.cli import ConfigOpt, console, err_console, fail, load
from halops.errors import HalopsError


class _TrainBar:
    """Follows a training job through the job store (the trainer writes a row every step)."""

    def __init__(self, progress: Progress, db: Any):
        self.progress, self.db = progress, db
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def follow(self, job: Any) -> None:
        from trainer.jobs import JobStore

        task = self.progress.add_task(f"train {job.id}", total=None)

        def poll() -> None:
            store = JobStore(self.db)
            while not self.stop.wait(2.0):
                row = store.get(job.id)
                if row.total:
                    self.progress.update(task, completed=row.step, total=row.total)

        self.thread = threading.Thread(target=poll, name="bootstrap-progress", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(timeout=5)


def bootstrap(
    ctx: typer.Context,
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Train the adapter here instead of installing the shipped one."),
    ] = False,
    episodes: Annotated[
        int | None,
        typer.Option("--episodes", help="Synth episodes to train on (default: data.synth_episodes)."),
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="Bootstrap recipe overrides, e.g. max_steps=20")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Teach the bundled model halops's own loop and serve it (idempotent, resumable, gated).

    Installs the shipped adapter (sha256-pinned) or, with --rebuild, trains one on this CPU; then
    merge → GGUF → the eval gate. A model the gate refuses stays inactive (exit 3), version 0 keeps
    serving, and the reasons are printed.
    """
    from eval.cli import REGRESSED, print_case, print_verdict
    from trainer.bootstrap import bootstrap as run
    from trainer.runner import WorkDirs

    settings = load(ctx, config)
    work = WorkDirs(settings.trainer.resolve_work_dir(settings.data_dir))
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    bar = _TrainBar(progress, work.db)
    try:
        with progress:
            result = run(
                settings,
                rebuild=rebuild,
                episodes=episodes,
                overrides=tuple(overrides or ()),
                say=lambda msg: progress.console.print(msg, highlight=False),
                on_train=bar.follow,
                on_case=print_case,
            )
    except HalopsError as exc:
        fail(str(exc))
    finally:
        bar.close()
    if result.gate is None:
        return
    gate = result.gate
    print_verdict(gate.verdict, f"v{gate.baseline_version}", f"v{gate.version}")
    if not gate.deployed:
        console.print(
            f"[red]not deployed:[/] v{gate.version} regressed against v{gate.baseline_version}, "
            "which keeps serving"
        )
        raise typer.Exit(REGRESSED)
    console.print(
        f"bootstrapped: v{gate.version} is active ({result.source}; overall {gate.candidate.overall:.3f})"
    )
