"""`halops inventory check | list | trust HOST`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agent.executors.config import resolve_paths
from agent.executors.credentials import CredentialStore
from halops.cli import ConfigOpt, console, err_console, fail, load
from halops.errors import ConfigError
from halops.files import need_optional

app = typer.Typer(help="Fleet inventory: check, list, trust host keys.", no_args_is_help=True)

InventoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        "-i",
        help="Inventory file (default: executors.inventory, else <data_dir>/inventory.yaml).",
        show_default=False,
    ),
]


@app.command()
def check(ctx: typer.Context, inventory: InventoryOpt = None, config: ConfigOpt = None) -> None:
    """Validate the inventory, its credential files and known host keys; list every problem. Exit 2 if any."""
    from agent.executors.inventory_check import check_inventory

    need_optional(inventory, "inventory")
    settings = load(ctx, config)
    paths = resolve_paths(settings)
    path = inventory or paths.inventory
    store = CredentialStore.from_env(paths.credentials_dir, os.environ)
    report = check_inventory(path, store, paths.known_hosts)
    for key, msg in report.warnings:
        err_console.print(f"  [yellow]warning[/] [bold]{key}[/]: {msg}", highlight=False, soft_wrap=True)
    if report.problems:
        err_console.print(f"[bold red]{len(report.problems)} problem(s)[/] in {path}:", highlight=False)
        for key, msg in report.problems:
            err_console.print(f"  [bold]{key}[/]: {msg}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    n = len(report.inventory.hosts) if report.inventory else 0
    console.print(
        f"inventory OK: {n} host(s) in {path} "
        f"(credentials: {store.directory}, known_hosts: {paths.known_hosts})",
        highlight=False,
        soft_wrap=True,
    )


@app.command("list")
def list_hosts(ctx: typer.Context, inventory: InventoryOpt = None, config: ConfigOpt = None) -> None:
    """Print the hosts as a table: address, groups, and how each is reached."""
    from safety.inventory import load_inventory

    need_optional(inventory, "inventory")
    settings = load(ctx, config)
    inv = load_inventory(inventory or resolve_paths(settings).inventory)
    table = Table("name", "address", "groups", "ssh", "bmc", "http")
    for name, h in sorted(inv.hosts.items()):
        table.add_row(
            name,
            h.address,
            ",".join(h.groups),
            f"{h.ssh.user}@:{h.ssh.port} key={h.ssh.key}" if h.ssh else "",
            f"{h.bmc.user}@{h.bmc.address}:{h.bmc.port}" if h.bmc else "",
            h.http.base_url if h.http else "",
        )
    console.print(table)


@app.command()
def trust(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="Inventory name of the host.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Record without asking.")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a different key already recorded (host reinstalled).")
    ] = False,
    inventory: InventoryOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Fetch HOST's SSH host key, show its fingerprint, and record it in known_hosts on confirmation."""
    from agent.executors.hostkeys import (
        HostKeyError,
        fetch_host_key,
        fingerprint,
        known_host_name,
        lookup,
        record,
    )
    from safety.inventory import load_inventory

    need_optional(inventory, "inventory")
    settings = load(ctx, config)
    paths = resolve_paths(settings)
    inv = load_inventory(inventory or paths.inventory)
    entry = inv.get(host)
    if entry is None:
        raise ConfigError(f"{host!r} is not in the inventory", [("hosts", f"no host named {host!r}")])
    if entry.ssh is None:
        fail(f"host {host!r} has no ssh entry in the inventory")
    name = known_host_name(entry.address, entry.ssh.port)
    try:
        trusted = lookup(paths.known_hosts, entry.address, entry.ssh.port)
        key = fetch_host_key(
            entry.address, entry.ssh.port, settings.executors.ssh_connect_timeout_s, prefer=list(trusted)
        )
    except HostKeyError as exc:
        fail(str(exc))
    fp = fingerprint(key)
    console.print(f"{name} presents {key.get_name()} key {fp}", highlight=False)
    if trusted.get(key.get_name()) == key:
        console.print(f"already trusted in {paths.known_hosts}", highlight=False)
        return
    if trusted and not replace:
        old = ", ".join(f"{k} {fingerprint(v)}" for k, v in trusted.items())
        err_console.print(
            f"[bold red]WARNING:[/] {paths.known_hosts} already has a DIFFERENT key for {name}: {old}. "
            f"This is expected only after a reinstall; otherwise someone may be intercepting the "
            f"connection. Verify on the host's console, then re-run with --replace.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print(
        "Compare with the host's console: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub", highlight=False
    )
    if not yes and not typer.confirm(f"Trust this key for {host}?", default=False):
        fail("not recorded")
    record(paths.known_hosts, entry.address, entry.ssh.port, key, replace=replace)
    console.print(f"recorded in {paths.known_hosts}", highlight=False)
