"""What every stage shares: the folder layout, up-to-date checks, progress, the result row.

Layout under `<data_dir>/data/`: one folder per stage (`extracted/`, `qualified/`, `curated/`,
`augmented/`, `final/`), `rejected/` for what validate refused (with reasons), and `.state/` with
one small JSON per stage: a fingerprint of its inputs and settings, and the digest of every file
it wrote. A stage whose fingerprint and outputs still match is "up to date" and does nothing; so a
killed `all` resumes at the first stage it had not finished, and a second `all` rewrites nothing.
Timings live in `.state/`, never in the outputs, so outputs are a pure function of the inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from trainer.data.jsonl import file_digest, remove_stale_temps, write_json
from trainer.data.secretguard import SecretGuard

# Bumped when a stage's output format or logic changes, so old outputs are not taken as current.
PIPELINE_VERSION = "1"
STAGES = ("extract", "qualify", "curate", "augment", "validate")
FOLDERS = {
    "extract": "extracted",
    "qualify": "qualified",
    "curate": "curated",
    "augment": "augmented",
    "validate": "final",
}
T = TypeVar("T")
STAGING = ".staging-"


@dataclass(frozen=True)
class Layout:
    data_dir: Path
    # The scrubbing every stage applies and checks (known secrets come from the settings).
    guard: SecretGuard = field(default_factory=SecretGuard, compare=False)

    @property
    def root(self) -> Path:
        return self.data_dir / "data"

    def folder(self, stage: str) -> Path:
        return self.root / FOLDERS[stage]

    @property
    def state(self) -> Path:
        return self.root / ".state"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    @property
    def cache(self) -> Path:
        return self.data_dir / "cache"


@dataclass
class StageResult:
    stage: str
    status: str  # ran | up to date | skipped
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""


class Progress(Protocol):
    def track(self, items: Iterable[T], total: int | None, description: str) -> Iterator[T]: ...


class NoProgress:
    def track(self, items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
        yield from items


def fingerprint(stage: str, inputs: dict[str, Any], config: Any) -> str:
    blob = json.dumps(
        {"version": PIPELINE_VERSION, "stage": stage, "inputs": inputs, "config": config},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def input_digests(paths: Iterable[Path]) -> dict[str, str]:
    return {p.name: file_digest(p) if p.exists() else "missing" for p in paths}


def _state_file(layout: Layout, stage: str) -> Path:
    return layout.state / f"{stage}.json"


def read_state(layout: Layout, stage: str) -> dict[str, Any] | None:
    try:
        return json.loads(_state_file(layout, stage).read_text())
    except (OSError, ValueError):
        return None


def is_current(layout: Layout, stage: str, fp: str) -> bool:
    state = read_state(layout, stage)
    if not state or state.get("fingerprint") != fp:
        return False
    folder = layout.folder(stage)
    for name, digest in state.get("outputs", {}).items():
        path = folder / name
        if not path.exists() or file_digest(path) != digest:
            return False
    return True


def record_state(layout: Layout, stage: str, fp: str, outputs: Iterable[Path], result: StageResult) -> None:
    folder = layout.folder(stage)
    state = {
        "fingerprint": fp,
        "outputs": {p.relative_to(folder).as_posix(): file_digest(p) for p in outputs},
        "counts": [[k, v] for k, v in result.counts.items()],  # a list keeps the table's order
        "seconds": round(result.seconds, 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    layout.state.mkdir(parents=True, exist_ok=True)
    write_json(_state_file(layout, stage), state)


def prepare(layout: Layout, stage: str) -> Path:
    folder = layout.folder(stage)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder)
    return folder


def run_stage(
    layout: Layout,
    stage: str,
    fp: str,
    force: bool,
    body: Callable[[Path], tuple[list[Path], StageResult]],
) -> StageResult:
    """Run `body(folder)` unless the stage is current; check and record what it wrote.

    `body` writes into a staging folder. Only when the secret check finds nothing there do its
    files replace the stage's outputs: a finding fails the stage and leaves the previous outputs.
    """
    fp = fingerprint(stage, {"stage": fp, "scrubbing": layout.guard.identity()}, None)
    if not force and is_current(layout, stage, fp):
        state = read_state(layout, stage) or {}
        return StageResult(stage, "up to date", {k: v for k, v in state.get("counts", [])})
    folder = prepare(layout, stage)
    for stale in layout.root.glob(f"{STAGING}{stage}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # what a killed run left
    staging = layout.root / f"{STAGING}{stage}-{os.getpid()}"
    staging.mkdir(parents=True)
    try:
        start = time.perf_counter()
        staged, result = body(staging)
        layout.guard.check_files(stage, staged)
        outputs = []
        for path in staged:
            final = folder / path.relative_to(staging)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, final)
            outputs.append(final)
        result.seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record_state(layout, stage, fp, outputs, result)
    return result
