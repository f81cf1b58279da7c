"""Embedded model server vs llama_cpp.Llama in-process: time to first token and tokens/s.

Same GGUF, same prompts, same sampling (greedy), same thread count, runs interleaved one at a time
so neither path competes with the other for the 2 cores. Tokens are counted as streamed chunks on
both paths (llama-cpp-python emits one chunk per generated token).

    .venv/bin/python bench/llm_bench.py [--model PATH] [--reps 3] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from llama_cpp import Llama

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from halops.llm.models import bundled_model  # noqa: E402
from tests.support.procs import free_port, halops_argv, stop, wait_for  # noqa: E402

PROMPTS = [
    "How do I check which process is using the most memory on a Linux server?",
    "Explain what the output of `df -h` tells me about my disks.",
    "A systemd service keeps restarting. What should I look at first?",
    "What is IPMI and what can I do with ipmitool?",
    "How can I see the temperature of my GPU?",
]


def measure(stream) -> tuple[float, int, float]:
    """(time to first token, tokens, total seconds) for a stream of content chunks."""
    started = time.perf_counter()
    first = None
    tokens = 0
    for _chunk in stream:
        if first is None:
            first = time.perf_counter() - started
        tokens += 1
    return first or 0.0, tokens, time.perf_counter() - started


def local_stream(llm: Llama, prompt: str, max_tokens: int):
    for chunk in llm.create_chat_completion(
        [{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0, stream=True
    ):
        if chunk["choices"][0]["delta"].get("content"):
            yield 1


def server_stream(client: httpx.Client, prompt: str, max_tokens: int):
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    with client.stream("POST", "/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                if json.loads(line[5:])["choices"][0]["delta"].get("content"):
                    yield 1


def local_whole(llm: Llama, prompt: str, max_tokens: int) -> tuple[int, float]:
    started = time.perf_counter()
    out = llm.create_chat_completion(
        [{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0
    )
    return out["usage"]["completion_tokens"], time.perf_counter() - started


def server_whole(client: httpx.Client, prompt: str, max_tokens: int) -> tuple[int, float]:
    started = time.perf_counter()
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0}
    out = client.post("/chat/completions", json=body).json()
    return out["usage"]["completion_tokens"], time.perf_counter() - started


def whole_tps(runs: list[tuple[int, float]]) -> float:
    return sum(r[0] for r in runs) / sum(r[1] for r in runs)


def summarize(runs: list[tuple[float, int, float]]) -> dict[str, float]:
    ttft = [r[0] * 1000 for r in runs]
    # Decode rate excludes the first token (prompt processing), as llama.cpp reports it.
    tps = [(r[1] - 1) / (r[2] - r[0]) for r in runs if r[1] > 1 and r[2] > r[0]]
    return {
        "ttft_ms_p50": statistics.median(ttft),
        "tokens_per_s_p50": statistics.median(tps),
        "tokens": sum(r[1] for r in runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: bundled SmolLM2)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    model = args.model or bundled_model()

    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, HALOPS_DATA_DIR=data, HALOPS_SERVER__N_THREADS=str(args.threads))
        env["HALOPS_SERVER__N_CTX"] = "2048"
        server = subprocess.Popen(
            halops_argv("llm", "serve", "--port", str(port), "--model", str(model)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}/v1", timeout=120)
        try:
            up = wait_for(lambda: _ok(client), 120, 0.2)
            if not up:
                print("model server did not start", file=sys.stderr)
                return 1
            llm = Llama(model_path=str(model), n_ctx=2048, n_threads=args.threads, verbose=False)
            # Warm both paths (page cache, first-call allocations) before timing anything.
            measure(local_stream(llm, PROMPTS[0], 8))
            measure(server_stream(client, PROMPTS[0], 8))
            local, served, local_w, served_w = [], [], [], []
            for _ in range(args.reps):
                for prompt in PROMPTS:
                    local.append(measure(local_stream(llm, prompt, args.max_tokens)))
                    served.append(measure(server_stream(client, prompt, args.max_tokens)))
                    local_w.append(local_whole(llm, prompt, args.max_tokens))
                    served_w.append(server_whole(client, prompt, args.max_tokens))
        finally:
            client.close()
            stop(server)

    a, b = summarize(local), summarize(served)
    print(f"model: {model.name}, threads {args.threads}, {len(local)} completions per path")
    print(f"{'path':<12}{'TTFT p50 ms':>14}{'tokens/s p50':>16}{'tokens':>10}")
    for name, s in (("in-process", a), ("server", b)):
        print(f"{name:<12}{s['ttft_ms_p50']:>14.1f}{s['tokens_per_s_p50']:>16.1f}{s['tokens']:>10.0f}")
    cost = (1 - b["tokens_per_s_p50"] / a["tokens_per_s_p50"]) * 100
    ttft_cost = b["ttft_ms_p50"] - a["ttft_ms_p50"]
    print(f"streamed: server cost {cost:+.1f}% tokens/s, {ttft_cost:+.1f} ms TTFT")
    wa, wb = whole_tps(local_w), whole_tps(served_w)
    print(f"{'whole':<12}{'in-process':>14}{'server':>16}")
    print(f"{'tokens/s':<12}{wa:>14.1f}{wb:>16.1f}")
    print(
        f"whole completions (the agent loop's path): server cost {(1 - wb / wa) * 100:+.1f}% "
        "end-to-end tokens/s (goal: <= 10%)"
    )
    return 0


def _ok(client: httpx.Client) -> bool:
    try:
        return client.get("/models").status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
