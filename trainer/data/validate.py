"""Stage 4, validate: curated (and augmented) examples → `final/{train,val,test}.jsonl` + report.

In this order, each step on what the previous one kept:
1. scrub every message with `safety.scrub` (the one scrubbing chokepoint; known secrets from
   `data.known_secrets_file` too), counting findings per kind;
2. format checks: a system prompt then a user turn; user and assistant alternate; every
   `<tool_call>` parses as the agent's own parser does and is followed by exactly one tool message
   per call, with the call's name; no empty message; token length (recounted after scrubbing)
   within `min_seq_tokens`..`max_seq_tokens`. Refused examples go to `rejected/validate.jsonl`
   with their reasons (scrubbed, so nothing is lost and nothing leaks);
3. near-duplicate removal (dedup.py), keeping the first by example id;
4. the grouped, stratified split (split.py), each file in a seeded order;
5. a last scan of everything about to be written: any finding aborts before final/ is touched.
"""

from __future__ import annotations

import random
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import safety.secret_rules as rules
from halops.parser import parse_reply
from safety.scrub import scrub
from trainer.data import augment, chatml, curate, dedup, report, split
from trainer.data.config import DataSettings
from trainer.data.errors import SecretLeakError, StageInputError
from trainer.data.jsonl import BadLines, dumps, file_digest, read_objects, write_json, write_jsonl
from trainer.data.secretguard import SecretGuard
from trainer.data.stages import (
    Layout,
    NoProgress,
    Progress,
    StageResult,
    fingerprint,
    input_digests,
    run_stage,
)
from trainer.data.tokens import TokenCounter, identity, load_counter

REPORT = "data_report.json"
ROLES = {"system", "user", "assistant", "tool"}


def _engine_name() -> str:
    try:
        return f"rensa {version('rensa')}"
    except PackageNotFoundError:
        return "rensa (not installed)"


def load_examples(layout: Layout, ds: DataSettings) -> tuple[list[dict[str, Any]], BadLines]:
    folder = layout.folder("curate")
    paths = [folder / name for name in curate.OUTPUTS.values()]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise StageInputError(f"{missing[0]} is missing: run `halops data curate` first")
    if augment.enabled(ds):
        extra = layout.folder("augment") / augment.OUTPUT
        if not extra.exists():
            raise StageInputError(f"{extra} is missing: run `halops data augment` first")
        paths.append(extra)
    paths += synth_files(layout, ds)
    bad = BadLines()
    return [ex for p in paths for ex in read_objects(p, bad)], bad


def synth_files(layout: Layout, ds: DataSettings) -> list[Path]:
    """`halops data synth` output, when synth is on and has run (`data all` runs it first)."""
    if ds.synth_episodes == 0:
        return []
    folder = layout.root / "synth"
    return [p for p in (folder / f"{s}.jsonl" for s in ("train", "val", "test")) if p.exists()]


class Scrub:
    def __init__(self, known: tuple[str, ...], min_known_length: int):
        self.known = known
        self.min_known = min_known_length
        self.findings: Counter[str] = Counter()
        self.messages_changed = 0
        self.examples_changed = 0

    def example(self, ex: dict[str, Any]) -> None:
        changed = False
        for msg in ex["messages"]:
            if not isinstance(msg, dict):
                continue
            for key in ("content", "name"):
                value = msg.get(key)
                if not isinstance(value, str):
                    continue
                result = scrub(value, self.known, min_known_length=self.min_known)
                if result.findings:
                    msg[key] = result.text
                    self.messages_changed += key == "content"
                    changed = True
                    for f in result.findings:
                        self.findings[f.kind] += f.count
        self.examples_changed += changed

    def rejected(self, ex: Any, problems: list[tuple[str, str]]) -> dict[str, Any]:
        row: dict[str, Any] = {"id": str(ex.get("id")) if isinstance(ex, dict) else None}
        row["problems"] = [f"{reason}: {detail}" for reason, detail in problems]
        if problems[0][0] == "shape":  # not our schema: keep it whole, as scrubbed text
            row["raw"] = scrub(dumps(ex), self.known, min_known_length=self.min_known).text
        else:
            row["example"] = ex
        return row

    def residual(self, row: dict[str, Any]) -> int:
        texts = (
            [row["raw"]]
            if "raw" in row
            else [
                m[k]
                for m in row.get("messages", row.get("example", {}).get("messages", []))
                for k in ("content", "name")
                if isinstance(m.get(k), str)
            ]
        )
        return sum(scrub(t, self.known, min_known_length=self.min_known).redacted for t in texts)


