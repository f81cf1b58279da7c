"""The real embedded server on the bundled SmolLM2 model, through our client and CLI."""

from __future__ import annotations

import subprocess

import httpx
import openai
import pytest
from llama_cpp import Llama

from halops.llm.client import LLMClient
from halops.llm.models import bundled_model
from tests.support.procs import free_port, halops_argv

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def test_chat_completion_returns_model_text(model_server):
    with LLMClient(model_server.llm_settings(max_tokens=32, temperature=0)) as client:
        result = client.chat(QUESTION)
        assert "paris" in result.content.lower()
        assert result.completion_tokens and result.completion_tokens <= 32
        assert client.list_models() == ["halops-local"]


def test_streaming_gives_the_same_text_as_non_streaming(model_server):
    with LLMClient(model_server.llm_settings(max_tokens=24, temperature=0)) as client:
        streamed = "".join(client.stream_chat(QUESTION))
        whole = client.chat(QUESTION).content
    assert streamed.strip() == whole.strip() and streamed.strip()


def test_chat_template_comes_from_the_gguf(model_server):
    # SmolLM2's own template is ChatML; the server must render with it, not a generic fallback.
    llama = Llama(model_path=str(bundled_model()), vocab_only=True, verbose=False)
    assert "<|im_start|>" in llama.metadata["tokenizer.chat_template"]
    assert "Using gguf chat template" in model_server.log.read_text()


def test_cli_chat_prints_the_answer(model_server):
    out = subprocess.run(
        halops_argv("llm", "chat", "--url", model_server.url, "--max-tokens", "16", "Say hello."),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_cli_chat_unreachable_server_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    out = subprocess.run(
        halops_argv("llm", "chat", "--url", url, "hello"), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1
    assert f"model server not reachable at {url}" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_serve_with_missing_model_fails_cleanly(tmp_path):
    out = subprocess.run(
        halops_argv("llm", "serve", "--model", str(tmp_path / "none.gguf")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2  # a missing file named on the command line is a usage error
    assert "no such file or directory" in out.stderr and "Traceback" not in out.stderr


def test_serve_dry_run_uses_current_gguf_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HALOPS_SERVER__N_CTX", "2048")
    out = subprocess.run(
        halops_argv("llm", "serve", "--dry-run", "--port", "9999"), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "agent.model_server" in out.stdout and "--port 9999" in out.stdout
    assert "--n_ctx 2048" in out.stdout and "models/current.gguf" in out.stdout


def test_serve_with_llama_server_binary_builds_its_command_line(tmp_path, monkeypatch):
    binary = tmp_path / "llama-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("HALOPS_SERVER__LLAMA_SERVER_BINARY", str(binary))
    out = subprocess.run(halops_argv("llm", "serve", "--dry-run"), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(binary)) and "--jinja" in out.stdout and "--port 8081" in out.stdout


def test_embedded_server_refuses_a_rebinding_host(model_server):
    base = model_server.url
    evil = f"attacker.example:{model_server.port}"
    r = httpx.get(f"{base}/models", headers={"Host": evil})
    assert r.status_code == 403 and r.json()["error"]["code"] == "host_not_allowed"
    body = {"messages": QUESTION, "max_tokens": 4}
    r = httpx.post(f"{base}/chat/completions", json=body, headers={"Host": evil}, timeout=60)
    assert r.status_code == 403
    r = httpx.post(
        f"{base}/chat/completions", json=body, headers={"Origin": "http://attacker.example"}, timeout=60
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    # Loopback clients, by address or by name, and the openai client are unaffected.
    localhost = base.replace("127.0.0.1", "localhost")
    assert httpx.get(f"{localhost}/models").status_code == 200
    client = openai.OpenAI(base_url=base, api_key="unused")
    assert [m.id for m in client.models.list().data] == ["halops-local"]
