"""`halops models list | show | activate | rollback | history | compare | judge |
export-preferences | prune`: the model registry (eval.registry) from the shell.

Lives in the composition root rather than in eval/ because `compare --live` takes its prompts from
the agent's transcript store.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel

from agent.cli import models_view as view
from halops.cli import ConfigOpt, console, err_console, fail, load
from halops.errors import HalopsError

app = typer.Typer(help="Model versions: list, activate, roll back, compare, prune.", no_args_is_help=True)
ACTOR = "cli"
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why: kept in the deployment history.")]


@contextmanager
def _registry(ctx: typer.Context, config: Path | None) -> Any:
    from eval.registry.registry import Registry

    settings = load(ctx, config)
    try:
        with Registry.for_settings(settings) as registry:
            yield registry
    except HalopsError as exc:
        fail(str(exc))


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


@app.command("list")
def list_cmd(ctx: typer.Context, json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Every version: state, source, eval scores, size, sha256."""
    with _registry(ctx, config) as registry:
        infos = registry.versions()
    if json_out:
        _echo_json([i.as_dict() for i in infos])
    elif not infos:
        console.print("no model versions yet (`halops up` or `halops llm serve` links in the bundled one)")
    else:
        console.print(view.versions_table(infos))


@app.command("show")
def show(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(help="Version number.")],
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """One version in full, with its eval per category and the gate's reasons if it was rejected."""
    with _registry(ctx, config) as registry:
        info = registry.show(version)
    if json_out:
        _echo_json(info.as_dict())
    else:
        view.print_version(info)


@app.command("activate")
def activate(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(help="Version number to serve.")],
    force: Annotated[bool, typer.Option("--force", help="Serve it even if the gate rejected it.")] = False,
    reason: ReasonOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve VERSION (swaps current.gguf; a running `halops up` reloads)."""
    with _registry(ctx, config) as registry:
        done = registry.activate(version, force=force, reason=reason, actor=ACTOR)
    view.print_activation(done, "activated")


@app.command("rollback")
def rollback(ctx: typer.Context, reason: ReasonOpt = None, config: ConfigOpt = None) -> None:
    """Serve the version that was active before the current one again (works with the server down)."""
    with _registry(ctx, config) as registry:
        done = registry.rollback(reason=reason, actor=ACTOR)
    view.print_activation(done, "rolled back to")


@app.command("history")
def history(ctx: typer.Context, json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Every deploy, rejection, activation, rollback and prune, oldest first."""
    with _registry(ctx, config) as registry:
        events = registry.history()
    if json_out:
        _echo_json([e.as_dict() for e in events])
    elif not events:
        console.print("no deployment history yet")
    else:
        console.print(view.history_table(events))


def _recent_prompts(settings: Any, limit: int) -> list[str]:
    from agent.executors.config import resolve_paths
    from agent.executors.dispatch import Executors
    from agent.transcripts.store import TranscriptStore
    from safety.scrub import scrub

    if not settings.transcripts_db.exists():
        return []
    if not resolve_paths(settings).inventory.is_file():
        # No inventory, no credentials to know: the stored text (scrubbed when written) gets the
        # pattern scrubber again, here and in live_compare.
        store = TranscriptStore(settings.transcripts_db, scrub=lambda text: scrub(text).text)
        try:
            return [scrub(p).text for p in store.recent_prompts(limit)]
        finally:
            store.close()
    # Scrubbed with today's credentials too: a secret added to the inventory after a turn was
    # stored is caught now (the live answers become training data).
    with Executors(settings) as executors:
        store = TranscriptStore(settings.transcripts_db, scrub=executors.scrub_text)
        try:
            return [executors.scrub_text(p) for p in store.recent_prompts(limit)]
        finally:
            store.close()


