"""What `halops status` and GET /v1/halops/status show: one JSON-able dict, every part optional.

Units and their state when systemd runs halops, the ports and whether they answer, the active model
and its eval summary, the GPU when nvidia-smi exists, the data dir's usage by stage, the last job and
the pending approvals. Each part is gathered on its own: a missing systemd, nvidia-smi, daemon or
database gives that part `available: false` (with why), never an error for the whole.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from agent.ports import url_host
from agent.systemd_units import UNITS

SHOW_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "ActiveEnterTimestamp")
STAGE_DIRS = ("extracted", "qualified", "curated", "augmented", "final", "rejected", "synth")


def parse_show(text: str) -> list[dict[str, str]]:
    """`systemctl show -p A,B unit...` output: one Key=Value block per unit, blank-line separated."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def systemd_units(run: Any = subprocess.run, booted: Path = Path("/run/systemd/system")) -> dict[str, Any]:
    if shutil.which("systemctl") is None:
        return {"available": False, "reason": "systemctl not found", "units": []}
    if not booted.is_dir():
        return {"available": False, "reason": "systemd is not the init system here", "units": []}
    units: list[dict[str, str]] = []
    for scope in ("system", "user"):
        argv = [
            "systemctl",
            *(["--user"] if scope == "user" else []),
            "show",
            "-p",
            ",".join(SHOW_PROPERTIES),
        ]
        try:
            out = run([*argv, *UNITS], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode != 0:
            continue  # no user manager (a root shell, a container): only the system scope
        for block in parse_show(out.stdout):
            if block.get("LoadState") == "loaded":
                units.append({"scope": scope, **_unit(block)})
    return {"available": True, "units": units}


def _unit(block: dict[str, str]) -> dict[str, str]:
    return {
        "unit": block.get("Id", ""),
        "load": block.get("LoadState", ""),
        "active": block.get("ActiveState", ""),
        "sub": block.get("SubState", ""),
        "enabled": block.get("UnitFileState", ""),
        "since": block.get("ActiveEnterTimestamp", ""),
    }


def _answers(url: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.get(url, timeout=2, headers=headers)
    except httpx.HTTPError as exc:
        return {"url": url, "answering": False, "detail": type(exc).__name__}
    return {"url": url, "answering": True, "http_status": r.status_code}


def ports(settings: Any) -> list[dict[str, Any]]:
    agent, server = settings.agent, settings.server
    return [
        {
            "name": "agent",
            "port": agent.port,
            **_answers(f"http://{url_host(agent.host)}:{agent.port}/health"),
        },
        {
            "name": "model server",
            "port": server.port,
            **_answers(f"http://{url_host(server.host)}:{server.port}/v1/models"),
        },
    ]


def active_model(settings: Any) -> dict[str, Any]:
    from eval.errors import EvalError
    from eval.report import EvalReport
    from halops.llm.models import ModelStore

    store = ModelStore(settings.models_dir)
    version = store.active_version()
    if version is None:
        return {"available": False, "reason": f"{store.current_link} is not linked to a version yet"}
    path = store.version_path(version)
    out: dict[str, Any] = {
        "available": True,
        "version": version,
        "path": str(path),
        "bytes": path.stat().st_size if path.exists() else None,
        "eval": None,
    }
    report = settings.eval.resolve_reports_dir(settings.data_dir) / f"v{version}.json"
    if report.is_file():
        try:
            r = EvalReport.load(report)
        except EvalError as exc:
            out["eval"] = {"error": str(exc)}
        else:
            out["eval"] = {
                "overall": r.overall,
                "by_category": r.by_category,
                "cases": len(r.results),
                "created": r.created,
                "report": str(report),
            }
    return out


def gpu(run: Any = subprocess.run) -> dict[str, Any]:
    if shutil.which("nvidia-smi") is None:
        return {"available": False, "reason": "nvidia-smi not found"}
    query = "name,memory.used,memory.total,utilization.gpu"
    try:
        out = run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"available": False, "reason": f"nvidia-smi failed: {exc}"}
    if out.returncode != 0:
        return {"available": False, "reason": (out.stderr or out.stdout).strip()[:200] or "nvidia-smi failed"}
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            gpus.append(
                {
                    "name": parts[0],
                    "memory_used_mib": _num(parts[1]),
                    "memory_total_mib": _num(parts[2]),
                    "utilization_pct": _num(parts[3]),
                }
            )
    return {"available": bool(gpus), "gpus": gpus}


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def disk(settings: Any) -> dict[str, Any]:
    root = settings.data_dir
    if not root.is_dir():
        return {"available": False, "reason": f"{root} does not exist yet"}
    by_dir = {p.name: du(p) if p.is_dir() else p.stat().st_size for p in sorted(root.iterdir())}
    data = root / "data"
    stages = {name: du(data / name) for name in STAGE_DIRS if (data / name).is_dir()}
    free = shutil.disk_usage(root)
    return {
        "available": True,
        "data_dir": str(root),
        "total_bytes": sum(by_dir.values()),
        "by_dir": by_dir,
        "data_stages": stages,
        "filesystem_free_bytes": free.free,
    }


def last_job(settings: Any) -> dict[str, Any] | None:
    from trainer.jobs import JobStore

    db = settings.trainer.resolve_work_dir(settings.data_dir) / "jobs.sqlite"
    if not db.exists():
        return None
    jobs = JobStore(db).list(limit=1)
    if not jobs:
        return None
    j = jobs[0]
    return {
        "id": j.id,
        "name": j.name,
        "status": j.status,
        "step": j.step,
        "total": j.total,
        "created": j.created,
        "finished": j.finished,
        "error": j.error,
        "metrics": j.metrics,
    }


def approvals(settings: Any) -> dict[str, Any]:
    from safety.approvals import ApprovalStore, default_db_path

    db = settings.safety.approvals_db or default_db_path(settings.data_dir)
    if not Path(db).exists():
        return {"available": True, "pending": []}
    pending = ApprovalStore(db, ttl_s=settings.safety.approval_ttl_s).list()
    return {
        "available": True,
        "pending": [
            {
                "id": a.id,
                "tool": a.call.tool,
                "arguments": a.call.arguments,
                "reason": a.reason,
                "created_at": a.created_at,
                "expires_at": a.expires_at,
            }
            for a in pending
        ],
    }


def _part(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}


def collect(settings: Any) -> dict[str, Any]:
    return {
        "time": time.time(),
        "systemd": _part(systemd_units),
        "ports": _part(ports, settings),
        "model": _part(active_model, settings),
        "gpu": _part(gpu),
        "disk": _part(disk, settings),
        "last_job": _part(last_job, settings),
        "approvals": _part(approvals, settings),
    }
