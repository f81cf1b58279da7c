"""Benchmark of the training data pipeline (`halops data all`) and of its deduplication.

    flock /tmp/halops-cpu.lock .venv/bin/python bench/data_bench.py            # both parts
    .venv/bin/python bench/data_bench.py --sessions 500 --dedup-n 100000 --compare

Part 1 writes `--sessions` synthetic Claude Code sessions shaped like the real ones in
../shared/fixtures/claude-projects (v2.1 logs: hook progress records, file-history snapshots, one
record per content block with parallel tool calls forking the tree, thinking, compaction with its
boundary and summary, Task subagents under `<session>/subagents/agent-*.jsonl` linked by agentId,
compaction agents, a few torn lines) plus a handful of skill documents, then times every stage of
the pipeline on them. The tokenizer is converted from the bundled GGUF once before timing (a
one-time cost, cached in the data dir) and that conversion is reported apart.

Part 2 times near-duplicate removal of `--dedup-n` synthetic 150-400-word texts (10% near copies)
with 128 permutations: halops' path (numpy shingle hashing + rensa + numpy LSH), and with
`--compare` datasketch's bulk path (MinHash.bulk + MinHashLSH) on the same texts and shingles.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.cli.settings import Settings  # noqa: E402
from trainer.data import dedup, pipeline  # noqa: E402
from trainer.data.config import DataSettings  # noqa: E402
from trainer.data.tokens import load_counter  # noqa: E402

OPS = (
    "nginx systemctl journalctl disk df -h mount zfs docker kubectl postgres redis backup certbot tls "
    "ipmitool sensor fan firmware apt upgrade kernel reboot cron ssh sshd fail2ban prometheus alert "
    "grafana dns route firewall nftables haproxy port raid mdadm smartctl fstab lvm replication"
).split()
HOSTS = [f"{kind}{n}" for kind in ("web", "db", "cache", "gw", "nas", "k8s") for n in range(1, 13)]
TOOLS = ("Bash", "Read", "Grep", "Glob", "Edit")


def _vocab(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    # Filler words only: ops keywords appear where the operator put them (requests, commands).
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(4000)]


class SessionWriter:
    """Emits the records of one session the way Claude Code 2.1 writes them."""

    def __init__(
        self, rng: random.Random, vocab: list[str], sid: str, sidechain: bool = False, agent: str = ""
    ):
        self.rng, self.vocab, self.sid = rng, vocab, sid
        self.lines: list[str] = []
        self.last: str | None = None
        self.n = 0
        self.ops = True
        self.extra: dict[str, Any] = {"isSidechain": sidechain}
        if agent:
            self.extra["agentId"] = agent

    def words(self, lo: int, hi: int) -> str:
        return " ".join(self.rng.choices(self.vocab, k=self.rng.randint(lo, hi)))

    def rec(self, kind: str, parent: str | None, **fields: Any) -> str:
        self.n += 1
        uid = f"{self.sid}-{self.extra.get('agentId', 'm')}-{self.n:05d}"
        row = {
            "parentUuid": parent,
            "userType": "external",
            "cwd": "/srv/ops",
            "sessionId": self.sid,
            "version": "2.1.39",
            "gitBranch": "main",
            "type": kind,
            "uuid": uid,
            "timestamp": f"2026-02-01T10:{(self.n // 60) % 60:02d}:{self.n % 60:02d}.{self.n % 1000:03d}Z",
            **self.extra,
            **fields,
        }
        self.lines.append(json.dumps(row))
        return uid

    def chain(self, kind: str, **fields: Any) -> str:
        self.last = self.rec(kind, self.last, **fields)
        return self.last

    def progress(self) -> None:
        self.chain("progress", data={"type": "hook_progress", "hookEvent": "PreToolUse"}, toolUseID="x")

    def user(self, text: str, **fields: Any) -> None:
        self.chain("user", message={"role": "user", "content": text}, **fields)

    def step(self, msg: str, calls: int, thinking: bool, text: bool) -> list[tuple[str, str]]:
        """One API response: one record per block; each call's result hangs off its own block."""
        blocks: list[dict[str, Any]] = []
        if thinking:
            blocks.append({"type": "thinking", "thinking": self.words(15, 40), "signature": "sig"})
        if text:
            blocks.append({"type": "text", "text": self.words(8, 30)})
        ids = []
        for _ in range(calls):
            tid = f"toolu_{self.sid[:8]}{self.rng.getrandbits(48):012x}"
            tool = self.rng.choice(TOOLS)
            verb = self.rng.choice(OPS) if self.ops else self.words(1, 1)
            args = {"command": f"{verb} {self.rng.choice(HOSTS)} {self.words(1, 6)}"}
            if tool != "Bash":
                args = {"file_path": f"/etc/{verb}/{self.words(1, 1)}.conf"}
            blocks.append({"type": "tool_use", "id": tid, "name": tool, "input": args})
            ids.append(tid)
        pieces = []
        for block in blocks:
            uid = self.chain(
                "assistant",
                requestId="req",
                message={
                    "model": "claude-opus-4-6",
                    "id": msg,
                    "type": "message",
                    "role": "assistant",
                    "content": [block],
                    "stop_reason": None,
                    "usage": {"output_tokens": 10},
                },
            )
            pieces.append(uid)
        call_pieces = pieces[len(pieces) - calls :] if calls else []
        return list(zip(ids, call_pieces, strict=True))

    def results(self, calls: list[tuple[str, str]], error_rate: float) -> None:
        for tid, piece in calls:
            self.progress()
            long = self.rng.random() < 0.15
            body = self.words(400, 1200) if long else self.words(15, 120)
            self.last = self.rec(
                "user",
                piece,
                message={
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": tid,
                            "type": "tool_result",
                            "content": body,
                            "is_error": self.rng.random() < error_rate,
                        }
                    ],
                },
                toolUseResult={"stdout": body[:50]},
            )

    def exchange(self, request: str, steps: int, ops: bool, error_rate: float) -> list[tuple[str, str]]:
        self.ops = ops
        self.user(request)
        task_calls: list[tuple[str, str]] = []
        for s in range(steps):
            msg = f"msg_{self.rng.getrandbits(64):016x}"
            calls = self.step(
                msg, self.rng.choice((1, 1, 2, 3)), ops and self.rng.random() < 0.3, self.rng.random() < 0.6
            )
            self.results(calls, error_rate)
            if s == 0:
                task_calls = calls
        self.step(f"msg_{self.rng.getrandbits(64):016x}", 0, False, True)
        return task_calls


