"""`halops train | merge | convert | jobs` — the trainer's commands on the root CLI.

The recipe file is `--recipe` (not `--config`): every halops command already uses `--config` for the
halops settings file, and the two must be combinable.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from halops.cli import ConfigOpt, console, fail, load
from halops.errors import HalopsError
from halops.files import need, need_optional
from trainer.bootstrap_cli import bootstrap

jobs_app = typer.Typer(help="Training jobs: list, show, logs, cancel.", no_args_is_help=True)


def _work(ctx: typer.Context, config: Path | None):  # noqa: ANN202 - returns (settings, WorkDirs)
    from trainer.runner import WorkDirs

    settings = load(ctx, config)
    return settings, WorkDirs(settings.trainer.resolve_work_dir(settings.data_dir))


def _print_problems(exc: HalopsError) -> None:
    fail(str(exc))


def train(
    ctx: typer.Context,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. epochs=1 lora.r=8")
    ] = None,
    recipe: Annotated[
        Path | None, typer.Option("--recipe", "-r", help="Recipe YAML (trainer/configs/).")
    ] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Job id to resume from its last checkpoint.")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Validate the recipe and exit.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Fine-tune a LoRA adapter (one job at a time); ends with the adapter under the job's run dir."""
    from trainer.recipe_config import load_recipe

    need_optional(recipe, "recipe")
    settings, work = _work(ctx, config)
    try:
        cfg = None
        if not resume:
            cfg = load_recipe(
                recipe or settings.trainer.default_recipe,
                overrides or [],
                dataset_default=settings.data_dir / "data" / "final",
            )
            if check:
                console.print("recipe ok")
                console.print_json(json.dumps(cfg.model_dump(mode="json")))
                return
        from trainer.runner import run_job

        job = run_job(
            work,
            cfg,
            resume_id=resume,
            on_created=lambda j: console.print(f"job {j.id} (run dir {j.output_dir})"),
        )
    except HalopsError as exc:
        _print_problems(exc)
    console.print(f"job {job.id}: {job.status}")
    for kind, path in job.artifacts.items():
        console.print(f"  {kind}: {path}")
    if job.status != "completed":
        raise typer.Exit(1)


def merge(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Job id, or an adapter directory.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Merged model dir (default: <run>/merged).")
    ] = None,
    dtype: Annotated[
        str, typer.Option(help="float16 | bfloat16 | float32 for the saved weights.")
    ] = "float16",
    config: ConfigOpt = None,
) -> None:
    """Merge a finished adapter into its full-precision base model (never into 4-bit weights)."""
    from trainer import export
    from trainer.jobs import JobStore
    from trainer.recipe import finished_adapter

    if "/" in target:  # a path, not a job id: it must be there
        need(Path(target), "adapter directory", "dir")
    _, work = _work(ctx, config)
    if dtype not in ("float16", "bfloat16", "float32"):
        fail(f"--dtype must be float16, bfloat16 or float32, not {dtype}")
    try:
        job = None
        adapter: Path | None = Path(target)
        if not (adapter / "adapter_config.json").exists():
            job = JobStore(work.db).get(target)
            adapter = finished_adapter(Path(job.output_dir or ""))
            if adapter is None or job.status != "completed":
                fail(f"job {job.id} is {job.status}: it has no finished adapter")
        assert adapter is not None
        out_dir = out or adapter.parent / "merged"
        merged = export.merge(adapter, out_dir, dtype)
        if job:
            JobStore(work.db).add_artifact(job.id, "merged", merged)
    except HalopsError as exc:
        fail(str(exc))
    console.print(f"merged: {merged}")


