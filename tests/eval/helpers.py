"""A small eval case set shared by the gate, real-model and retrain tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

# One tool case and one answer case: the gate tests' scripted models answer by prompt substring
# ("disk", "BMC"), so these two prompts must not share those words.
CASES = """
cases:
  - id: disk
    kind: tool
    category: tool-use
    prompt: Check disk usage on web1.
    tools: [ssh]
    args_contain: [web1, df]
  - id: bmc
    kind: answer
    category: knowledge
    prompt: What is a BMC?
    keywords: [baseboard]
"""
# A third case for the real model: one more knowledge question.
SMART_CASE = """
  - id: smart
    kind: answer
    category: knowledge
    prompt: Which command shows the SMART health of a drive? Answer in one sentence.
    keywords: [smartctl]
"""


@contextlib.contextmanager
def fake_halops_up(data_dir: Path, marker: Path) -> Iterator[subprocess.Popen[str]]:
    """A stand-in for a running `halops up`: registered in its pid file, it writes `marker` and
    exits 0 on SIGHUP (the reload a deploy or rollback asks for)."""
    from halops.pidfile import up_pid_path

    trap = (
        "import pathlib, signal, sys, time\n"
        f"mark = pathlib.Path({str(marker)!r})\n"
        "signal.signal(signal.SIGHUP, lambda *_: (mark.write_text('hup'), sys.exit(0)))\n"
        "print('ready', flush=True)\ntime.sleep(60)\n"
    )
    up = subprocess.Popen([sys.executable, "-c", trap], stdout=subprocess.PIPE, text=True)
    try:
        assert up.stdout is not None and up.stdout.readline().strip() == "ready"
        pid_path = up_pid_path(data_dir)
        pid_path.parent.mkdir(parents=True, exist_ok=True)
        pid_path.write_text(f"{up.pid}\n")
        yield up
    finally:
        up.kill()
        up.wait()
