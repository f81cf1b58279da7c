"""Running the stages by name, for the CLI, the benchmark and the tests.

Each stage reads only files (the previous stages' outputs) and `Settings`, so running one alone
is the same as running it inside `all`. Modules are imported when their stage runs: the CLI's
`--help` does not pay for numpy, rensa or the tokenizer.
"""

from __future__ import annotations

from pathlib import Path

from agent.config import Settings
from trainer.data.secretguard import SecretGuard
from trainer.data.stages import STAGES, Layout, Progress, StageResult


def layout(settings: Settings) -> Layout:
    guard = SecretGuard(settings.data.known_secrets_file, settings.safety.scrub_min_known_secret_length)
    return Layout(settings.data_dir, guard)


def run_stage(
    name: str,
    settings: Settings,
    *,
    sources: list[Path] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> StageResult:
    ds = settings.data
    lay = layout(settings)
    instructions = settings.agent.instructions
    if name == "extract":
        from trainer.data import extract

        return extract.run(lay, sources or ds.sources, force=force, progress=progress)
    if name == "qualify":
        from trainer.data import qualify

        return qualify.run(lay, ds, force=force, progress=progress)
    if name == "curate":
        from trainer.data import curate

        return curate.run(lay, ds, instructions, force=force, progress=progress)
    if name == "augment":
        from trainer.data import augment

        return augment.run(lay, ds, instructions, force=force, progress=progress)
    if name == "validate":
        from trainer.data import validate

        return validate.run(
            lay,
            ds,
            min_known_length=settings.safety.scrub_min_known_secret_length,
            force=force,
            progress=progress,
        )
    raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")


def run_all(
    settings: Settings,
    *,
    sources: list[Path] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> list[StageResult]:
    """Every stage in order. A stage that ran makes every later one run too (its inputs changed
    even when, by chance, to the same bytes: cheap, and it keeps the logic obvious)."""
    results = []
    for name in STAGES:
        result = run_stage(name, settings, sources=sources, force=force, progress=progress)
        results.append(result)
        force = force or result.status == "ran"
    return results
