"""Latency of a one-tool agent turn with RAG on a real model, with the old and the new prompt layout.

A model server on GGUF (default: `<data_dir>/models/current.gguf`, e.g. the bootstrap model) and the
agent daemon in-process with retrieval over the shipped runbooks. Each question is new (a cache
miss for its own words), asks about this machine and is answered with one shell call. `--layout
old` rebuilds the prompt as before issue 12 (runbook excerpts before the tool block, the final
round without it), so both layouts run the same model, questions and retrieval.

    .venv/bin/python bench/agent_turn.py --layout new [--model GGUF] [--turns 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.cli.settings import Settings, load_settings  # noqa: E402
from agent.loop import runner as runner_mod  # noqa: E402
from halops import prompt as prompt_mod  # noqa: E402
from tests.support.daemon import serve_daemon  # noqa: E402
from tests.support.procs import free_port, halops_argv, stop, wait_for  # noqa: E402

QUESTIONS = [
    "How much disk space is left on this machine?",
    "What's the load average here?",
    "How much RAM is free on this box?",
    "Which kernel is this host running?",
    "Are we out of inodes on this machine?",
    "Which ports are listening locally?",
    "Is the root filesystem here close to full?",
    "How long has this machine been up?",
    "Is swap in use on this server?",
    "What's the memory pressure on the halops host?",
    "Show me filesystem usage on this box.",
    "Check the load on the local machine.",
]


def old_layout() -> None:
    """Before issue 12: excerpts before the tools; the last round drops the tool block."""

    def system_prompt(instructions, *, tools, context=(), client_system=None, context_chars=0):
        parts = [instructions.strip()]
        if client_system:
            parts.append("# Additional instructions from the client\n\n" + client_system.strip())
        if context:
            lines = [prompt_mod.CONTEXT_HEADER]
            for i, chunk in enumerate(context, 1):
                lines.append(f"\n[{i}] {chunk.source} › {chunk.heading}\n{chunk.text.strip()}")
            parts.append("\n".join(lines))
        if tools:
            parts.append(
                prompt_mod.TOOLS_HEADER
                + "\n".join(prompt_mod.signature(t) for t in tools)
                + prompt_mod.TOOLS_FOOTER
            )
        return "\n\n".join(parts)

    runner_mod.system_prompt = system_prompt


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(int(round((len(values) - 1) * p)), len(values) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=["old", "new"], default="new")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--turns", type=int, default=12)
    args = parser.parse_args()
    base = load_settings()
    model = args.model or base.models_dir / "current.gguf"
    if args.layout == "old":
        old_layout()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HALOPS_DATA_DIR=base.data_dir.as_posix())
        log = Path(tmp) / "server.log"
        server = subprocess.Popen(
            halops_argv("llm", "serve", "--port", str(port), "--model", str(model)),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}/v1"
            assert wait_for(lambda: _up(url), 180)
            from agent.wiring import build_daemon

            settings = Settings(
                data_dir=base.data_dir,
                llm={"base_url": url, "temperature": 0, "max_tokens": 256},
                agent={"max_iterations": 3, "grammar": args.layout == "new"},
            )
            times, tools = [], []
            with serve_daemon(build_daemon(settings)) as agent:
                # Warm-up: the static prefix is evaluated once per server start.
                httpx.post(
                    f"{agent}/v1/chat/completions",
                    json={"messages": [{"role": "user", "content": "hi"}]},
                    timeout=600,
                )
                for q in QUESTIONS[: args.turns]:
                    t = time.perf_counter()
                    r = httpx.post(
                        f"{agent}/v1/chat/completions",
                        json={"messages": [{"role": "user", "content": q}]},
                        timeout=600,
                    ).json()
                    times.append(time.perf_counter() - t)
                    tools.append(len(r["halops"]["steps"]))
        finally:
            stop(server)
    print(
        f"layout={args.layout} model={model.name} turns={len(times)} "
        f"tool calls/turn={statistics.mean(tools):.2f} "
        f"p50={pct(times, 0.5):.2f}s p95={pct(times, 0.95):.2f}s mean={statistics.mean(times):.2f}s"
    )
    return 0


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
