"""RAG benchmark: ingest rate, re-ingest cost and query latency over a synthetic 10,000-chunk corpus.

    .venv/bin/python bench/rag_bench.py                      # onnx-int8, 10,000 chunks
    .venv/bin/python bench/rag_bench.py --backend sentence-transformers --chunks 1000

The corpus is made of runbook sentences (from rag/runbooks) recombined with a fixed seed, each
section sized to one ~200-token chunk, and tagged with host names and numbers so that no two chunks
are equal. Figures measured (issue 5 targets in brackets):

- ingest: chunks per second for the whole pipeline (read, chunk, embed, write to Chroma) [>= 40]
- re-ingest of the unchanged corpus, as a share of the first ingest's time [<= 5 %]
- query latency of `Retriever.retrieve(q, 5)`, embedding included, over the store [p50 <= 15 ms,
  p95 <= 40 ms], split into its embedding and Chroma parts
- recall@1 / recall@5 / MRR of the labelled set with the same backend (own in-memory index)

Run it alone on the machine (e.g. under `flock /tmp/halops-cpu.lock`): on 2 shared cores another
CPU-bound process halves every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.chunking import count_tokens  # noqa: E402
from rag.config import RagSettings  # noqa: E402
from rag.embedder import make_embedder  # noqa: E402
from rag.evaluate import default_evalset, evaluate, load_evalset  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.retriever import Retriever, bundled_runbooks  # noqa: E402
from rag.store import ChunkStore  # noqa: E402

SECTIONS_PER_FILE = 20


class CpuWatch:
    """CPU used by other processes while a phase ran, in cores (from /proc/stat minus our own).

    On a shared 2-core box this is what makes a figure trustworthy or not: 0.0 means we had the
    machine, 1.0 means someone else used a whole core meanwhile.
    """

    def __enter__(self) -> CpuWatch:
        self.t0, self.busy0, self.own0 = time.monotonic(), _busy_s(), _own_s()
        return self

    def __exit__(self, *exc) -> None:
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        own = _own_s() - self.own0
        self.other_cores = round(max(0.0, (_busy_s() - self.busy0 - own) / elapsed), 2)
        self.own_cpu_s = own


def _busy_s() -> float:
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_s() -> float:
    t = os.times()
    return t.user + t.system


def runbook_sentences() -> list[str]:
    """Prose sentences of the shipped runbooks (code blocks and headings left out)."""
    out: list[str] = []
    for f in sorted(bundled_runbooks().glob("*.md")):
        in_code = False
        for line in f.read_text().splitlines():
            if line.startswith("```"):
                in_code = not in_code
                continue
            if in_code or line.startswith("#") or not line.strip():
                continue
            out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", line.strip("- ")) if len(s) > 20)
    return out


def make_corpus(root: Path, chunks: int, target_tokens: int, seed: int = 7) -> None:
    """`chunks` sections of ~target_tokens each, SECTIONS_PER_FILE per Markdown file."""
    rng = random.Random(seed)
    sentences = runbook_sentences()
    root.mkdir(parents=True, exist_ok=True)
    n_files = (chunks + SECTIONS_PER_FILE - 1) // SECTIONS_PER_FILE
    made = 0
    for i in range(n_files):
        parts = [f"# Host group {i}\n"]
        for j in range(min(SECTIONS_PER_FILE, chunks - made)):
            heading = f"## Incident {i}-{j} on node{rng.randrange(10_000):04d}"
            body = [f"Ticket {rng.randrange(10**6)} in rack {rng.randrange(100)}."]
            # Fill to just under the limit, so that each section is exactly one ~200-token chunk.
            for _ in range(200):
                candidate = rng.choice(sentences)
                size = count_tokens(heading + " ".join([*body, candidate]))
                if size <= target_tokens - 4:
                    body.append(candidate)
                if size >= target_tokens - 12:
                    break
            parts.append(heading + "\n" + " ".join(body) + "\n")
            made += 1
        (root / f"group{i:04d}.md").write_text("\n".join(parts))


def real_token_stats(store: ChunkStore, model: str) -> dict:
    from tokenizers import Tokenizer

    from rag.embedder import resolve_model

    tok = Tokenizer.from_file(str(resolve_model(model).path / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    # All chunks: the store holds them in embedding order (shortest first), so a prefix is biased.
    got = store.collection(create=False).get(include=["documents", "metadatas"])
    texts = [f"{m['heading']}\n\n{d}" for d, m in zip(got["documents"], got["metadatas"], strict=True)]
    counts = [len(e.ids) for e in tok.encode_batch(texts)]
    return {"mean": round(statistics.mean(counts)), "min": min(counts), "max": max(counts)}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(
    backend: str, chunks: int, queries: int, work: Path, threads: int | None, onnx_cache: Path | None
) -> dict:
    settings = RagSettings(backend=backend, chunk_tokens=200, chunk_overlap=30, embed_threads=threads)
    data = work / "data"
    corpus = work / "corpus"
    result: dict = {"backend": backend, "chunks_target": chunks}
    if onnx_cache is not None:  # reuse an earlier export instead of timing a new one
        onnx_cache.mkdir(parents=True, exist_ok=True)
        (data / "rag").mkdir(parents=True, exist_ok=True)
        (data / "rag" / "onnx").symlink_to(onnx_cache.resolve(), target_is_directory=True)

    t0 = time.monotonic()
    embedder = make_embedder(settings, data)
    embedder.embed(["warm-up"])
    result["model_load_s"] = round(time.monotonic() - t0, 2)  # includes the ONNX export if any

    make_corpus(corpus, chunks, settings.chunk_tokens)
    store = ChunkStore.open(settings, data, embedder.embedding_id, embedder.dim)
    with CpuWatch() as watch:
        first = ingest([corpus], store, embedder, settings)
    result["ingest"] = {
        "chunks": first.chunks_embedded,
        "seconds": round(first.seconds, 1),
        "chunks_per_s": round(first.chunks_per_second, 1),
        "embedding_share": round(first.embed_seconds / first.seconds, 3),
        "other_processes_cores": watch.other_cores,
        # Contention-resistant view: chunks per second of our own CPU time, times the cores.
        "chunks_per_own_cpu_s_x_cores": round(
            first.chunks_embedded / watch.own_cpu_s * (os.cpu_count() or 1), 1
        ),
    }
    result["chunk_tokens_real"] = real_token_stats(store, settings.embedding_model)

    again = ingest([corpus], store, embedder, settings)
    assert again.chunks_embedded == 0, "unchanged corpus re-embedded"
    result["reingest_unchanged"] = {
        "seconds": round(again.seconds, 2),
        "share_of_first": round(again.seconds / first.seconds, 4),
    }

    # 1 % of the files edited: only their changed sections are embedded again.
    edited = sorted(corpus.glob("*.md"))[:: max(1, 100)]
    for f in edited:
        f.write_text(f.read_text().replace("Ticket ", "Ticket #", 1))
    partial = ingest([corpus], store, embedder, settings)
    result["reingest_1pct_files_edited"] = {
        "files": len(edited),
        "chunks_embedded": partial.chunks_embedded,
        "seconds": round(partial.seconds, 2),
    }

    evalset = load_evalset(default_evalset())
    texts = [q.text for q in evalset.questions] + evalset.negatives
    texts = (texts * (queries // len(texts) + 1))[:queries]
    retriever = Retriever(settings, data, embedder=embedder, store=store)
    for q in texts[:10]:
        retriever.retrieve(q, 5)  # warm caches (HNSW pages, ORT buffers)
    total, embed_ms, chroma_ms = [], [], []
    watch = CpuWatch().__enter__()
    for q in texts:
        # The full call first, so it does not profit from the split measurement's warm caches.
        t0 = time.perf_counter()
        retriever.retrieve(q, 5)
        t1 = time.perf_counter()
        vector = embedder.embed([q])[0]
        t2 = time.perf_counter()
        store.query(vector, 5)
        t3 = time.perf_counter()
        total.append((t1 - t0) * 1000)
        embed_ms.append((t2 - t1) * 1000)
        chroma_ms.append((t3 - t2) * 1000)
    watch.__exit__()
    result["query"] = {
        "other_processes_cores": watch.other_cores,
        "store_chunks": store.count(),
        "n": len(total),
        "p50_ms": round(percentile(total, 50), 2),
        "p95_ms": round(percentile(total, 95), 2),
        "p99_ms": round(percentile(total, 99), 2),
        "embed_p50_ms": round(percentile(embed_ms, 50), 2),
        "chroma_p50_ms": round(percentile(chroma_ms, 50), 2),
    }

    mem = ChunkStore.open(settings, data, embedder.embedding_id, embedder.dim, ephemeral=True)
    try:
        ingest([bundled_runbooks()], mem, embedder, settings)
        quality = evaluate(Retriever(settings, data, embedder=embedder, store=mem).retrieve, evalset, k=5)
    finally:
        mem.drop()
    result["recall"] = {
        "questions": quality.n,
        "recall@1": round(quality.recall_at_1, 3),
        "recall@5": round(quality.recall_at_k, 3),
        "mrr": round(quality.mrr, 3),
        "off_topic_rejected": f"{quality.negatives_rejected}/{quality.negatives}",
    }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", action="append", choices=["onnx-int8", "onnx", "sentence-transformers"])
    parser.add_argument("--chunks", type=int, default=10_000, help="corpus size in chunks")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=None, help="embedding threads (default: all)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--onnx-cache", type=Path, help="reuse ONNX exports kept in this directory")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "load_before": os.getloadavg(),
        "runs": [],
    }
    for backend in args.backend or ["onnx-int8"]:
        work = args.keep / backend if args.keep else Path(tempfile.mkdtemp(prefix="rag-bench-"))
        if work.exists() and args.keep:
            shutil.rmtree(work)
        try:
            print(f"[{backend}] {args.chunks} chunks ...", file=sys.stderr, flush=True)
            results["runs"].append(
                run(backend, args.chunks, args.queries, work, args.threads, args.onnx_cache)
            )
            print(json.dumps(results["runs"][-1], indent=2), flush=True)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
