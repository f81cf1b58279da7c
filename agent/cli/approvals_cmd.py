"""`halops approvals list | approve ID | deny ID`: decide approvals on the running agent daemon.

A client of the daemon's API (GET /v1/approvals, POST /v1/approvals/{id}): an approved call runs
in the daemon, which holds the executors and joins the result to its conversation. The daemon's
address and bearer token come from the settings (agent.host, agent.port, agent.token_file).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from agent.ports import url_host
from halops.cli import ConfigOpt, console, fail, load

app = typer.Typer(help="Pending approvals on the running agent daemon.", no_args_is_help=True)
UrlOpt = Annotated[str | None, typer.Option("--url", help="Agent base URL (default: from agent.host/port).")]


def daemon_url(settings: Any) -> str:
    return f"http://{url_host(settings.agent.host)}:{settings.agent.port}"


def call_daemon(settings: Any, method: str, path: str, url: str | None = None, **kwargs: Any) -> Any:
    """One request to the daemon; a clear one-line error when it is down or refuses."""
    from agent.daemon import read_token

    base = (url or daemon_url(settings)).rstrip("/")
    token = read_token(settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.request(method, base + path, headers=headers, timeout=120, **kwargs)
    except httpx.HTTPError as exc:
        fail(
            f"agent daemon not reachable at {base} ({type(exc).__name__}): start it with `halops up` "
            "or `systemctl start halops-agent.service`"
        )
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code >= 400:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        fail(f"{message or r.text.strip() or r.reason_phrase} (HTTP {r.status_code})")
    return body


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Tool calls waiting for an operator's decision."""
    settings = load(ctx, config)
    pending = call_daemon(settings, "GET", "/v1/approvals", url)["data"]
    if json_out:
        console.print_json(json.dumps(pending))
        return
    if not pending:
        console.print("no pending approvals")
        return
    table = Table(title=f"{len(pending)} pending approval(s)")
    for col in ("id", "tool", "arguments", "rule", "reason", "expires"):
        table.add_column(col, overflow="fold")
    for a in pending:
        table.add_row(
            a["id"],
            a["tool"],
            json.dumps(a["arguments"], ensure_ascii=False),
            a.get("rule") or "",
            a.get("reason") or "",
            _when(a.get("expires_at")),
        )
    console.print(table)


def _when(ts: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def _decide(ctx: typer.Context, approval_id: str, decision: str, reason: str | None, url: str | None, config):  # noqa: ANN001
    settings = load(ctx, config)
    body = {"decision": decision, "comment": reason}
    result = call_daemon(settings, "POST", f"/v1/approvals/{approval_id}", url, json=body)
    console.print(f"{result['id']}: {result['status']}", highlight=False)
    run = result.get("result")
    if run:
        console.print(f"exit status {run.get('exit_code')} ({run.get('status')})", highlight=False)
        for stream in ("stdout", "stderr"):
            if run.get(stream):
                console.print(f"{stream}:\n{run[stream].rstrip()}", highlight=False, markup=False)


@app.command("approve")
def approve(
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(help="Approval id (from `halops approvals list`).")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why, kept with the decision.")] = None,
    url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Approve a call: the daemon runs it once and shows its result."""
    _decide(ctx, approval_id, "approve", reason, url, config)


@app.command("deny")
def deny(
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(help="Approval id (from `halops approvals list`).")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why, kept with the decision.")] = None,
    url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Deny a call: it never runs; the conversation learns it was denied."""
    _decide(ctx, approval_id, "deny", reason, url, config)
