"""One turn end to end: the real bundled SmolLM2 behind the real agent daemon, real executors."""

from __future__ import annotations

import openai
import pytest

from agent.cli.settings import Settings
from agent.wiring import build_daemon
from tests.support.daemon import serve_daemon

pytestmark = pytest.mark.model


def test_real_model_answers_through_the_agent(model_server, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        llm={"base_url": model_server.url, "max_tokens": 96, "temperature": 0},
        agent={"max_iterations": 3, "rag_k": 0},
    )
    with serve_daemon(build_daemon(settings)) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", timeout=120)
        resp = client.chat.completions.create(
            model="halops", messages=[{"role": "user", "content": "What does the command uptime show?"}]
        )
    answer = resp.choices[0].message.content
    assert answer and answer.strip()
    assert "<tool_call>" not in answer  # calls never leak into the answer
    ext = resp.model_extra["halops"]
    assert 1 <= ext["iterations"] <= 3
    assert resp.usage.completion_tokens > 0