def write_session(root: Path, rng: random.Random, vocab: list[str], i: int) -> None:
    sid = f"{rng.getrandbits(32):08x}-{i:04d}-4000-8000-{rng.getrandbits(48):012x}"
    project = root / f"-srv-project-{i % 7}"
    project.mkdir(parents=True, exist_ok=True)
    w = SessionWriter(rng, vocab, sid)
    w.lines.append(json.dumps({"type": "file-history-snapshot", "messageId": "x", "snapshot": {}}))
    w.chain("progress", data={"type": "hook_progress", "hookEvent": "SessionStart"})
    quality = rng.random()  # ~half rich ops work, a third routine, the rest off-topic chatter
    ops = quality > 0.15
    keywords = 3 if quality > 0.5 else 1
    exchanges = rng.randint(2, 6) if ops else rng.randint(1, 2)
    for e in range(exchanges):
        topic = " ".join(rng.sample(OPS, keywords)) if ops else ""
        request = f"{w.words(8, 30)} {topic} on {rng.choice(HOSTS)}"
        w.exchange(request, rng.randint(1, 5) if ops else 1, quality > 0.5, 0.1 if quality > 0.5 else 0.4)
        if e == 1 and rng.random() < 0.2:  # auto-compaction
            boundary = w.rec(
                "system",
                None,
                subtype="compact_boundary",
                logicalParentUuid=w.last,
                content="Conversation compacted",
                compactMetadata={"trigger": "auto"},
            )
            w.last = boundary
            w.user(
                "This session is being continued from a previous conversation. " + w.words(60, 150),
                isCompactSummary=True,
                isVisibleInTranscriptOnly=True,
            )
    if ops and rng.random() < 0.3:  # a Task subagent
        agent = f"a{rng.getrandbits(24):06x}"
        prompt = f"Investigate {w.words(10, 25)} on {rng.choice(HOSTS)}"
        msg = f"msg_{rng.getrandbits(64):016x}"
        tid = f"toolu_task{rng.getrandbits(48):012x}"
        piece = w.chain(
            "assistant",
            message={
                "id": msg,
                "role": "assistant",
                "model": "claude-opus-4-6",
                "content": [
                    {
                        "type": "tool_use",
                        "id": tid,
                        "name": "Task",
                        "input": {"description": "investigate", "prompt": prompt, "subagent_type": "Explore"},
                    }
                ],
            },
        )
        report = w.words(40, 120)
        w.last = w.rec(
            "user",
            piece,
            message={
                "role": "user",
                "content": [
                    {"tool_use_id": tid, "type": "tool_result", "content": [{"type": "text", "text": report}]}
                ],
            },
            toolUseResult={"status": "completed", "agentId": agent},
        )
        w.step(f"msg_{rng.getrandbits(64):016x}", 0, False, True)
        sub = SessionWriter(rng, vocab, sid, sidechain=True, agent=agent)
        sub.exchange(prompt, rng.randint(2, 6), True, 0.05)
        folder = project / sid / "subagents"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"agent-{agent}.jsonl").write_text("\n".join(sub.lines) + "\n")
        if rng.random() < 0.3:
            (folder / f"agent-acompact-{agent[1:]}.jsonl").write_text("\n".join(sub.lines[:2]) + "\n")
    if rng.random() < 0.05:
        w.lines.insert(len(w.lines) // 2, "{not json")
    tail = "" if rng.random() < 0.03 else "\n"
    (project / f"{sid}.jsonl").write_text("\n".join(w.lines) + tail)


def write_skills(root: Path, rng: random.Random, vocab: list[str], count: int = 20) -> None:
    for i in range(count):
        folder = root / f"skill-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        sections = "\n\n".join(
            f"## {' '.join(rng.sample(OPS, 2))} step {k}\n\n"
            + " ".join(rng.choices(vocab, k=rng.randint(30, 90)))
            for k in range(rng.randint(2, 5))
        )
        desc = " ".join(rng.choices(vocab, k=20))
        (folder / "SKILL.md").write_text(
            f"---\nname: skill-{i}\ndescription: {desc}\n---\n# Skill {i}\n\n{sections}\n"
        )


