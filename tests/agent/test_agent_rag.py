"""Retrieval in the loop: the shipped runbooks, really embedded into a real Chroma store, reach the
system prompt with their sources; an unrelated question gets no excerpts.
"""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest

from agent.cli.settings import Settings
from agent.wiring import build_daemon
from tests.support.daemon import serve_daemon
from tests.support.procs import halops_argv
from tests.support.scripted_llm import ScriptedModel

pytestmark = pytest.mark.integration


def test_runbook_excerpts_reach_the_prompt_with_sources(tmp_path):
    data = tmp_path / "data"
    env = dict(os.environ, HALOPS_DATA_DIR=str(data))
    ingest = subprocess.run(
        halops_argv("rag", "ingest"), env=env, capture_output=True, text=True, timeout=300
    )
    assert ingest.returncode == 0, ingest.stderr
    settings = Settings(data_dir=data, llm={"base_url": "http://127.0.0.1:1/v1"}, agent={"rag_k": 3})
    with ScriptedModel(["Use smartctl."]) as model:
        settings = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"base_url": model.url})}
        )
        with serve_daemon(build_daemon(settings)) as base:
            q = "A disk shows reallocated sectors in SMART. Should I replace it?"
            body = httpx.post(
                f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": q}]}
            )
            off = {"messages": [{"role": "user", "content": "Write a haiku about autumn leaves."}]}
            httpx.post(f"{base}/v1/chat/completions", json=off, timeout=60)
    assert body.status_code == 200
    assert "disks.md" in " ".join(body.json()["halops"]["sources"])
    system = model.requests[0]["messages"][0]["content"]
    assert "# Runbook excerpts" in system and "disks.md" in system
    assert "# Runbook excerpts" not in model.requests[1]["messages"][0]["content"]
