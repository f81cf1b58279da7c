"""The registry's operations: list, show, activate, rollback, prune, and what the gate records.

Activation is `ModelStore.activate` (an atomic swap of current.gguf) plus one history row; neither
needs the model server, so a rollback works with it down. A running `halops up` is asked to reload,
as after a deploy; under systemd the caller restarts halops-llama.service.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.config import EvalSettings
from eval.registry.db import ACTIVATING, HistoryEvent, RegistryDB, open_db
from eval.registry.errors import NothingToRollBackError, RejectedVersionError, UnknownVersionError
from eval.registry.versions import VersionInfo, describe, existing, rejection
from halops.llm.models import ModelStore
from halops.pidfile import signal_reload, up_pid_path

ACTORS = ("cli", "api", "timer", "bootstrap")


@dataclass
class Pruned:
    version: int
    state: str
    freed: int  # bytes given back to the file system
    shared: int  # bytes still held by another link to the same file (a job's GGUF, the bundle)


@dataclass
class Activation:
    info: VersionInfo
    event: HistoryEvent | None  # None: it was active already, nothing changed
    reloaded_pid: int | None  # the `halops up` asked to reload, if one runs


class Registry:
    def __init__(self, data_dir: Path, models_dir: Path, reports_dir: Path):
        self.data_dir = data_dir
        self.store = ModelStore(models_dir)
        self.reports_dir = reports_dir
        self.db: RegistryDB = open_db(models_dir)

    @classmethod
    def for_settings(cls, settings: Any) -> Registry:
        # The daemon's settings tree has no [eval] section: its defaults name the reports dir then.
        section = getattr(settings, "eval", None) or EvalSettings()
        return cls(settings.data_dir, settings.models_dir, section.resolve_reports_dir(settings.data_dir))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------

    def versions(self) -> list[VersionInfo]:
        active = self.store.active_version()
        return [describe(self.store, self.db, self.reports_dir, v, active) for v in existing(self.store)]

    def show(self, version: int) -> VersionInfo:
        self._need(version)
        return describe(self.store, self.db, self.reports_dir, version, self.store.active_version())

    def history(self) -> list[HistoryEvent]:
        return self.db.history()

    def _need(self, version: int) -> None:
        if version not in existing(self.store):
            known = ", ".join(f"v{v}" for v in existing(self.store)) or "none"
            raise UnknownVersionError(f"no model version {version} (versions: {known})")

    # -- what the gate records -----------------------------------------------------------------

    def register(self, version: int, source: dict[str, Any]) -> None:
        self.db.set_source(version, source)
        self.show(version)  # hashes the file now, while the gate runs, not in a later listing

    def record_gate(
        self,
        version: int,
        *,
        baseline: int,
        deployed: bool,
        actor: str,
        verdict: dict[str, Any],
        reason: str | None,
    ) -> HistoryEvent:
        return self.db.record(
            version=version,
            action="deploy" if deployed else "reject",
            actor=actor,
            previous=baseline,
            reason=reason,
            verdict=verdict,
        )

    # -- changing what is served ---------------------------------------------------------------

    def activate(
        self, version: int, *, force: bool = False, reason: str | None = None, actor: str = "cli"
    ) -> Activation:
        """Serve `version`. A rejected one needs `force`; a missing one is an error. Nothing changes
        on error."""
        self._need(version)
        current = self.store.active_version()
        if version == current:
            return Activation(self.show(version), None, None)
        reasons = rejection(self.store, version)
        if reasons is not None and not force:
            raise RejectedVersionError(
                f"v{version} was rejected by the deploy gate ({'; '.join(reasons)}): "
                'serve it anyway with force (`--force`, or "force": true over HTTP)'
            )
        self.store.activate(version)
        event = self.db.record(
            version=version, action="activate", actor=actor, previous=current, reason=reason
        )
        return Activation(self.show(version), event, self._reload())

    def rollback_target(self) -> int | None:
        """The version that was active before the current one, replaying the history as a stack:
        deploys and activations push, rollbacks pop. Versions whose files are gone are skipped."""
        active = self.store.active_version()
        stack: list[int] = []
        for e in self.db.history():
            if e.action == "rollback":
                while stack and stack[-1] != e.version:
                    stack.pop()
                if not stack:
                    stack.append(e.version)
            elif e.action in ACTIVATING:
                if not stack and e.previous is not None:
                    stack.append(e.previous)
                if not stack or stack[-1] != e.version:
                    stack.append(e.version)
        if active is not None and (not stack or stack[-1] != active):
            stack.append(active)  # switched outside the registry: that is where we are now
        there = set(existing(self.store))
        for v in reversed(stack[:-1]):
            if v != active and v in there:
                return v
        return None

    def rollback(self, *, reason: str | None = None, actor: str = "cli") -> Activation:
        target = self.rollback_target()
        if target is None:
            raise NothingToRollBackError("nothing to roll back to: no earlier active version in the history")
        current = self.store.active_version()
        self.store.activate(target)
        event = self.db.record(
            version=target, action="rollback", actor=actor, previous=current, reason=reason
        )
        return Activation(self.show(target), event, self._reload())

    def _reload(self) -> int | None:
        return signal_reload(up_pid_path(self.data_dir))

    # -- pruning -------------------------------------------------------------------------------

    def prunable(self) -> list[VersionInfo]:
        """Archived and rejected versions, except the bundled one (the fallback, and only a link),
        the active one and the one a rollback would go back to."""
        keep = {0, self.store.active_version(), self.rollback_target()}
        return [i for i in self.versions() if i.state in ("archived", "rejected") and i.version not in keep]

    def prune(self, *, dry_run: bool = False, actor: str = "cli") -> list[Pruned]:
        out = []
        for info in self.prunable():
            freed, shared = _footprint(info.path.parent)
            out.append(Pruned(info.version, info.state, freed, shared))
            if dry_run:
                continue
            shutil.rmtree(info.path.parent)
            self.db.mark_pruned(info.version)
            self.db.record(version=info.version, action="prune", actor=actor, reason=f"was {info.state}")
        return out


def _footprint(directory: Path) -> tuple[int, int]:
    """(bytes removing `directory` frees, bytes that stay because another link holds them)."""
    freed = shared = 0
    for path in directory.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        st = path.stat()
        if st.st_nlink > 1:
            shared += st.st_size  # `deploy` hard-links the job's GGUF in: the job still holds it
        else:
            freed += st.st_size
    return freed, shared
