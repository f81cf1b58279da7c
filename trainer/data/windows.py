"""Fitting conversations under `max_seq_tokens` without ever separating a call from its result.

The unit is the step (one assistant message and its tool results). Multi-turn windows pack whole
exchanges greedily; an exchange too long for any window is cut into chunks of whole steps, each
led by the exchange's request again (the request is what the steps answer); a single step longer
than the budget cannot be shown to the model at all and is dropped and counted.

The budget left for the conversation is `max_seq_tokens` minus the system prompt rendered with
every tool the conversation uses: an upper bound for any window's own, smaller, system prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trainer.data.chatml import Exchange, Step


@dataclass
class Chunk:
    exchange: Exchange
    steps: list[Step]
    part: int
    parts: int

    @property
    def tokens(self) -> int:
        return self.exchange.user_tokens + sum(s.tokens for s in self.steps)


@dataclass
class Packing:
    windows: list[list[Exchange]] = field(default_factory=list)
    oversized_exchanges: int = 0


def pack_exchanges(exchanges: list[Exchange], budget: int) -> Packing:
    """Greedy windows of consecutive whole exchanges; an exchange over budget closes the window."""
    out = Packing()
    current: list[Exchange] = []
    used = 0
    for ex in exchanges:
        if ex.tokens > budget:
            out.oversized_exchanges += 1
            if current:
                out.windows.append(current)
            current, used = [], 0
            continue
        if current and used + ex.tokens > budget:
            out.windows.append(current)
            current, used = [], 0
        current.append(ex)
        used += ex.tokens
    if current:
        out.windows.append(current)
    return out


def chunk_exchange(ex: Exchange, budget: int) -> tuple[list[Chunk], int]:
    """The exchange whole if it fits, else chunks of whole steps; returns (chunks, steps dropped)."""
    if ex.tokens <= budget:
        return [Chunk(ex, list(ex.steps), 1, 1)], 0
    groups: list[list[Step]] = []
    current: list[Step] = []
    used = ex.user_tokens
    dropped = 0
    for step in ex.steps:
        if ex.user_tokens + step.tokens > budget:
            dropped += 1
            continue
        if current and used + step.tokens > budget:
            groups.append(current)
            current, used = [], ex.user_tokens
        current.append(step)
        used += step.tokens
    if current:
        groups.append(current)
    return [Chunk(ex, g, i, len(groups)) for i, g in enumerate(groups, 1)], dropped