@app.command("compare")
def compare(
    ctx: typer.Context,
    a: Annotated[int, typer.Argument(help="Version A (e.g. the deployed one).")],
    b: Annotated[int, typer.Argument(help="Version B (e.g. the candidate).")],
    live: Annotated[
        int | None,
        typer.Option(
            "--live",
            min=1,
            help="Also ask both models the N most recent operator prompts and store the answers "
            "for blind judging (`halops models judge`).",
        ),
    ] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """A/B from the two versions' eval reports: case by case, win/tie/loss, per-category deltas."""
    from eval.registry.compare import compare_reports, load_report
    from eval.registry.errors import IncomparableError
    from eval.registry.live import live_compare

    settings = load(ctx, config)
    with _registry(ctx, config) as registry:
        registry.show(a), registry.show(b)
        try:
            reports = load_report(registry.reports_dir, a), load_report(registry.reports_dir, b)
            result = compare_reports(a, reports[0], b, reports[1])
        except IncomparableError as exc:
            if live is None:
                raise
            # A live A/B needs no report: say why the offline half is missing and go on.
            err_console.print(f"[yellow]no report comparison:[/] {exc}", highlight=False)
        else:
            if json_out:
                _echo_json(result.as_dict())
            else:
                view.print_comparison(result)
        if live is not None:
            prompts = _recent_prompts(settings, live)
            say = (lambda m: err_console.print(m, highlight=False)) if json_out else console.print
            ids = live_compare(settings, registry, a, b, prompts, say=say)
            say(f"stored {len(ids)} pair(s) for blind judging: `halops models judge`")


@app.command("judge")
def judge(
    ctx: typer.Context,
    pair: Annotated[str | None, typer.Option("--pair", help="Judge this pair only (with --winner).")] = None,
    winner: Annotated[
        str | None, typer.Option("--winner", help="first | second | tie (with --pair).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Judge live A/B answers blind: which of the two is better? (Interactive without --pair.)"""
    from eval.registry.pairs import judge as record
    from eval.registry.pairs import list_pairs, tally

    if (pair is None) != (winner is None):
        fail("--pair and --winner go together", 2)
    with _registry(ctx, config) as registry:
        if pair is not None and winner is not None:
            record(registry.db, pair, winner)
            console.print(f"{pair}: {winner}", highlight=False)
            return
        pending = list_pairs(registry.db, judged=False)
        if not pending:
            console.print("no pairs waiting (`halops models compare A B --live N` makes some)")
            return
        keys = {"1": "first", "2": "second", "t": "tie"}
        for i, p in enumerate(pending, 1):
            console.print(Panel(p["prompt"], title=f"prompt {i}/{len(pending)} ({p['id']})"))
            console.print(Panel(p["first"], title="1: first answer", border_style="cyan"))
            console.print(Panel(p["second"], title="2: second answer", border_style="magenta"))
            choice = typer.prompt("better: 1 / 2 / t(ie) / s(kip) / q(uit)", default="s").strip().lower()
            if choice == "q":
                break
            if choice in keys:
                record(registry.db, p["id"], keys[choice])
        counts = tally(registry.db)
    console.print(
        f"judged {sum(n for w, n in counts.items() if w != 'unjudged')}, waiting {counts.get('unjudged', 0)}",
        highlight=False,
    )


@app.command("export-preferences")
def export_preferences(
    ctx: typer.Context,
    output: Annotated[Path, typer.Argument(help="JSONL file to write (prompt/chosen/rejected rows).")],
    config: ConfigOpt = None,
) -> None:
    """Judged pairs as preference (DPO) data for the trainer; ties are left out."""
    from eval.registry.pairs import export_preferences as export

    with _registry(ctx, config) as registry:
        tmp = output.with_name(output.name + ".tmp")
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                count = export(registry.db, fh)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
        tmp.replace(output)  # never a half-written file under the real name
    console.print(f"exported {count} preference pair(s) to {output}", highlight=False)


@app.command("prune")
def prune(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; delete nothing.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Delete archived and rejected versions; say how much space that frees.

    Never the active version, the one a rollback would restore, or the bundled one.
    """
    with _registry(ctx, config) as registry:
        pruned = registry.prune(dry_run=dry_run, actor=ACTOR)
    if not pruned:
        console.print("nothing to prune")
        return
    verb = "would delete" if dry_run else "deleted"
    for p in pruned:
        note = f" ({view.size(p.shared)} still held by another link)" if p.shared else ""
        console.print(f"{verb} v{p.version} ({p.state}): frees {view.size(p.freed)}{note}", highlight=False)
    total = sum(p.freed for p in pruned)
    console.print(f"{'would free' if dry_run else 'freed'} {view.size(total)} in all", highlight=False)
