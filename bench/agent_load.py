"""Load on the agent daemon: N concurrent clients for a while against a scripted model.

Each turn is real: the agent calls the scripted model, which asks for `shell uptime`; safety checks
it, the shell executor runs it, the result goes back, the model answers. So per-turn overhead is
everything the agent does (HTTP, prompt, parsing, policy, process spawn, scrubbing, SQLite) minus
the time spent waiting on the model server, as recorded in the transcript store.

    .venv/bin/python bench/agent_load.py [--clients 32] [--seconds 120]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.transcripts.store import TranscriptStore  # noqa: E402
from tests.support.procs import free_port, halops_argv, stop, wait_for  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(int(len(values) * p), len(values) - 1)] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()

    llm_port, port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as data:
        env = dict(
            os.environ,
            HALOPS_DATA_DIR=data,
            HALOPS_CONFIG=str(Path(data) / "halops.toml"),
            HALOPS_AGENT__PORT=str(port),
            HALOPS_AGENT__RAG_K="0",
            HALOPS_LLM__BASE_URL=f"http://127.0.0.1:{llm_port}/v1",
        )
        Path(env["HALOPS_CONFIG"]).touch()
        model = subprocess.Popen(
            [sys.executable, "-m", "tests.support.scripted_llm", "--port", str(llm_port)],
            stdout=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parent.parent,
        )
        agent = subprocess.Popen(halops_argv("agent", "serve"), env=env, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            if not wait_for(lambda: _ok(f"{url}/health"), 60, 0.2):
                print("agent did not become healthy", file=sys.stderr)
                return 1
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            stop_at = time.monotonic() + args.seconds

            def client(i: int) -> None:
                with httpx.Client(base_url=url, timeout=60) as http:
                    n = 0
                    while time.monotonic() < stop_at:
                        body = {
                            "messages": [{"role": "user", "content": f"client {i} question {n}: uptime?"}]
                        }
                        started = time.perf_counter()
                        try:
                            r = http.post("/v1/chat/completions", json=body)
                            ok = r.status_code == 200
                            detail = r.text[:200]
                        except httpx.HTTPError as exc:
                            ok, detail = False, repr(exc)
                        elapsed = time.perf_counter() - started
                        with lock:
                            (latencies.append(elapsed) if ok else errors.append(detail))
                        n += 1

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - t0
        finally:
            stop(agent)
            stop(model)

        store = TranscriptStore(Path(data) / "transcripts.sqlite", scrub=str)
        turns = list(store.iter_turns())
        overhead = [t["duration_ms"] - t["model_ms"] for t in turns]
        tool_ms = [c["duration_ms"] for t in turns for c in t["tool_calls"] if c["duration_ms"] is not None]
        own = [
            t["duration_ms"] - t["model_ms"] - sum(c["duration_ms"] or 0 for c in t["tool_calls"])
            for t in turns
        ]
        store.close()

    print(
        f"{args.clients} clients, {wall:.0f} s: {len(latencies)} ok, {len(errors)} errors, "
        f"{len(latencies) / wall:.1f} turns/s"
    )
    print(f"latency p50 {pct(latencies, 0.5) * 1000:.0f} ms, p95 {pct(latencies, 0.95) * 1000:.0f} ms")
    print(f"turns in the transcript store: {len(turns)} (requests ok: {len(latencies)})")
    print(
        f"agent overhead per turn (all but model time): p50 {statistics.median(overhead):.1f} ms, "
        f"p95 {pct(overhead, 0.95):.1f} ms; the shell tool call alone p50 {statistics.median(tool_ms):.1f} ms"
    )
    print(
        f"agent's own work per turn (all but model and tool time): p50 {statistics.median(own):.1f} ms, "
        f"p95 {pct(own, 0.95):.1f} ms"
    )
    if errors:
        print("first error:", errors[0])
    return 0 if not errors and len(turns) == len(latencies) else 1


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
