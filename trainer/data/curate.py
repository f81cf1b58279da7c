"""Stage 3, curate: qualified conversations and skill documents → `curated/sft_*.jsonl`.

- A `sft_multiturn.jsonl`: windows of two or more whole exchanges from tier A sessions.
- B `sft_singleturn.jsonl`: one request and the steps that answer it, from tier A and B sessions;
  only requests of `min_question_chars` or more that ended in a prose answer, never a transcript's
  history.
- C `sft_skills.jsonl`: question/answer pairs from `<skills_dir>/*/SKILL.md`.
- D `sft_subagents.jsonl`: subagent runs (the Task prompt and the work that answered it), from
  the tiers in `subagent_tiers`.

An agent turn the operator rated down is never a target, whatever its tier; a turn whose history
holds a rated-down answer gives no multi-turn window (that answer would be trained on).

Every example: `{"id", "messages": [...], "metadata": {"session_id", "conversation_id", "strategy",
"tier", "source", "kind", "domain", "part", "n_tokens"}}`, `n_tokens` counted with the target
tokenizer on the chat-template text and never above `max_seq_tokens` (see windows.py).

With `map_tools` (default) Claude Code's Bash calls are the agent's shell/ssh/http/ipmi calls in
every example, with the agent's own schemas in the system prompt (chatml.py, toolmap.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.data import chatml, extract, qualify, skills, windows
from trainer.data.config import DataSettings
from trainer.data.jsonl import write_json, write_jsonl
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

OUTPUTS = {
    "A": "sft_multiturn.jsonl",
    "B": "sft_singleturn.jsonl",
    "C": "sft_skills.jsonl",
    "D": "sft_subagents.jsonl",
}


@dataclass
class Curated:
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in OUTPUTS})
    stats: Counter[str] = field(default_factory=Counter)


class _Curator:
    def __init__(self, ds: DataSettings, instructions: str, counter: TokenCounter):
        self.ds = ds
        self.instructions = instructions
        self.counter = counter
        self.out = Curated()

    def _example(
        self,
        strategy: str,
        key: str,
        conv: dict[str, Any],
        score: dict[str, Any] | None,
        system: str,
        body: list[chatml.Message],
        body_tokens: int,
        part: str,
    ) -> None:
        messages = [{"role": "system", "content": system}, *body]
        n_tokens = self.counter.count_one(chatml.for_count(messages[0])) + body_tokens
        if n_tokens > self.ds.max_seq_tokens:  # only a custom system prompt can get here
            self.out.stats["over_budget"] += 1
            return
        self.out.examples[strategy].append(
            {
                "id": f"{strategy}:{key}",
                "messages": messages,
                "metadata": {
                    "session_id": conv["session_id"],
                    "conversation_id": conv["id"],
                    "strategy": strategy,
                    "tier": score["tier"] if score else None,
                    "source": conv["source"],
                    "kind": conv["kind"],
                    "domain": score["domain"] if score else "skills",
                    "part": part,
                    "n_tokens": n_tokens,
                },
            }
        )

    def _system(self, conv: dict[str, Any], calls: list[tuple[str, Any]]) -> str:
        if conv["source"] == "halops-agent" and conv.get("system"):
            return conv["system"]  # what the agent's model was actually shown
        return chatml.render_system(self.instructions, calls, agent_tools=self.ds.map_tools)

    def conversation(self, conv: dict[str, Any], score: dict[str, Any]) -> None:
        tier = score["tier"]
        is_session = conv["kind"] == "session"
        feedback = conv.get("feedback")
        if isinstance(feedback, (int, float)) and feedback < 0:
            self.out.stats["rated_down"] += 1
            return
        clean_history = not conv.get("downvoted_history")
        if not clean_history:
            self.out.stats["downvoted_history"] += 1
        want = {
            "A": is_session and tier == "A" and clean_history,
            "B": is_session and tier in ("A", "B"),
            "D": not is_session and tier in self.ds.subagent_tiers,
        }
        if not any(want.values()):
            self.out.stats[f"not_used_tier_{tier}"] += 1
            return
        rendered = chatml.exchanges(
            conv["turns"],
            result_chars=self.ds.max_tool_result_chars,
            include_thinking=self.ds.include_thinking,
            map_tools=self.ds.map_tools,
        )
        self.out.stats.update(rendered.dropped)
        exs = rendered.exchanges
        if not exs:
            self.out.stats["no_exchange"] += 1
            return
        chatml.count_tokens(exs, self.counter)
        widest = self._system(conv, [c for ex in exs for c in ex.calls])
        budget = self.ds.max_seq_tokens - self.counter.count_one(
            chatml.for_count({"role": "system", "content": widest})
        )
        if budget <= 0:
            self.out.stats["system_prompt_over_budget"] += 1
            return
        if want["A"]:
            packing = windows.pack_exchanges(exs, budget)
            multi = [w for w in packing.windows if len(w) >= 2]
            for i, win in enumerate(multi, 1):
                body = [m for ex in win for m in (ex.user, *[x for s in ex.steps for x in s.messages])]
                tokens = sum(ex.tokens for ex in win)
                calls = [c for ex in win for c in ex.calls]
                self._example(
                    "A",
                    f"{conv['id']}:{i}",
                    conv,
                    score,
                    self._system(conv, calls),
                    body,
                    tokens,
                    f"{i}/{len(multi)}",
                )
        for strategy in ("B", "D"):
            if not want[strategy]:
                continue
            for n, ex in enumerate(exs, 1):
                if strategy == "B":
                    if ex.history:
                        continue
                    if len(ex.user["content"].strip()) < self.ds.min_question_chars:
                        self.out.stats["short_requests"] += 1
                        continue
                    if not ex.answered:
                        self.out.stats["unanswered_requests"] += 1
                        continue
                chunks, dropped = windows.chunk_exchange(ex, budget)
                self.out.stats["steps_over_budget"] += dropped
                for chunk in chunks:
                    body = [ex.user, *[m for s in chunk.steps for m in s.messages]]
                    calls = [c for s in chunk.steps for c in s.calls]
                    key = f"{conv['id']}:{n}:{chunk.part}"
                    self._example(
                        strategy,
                        key,
                        conv,
                        score,
                        self._system(conv, calls),
                        body,
                        chunk.tokens,
                        f"{chunk.part}/{chunk.parts}",
                    )

    def skill(self, path: Path) -> None:
        doc = skills.parse(path)
        system = self.instructions.strip()
        conv = {
            "id": f"skill:{doc.name}",
            "session_id": f"skill:{doc.name}",
            "source": "skill",
            "kind": "skill",
        }
        for qa in skills.pairs(doc):
            body = [{"role": "user", "content": qa.question}, {"role": "assistant", "content": qa.answer}]
            tokens = sum(self.counter.count([chatml.for_count(m) for m in body]))
            if tokens >= self.ds.max_seq_tokens:
                self.out.stats["skill_sections_over_budget"] += 1
                continue
            self._example("C", f"{doc.name}:{qa.key}", conv, None, system, body, tokens, "1/1")


def curate(
    convs: list[dict[str, Any]],
    scores: dict[str, dict[str, Any]],
    skill_files: list[Path],
    ds: DataSettings,
    instructions: str,
    counter: TokenCounter,
    progress: Progress | None = None,
) -> Curated:
    progress = progress or NoProgress()
    cur = _Curator(ds, instructions, counter)
    for conv in progress.track(convs, len(convs), "curate"):
        score = scores.get(conv["id"])
        if score is None:
            cur.out.stats["unscored"] += 1
            continue
        cur.conversation(conv, score)
    for path in skill_files:
        cur.skill(path)
    return cur.out


def run(
    layout: Layout,
    ds: DataSettings,
    instructions: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> StageResult:
    ex_folder = layout.folder("extract")
    skill_files = skills.find(ds.skills_dir)
    inputs = input_digests(
        [
            ex_folder / extract.SESSIONS,
            ex_folder / extract.SUBAGENTS,
            layout.folder("qualify") / qualify.SCORES,
        ]
    )
    inputs["skills"] = [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in skill_files]
    inputs["tokenizer"] = identity(ds.tokenizer)
    config = ds.model_dump(
        mode="json",
        include={
            "max_seq_tokens",
            "max_tool_result_chars",
            "min_question_chars",
            "subagent_tiers",
            "include_thinking",
            "map_tools",
        },
    )
    config["instructions"] = instructions
    fp = fingerprint("curate", inputs, config)

    def body(folder: Path) -> tuple[list[Path], StageResult]:
        convs = qualify.load_conversations(layout)
        scores = qualify.load_scores(layout)
        counter = load_counter(ds.tokenizer, layout.cache)
        out = curate(convs, scores, skill_files, ds, instructions, counter, progress)
        paths = []
        redacted = layout.guard.redactions()
        for strategy, name in OUTPUTS.items():
            # Rendering (tool calls as JSON text) can pair a name with a value: scrub again.
            write_jsonl(folder / name, layout.guard.rows(out.examples[strategy]))
            paths.append(folder / name)
        counts = {f"strategy {k}": len(v) for k, v in out.examples.items()}
        counts["redacted"] = layout.guard.redactions() - redacted
        counts["skills"] = len(skill_files)
        result = StageResult("curate", "ran", counts)
        write_json(folder / "stats.json", dict(sorted(out.stats.items())))
        return [*paths, folder / "stats.json"], result

    return run_stage(layout, "curate", fp, force, body)
