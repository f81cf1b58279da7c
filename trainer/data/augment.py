"""Stage 3.5, augment (optional, off by default): more skill Q&A from an OpenAI-compatible model.

With `data.augment_base_url` unset the stage is skipped and validate ignores `augmented/`. Set
it to any OpenAI-compatible server (the local `halops llm serve` works) and each skill document
is sent with a request for `augment_per_skill` question/answer pairs grounded in the document;
replies that are not a JSON list of {question, answer} objects are counted and skipped, never
fatal. Requests use temperature 0, so a rerun with the same server asks the same question.
Output: `augmented/skill_qa.jsonl`, strategy C examples with `source: "augment"`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from halops.errors import LLMError
from halops.llm.client import LLMClient
from halops.llm.config import LlmSettings
from trainer.data import chatml, skills
from trainer.data.config import DataSettings
from trainer.data.jsonl import write_json, write_jsonl
from trainer.data.stages import Layout, NoProgress, Progress, StageResult, fingerprint, run_stage
from trainer.data.tokens import identity, load_counter

OUTPUT = "skill_qa.jsonl"
_ARRAY = re.compile(r"\[.*\]", re.DOTALL)
PROMPT = (
    "Below is an operations runbook ('skill') named {name}. Write {n} different questions an operator "
    "could ask that this document answers, each with a complete answer taken only from the document. "
    'Reply with a JSON array only: [{{"question": "...", "answer": "..."}}, ...]\n\n---\n{doc}'
)


def enabled(ds: DataSettings) -> bool:
    return bool(ds.augment_base_url) and ds.augment_per_skill > 0


def parse_pairs(reply: str) -> list[tuple[str, str]]:
    match = _ARRAY.search(reply)
    if not match:
        return []
    try:
        items = json.loads(match.group(0))
    except ValueError:
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            q, a = str(item.get("question") or "").strip(), str(item.get("answer") or "").strip()
            if q and a:
                out.append((q, a))
    return out


def _client_settings(ds: DataSettings) -> LlmSettings:
    key = None
    if ds.augment_api_key_file is not None:
        key = ds.augment_api_key_file.expanduser().read_text().strip()
    return LlmSettings(
        base_url=ds.augment_base_url or "",
        model=ds.augment_model,
        api_key=key,
        read_timeout_s=ds.augment_timeout_s,
        max_tokens=2048,
        temperature=0.0,
        max_retries=1,
    )


def augment(
    skill_files: list[Path],
    ds: DataSettings,
    instructions: str,
    client: LLMClient,
    counter: Any,
    progress: Progress,
) -> tuple[list[dict[str, Any]], Counter[str]]:
    stats: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    for path in progress.track(skill_files, len(skill_files), "augment"):
        doc = skills.parse(path)
        text = path.read_text(encoding="utf-8", errors="replace")
        prompt = PROMPT.format(name=doc.name, n=ds.augment_per_skill, doc=text)
        try:
            reply = client.chat([{"role": "user", "content": prompt}], temperature=0.0)
        except LLMError as exc:
            stats[f"failed:{type(exc).__name__}"] += 1
            continue
        pairs = parse_pairs(reply.content)[: ds.augment_per_skill]
        stats["pairs"] += len(pairs)
        stats["unusable_replies"] += int(not pairs)
        for i, (question, answer) in enumerate(pairs, 1):
            messages = [
                {"role": "system", "content": instructions.strip()},
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
            n_tokens = sum(counter.count([chatml.for_count(m) for m in messages]))
            if n_tokens > ds.max_seq_tokens:
                stats["over_budget"] += 1
                continue
            examples.append(
                {
                    "id": f"C:augment:{doc.name}:{i}",
                    "messages": messages,
                    "metadata": {
                        "session_id": f"skill:{doc.name}",
                        "conversation_id": f"skill:{doc.name}",
                        "strategy": "C",
                        "tier": None,
                        "source": "augment",
                        "kind": "skill",
                        "domain": "skills",
                        "part": "1/1",
                        "n_tokens": n_tokens,
                    },
                }
            )
    return examples, stats


def run(
    layout: Layout,
    ds: DataSettings,
    instructions: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
    client: LLMClient | None = None,
) -> StageResult:
    if not enabled(ds):
        return StageResult("augment", "skipped", note="data.augment_base_url is not set")
    progress = progress or NoProgress()
    skill_files = skills.find(ds.skills_dir)
    inputs = {
        "skills": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in skill_files],
        "tokenizer": identity(ds.tokenizer),
    }
    config = ds.model_dump(
        mode="json", include={"augment_base_url", "augment_model", "augment_per_skill", "max_seq_tokens"}
    )
    config["instructions"] = instructions
    fp = fingerprint("augment", inputs, config)

    def body(folder: Path) -> tuple[list[Path], StageResult]:
        own = client is None
        llm = client or LLMClient(_client_settings(ds))
        try:
            counter = load_counter(ds.tokenizer, layout.cache)
            examples, stats = augment(skill_files, ds, instructions, llm, counter, progress)
        finally:
            if own:
                llm.close()
        redacted = layout.guard.redactions()
        write_jsonl(folder / OUTPUT, layout.guard.rows(examples))
        write_json(folder / "stats.json", dict(sorted(stats.items())))
        counts = {"skills": len(skill_files), "examples": len(examples)}
        counts["redacted"] = layout.guard.redactions() - redacted
        return [folder / OUTPUT, folder / "stats.json"], StageResult("augment", "ran", counts)

    return run_stage(layout, "augment", fp, force, body)
