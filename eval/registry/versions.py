"""What the registry says about one version: source, size, sha256, eval summary, state.

Versions deployed before the registry existed have no row in registry.sqlite; what they are is
derived from the files (the bundled link, bootstrap's PROVENANCE.json, the gate's REJECTED.json).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.errors import EvalError
from eval.registry.db import ACTIVATING, HistoryEvent, RegistryDB
from eval.report import EvalReport
from halops.llm.models import BUNDLED_PACKAGE, ModelStore

REJECTED_FILE = "REJECTED.json"  # written by the gate beside a model it refused
PROVENANCE_FILE = "PROVENANCE.json"  # written by `halops bootstrap`
STATES = ("active", "candidate", "rejected", "archived")


@dataclass
class VersionInfo:
    version: int
    state: str
    source: dict[str, Any]
    eval: dict[str, Any] | None
    size: int
    sha256: str
    created: float
    path: Path
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "state": self.state,
            "source": self.source,
            "eval": self.eval,
            "size": self.size,
            "sha256": self.sha256,
            "created": self.created,
            "reasons": self.reasons,
        }


def report_file(reports_dir: Path, version: int) -> Path:
    """Where the gate keeps a version's eval report."""
    return reports_dir / f"v{version}.json"


def rejection(store: ModelStore, version: int) -> list[str] | None:
    """The gate's reasons when it refused `version`, else None."""
    path = store.version_path(version).parent / REJECTED_FILE
    if not path.is_file():
        return None
    try:
        reasons = json.loads(path.read_text()).get("reasons") or []
    except (OSError, ValueError, AttributeError):
        reasons = []
    return [str(r) for r in reasons] or ["rejected by the deploy gate"]


def derived_source(store: ModelStore, version: int) -> dict[str, Any]:
    """Where a version from before the registry came from, as far as its files tell."""
    path = store.version_path(version)
    if version == 0 and path.is_symlink() and BUNDLED_PACKAGE in str(os.readlink(path)):
        return {"kind": "bundled", "file": str(os.readlink(path))}
    provenance = path.parent / PROVENANCE_FILE
    if provenance.is_file():
        try:
            data = json.loads(provenance.read_text())
        except (OSError, ValueError):
            data = {}
        return {"kind": "bootstrap", "detail": data.get("source"), "job_id": data.get("job_id")}
    return {"kind": "unknown"}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def eval_summary(reports_dir: Path, version: int) -> dict[str, Any] | None:
    path = report_file(reports_dir, version)
    if not path.is_file():
        return None
    try:
        report = EvalReport.load(path)
    except EvalError:
        return None  # unreadable: listed without a score rather than not at all
    return {"overall": report.overall, "by_category": report.by_category, "created": report.created}


def state_of(
    version: int, active: int | None, rejected: list[str] | None, known: bool, events: list[HistoryEvent]
) -> str:
    if version == active:
        return "active"
    if rejected is not None:
        return "rejected"
    if any(e.action in ACTIVATING for e in events):
        return "archived"
    # Registered by the registry but never served: the gate is scoring it, or it stopped midway.
    # A version from before the registry that the gate did not reject was activated by it.
    return "candidate" if known else "archived"


def describe(
    store: ModelStore, db: RegistryDB, reports_dir: Path, version: int, active: int | None
) -> VersionInfo:
    """Everything about one existing version (the caller checked that it exists)."""
    path = store.version_path(version)
    row = db.version_row(version)
    source = json.loads(row["source_json"]) if row is not None and row["source_json"] else None
    st = path.stat()  # follows the bundled link: the size and digest are the served file's
    created = row["created_at"] if row is not None else path.lstat().st_mtime
    sha = row["sha256"] if row is not None else None
    if sha is None or row["size"] != st.st_size or row["mtime_ns"] != st.st_mtime_ns:
        sha = sha256_of(path)  # once per file: cached until the file changes
        db.cache_digest(version, sha, st.st_size, st.st_mtime_ns, created)
    # A pruned number handed out again: the old version's history is not this one's.
    events = [e for e in db.history(version) if row is None or source is None or e.at >= created]
    rejected = rejection(store, version)
    return VersionInfo(
        version=version,
        state=state_of(version, active, rejected, source is not None, events),
        source=source or derived_source(store, version),
        eval=eval_summary(reports_dir, version),
        size=st.st_size,
        sha256=sha,
        created=created,
        path=path,
        reasons=rejected or [],
    )


def existing(store: ModelStore) -> list[int]:
    """Versions whose model file is there (a dangling link or an emptied directory is not one)."""
    return [v for v in store.versions() if store.version_path(v).exists()]