def format_problems(ex: dict[str, Any]) -> list[tuple[str, str]]:
    """(reason, detail) for everything wrong with `ex`; empty when it is well formed."""
    msgs = ex.get("messages")
    if not isinstance(msgs, list) or len(msgs) < 3 or not isinstance(ex.get("metadata"), dict):
        return [("shape", "needs messages (system, user, assistant...) and metadata")]
    if any(
        not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str)
        for m in msgs
    ):
        return [("shape", "a message without a known role or string content")]
    if not isinstance(ex["metadata"].get("session_id"), str):
        return [("shape", "metadata has no session_id")]
    problems = []
    if msgs[0]["role"] != "system" or msgs[1]["role"] != "user":
        problems.append(("role order", "must open with a system then a user message"))
    pending: list[str] = []  # names of calls still waiting for their result
    prev = "system"
    for i, m in enumerate(msgs[1:], 1):
        role, content = m["role"], m["content"]
        if not content.strip():
            problems.append(("empty message", f"message {i} ({role})"))
        if role == "system":
            problems.append(("role order", f"message {i}: a second system message"))
        elif role == "tool":
            if not pending:
                problems.append(("result without call", f"message {i}"))
            elif m.get("name") != pending.pop(0):
                problems.append(("result name", f"message {i}: does not match its call"))
        else:
            if pending:
                problems.append(
                    ("call without result", f"message {i}: {role} before every call got its result")
                )
                pending = []
            if role == prev:
                problems.append(("role order", f"message {i}: two {role} messages in a row"))
            if role == "assistant":
                parsed = parse_reply(content)
                if parsed.errors:
                    problems.append(("unparsable tool call", f"message {i}: {parsed.errors[0].message}"))
                pending = [c.tool for c in parsed.calls]
        prev = role
    if pending:
        problems.append(("call without result", "ends with a call that has no result"))
    if not any(m["role"] == "assistant" for m in msgs):
        problems.append(("role order", "no assistant message"))
    return problems


def dedup_text(ex: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in ex["messages"] if m["role"] != "system")


def validate(
    examples: list[dict[str, Any]],
    ds: DataSettings,
    counter: TokenCounter,
    scrubber: Scrub,
    progress: Progress,
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]], dict[str, Any]]:
    examples = sorted(examples, key=lambda e: str(e.get("id")))
    seen_ids: set[str] = set()
    rejected: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    valid: list[dict[str, Any]] = []
    for ex in progress.track(examples, len(examples), "scrub + format"):
        problems = format_problems(ex)
        if not problems or problems[0][0] != "shape":
            scrubber.example(ex)  # rejected examples are written too: scrub them all the same
        if not problems:
            n_tokens = sum(counter.count([chatml.for_count(m) for m in ex["messages"]]))
            ex["metadata"]["n_tokens"] = n_tokens
            if n_tokens > ds.max_seq_tokens:
                problems.append(("too long", f"{n_tokens} tokens"))
            elif n_tokens < ds.min_seq_tokens:
                problems.append(("too short", f"{n_tokens} tokens"))
            if str(ex.get("id")) in seen_ids:
                problems.append(("duplicate id", str(ex.get("id"))))
        seen_ids.add(str(ex.get("id")))
        if problems:
            reasons[problems[0][0]] += 1
            rejected.append(scrubber.rejected(ex, problems))
        else:
            valid.append(ex)
    result = dedup.deduplicate(
        [dedup_text(e) for e in valid],
        threshold=ds.dedup_threshold,
        num_perm=ds.dedup_num_perm,
        bands=ds.dedup_bands,
        seed=ds.seed,
        shingle_words=ds.dedup_shingle_words,
    )
    kept = [e for e, k in zip(valid, result.keep, strict=True) if k]
    removed = [valid[i] for i in sorted(result.duplicate_of)]
    assignment = split.assign(kept, ds.split_ratios, ds.seed)
    splits: dict[str, list[dict[str, Any]]] = {s: [] for s in split.SPLITS}
    for ex in kept:
        splits[assignment[ex["metadata"]["session_id"]]].append(ex)
    for name, rows in splits.items():
        random.Random(f"{ds.seed}:{name}").shuffle(rows)
    stats = {
        "input": len(examples),
        "rejected": dict(sorted(reasons.items())),
        "valid": len(valid),
        "dedup": {
            "candidates": result.candidates,
            "pairs_over_threshold": result.verified,
            "removed": len(removed),
            "removed_by_strategy": report.breakdown(removed)["strategy"] if removed else {},
            "examples": [
                {"removed": valid[d]["id"], "kept": valid[k]["id"]}
                for d, k in sorted(result.duplicate_of.items())
            ][:50],
        },
    }
    return splits, rejected, stats


