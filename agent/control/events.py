"""A job's events and checkpoints in OpenAI's shapes, read from what the training process writes.

Events come from the job's `train.log`: every line is one event, and the metric rows the trainer
logs as JSON (`{"step": 3, "loss": ...}`) become `metrics` events whose `data` carries step,
train_loss and valid_loss. The job row adds "created" and the final status. Ids are positions in
the log (`ftevent-<job>-<line>`), so they stay the same while the log grows and `after` pages stay
stable. Every message is scrubbed before it leaves the daemon.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from trainer.jobs import FINAL, Job

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\w+) [^:]*: ?(.*)$")
_LEVELS = {"WARNING": "warn", "ERROR": "error", "CRITICAL": "error"}
FINAL_MESSAGES = {
    "completed": "The job has successfully completed",
    "failed": "The job failed",
    "cancelled": "The job was cancelled",
}


def _event(job: Job, key: str, at: float, level: str, message: str, type_: str = "message", data: Any = None):
    return {
        "id": f"ftevent-{job.id}-{key}",
        "object": "fine_tuning.job.event",
        "created_at": int(at),
        "level": level,
        "message": message,
        "data": data or {},
        "type": type_,
    }


def _metrics(row: dict[str, Any], total: int) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(row.get("step"), int) or not ({"loss", "val_loss"} & row.keys()):
        return None
    data = {
        "step": row["step"],
        "train_loss": row.get("loss"),
        "valid_loss": row.get("val_loss"),
        "total_steps": total,
        **{k: row[k] for k in ("epoch", "lr", "tokens_per_s") if k in row},
    }
    parts = [f"training loss={row['loss']:.4f}" if isinstance(row.get("loss"), float) else ""]
    parts.append(f"validation loss={row['val_loss']:.4f}" if isinstance(row.get("val_loss"), float) else "")
    return f"Step {row['step']}/{total}: " + ", ".join(p for p in parts if p), data


def events(job: Job, scrub: Callable[[str], str]) -> list[dict[str, Any]]:
    """Every event of the job, oldest first."""
    out = [_event(job, "created", job.created, "info", f"Created fine-tuning job: {job.id}")]
    if job.started:
        out.append(_event(job, "started", job.started, "info", "Fine-tuning job started"))
    at, level = job.created, "info"
    path = Path(job.log_path or "")
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        message = line
        if match:  # a continuation line (a traceback) keeps the time and level of its record
            stamp, millis, name, message = match.groups()
            at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp() + int(millis) / 1000
            level = _LEVELS.get(name, "info")
        metric = _as_metrics(message, job.total)
        if metric is not None:
            text, data = metric
            out.append(_event(job, str(lineno), at, level, text, "metrics", data))
        else:
            out.append(_event(job, str(lineno), at, level, scrub(message)))
    if job.status in FINAL:
        text = FINAL_MESSAGES[job.status] + (f": {scrub(job.error)}" if job.error else "")
        level = "error" if job.status == "failed" else "info"
        out.append(_event(job, "final", job.finished or at, level, text))
    return out


def _as_metrics(message: str, total: int) -> tuple[str, dict[str, Any]] | None:
    if not message.startswith("{"):
        return None
    try:
        row = json.loads(message)
    except ValueError:
        return None
    return _metrics(row, total) if isinstance(row, dict) else None


def page(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """OpenAI's cursor page over items listed newest first: those after the `after` id."""
    start = 0
    if after is not None:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chunk = items[start : start + limit]
    return {"object": "list", "data": chunk, "has_more": start + limit < len(items)}


def checkpoints(job: Job) -> list[dict[str, Any]]:
    """Complete checkpoints (trainer_state.json written), newest first, with their step's metrics."""
    run = Path(job.output_dir or "")
    rows: dict[int, dict[str, Any]] = {}
    metrics = run / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text(errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                rows.setdefault(row["step"], {}).update(row)
    found = []
    for d in (run / "checkpoints").glob("checkpoint-*"):
        step = d.name.rsplit("-", 1)[-1]
        state = d / "trainer_state.json"
        if not step.isdigit() or not state.is_file():
            continue
        n = int(step)
        row = rows.get(n, {})
        found.append(
            {
                "id": f"ftckpt-{job.id}-{n}",
                "object": "fine_tuning.job.checkpoint",
                "created_at": int(state.stat().st_mtime),
                "fine_tuned_model_checkpoint": f"{job.id}:checkpoint-{n}",
                "fine_tuning_job_id": job.id,
                "metrics": {"step": n, "train_loss": row.get("loss"), "valid_loss": row.get("val_loss")},
                "step_number": n,
            }
        )
    return sorted(found, key=lambda c: c["step_number"], reverse=True)


def stream(
    get_job: Callable[[], Job],
    scrub: Callable[[str], str],
    *,
    poll_s: float = 1.0,
    keepalive_s: float = 5.0,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[str]:
    """Server-sent events: every event in order as `data: {json}`, then `data: [DONE]` once final."""
    sent = 0
    quiet_since = time.monotonic()
    while not stop():
        job = get_job()
        current = events(job, scrub)
        for event in current[sent:]:
            yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
            quiet_since = time.monotonic()
        sent = max(sent, len(current))
        if job.status in FINAL:
            yield "data: [DONE]\n\n"
            return
        if time.monotonic() - quiet_since >= keepalive_s:
            yield ": keep-alive\n\n"  # SSE comment: keeps proxies and clients from timing out
            quiet_since = time.monotonic()
        time.sleep(poll_s)
