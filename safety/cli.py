"""`halops safety check | scrub | explain`: the policy and the scrubber from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from halops.calls import ToolCall
from halops.cli import ConfigOpt, console, load
from halops.files import InputFileError, is_stdin, need_optional, open_binary, read_text
from safety.check import check, shell_analysis
from safety.decision import Verdict
from safety.harmchecks import HARMS
from safety.inventory import Inventory, load_inventory
from safety.policy import Policy, load_policy

app = typer.Typer(help="Command policy and credential scrubber.", no_args_is_help=True)

InventoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        "-i",
        help="Inventory YAML (default: executors.inventory, then <data_dir>/inventory.yaml, else no hosts).",
        show_default=False,
    ),
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        "-p",
        help="Policy YAML (default: safety.policy_path, else the shipped one).",
        show_default=False,
    ),
]
_CHUNK = 1 << 16


def _context(
    ctx: typer.Context, config: Path | None, inventory: Path | None, policy: Path | None
) -> tuple[Inventory, Policy]:
    need_optional(inventory, "inventory")
    need_optional(policy, "policy")
    settings = load(ctx, config)
    if inventory is None:
        inventory = settings.executors.inventory or settings.data_dir / "inventory.yaml"
        if settings.executors.inventory is None and not inventory.exists():
            inventory = None
    inv = load_inventory(inventory) if inventory is not None else Inventory()
    return inv, load_policy(policy or settings.safety.policy_path)


def _line_result(raw: str, number: int, inv: Inventory, policy: Policy) -> dict[str, Any]:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        call = ToolCall.model_validate(data)
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0][:200]
        return {
            "verdict": Verdict.DENY.value,
            "rule": "deny.malformed-input",
            "reason": f"Line {number} is not a JSON object with 'tool' and 'arguments': {first}",
        }
    d = check(call, inv, policy=policy)
    return {"verdict": d.verdict.value, "rule": d.rule, "reason": d.reason}


@app.command("check")
def check_cmd(
    ctx: typer.Context,
    inventory: InventoryOpt = None,
    policy: PolicyOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Decide tool calls: JSONL {"tool", "arguments"} in, one {"verdict", "rule", "reason"} line out each."""
    inv, pol = _context(ctx, config, inventory, policy)
    for number, line in enumerate(sys.stdin.buffer, start=1):
        raw = line.decode("utf-8", "replace")  # a bad byte makes a bad line, not a crash
        if not raw.strip():
            continue
        sys.stdout.write(json.dumps(_line_result(raw, number, inv, pol)) + "\n")
        sys.stdout.flush()


@app.command("scrub")
def scrub_cmd(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(help="File to scrub; `-` or nothing: standard input.", show_default=False),
    ] = None,
    secrets_file: Annotated[
        Path | None,
        typer.Option(
            "--secrets-file",
            help="Known secret values, one per line, to redact wherever they appear (`-`: stdin).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Redact credentials: scrubbed text to stdout, a findings summary to stderr."""
    from safety.scrub import Scrubber

    if is_stdin(secrets_file) and (file is None or is_stdin(file)):
        raise InputFileError("--secrets-file - reads standard input: give the text to scrub as FILE")
    settings = load(ctx, config)
    known: list[str] = []
    if secrets_file is not None:
        known = [s for s in read_text(secrets_file, "secrets file").splitlines() if s]
    scrubber = Scrubber(known, min_known_length=settings.safety.scrub_min_known_secret_length)
    # Bytes that are not UTF-8 pass through untouched (surrogateescape both ways).
    source = open_binary(file, "file to scrub")
    out = sys.stdout.buffer
    try:
        while chunk := source.read(_CHUNK):
            out.write(
                scrubber.feed(chunk.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
            )
        out.write(scrubber.finish().encode("utf-8", "surrogateescape"))
        out.flush()
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    findings = scrubber.findings
    if findings:
        summary = ", ".join(f"{f.kind}={f.count}" for f in findings)
        sys.stderr.write(f"redacted {sum(f.count for f in findings)}: {summary}\n")
    else:
        sys.stderr.write("redacted 0: no secrets found\n")


@app.command("explain")
def explain_cmd(
    ctx: typer.Context,
    command: Annotated[str, typer.Argument(help="A shell command line, as the model would send it.")],
    host: Annotated[
        str | None,
        typer.Option("--host", help="Judge it as an ssh call to this inventory host.", show_default=False),
    ] = None,
    inventory: InventoryOpt = None,
    policy: PolicyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Show the simple commands a line runs and every policy rule that fired."""
    inv, pol = _context(ctx, config, inventory, policy)
    call = ToolCall(
        tool="ssh" if host else "shell",
        arguments={"host": host, "command": command} if host else {"command": command},
    )
    decision = check(call, inv, policy=pol)
    analysis = shell_analysis(command, inv, pol, remote=host)
    if as_json:
        payload = {
            "decision": decision.model_dump(mode="json", exclude_none=True),
            "commands": analysis.commands,
            "rules": [
                {"verdict": h.verdict.value, "rule": h.rule, "reason": h.reason, "command": h.command}
                for h in analysis.hits
            ],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    console.print("[bold]commands[/]", highlight=False)
    for line in analysis.commands or ["(none)"]:
        console.print(f"  {line}", highlight=False, markup=False)
    console.print("[bold]rules fired[/]", highlight=False)
    for h in analysis.hits or []:
        console.print(
            f"  {h.verdict.value:<8} {h.rule:<34} {h.reason}  [{h.command}]",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if not analysis.hits:
        console.print("  (none)", highlight=False)
    console.print(
        f"decision {decision.verdict.value} ({decision.rule}): {decision.reason}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if decision.harm is not None:
        console.print(
            f"class {decision.harm}: {HARMS.get(decision.harm, 'named by the policy')}; "
            "denied outright, no approval can run it",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if decision.command is not None:
        console.print(f"runs {decision.command}", highlight=False, markup=False, soft_wrap=True)