def run(
    layout: Layout,
    ds: DataSettings,
    *,
    min_known_length: int = 6,
    force: bool = False,
    progress: Progress | None = None,
) -> StageResult:
    progress = progress or NoProgress()
    cur = layout.folder("curate")
    paths = [cur / n for n in curate.OUTPUTS.values()] + [layout.folder("qualify") / "session_scores.jsonl"]
    if augment.enabled(ds):
        paths.append(layout.folder("augment") / augment.OUTPUT)
    paths += synth_files(layout, ds)
    inputs = input_digests(paths)
    inputs["tokenizer"] = identity(ds.tokenizer)
    inputs["known_secrets"] = (
        file_digest(ds.known_secrets_file.expanduser())
        if ds.known_secrets_file and ds.known_secrets_file.expanduser().exists()
        else None
    )
    inputs["scrub_rules"] = file_digest(Path(rules.__file__))
    config = report.settings_summary(ds, _engine_name())
    config["min_known_length"] = min_known_length
    fp = fingerprint("validate", inputs, config)

    def body(folder: Path) -> tuple[list[Path], StageResult]:
        examples, bad = load_examples(layout, ds)
        counter = load_counter(ds.tokenizer, layout.cache)
        # One reader of data.known_secrets_file for every stage: the stage guard's.
        scrubber = Scrub(SecretGuard(ds.known_secrets_file).known, min_known_length)
        splits, rejected, stats = validate(examples, ds, counter, scrubber, progress)
        leaks = sum(scrubber.residual(ex) for rows in splits.values() for ex in rows)
        leaks += sum(scrubber.residual(row) for row in rejected)
        if leaks:
            raise SecretLeakError(f"{leaks} finding(s) survived scrubbing; nothing was written to final/")
        final_rows = [ex for rows in splits.values() for ex in rows]
        data_report = {
            "settings": config,
            "stages": report.upstream(layout),
            "validate": {
                **stats,
                "unreadable_lines": bad.total,
                "scrub": {
                    "findings": dict(sorted(scrubber.findings.items())),
                    "messages_changed": scrubber.messages_changed,
                    "examples_changed": scrubber.examples_changed,
                    "residual_findings": leaks,
                },
            },
            "final": {
                "examples": {s: len(rows) for s, rows in splits.items()},
                "sessions": {
                    s: len({e["metadata"]["session_id"] for e in rows}) for s, rows in splits.items()
                },
                "by_split": {s: report.breakdown(rows) for s, rows in splits.items()},
                "all": report.breakdown(final_rows),
                "tokens": report.token_stats([e["metadata"]["n_tokens"] for e in final_rows]),
            },
        }
        written = []
        for name, rows in splits.items():
            write_jsonl(folder / f"{name}.jsonl", rows)
            written.append(folder / f"{name}.jsonl")
        write_jsonl(layout.rejected / "validate.jsonl", rejected)
        write_json(folder / REPORT, data_report)
        written.append(folder / REPORT)
        counts = {
            "input": len(examples),
            "rejected": len(rejected),
            "duplicates": stats["dedup"]["removed"],
            **{s: len(rows) for s, rows in splits.items()},
            "redacted": sum(scrubber.findings.values()),
        }
        return written, StageResult("validate", "ran", counts)

    return run_stage(layout, "validate", fp, force, body)
