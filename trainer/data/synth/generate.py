"""`halops data synth`: seeded fleet-skill episodes → `<data_dir>/data/synth/{train,val,test}.jsonl`.

Same seed and settings, same bytes: the episodes, their order and the split are functions of the
seed alone. Each episode is its own session, assigned to a split by a hash of its id, so no
session straddles train and test. Nothing an eval case asks, and no host an eval case names, may
appear in the output: prompts equal to an eval prompt are dropped and eval hosts are never drawn,
and the written files are checked for both (a hit fails the run and writes nothing). Every
message is scrubbed, and a residual finding fails the run the same way.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safety.scrub import scrub
from trainer.data.errors import DataError
from trainer.data.jsonl import write_json, write_jsonl
from trainer.data.synth.episodes import Builder, Excerpt
from trainer.data.synth.hosts import HostNames

SPLITS = ("train", "val", "test")
OBSERVATIONS = Path(__file__).with_name("observations.jsonl")


class SynthLeakError(DataError):
    """Generated data contains an eval prompt or host, or a credential: nothing was written."""


@dataclass
class SynthRequest:
    episodes: int
    seed: int
    instructions: str
    out_dir: Path
    split_ratios: tuple[float, float, float] = (0.9, 0.05, 0.05)
    exclude_prompts: Sequence[str] = ()
    exclude_hosts: Iterable[str] = ()
    runbooks: Path | None = None
    excerpt_share: float = 0.15
    excerpt_chars: int = 600

    def fingerprint(self) -> str:
        """What the output is a function of (besides this code): equal fingerprints, equal bytes."""
        blob = json.dumps(
            [self.episodes, self.seed, self.instructions, list(self.split_ratios), sorted(self.exclude_prompts),
             sorted(self.exclude_hosts), str(self.runbooks), self.excerpt_share, self.excerpt_chars],
            default=str,
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class SynthResult:
    counts: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def load_excerpts(folder: Path | None) -> list[Excerpt]:
    """Runbook sections (`## ` headings), as retrieval would put them in the prompt."""
    if folder is None or not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for block in re.split(r"^## ", text, flags=re.M)[1:]:
            heading, _, body = block.partition("\n")
            if len(body.strip()) > 80:
                out.append(Excerpt(text=body.strip(), source=path.name, heading=heading.strip()))
    return out


def load_observations(path: Path = OBSERVATIONS) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_of(session: str, ratios: Sequence[float]) -> str:
    x = int(hashlib.sha256(session.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    acc = 0.0
    for name, share in zip(SPLITS, ratios, strict=True):
        acc += share
        if x < acc:
            return name
    return SPLITS[-1]


def generate(req: SynthRequest) -> list[dict[str, Any]]:
    rng = random.Random(req.seed)
    builder = Builder(
        rng=rng,
        instructions=req.instructions,
        names=HostNames.excluding(req.exclude_hosts),
        excerpts=load_excerpts(req.runbooks),
        excerpt_share=req.excerpt_share,
        excerpt_chars=req.excerpt_chars,
        observations=load_observations(),
    )
    banned = {_norm(p) for p in req.exclude_prompts}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    attempts = scrubbed = 0
    while len(rows) < req.episodes:
        attempts += 1
        if attempts > req.episodes * 20:
            raise DataError(f"could only make {len(rows)} distinct episodes of {req.episodes}")
        kind, task, messages = builder.episode()
        ask = _norm(messages[1]["content"])
        body = json.dumps(messages[1:], ensure_ascii=False)
        if ask in banned or body in seen:
            continue
        if any(scrub(m["content"]).findings for m in messages):
            # A generated episode never holds a real credential; one the scrubber flags would train
            # on "[REDACTED]" text, so it is skipped rather than scrubbed.
            scrubbed += 1
            continue
        seen.add(body)
        session = f"synth-{req.seed}-{len(rows):06d}"
        rows.append(
            {
                "id": session,
                "messages": messages,
                "metadata": {
                    "session_id": session,
                    "source": "synth",
                    "strategy": "synth",
                    "kind": kind,
                    "task": task,
                },
            }
        )
    return rows


def check_rows(rows: Sequence[dict[str, Any]], prompts: Sequence[str], hosts: Iterable[str]) -> list[str]:
    """Every eval prompt or host found in `rows`, and every credential the scrubber still finds."""
    problems = []
    host_re = [re.compile(rf"(?<![\w.-]){re.escape(h)}(?![\w-])", re.I) for h in hosts]
    prompt_set = {_norm(p) for p in prompts}
    for row in rows:
        for msg in row["messages"]:
            text = msg["content"]
            if msg["role"] == "user" and _norm(text) in prompt_set:
                problems.append(f"{row['id']}: an eval prompt: {text[:80]!r}")
            if msg["role"] != "system":
                for rx in host_re:
                    if rx.search(text):
                        problems.append(f"{row['id']}: eval host {rx.pattern!r}")
            if scrub(text).findings:
                problems.append(f"{row['id']}: a credential survived")
    return problems


def write(req: SynthRequest, counter: Any | None = None) -> SynthResult:
    rows = generate(req)
    hosts = list(req.exclude_hosts)
    problems = check_rows(rows, req.exclude_prompts, hosts)
    if problems:
        raise SynthLeakError(
            f"{len(problems)} problem(s) in generated data; nothing written:\n  " + "\n  ".join(problems[:10])
        )
    if counter is not None:
        lengths = counter.count([_flat(r["messages"]) for r in rows])
        for row, n in zip(rows, lengths, strict=True):
            row["metadata"]["n_tokens"] = n
    splits: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for row in rows:
        splits[split_of(row["metadata"]["session_id"], req.split_ratios)].append(row)
    req.out_dir.mkdir(parents=True, exist_ok=True)
    result = SynthResult()
    for name, part in splits.items():
        path = req.out_dir / f"{name}.jsonl"
        write_jsonl(path, part)
        result.files.append(path)
        result.counts[name] = len(part)
    result.by_kind = dict(sorted(Counter(r["metadata"]["kind"] for r in rows).items()))
    tokens = sorted(r["metadata"].get("n_tokens", 0) for r in rows)
    report = {
        "fingerprint": req.fingerprint(),
        "seed": req.seed,
        "episodes": len(rows),
        "splits": result.counts,
        "kinds": result.by_kind,
        "tasks": dict(sorted(Counter(r["metadata"]["task"] for r in rows).items())),
        "tokens": {
            "total": sum(tokens),
            "median": tokens[len(tokens) // 2] if tokens else 0,
            "max": tokens[-1] if tokens else 0,
        },
    }
    write_json(req.out_dir / "report.json", report)
    result.files.append(req.out_dir / "report.json")
    return result


def _flat(messages: list[dict[str, Any]]) -> str:
    # ChatML framing, as the tokenizer's template renders it: close enough for budgeting.
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
