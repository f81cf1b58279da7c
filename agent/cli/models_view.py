"""How `halops models` prints versions, history and comparisons (rich tables)."""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

from eval.registry.compare import Comparison
from eval.registry.db import HistoryEvent
from eval.registry.registry import Activation
from eval.registry.versions import VersionInfo
from halops.cli import console

STATE_STYLE = {"active": "bold green", "candidate": "yellow", "rejected": "red", "archived": "dim"}


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def source_text(source: dict[str, Any]) -> str:
    kind = source.get("kind", "unknown")
    if kind == "retrain":
        return f"retrain {source.get('job_id') or '?'}"
    if kind == "bootstrap":
        detail = source.get("detail")
        job = source.get("job_id")
        return "bootstrap" + (f" ({detail})" if detail else "") + (f" {job}" if job else "")
    if kind == "manual":
        return f"deploy {source.get('file', '')}".rstrip()
    return str(kind)


def state_text(state: str) -> str:
    return f"[{STATE_STYLE.get(state, '')}]{state}[/]"


def versions_table(infos: list[VersionInfo]) -> Table:
    categories = sorted({c for i in infos if i.eval for c in i.eval["by_category"]})
    table = Table(title="model versions")
    table.add_column("version", justify="right")
    table.add_column("state")
    table.add_column("source", overflow="fold")
    table.add_column("overall", justify="right")
    for c in categories:
        table.add_column(c, justify="right")
    table.add_column("size", justify="right")
    table.add_column("sha256")
    table.add_column("created")
    for i in infos:
        scores = [f"{i.eval['overall']:.3f}"] if i.eval else ["-"]
        scores += [f"{i.eval['by_category'].get(c, 0):.3f}" if i.eval else "-" for c in categories]
        table.add_row(
            f"v{i.version}",
            state_text(i.state),
            source_text(i.source),
            *scores,
            size(i.size),
            i.sha256[:12],
            when(i.created),
        )
    return table


def print_version(info: VersionInfo) -> None:
    table = Table(title=f"model v{info.version}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("state", state_text(info.state))
    table.add_row("source", source_text(info.source))
    table.add_row("file", str(info.path))
    table.add_row("size", f"{size(info.size)} ({info.size} bytes)")
    table.add_row("sha256", info.sha256)
    table.add_row("created", when(info.created))
    if info.eval:
        table.add_row("eval overall", f"{info.eval['overall']:.3f}")
        for category, score in info.eval["by_category"].items():
            table.add_row(f"  {category}", f"{score:.3f}")
    else:
        table.add_row("eval", "not scored")
    for reason in info.reasons:
        table.add_row("[red]rejected[/]", reason)
    console.print(table)


def history_table(events: list[HistoryEvent]) -> Table:
    table = Table(title="deployment history")
    for column in ("#", "when", "action", "version", "from", "by", "reason", "verdict"):
        table.add_column(column, overflow="fold")
    for e in events:
        verdict = ""
        if e.verdict:
            verdict = f"{e.verdict.get('overall_delta', 0):+.3f}"
            if e.verdict.get("regressed"):
                verdict += " regressed" + (" (forced)" if e.verdict.get("forced") else "")
        table.add_row(
            str(e.id),
            when(e.at),
            e.action,
            f"v{e.version}",
            "" if e.previous is None else f"v{e.previous}",
            e.actor,
            e.reason or "",
            verdict,
        )
    return table


def print_activation(done: Activation, verb: str) -> None:
    info = done.info
    if done.event is None:
        console.print(f"v{info.version} is already active; nothing changed", highlight=False)
        return
    before = "" if done.event.previous is None else f" (was v{done.event.previous})"
    console.print(f"{verb} v{info.version}{before}", highlight=False)
    if done.reloaded_pid is not None:
        console.print(
            f"asked `halops up` (pid {done.reloaded_pid}) to restart its model server with it",
            highlight=False,
        )
    else:
        console.print(
            "restart the model server to serve it: systemctl restart halops-llama.service", highlight=False
        )


def print_comparison(cmp: Comparison) -> None:
    cases = Table(title=f"v{cmp.a} (a) vs v{cmp.b} (b), case by case")
    for column in ("case", "category", f"v{cmp.a}", f"v{cmp.b}", "winner"):
        cases.add_column(column, justify="right" if column.startswith("v") else "left")
    marks = {"a": f"[cyan]v{cmp.a}[/]", "b": f"[magenta]v{cmp.b}[/]", "tie": "tie"}
    for c in cmp.cases:
        cases.add_row(c.id, c.category, f"{c.a:.2f}", f"{c.b:.2f}", marks[c.winner])
    console.print(cases)
    cats = Table(title="per category")
    for column in ("category", f"v{cmp.a}", f"v{cmp.b}", "delta"):
        cats.add_column(column, justify="left" if column == "category" else "right")
    for category, row in cmp.by_category.items():
        cats.add_row(category, f"{row['a']:.3f}", f"{row['b']:.3f}", f"{row['delta']:+.3f}")
    o = cmp.overall
    cats.add_row("[bold]overall[/]", f"{o['a']:.3f}", f"{o['b']:.3f}", f"[bold]{o['delta']:+.3f}[/]")
    console.print(cats)
    console.print(f"v{cmp.a} wins {cmp.a_wins}, v{cmp.b} wins {cmp.b_wins}, ties {cmp.ties}", highlight=False)
    if not cmp.same_digest:
        console.print(
            "[yellow]note:[/] the reports were scored with different cases or eval settings", highlight=False
        )