def convert(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Job id, or a merged HF model directory.")],
    out: Annotated[Path | None, typer.Option("--out", help="GGUF dir (default: <run>/gguf).")] = None,
    activate: Annotated[
        bool, typer.Option("--activate", help="Add Q4_K_M as a model version, activate it.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Merged model → GGUF f16 + Q4_K_M + Q5_K_M + Modelfile; succeeds only if the GGUF answers."""
    from halops.llm.models import ModelStore
    from trainer import export
    from trainer.jobs import JobStore

    if "/" in target:
        need(Path(target), "model directory", "dir")
    settings, work = _work(ctx, config)
    try:
        job = None
        model_dir = Path(target)
        if not (model_dir / "config.json").exists():
            job = JobStore(work.db).get(target)
            model_dir = Path(job.artifacts.get("merged", Path(job.output_dir or "") / "merged"))
        out_dir = out or model_dir.parent / "gguf"
        result = export.convert(
            model_dir,
            out_dir,
            work.tools,
            settings.trainer.llama_cpp_python_version,
            settings.trainer.smoke_prompt,
        )
        if job:
            for kind, path in result["files"].items():
                JobStore(work.db).add_artifact(job.id, f"gguf_{kind}", Path(path))
        if activate:
            store = ModelStore(settings.models_dir)
            version = store.add_version(Path(result["files"]["Q4_K_M"]))
            store.activate(version)
            console.print(f"activated model version {version}")
    except HalopsError as exc:
        fail(str(exc))
    for kind, path in result["files"].items():
        console.print(f"{kind}: {path}")
    console.print(f"Modelfile: {result['modelfile']}")
    for kind, answer in result["answers"].items():
        console.print(f"{kind} answers: {answer[:120]!r}", highlight=False)


@jobs_app.command("list")
def jobs_list(
    ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False, config: ConfigOpt = None
) -> None:
    """Recent jobs, newest first."""
    from trainer.jobs import JobStore

    _, work = _work(ctx, config)
    jobs = JobStore(work.db).list()
    if json_out:
        console.print_json(json.dumps([j.as_dict() for j in jobs], default=str))
        return
    for j in jobs:
        loss = j.metrics.get("loss")
        loss_txt = f" loss={loss:.4f}" if isinstance(loss, float) else ""
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created))
        console.print(f"{j.id}  {j.status:<9}  {j.name}  step {j.step}/{j.total}{loss_txt}  {created}")


@jobs_app.command("show")
def jobs_show(ctx: typer.Context, job_id: str, config: ConfigOpt = None) -> None:
    """Everything stored about one job, as JSON."""
    from trainer.jobs import JobStore

    _, work = _work(ctx, config)
    try:
        console.print_json(json.dumps(JobStore(work.db).get(job_id).as_dict(), default=str))
    except HalopsError as exc:
        fail(str(exc))


@jobs_app.command("logs")
def jobs_logs(
    ctx: typer.Context,
    job_id: str,
    tail: Annotated[int, typer.Option(help="Last N lines; 0 = all.")] = 50,
    config: ConfigOpt = None,
) -> None:
    """The job's training log."""
    from trainer.jobs import JobStore

    _, work = _work(ctx, config)
    try:
        job = JobStore(work.db).get(job_id)
    except HalopsError as exc:
        fail(str(exc))
    path = Path(job.log_path or "")
    if not path.is_file():
        fail(f"job {job.id} has no log yet")
    lines = path.read_text(errors="replace").splitlines()
    typer.echo("\n".join(lines[-tail:] if tail else lines))


@jobs_app.command("cancel")
def jobs_cancel(ctx: typer.Context, job_id: str, config: ConfigOpt = None) -> None:
    """Stop a job cleanly: pending ones at once, running ones at their next step."""
    from trainer.jobs import JobStore

    _, work = _work(ctx, config)
    try:
        job = JobStore(work.db).request_cancel(job_id)
    except HalopsError as exc:
        fail(str(exc))
    console.print(f"job {job.id}: {job.status}" + (" (cancel requested)" if job.status == "running" else ""))


def retrain(
    ctx: typer.Context,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="Recipe key=value overrides, e.g. epochs=1")
    ] = None,
    recipe: Annotated[
        Path | None, typer.Option("--recipe", "-r", help="Recipe YAML (default: trainer.default_recipe).")
    ] = None,
    skip_data: Annotated[
        bool, typer.Option("--skip-data", help="Train on the dataset as it is; do not run the data pipeline.")
    ] = False,
    force_deploy: Annotated[
        bool, typer.Option("--force-deploy", help="Deploy even if the eval regressed.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Data → train → merge → convert → deploy only if the eval does not regress (exit 3 if it does).

    What the systemd timer runs (halops-trainer.service). The new model is served after the model
    server restarts (the unit starts halops-llama.service again when it ends).
    """
    from eval.cli import REGRESSED, print_case, print_verdict
    from trainer.retrain import retrain as run_retrain

    need_optional(recipe, "recipe")
    settings = load(ctx, config)
    try:
        result = run_retrain(
            settings,
            recipe=recipe,
            overrides=overrides or [],
            skip_data=skip_data,
            force_deploy=force_deploy,
            # systemd sets INVOCATION_ID for every unit it runs: halops-trainer.service, started by
            # the timer, records its deploys as the timer's.
            actor="timer" if os.environ.get("INVOCATION_ID") else "cli",
            say=lambda msg: console.print(msg, highlight=False),
            on_case=print_case,
        )
    except HalopsError as exc:
        fail(str(exc))
    gate = result.gate
    print_verdict(gate.verdict, f"v{gate.baseline_version}", f"v{gate.version}")
    if not gate.deployed:
        console.print(f"[red]not deployed:[/] job {result.job_id} regressed; v{gate.version} stays inactive")
        raise typer.Exit(REGRESSED)
    console.print(f"deployed v{gate.version} from job {result.job_id} (overall {gate.candidate.overall:.3f})")


def register(app: typer.Typer) -> None:
    """Add the trainer's commands to the root CLI."""
    app.command("train")(train)
    app.command("merge")(merge)
    app.command("convert")(convert)
    app.command("retrain")(retrain)
    app.command("bootstrap")(bootstrap)
    app.add_typer(jobs_app, name="jobs")
