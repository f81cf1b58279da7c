"""Running the stages by name, for the CLI, the benchmark and the tests.

Each stage reads only files (the previous stages' outputs) and `Settings`, so running one alone
is the same as running it inside `all`. Modules are imported when their stage runs: the CLI's
`--help` does not pay for numpy, rensa or the tokenizer.
"""

from __future__ import annotations

from pathlib import Path

from halops.settings import RootSettings as Settings
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
        if name == "validate" and settings.data.synth_episodes:
            synth = run_synth(settings, force=force)
            results.append(synth)
            force = force or synth.status == "ran"
        result = run_stage(name, settings, sources=sources, force=force, progress=progress)
        results.append(result)
        force = force or result.status == "ran"
    return results


def run_synth(settings: Settings, *, force: bool = False) -> StageResult:
    """The synth strategy inside `all`: rerun only when its request (seed, count, prompt) changed."""
    import json
    import time

    from trainer.data.synth import run as synth

    out = layout(settings).root / "synth"
    req = synth.request(settings, out=out)
    key = req.fingerprint()
    report = out / "report.json"
    try:
        current = json.loads(report.read_text()).get("fingerprint") == key
    except (OSError, ValueError):
        current = False
    if current and not force:
        return StageResult("synth", "up to date")
    started = time.monotonic()
    result = synth.run(settings, out=out)
    return StageResult("synth", "ran", {**result.counts, **result.by_kind}, time.monotonic() - started)
