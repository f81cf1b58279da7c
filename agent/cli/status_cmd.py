"""`halops status [--json]`: units, ports, the active model and its eval, GPU, disk, jobs, approvals.

Read from this machine (systemctl, nvidia-smi, the data dir), so it works with the daemon down;
`--json` prints exactly what GET /v1/halops/status answers.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from agent.control.status import collect
from halops.cli import ConfigOpt, console, load


def status(
    ctx: typer.Context,
    json_out: Annotated[
        bool, typer.Option("--json", help="Machine-readable, as GET /v1/halops/status.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """What runs, what answers, which model serves and how it scored, and what waits for you."""
    settings = load(ctx, config)
    report = collect(settings)
    if json_out:
        console.print_json(json.dumps(report, default=str))
        return
    for part in (_units, _ports, _model, _gpu, _disk, _job, _approvals):
        console.print(part(report))


def _unavailable(title: str, part: Any) -> Table:
    table = Table(title=title, show_header=False, min_width=len(title) + 4)
    reason = part.get("reason") if isinstance(part, dict) else None
    table.add_row(f"[dim]{reason or 'nothing to show'}[/]")
    return table


def _units(r: dict[str, Any]) -> Table:
    part = r["systemd"]
    if not part.get("available") or not part.get("units"):
        reason = part.get("reason") or "no halops units installed (`halops systemd install`)"
        return _unavailable("systemd units", {"reason": reason})
    table = Table(title="systemd units")
    for col in ("unit", "scope", "active", "sub", "enabled", "since"):
        table.add_column(col)
    for u in part["units"]:
        color = "green" if u["active"] == "active" else "red" if u["active"] == "failed" else "yellow"
        table.add_row(u["unit"], u["scope"], f"[{color}]{u['active']}[/]", u["sub"], u["enabled"], u["since"])
    return table


def _ports(r: dict[str, Any]) -> Table:
    part = r["ports"]
    if isinstance(part, dict):
        return _unavailable("ports", part)
    table = Table(title="ports")
    for col in ("service", "port", "url", "answering"):
        table.add_column(col)
    for p in part:
        ok = "[green]yes[/]" + (f" ({p['http_status']})" if p.get("http_status") else "")
        table.add_row(p["name"], str(p["port"]), p["url"], ok if p["answering"] else "[red]no[/]")
    return table


def _model(r: dict[str, Any]) -> Table:
    part = r["model"]
    if not part.get("available"):
        return _unavailable("active model", part)
    table = Table(title=f"active model: v{part['version']}", show_header=False)
    table.add_row("file", part["path"])
    table.add_row("size", _size(part.get("bytes")))
    ev = part.get("eval")
    if not ev:
        table.add_row("eval", "[dim]no report for this version yet (`halops eval run`)[/]")
    elif "error" in ev:
        table.add_row("eval", f"[red]{ev['error']}[/]")
    else:
        table.add_row("eval overall", f"{ev['overall']:.3f} on {ev['cases']} cases")
        for cat, score in ev["by_category"].items():
            table.add_row(f"  {cat}", f"{score:.3f}")
    return table


def _gpu(r: dict[str, Any]) -> Table:
    part = r["gpu"]
    if not part.get("available"):
        return _unavailable("GPU", part)
    table = Table(title="GPU")
    for col in ("name", "VRAM used", "VRAM total", "util"):
        table.add_column(col)
    for g in part["gpus"]:
        used, total = g["memory_used_mib"], g["memory_total_mib"]
        table.add_row(g["name"], f"{used:.0f} MiB", f"{total:.0f} MiB", f"{g['utilization_pct']:.0f}%")
    return table


def _disk(r: dict[str, Any]) -> Table:
    part = r["disk"]
    if not part.get("available"):
        return _unavailable("data dir", part)
    table = Table(title=f"data dir {part['data_dir']}: {_size(part['total_bytes'])}")
    table.add_column("what")
    table.add_column("size", justify="right")
    for name, size in part["by_dir"].items():
        table.add_row(name, _size(size))
    for stage, size in part["data_stages"].items():
        table.add_row(f"data/{stage}", _size(size))
    table.add_row("[dim]free on its file system[/]", _size(part["filesystem_free_bytes"]))
    return table


def _job(r: dict[str, Any]) -> Table:
    j = r["last_job"]
    if not j or "id" not in j:
        return _unavailable("last training job", j or {"reason": "no training job yet"})
    table = Table(title="last training job", show_header=False)
    table.add_row("id", j["id"])
    table.add_row("status", j["status"] + (f": {j['error']}" if j.get("error") else ""))
    table.add_row("progress", f"step {j['step']}/{j['total']}")
    loss = j.get("metrics", {}).get("loss")
    if isinstance(loss, float):
        table.add_row("loss", f"{loss:.4f}")
    table.add_row("created", time.strftime("%Y-%m-%d %H:%M", time.localtime(j["created"])))
    return table


def _approvals(r: dict[str, Any]) -> Table:
    part = r["approvals"]
    if not part.get("available"):
        return _unavailable("pending approvals", part)
    pending = part["pending"]
    if not pending:
        return _unavailable("pending approvals", {"reason": "none"})
    table = Table(title=f"{len(pending)} pending approval(s): `halops approvals approve ID`")
    for col in ("id", "tool", "arguments", "reason"):
        table.add_column(col, overflow="fold")
    for a in pending:
        table.add_row(a["id"], a["tool"], json.dumps(a["arguments"], ensure_ascii=False), a["reason"])
    return table


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
