"""Blind judging of live A/B answers, and their export as preference (DPO) data.

A pair holds one prompt and both versions' answers. The judge sees them as "first" and "second",
in an order drawn per pair, and never which version wrote which: the verdict is mapped back to
a/b only when stored.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import IO, Any

from eval.registry.db import RegistryDB
from eval.registry.errors import PairJudgedError, RegistryError, UnknownPairError

VERDICTS = ("first", "second", "tie")


def add_pair(
    db: RegistryDB, prompt: str, a: int, b: int, a_text: str, b_text: str, rng: random.Random
) -> str:
    pair_id = f"pair-{uuid.uuid4().hex[:12]}"
    db.write(
        "INSERT INTO pairs (id, created_at, prompt, a_version, b_version, a_text, b_text, first) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (pair_id, time.time(), prompt, a, b, a_text, b_text, rng.choice("ab")),
    )
    return pair_id


def _blind(row: Any) -> dict[str, Any]:
    first, second = (row["a_text"], row["b_text"]) if row["first"] == "a" else (row["b_text"], row["a_text"])
    return {
        "id": row["id"],
        "prompt": row["prompt"],
        "first": first,
        "second": second,
        "judged": row["winner"] is not None,
    }


def list_pairs(db: RegistryDB, judged: bool | None = None) -> list[dict[str, Any]]:
    """Pairs as the judge sees them (no version numbers), oldest first."""
    where = "" if judged is None else ("WHERE winner IS NOT NULL" if judged else "WHERE winner IS NULL")
    return [_blind(r) for r in db.query(f"SELECT * FROM pairs {where} ORDER BY created_at, id")]


def judge(db: RegistryDB, pair_id: str, verdict: str) -> dict[str, Any]:
    """Record which of the two shown answers is better. Returns the pair, now with its versions."""
    if verdict not in VERDICTS:
        raise RegistryError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    rows = db.query("SELECT * FROM pairs WHERE id = ?", (pair_id,))
    if not rows:
        raise UnknownPairError(f"no judging pair {pair_id}")
    row = rows[0]
    if row["winner"] is not None:
        raise PairJudgedError(f"pair {pair_id} was judged already")
    second = "b" if row["first"] == "a" else "a"
    winner = {"first": row["first"], "second": second, "tie": "tie"}[verdict]
    # Guarded by `winner IS NULL`: two judges at once cannot both record a verdict.
    if (
        db.write(
            "UPDATE pairs SET winner = ?, judged_at = ? WHERE id = ? AND winner IS NULL",
            (winner, time.time(), pair_id),
        )
        == 0
    ):
        raise PairJudgedError(f"pair {pair_id} was judged already")
    won = {"a": row["a_version"], "b": row["b_version"]}.get(winner)
    return {**_blind({**dict(row), "winner": winner}), "winner": verdict, "winner_version": won}


def tally(db: RegistryDB) -> dict[str, int]:
    rows = db.query("SELECT COALESCE(winner, 'unjudged') AS w, COUNT(*) AS n FROM pairs GROUP BY w")
    return {r["w"]: r["n"] for r in rows}


def preferences(db: RegistryDB) -> Iterator[dict[str, str]]:
    """Judged pairs with a winner as DPO rows; a tie prefers nothing and is left out."""
    for r in db.query("SELECT * FROM pairs WHERE winner IN ('a', 'b') ORDER BY judged_at, id"):
        chosen, rejected = (r["a_text"], r["b_text"]) if r["winner"] == "a" else (r["b_text"], r["a_text"])
        yield {"prompt": r["prompt"], "chosen": chosen, "rejected": rejected}


def export_preferences(db: RegistryDB, out: IO[str]) -> int:
    count = 0
    for row in preferences(db):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
