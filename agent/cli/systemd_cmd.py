"""`halops systemd install`: render the units with this install's paths."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from agent.systemd_units import UnitParams, ensure_user, halops_executable, render_all
from halops.cli import ConfigOpt, console, load
from halops.settings import SYSTEM_CONFIG, resolve_config_path, user_config_path

app = typer.Typer(
    help="systemd units for the model server, the agent and scheduled retraining.", no_args_is_help=True
)


@app.command()
def install(
    ctx: typer.Context,
    user: Annotated[bool, typer.Option("--user", help="Per-user units (~/.config/systemd/user).")] = False,
    dest: Annotated[
        Path | None, typer.Option(help="Write the units here instead (no user creation, no reload).")
    ] = None,
    service_user: Annotated[str, typer.Option(help="Dedicated account for system units.")] = "halops",
    credentials_dir: Annotated[
        Path, typer.Option(help="Each file here becomes a LoadCredential= of the agent (system units).")
    ] = Path("/etc/halops/credentials"),
    config: ConfigOpt = None,
) -> None:
    """Render the halops units (model server, agent, retraining service + timer) and install them."""
    settings = load(ctx, config)
    cfg = resolve_config_path(config) or (user_config_path() if user else SYSTEM_CONFIG)
    params = UnitParams(
        halops=halops_executable(),
        data_dir=settings.data_dir,
        config=cfg,
        user=service_user,
        user_units=user,
        credentials_dir=credentials_dir,
        schedule=settings.trainer.schedule,
    )
    target = dest or (
        Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "systemd" / "user"
        if user
        else Path("/etc/systemd/system")
    )
    if dest is None and not user:
        if ensure_user(service_user, settings.data_dir):
            console.print(f"created system user {service_user}")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(settings.data_dir, service_user, service_user)
    if dest is None and not cfg.exists():
        # The units name the file explicitly; an explicit config that is missing is an error.
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text("# halops configuration: see `halops config reference` for every setting.\n")
        console.print(f"wrote {cfg}", highlight=False)
    for path in render_all(params, target):
        console.print(f"wrote {path}", highlight=False)
    if dest is None and shutil.which("systemctl"):
        subprocess.run(["systemctl", *(["--user"] if user else []), "daemon-reload"], check=False)
    scope = "--user " if user else ""
    console.print(
        f"next: systemctl {scope}enable --now halops-llama.service halops-agent.service\n"
        f"      systemctl {scope}enable --now halops-trainer.timer  "
        f"(retraining at trainer.schedule = {settings.trainer.schedule})",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
