"""`halops eval run | compare` and `halops deploy`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from eval.report import CaseResult, EvalReport, Verdict
from halops.cli import ConfigOpt, console, fail, load
from halops.errors import HalopsError
from halops.files import need, need_optional

app = typer.Typer(help="Score a model on the eval cases; compare two reports.", no_args_is_help=True)
REGRESSED = 3  # exit status of a gate that refused a model: not an error, a decision


def print_case(result: CaseResult) -> None:
    mark = "[green]✓[/]" if result.score >= 0.999 else ("[red]✗[/]" if result.score == 0 else "[yellow]~[/]")
    why = "; ".join(result.notes) or (result.error or "")
    console.print(f"  {mark} {result.id:<22} {result.score:.2f}  {why}", highlight=False)


def _summary(report: EvalReport) -> None:
    table = Table(title=f"eval of {report.model}")
    table.add_column("category")
    table.add_column("score", justify="right")
    for category, score in report.by_category.items():
        table.add_row(category, f"{score:.3f}")
    table.add_row("[bold]overall[/]", f"[bold]{report.overall:.3f}[/]")
    console.print(table)
    # The done-when of the tool grammar: (nearly) every call the model emits must run.
    share = report.calls_valid_share
    valid = f"{report.calls_valid}/{report.calls_emitted}" + (f" ({share:.1%})" if share is not None else "")
    grammar = "on" if report.grammar else "off"
    console.print(f"schema-valid tool calls: {valid}; grammar {grammar}", highlight=False)


def print_verdict(verdict: Verdict, baseline: str, candidate: str) -> None:
    console.print(f"{candidate} vs {baseline}: overall {verdict.overall_delta:+.3f}", highlight=False)
    for category, delta in verdict.category_deltas.items():
        console.print(f"  {category}: {delta:+.3f}", highlight=False)
    for reason in verdict.reasons:
        console.print(f"  [red]regression:[/] {reason}", highlight=False)


@app.command("run")
def run(
    ctx: typer.Context,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="GGUF to score on a private server (default: the running one)."),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="OpenAI-compatible base URL to score instead.")
    ] = None,
    cases: Annotated[
        Path | None, typer.Option("--cases", help="Eval cases YAML (default: eval.cases).")
    ] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Write the report (JSON) here.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    grammar: Annotated[
        bool | None,
        typer.Option(
            "--grammar/--no-grammar",
            help="Constrain replies with the tool grammar, or not (default: agent.grammar).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Score a model on the eval cases (greedy, the agent's prompt and tools, no retrieval)."""
    from eval import gate

    need_optional(cases, "eval cases")
    settings = load(ctx, config)
    if grammar is not None:  # measured both ways for the grammar's before/after (docs/eval.md)
        settings = settings.model_copy(
            update={"agent": settings.agent.model_copy(update={"grammar": grammar})}
        )
    if cases is not None:
        settings = settings.model_copy(update={"eval": settings.eval.model_copy(update={"cases": cases})})
    if url is not None:
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"base_url": url})})
    on_case = None if json_out else print_case
    try:
        if model is not None:
            report = gate.evaluate_gguf(settings, model, on_case)
        else:
            report = gate.evaluate_url(settings, settings.llm.base_url, on_case)
    except HalopsError as exc:
        fail(str(exc))
    if save:
        report.save(save)
    if json_out:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    _summary(report)
    if save:
        console.print(f"report: {save}", highlight=False)


@app.command("compare")
def compare_cmd(
    ctx: typer.Context,
    baseline: Annotated[Path, typer.Argument(help="Report of the deployed model.")],
    candidate: Annotated[Path, typer.Argument(help="Report of the new model.")],
    config: ConfigOpt = None,
) -> None:
    """Would `candidate` pass the deploy gate against `baseline`? Exit 3 when it regressed."""
    from eval.report import compare

    need(baseline, "baseline report")
    need(candidate, "candidate report")
    settings = load(ctx, config)
    try:
        verdict = compare(
            EvalReport.load(candidate),
            EvalReport.load(baseline),
            settings.eval.tolerance,
            settings.eval.category_tolerance,
        )
    except HalopsError as exc:
        fail(str(exc))
    print_verdict(verdict, str(baseline), str(candidate))
    if verdict.regressed:
        raise typer.Exit(REGRESSED)


def deploy(
    ctx: typer.Context,
    gguf: Annotated[Path, typer.Argument(help="GGUF file to deploy (e.g. a job's Q4_K_M).")],
    force: Annotated[bool, typer.Option("--force", help="Activate even if it regressed.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Score GGUF against the deployed model; activate it only if it does not regress (else exit 3)."""
    from eval import gate
    from halops.pidfile import signal_reload, up_pid_path

    need(gguf, "GGUF")
    settings = load(ctx, config)
    console.print("scoring the deployed model (reused when already scored) and the candidate")
    try:
        result = gate.deploy(settings, gguf, force=force, on_case=print_case)
    except HalopsError as exc:
        fail(str(exc))
    print_verdict(result.verdict, f"v{result.baseline_version}", f"v{result.version}")
    if not result.deployed:
        console.print(
            f"[red]not deployed:[/] v{result.version} stays registered but inactive "
            f"(`halops deploy --force {gguf}` to override)",
            highlight=False,
        )
        raise typer.Exit(REGRESSED)
    console.print(f"deployed v{result.version} (overall {result.candidate.overall:.3f})", highlight=False)
    pid = signal_reload(up_pid_path(settings.data_dir))
    if pid is not None:
        console.print(f"asked `halops up` (pid {pid}) to restart its model server with it", highlight=False)
    else:
        console.print(
            "restart the model server to serve it: systemctl restart halops-llama.service", highlight=False
        )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="eval")
    root.command("deploy")(deploy)
