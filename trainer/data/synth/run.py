"""Synth with this install's settings: the agent's instructions, the eval's prompts and hosts kept out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.cases import eval_hosts, eval_prompts
from trainer.data.synth.generate import SynthRequest, SynthResult, write
from trainer.data.tokens import load_counter


def default_runbooks() -> Path:
    # The runbooks `halops rag ingest` indexes by default: the excerpts retrieval would add.
    return Path(__file__).resolve().parents[3] / "rag" / "runbooks"


def synth_dir(settings: Any) -> Path:
    return settings.data_dir / "data" / "synth"


def request(
    settings: Any, *, episodes: int | None = None, seed: int | None = None, out: Path | None = None
) -> SynthRequest:
    ds = settings.data
    cases = settings.eval.cases
    return SynthRequest(
        episodes=ds.synth_episodes if episodes is None else episodes,
        seed=ds.seed if seed is None else seed,
        instructions=settings.agent.instructions,
        out_dir=out or synth_dir(settings),
        split_ratios=tuple(ds.split_ratios),
        exclude_prompts=eval_prompts(cases),
        exclude_hosts=sorted(eval_hosts(cases)),
        runbooks=default_runbooks(),
        excerpt_share=ds.synth_excerpt_share,
        excerpt_chars=settings.agent.rag_excerpt_chars,
    )


def run(settings: Any, **overrides: Any) -> SynthResult:
    req = request(settings, **overrides)
    counter = load_counter(settings.data.tokenizer, settings.data_dir / "cache")
    return write(req, counter)
