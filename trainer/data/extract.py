"""Stage 1, extract: session logs and agent transcripts → `extracted/{sessions,subagents}.jsonl`.

Discovery walks every source root for `*.jsonl`:
- `<project>/<session>.jsonl`: a Claude Code session (its inline v1 sidechains are subagents);
- `<project>/<session>/subagents/agent-*.jsonl` (v2.1) and `<project>/agent-*.jsonl` (v2.0):
  subagents, linked to the Task call that spawned them through the `agentId` its result names,
  else through the prompt; `agent-acompact-*` files are compaction runs and are left out;
- a file whose lines are `halops agent export-transcripts` objects: the agent's own turns.
Each conversation keeps the turns the session continued on (see claude_log.py); sessions with no
request or no answer are dropped and counted. Paths are stored relative to their source root.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.data import claude_log, transcripts
from trainer.data.errors import StageInputError
from trainer.data.jsonl import BadLines, iter_lines, write_json, write_jsonl
from trainer.data.stages import Layout, NoProgress, Progress, StageResult, fingerprint, run_stage

TASK_TOOLS = ("Task", "Agent")
SESSIONS = "sessions.jsonl"
SUBAGENTS = "subagents.jsonl"
STATS = "stats.json"


@dataclass
class Found:
    root: Path
    path: Path
    kind: str  # session | agent | compaction-agent | transcripts

    @property
    def rel(self) -> str:
        return self.path.relative_to(self.root).as_posix() if self.path != self.root else self.path.name


@dataclass
class Extracted:
    sessions: list[dict[str, Any]] = field(default_factory=list)
    subagents: list[dict[str, Any]] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    bad: BadLines = field(default_factory=BadLines)


def _sniff_transcripts(path: Path) -> bool:
    bad = BadLines()
    for _lineno, value in iter_lines(path, bad):
        return transcripts.is_transcript_line(value)
    return False


def discover(roots: list[Path]) -> list[Found]:
    found: list[Found] = []
    seen: set[Path] = set()
    for raw in roots:
        root = raw.expanduser()
        if not root.exists():
            raise StageInputError(f"source {root} does not exist (set data.sources or pass --source)")
        files = [root] if root.is_file() else sorted(root.rglob("*.jsonl"))
        base = root.parent if root.is_file() else root
        for path in files:
            real = path.resolve()
            if real in seen or not path.is_file():
                continue
            seen.add(real)
            if path.name.startswith("agent-acompact"):
                kind = "compaction-agent"
            elif path.name.startswith("agent-"):
                kind = "agent"
            elif _sniff_transcripts(path):
                kind = "transcripts"
            else:
                kind = "session"
            found.append(Found(base, path, kind))
    return found


def _task_calls(turns: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        c["id"]: c
        for t in turns
        if t["role"] == "assistant"
        for c in t["tool_calls"]
        if c["name"] in TASK_TOOLS
    }


def _usable(turns: list[dict[str, Any]]) -> bool:
    return any(t["role"] == "user" for t in turns) and any(t["role"] == "assistant" for t in turns)


def _conversation(thread: claude_log.Thread, **fields: Any) -> dict[str, Any]:
    conv = {
        "source": "claude-code",
        "version": thread.version,
        "started_at": thread.started_at,
        "ended_at": thread.ended_at,
        "turns": thread.turns,
        "stats": dict(sorted(thread.stats.items())),
    }
    conv.update(fields)
    return conv


class _Extractor:
    def __init__(self) -> None:
        self.out = Extracted()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.links: dict[str, dict[str, str]] = {}  # session id -> Task tool_use_id -> agentId

    def session(self, item: Found) -> None:
        log = claude_log.load(item.path, item.rel)
        self._count_log(log)
        thread = claude_log.main_thread(log)
        project = item.path.parent.name
        sid = item.path.stem
        if sid in self.sessions:
            sid = f"{project}/{item.path.stem}"
            if sid in self.sessions:
                self.out.stats["duplicate_sessions"] += 1
                return
        self.out.stats.update({f"thread:{k}": v for k, v in thread.stats.items()})
        main_records = [r for r in log.records if not r.get("isSidechain")]
        self.links[sid] = claude_log.task_links(main_records)
        conv = _conversation(thread, id=sid, session_id=sid, kind="session", project=project, file=item.rel)
        conv["subagents"] = []
        self.sessions[sid] = conv
        calls = _task_calls(thread.turns)
        for n, side in enumerate(claude_log.inline_sidechains(log), 1):
            self.out.stats.update({f"subagent_thread:{k}": v for k, v in side.stats.items()})
            prompt = next((t["text"] for t in side.turns if t["role"] == "user"), "")
            call = next((c for c in calls.values() if _prompt(c) == prompt), None)
            self._subagent(conv, side, f"sidechain-{n}", call, item, "inline")

    def agent(self, item: Found) -> None:
        log = claude_log.load(item.path, item.rel)
        self._count_log(log)
        thread = claude_log.agent_thread(log)
        self.out.stats.update({f"subagent_thread:{k}": v for k, v in thread.stats.items()})
        agent_id = thread.agent_id or item.path.stem.removeprefix("agent-")
        if item.path.parent.name == "subagents":
            parent_id = item.path.parent.parent.name
        else:
            parent_id = next((r["sessionId"] for r in log.records if isinstance(r.get("sessionId"), str)), "")
        parent = self.sessions.get(parent_id)
        call = None
        if parent is not None:
            calls = _task_calls(parent["turns"])
            by_agent = {a: c for c, a in self.links.get(parent["id"], {}).items()}
            call = calls.get(by_agent.get(agent_id, ""))
            if call is None:
                prompt = next((t["text"] for t in thread.turns if t["role"] == "user"), "")
                call = next((c for c in calls.values() if _prompt(c) == prompt), None)
        self._subagent(parent, thread, agent_id, call, item, "file", orphan_parent=parent_id)

    def _subagent(
        self,
        parent: dict[str, Any] | None,
        thread: claude_log.Thread,
        agent_id: str,
        call: dict[str, Any] | None,
        item: Found,
        layout: str,
        orphan_parent: str = "",
    ) -> None:
        if not _usable(thread.turns):
            self.out.stats["empty_subagents"] += 1
            return
        parent_id = parent["id"] if parent is not None else orphan_parent or item.path.parent.name
        task = None
        if call is not None:
            args = call["input"] if isinstance(call["input"], dict) else {}
            task = {
                "tool_use_id": call["id"],
                "description": args.get("description"),
                "subagent_type": args.get("subagent_type"),
            }
            self.out.stats["subagents_linked"] += 1
        else:
            self.out.stats["subagents_unlinked"] += 1
        conv = _conversation(
            thread,
            id=f"{parent_id}/agent-{agent_id}",
            session_id=parent_id,
            kind="subagent",
            agent_id=agent_id,
            layout=layout,
            project=item.path.parent.name if layout == "inline" else _project_of(item),
            file=item.rel,
            parent_task=task,
        )
        if parent is not None:
            parent["subagents"].append(conv["id"])
        self.out.subagents.append(conv)

    def transcripts(self, item: Found, seen: set[str]) -> None:
        bad = self.out.bad
        for lineno, value in iter_lines(item.path, bad, item.rel):
            if not transcripts.is_transcript_line(value):
                bad.add(f"{item.rel}:{lineno}", "not a transcript object")
                continue
            conv, stats = transcripts.to_conversation(value)
            self.out.stats.update({f"transcript:{k}": v for k, v in stats.items()})
            if conv is None:
                self.out.stats["empty_transcripts"] += 1
                continue
            if conv["id"] in seen:
                self.out.stats["duplicate_transcripts"] += 1
                continue
            seen.add(conv["id"])
            conv["file"] = item.rel
            conv["stats"] = dict(sorted(stats.items()))
            self.out.stats["transcripts"] += 1
            self.out.sessions.append(conv)

    def _count_log(self, log: claude_log.LogFile) -> None:
        self.out.stats.update({f"records:{k}": v for k, v in log.types.items()})
        for reason, n in log.bad.counts.items():
            self.out.bad.counts[reason] = self.out.bad.counts.get(reason, 0) + n
        self.out.bad.samples += log.bad.samples[: max(0, 20 - len(self.out.bad.samples))]


def _prompt(call: dict[str, Any]) -> str:
    args = call["input"] if isinstance(call["input"], dict) else {}
    return str(args.get("prompt") or "").strip()


def _project_of(item: Found) -> str:
    parent = item.path.parent
    return parent.parent.parent.name if parent.name == "subagents" else parent.name


def extract(found: list[Found], progress: Progress | None = None) -> Extracted:
    progress = progress or NoProgress()
    ex = _Extractor()
    order = {"session": 0, "transcripts": 1, "agent": 2, "compaction-agent": 3}
    # Sessions first: subagents are linked to the session that spawned them.
    items = sorted(found, key=lambda f: order[f.kind])
    seen_transcripts: set[str] = set()
    for item in progress.track(items, len(items), "extract"):
        ex.out.stats[f"files:{item.kind}"] += 1
        if item.kind == "session":
            ex.session(item)
        elif item.kind == "agent":
            ex.agent(item)
        elif item.kind == "transcripts":
            ex.transcripts(item, seen_transcripts)
        else:
            ex.out.stats["compaction_agents_excluded"] += 1
    for sid, conv in ex.sessions.items():
        if _usable(conv["turns"]):
            ex.out.sessions.append(conv)
        else:
            ex.out.stats["empty_sessions"] += 1
            for sub in ex.out.subagents:
                if sub["session_id"] == sid:
                    sub["parent_task"] = None  # the parent is gone: keep the run, not the link
    kept = {c["id"] for c in ex.out.sessions}
    for sub in ex.out.subagents:
        if sub["session_id"] not in kept:
            ex.out.stats["subagents_without_session"] += 1
    ex.out.stats["sessions"] = len(ex.out.sessions)
    ex.out.stats["subagents"] = len(ex.out.subagents)
    return ex.out


def _source_fingerprint(found: list[Found]) -> list[list[Any]]:
    rows = []
    for f in found:
        st = f.path.stat()
        rows.append([str(f.path), f.kind, st.st_size, st.st_mtime_ns])
    return rows


def run(
    layout: Layout, roots: list[Path], *, force: bool = False, progress: Progress | None = None
) -> StageResult:
    found = discover(roots)
    if not found:
        raise StageInputError(
            "no session or transcript files (*.jsonl) under " + ", ".join(str(r) for r in roots)
        )
    fp = fingerprint("extract", {"files": _source_fingerprint(found)}, [str(r) for r in roots])

    def body(folder: Path) -> tuple[list[Path], StageResult]:
        out = extract(found, progress)
        # Scrubbed here, at the first stage: a credential in a session never rests on disk.
        redacted = layout.guard.redactions()
        write_jsonl(folder / SESSIONS, layout.guard.rows(out.sessions))
        write_jsonl(folder / SUBAGENTS, layout.guard.rows(out.subagents))
        stats = dict(sorted(out.stats.items()))
        stats["malformed_lines"] = out.bad.total
        write_json(
            folder / STATS,
            {"counts": stats, "malformed": dict(sorted(out.bad.counts.items())), "samples": out.bad.samples},
        )
        counts = {
            "files": len(found),
            "sessions": len(out.sessions),
            "subagents": len(out.subagents),
            "malformed lines": out.bad.total,
            "redacted": layout.guard.redactions() - redacted,
        }
        return [folder / SESSIONS, folder / SUBAGENTS, folder / STATS], StageResult("extract", "ran", counts)

    return run_stage(layout, "extract", fp, force, body)


def load_stats(layout: Layout) -> dict[str, Any]:
    try:
        return json.loads((layout.folder("extract") / STATS).read_text())
    except (OSError, ValueError):
        return {}