def bench_pipeline(sessions: int, seed: int, keep: Path | None) -> dict[str, Any]:
    work = keep or Path(tempfile.mkdtemp(prefix="halops-data-bench-"))
    rng = random.Random(seed)
    vocab = _vocab(rng)
    src, skills_dir = work / "projects", work / "skills"
    t0 = time.perf_counter()
    for i in range(sessions):
        write_session(src, rng, vocab, i)
    write_skills(skills_dir, rng, vocab)
    generated = time.perf_counter() - t0
    settings = Settings(data_dir=work / "state", data=DataSettings(sources=[src], skills_dir=skills_dir))
    t0 = time.perf_counter()
    load_counter(None, work / "state" / "cache")  # one-time GGUF → tokenizer.json conversion
    tokenizer_s = time.perf_counter() - t0
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    results = pipeline.run_all(settings, force=True)
    total = time.perf_counter() - t0
    for r in results:
        stages[r.stage] = round(r.seconds, 2)
    report = json.loads((work / "state" / "data" / "final" / "data_report.json").read_text())
    files = list(src.rglob("*.jsonl"))
    return {
        "sessions": sessions,
        "files": len(files),
        "source_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1),
        "generate_s": round(generated, 1),
        "tokenizer_conversion_s": round(tokenizer_s, 1),
        "pipeline_s": round(total, 2),
        "stages_s": stages,
        "curated": report["stages"]["curate"]["examples"],
        "final": report["final"]["examples"],
        "duplicates_removed": report["validate"]["dedup"]["removed"],
        "tiers": report["stages"]["qualify"]["session"]["tiers"],
        "work_dir": str(work),
    }


