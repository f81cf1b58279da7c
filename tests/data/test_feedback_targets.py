"""Operator feedback in the data pipeline: a thumbs-down answer is never a training target, not
as its own turn, nor when a later turn of the same conversation carries it as history.
"""

from __future__ import annotations

import json

import pytest

from agent.transcripts.export import iter_examples
from agent.transcripts.store import TranscriptStore
from trainer.data import transcripts
from trainer.data.config import DataSettings
from trainer.data.curate import curate
from trainer.data.qualify import Keywords, qualify_one
from trainer.data.tokens import load_counter

pytestmark = pytest.mark.unit

BAD = "Just run rm -rf /var/log/nginx and restart it."
GOOD = "The disk on web1 is 91% full; /var/log/nginx holds 40 GB of rotated logs."


def _turn(store: TranscriptStore, conv: str, history: list[dict], question: str, answer: str) -> str:
    messages = [*history, {"role": "user", "content": question}]
    turn = store.start_turn(conversation_id=conv, request_id="r", messages=messages)
    store.add_step(turn, 0, answer, prompt_tokens=10, completion_tokens=10, model_ms=1.0)
    store.finish_turn(turn, status="ok", answer=answer, system_prompt="You are halops.", iterations=1)
    return turn


def test_thumbs_down_answers_never_become_targets(tmp_path):
    store = TranscriptStore(tmp_path / "t.db", scrub=lambda s: s)
    q1 = "Why is the disk on web1 filling up so quickly this week?"
    q2 = "And what should I do about the nginx logs that fill it?"
    first = _turn(store, "conv-1", [], q1, BAD)
    store.add_feedback(first, -1, "dangerous advice")
    history = [{"role": "user", "content": q1}, {"role": "assistant", "content": BAD}]
    _turn(store, "conv-1", history, q2, GOOD)
    lines = [json.loads(json.dumps(e)) for e in iter_examples(store)]
    assert [x["metadata"]["feedback"] for x in lines] == [-1, 0]
    assert [x["metadata"]["downvoted_history"] for x in lines] == [0, 1]

    ds = DataSettings()
    keywords = Keywords.from_settings(ds.ops_keywords)
    convs = [transcripts.to_conversation(line)[0] for line in lines]
    scores = {c["id"]: qualify_one(c, ds, keywords) for c in convs}
    assert scores[first]["dimensions"]["completion"] == 0.0  # qualify weighs the rating
    # Whatever the tiers came out as, make both eligible for every strategy: the rating must decide.
    for s in scores.values():
        s["tier"] = "A"
    out = curate(convs, scores, [], ds, "You are halops.", load_counter(None, tmp_path / "cache"))
    targets = [
        m["content"]
        for exs in out.examples.values()
        for ex in exs
        for m in ex["messages"]
        if m["role"] == "assistant"
    ]
    assert BAD not in targets
    assert GOOD in targets  # the later, unrated answer still trains (single-turn, without the bad one)
    assert out.stats["rated_down"] == 1 and out.stats["downvoted_history"] == 1
