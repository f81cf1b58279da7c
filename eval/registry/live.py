"""Live A/B: both versions answer the same recent operator prompts; the pairs wait for a judge.

Each version is served on a private port in turn (`eval.serving`), greedy, with the agent's system
prompt and tools, so the answers differ only by the model. Prompts and answers are scrubbed before
they are stored: the pairs become training data.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from eval.registry.errors import RegistryError
from eval.registry.pairs import add_pair
from eval.registry.registry import Registry
from eval.serving import serve
from halops.calls import tool_schemas
from halops.errors import LLMError
from halops.llm.client import LLMClient
from halops.parser import STOP
from halops.prompt import system_prompt
from safety.scrub import scrub


def answers(settings: Any, registry: Registry, version: int, prompts: Sequence[str]) -> list[str]:
    """`version`'s greedy answer to each prompt; a failed answer is recorded as empty, not fatal."""
    system = system_prompt(settings.agent.instructions, tools=tool_schemas())
    out = []
    with serve(settings, registry.store.version_path(version)) as served, LLMClient(served.llm) as client:
        for prompt in prompts:
            try:
                reply = client.chat(
                    [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                    max_tokens=settings.eval.max_tokens,
                    temperature=0.0,
                    stop=STOP,
                    timeout_s=settings.eval.case_timeout_s,
                ).content
            except LLMError as exc:
                reply = f"[no answer: {type(exc).__name__}]"
            out.append(scrub(reply).text)
    return out


def live_compare(
    settings: Any,
    registry: Registry,
    a: int,
    b: int,
    prompts: Sequence[str],
    *,
    rng: random.Random | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> list[str]:
    """Ask both versions every prompt and store one blind pair per prompt; the new pair ids."""
    if a == b:
        raise RegistryError("compare two different versions")
    registry.show(a), registry.show(b)  # both exist, or a clear error before any model loads
    clean = [scrub(p).text for p in prompts if p.strip()]
    if not clean:
        raise RegistryError("no operator prompts to ask: the transcript store has no finished turns yet")
    say(f"v{a}: answering {len(clean)} prompt(s)")
    answers_a = answers(settings, registry, a, clean)
    say(f"v{b}: answering {len(clean)} prompt(s)")
    answers_b = answers(settings, registry, b, clean)
    rng = rng or random.SystemRandom()
    return [
        add_pair(registry.db, prompt, a, b, ta, tb, rng)
        for prompt, ta, tb in zip(clean, answers_a, answers_b, strict=True)
    ]