def synthetic_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    vocab = _vocab(rng)
    docs: list[str] = []
    for i in range(n):
        if i % 10 == 9:
            words = docs[rng.randrange(len(docs))].split()
            words[rng.randrange(len(words))] = "changed"
            docs.append(" ".join(words))
        else:
            docs.append(" ".join(rng.choices(vocab, k=rng.randint(150, 400))))
    return docs


def bench_dedup(n: int, seed: int, compare: bool) -> dict[str, Any]:
    texts = synthetic_texts(n, seed)
    out: dict[str, Any] = {"texts": n, "words": sum(t.count(" ") + 1 for t in texts)}
    t0 = time.perf_counter()
    flat, offsets = dedup.shingle_hashes(texts, 3)
    out["halops_shingling_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    result = dedup.deduplicate(texts, threshold=0.85, num_perm=128, bands=16, seed=seed, shingle_words=3)
    out["halops_rensa_s"] = round(time.perf_counter() - t0, 2)
    out["halops_removed"] = len(result.duplicate_of)
    if compare:
        out.update(_compare(texts, seed))
    return out


def _compare(texts: list[str], seed: int) -> dict[str, Any]:
    """datasketch and rensa's own API on the same Python-made shingles (the libraries' usual path)."""
    from datasketch import MinHash, MinHashLSH
    from rensa import RMinHash

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    shingles = []
    for t in texts:
        w = t.lower().split()
        shingles.append([" ".join(w[i : i + 3]).encode() for i in range(max(1, len(w) - 2))])
    out["python_shingling_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    hashes = MinHash.bulk(shingles, num_perm=128, seed=seed)
    lsh = MinHashLSH(threshold=0.85, num_perm=128)
    removed = 0
    for i, mh in enumerate(hashes):
        if any(mh.jaccard(hashes[j]) > 0.85 for j in lsh.query(mh)):
            removed += 1
            continue
        lsh.insert(i, mh)
    out["datasketch_bulk_lsh_s"] = round(time.perf_counter() - t0, 2)
    out["datasketch_removed"] = removed
    t0 = time.perf_counter()
    matrix = RMinHash.digest_matrix_from_token_sets(shingles, 128, seed)
    import numpy as np

    sig = np.asarray(matrix.to_rows(), dtype=np.uint32)
    res = dedup.deduplicate_signatures(sig, threshold=0.85, bands=16)
    out["rensa_on_python_shingles_s"] = round(time.perf_counter() - t0, 2)
    out["rensa_on_python_shingles_removed"] = len(res.duplicate_of)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--dedup-n", type=int, default=100_000)
    ap.add_argument("--compare", action="store_true", help="also time datasketch (slow) on the dedup texts")
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--skip-dedup", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = ap.parse_args()
    out: dict[str, Any] = {}
    if not args.skip_pipeline:
        out["pipeline"] = bench_pipeline(args.sessions, args.seed, args.keep)
        print(json.dumps({"pipeline": out["pipeline"]}, indent=2), flush=True)
    if not args.skip_dedup:
        out["dedup"] = bench_dedup(args.dedup_n, args.seed, args.compare)
        print(json.dumps({"dedup": out["dedup"]}, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
