"""The agent's OpenAI-compatible API: shapes, streaming, errors, auth, feedback, metrics, export."""

from __future__ import annotations

import io
import json
import socket

import httpx
import openai
import pytest

from agent.daemon import Daemon
from agent.transcripts.export import export
from agent.transcripts.store import TranscriptStore
from halops.errors import ConfigError
from halops.outcome import ToolOutcome
from tests.support.daemon import agent_settings, serve_daemon
from tests.support.procs import free_port
from tests.support.scripted_llm import ScriptedModel, call

pytestmark = pytest.mark.integration
SCRIPT = [call("ssh", host="web1", command="uptime"), "web1 has been up 3 days; load is low."]


class Runner:
    def run(self, call, *, context, timeout_s):
        return ToolOutcome(status="ok", verdict="allow", rule="allow.uptime", exit_code=0, stdout="up 3 days")


def daemon_for(tmp_path, url, **agent):
    return Daemon(
        agent_settings(tmp_path, url, **agent), tools=Runner(), scrub=lambda s: s.replace("s3cret", "[X]")
    )


@pytest.fixture
def api(tmp_path):
    with ScriptedModel(SCRIPT) as model, serve_daemon(daemon_for(tmp_path, model.url)) as base:
        yield base, model


def test_openai_client_gets_the_answer_and_the_steps(api):
    base, _ = api
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused")
    resp = client.chat.completions.create(
        model="halops", messages=[{"role": "user", "content": "uptime of web1?"}]
    )
    assert resp.choices[0].message.content == SCRIPT[1]
    assert resp.model == "halops" and resp.id.startswith("turn-")
    steps = resp.model_extra["halops"]["steps"]
    assert steps == [
        {
            "iteration": 0,
            "tool": "ssh",
            "arguments": {"host": "web1", "command": "uptime"},
            "status": "ok",
            "verdict": "allow",
            "rule": "allow.uptime",
            "exit_code": 0,
            "reason": None,
            "stdout": "up 3 days",
            "stderr": "",
            "duration_ms": None,
        }
    ]
    assert [m.id for m in client.models.list().data] == ["halops"]


def test_streaming_with_the_openai_client(api):
    base, _ = api
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused")
    chunks = list(
        client.chat.completions.create(
            model="halops", messages=[{"role": "user", "content": "uptime?"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == SCRIPT[1]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices for c in chunks)  # no step chunks unless asked for


def test_live_steps_stream_before_the_answer_and_openai_clients_skip_them(api):
    base, _ = api
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused")
    chunks = list(
        client.chat.completions.create(
            model="halops",
            messages=[{"role": "user", "content": "uptime?"}],
            stream=True,
            extra_body={"halops": {"stream_steps": True}},
        )
    )
    (live,) = [c for c in chunks if not c.choices]
    step = live.model_extra["halops"]["step"]
    assert step["tool"] == "ssh" and step["exit_code"] == 0 and step["stdout"] == "up 3 days"
    assert live.id == chunks[-1].id  # the turn id, as on every chunk
    assert chunks.index(live) == 0
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == SCRIPT[1]


@pytest.mark.parametrize(
    "body, code",
    [
        (b"{not json", 400),
        (b'{"messages": []}', 400),
        (b'{"messages": [{"role": "assistant", "content": "hi"}]}', 400),
        (b'{"messages": [{"role": "wizard", "content": "hi"}]}', 400),
        (b"[1, 2]", 400),
    ],
)
def test_bad_requests_get_openai_shaped_4xx(api, body, code):
    base, model = api
    r = httpx.post(f"{base}/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == code
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert model.requests == []  # nothing reached the model


def test_body_size_limit(tmp_path):
    with (
        ScriptedModel(SCRIPT) as model,
        serve_daemon(daemon_for(tmp_path, model.url, max_body_bytes=2048)) as base,
    ):
        big = {"messages": [{"role": "user", "content": "x" * 5000}]}
        r = httpx.post(f"{base}/v1/chat/completions", json=big)
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

        def chunked():
            yield json.dumps(big).encode()

        r = httpx.post(
            f"{base}/v1/chat/completions", content=chunked(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


def test_model_down_gives_503_fast_then_recovers_without_restart(tmp_path):
    port = free_port()
    daemon = daemon_for(tmp_path, f"http://127.0.0.1:{port}/v1")
    with serve_daemon(daemon) as base:
        r = httpx.post(
            f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, timeout=10
        )
        assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable"
        assert httpx.get(f"{base}/health").status_code == 503
        with ScriptedModel(["back again"], port=port):
            r = httpx.post(
                f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
            )
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "back again"
            assert httpx.get(f"{base}/health").json() == {"status": "ok", "model_server": "up"}


def test_stream_error_is_an_sse_error_event(tmp_path):
    with serve_daemon(daemon_for(tmp_path, f"http://127.0.0.1:{free_port()}/v1")) as base:
        body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
        r = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=10)
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[0])["error"]["code"] == "model_unavailable" and events[-1] == "[DONE]"


def test_feedback_is_recorded_and_unknown_ids_are_404(api):
    base, _ = api
    r = httpx.post(f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": "uptime?"}]})
    turn_id = r.json()["id"]
    ok = httpx.post(f"{base}/v1/feedback", json={"id": turn_id, "rating": "up", "comment": "great"})
    assert ok.status_code == 200 and ok.json()["score"] == 1
    missing = httpx.post(f"{base}/v1/feedback", json={"id": "turn-nope", "rating": "down"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = httpx.post(f"{base}/v1/feedback", json={"id": turn_id, "rating": "meh"})
    assert bad.status_code == 400


def test_metrics_count_requests_and_tool_calls(api):
    base, _ = api
    httpx.post(f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": "uptime?"}]})
    text = httpx.get(f"{base}/metrics").text
    assert 'halops_tool_calls_total{status="ok",tool="ssh",verdict="allow"} 1.0' in text
    assert 'halops_requests_total{code="200",endpoint="/v1/chat/completions"} 1.0' in text
    assert "halops_request_seconds_bucket" in text and "halops_model_tokens_total" in text


def test_bearer_token_is_enforced(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("a-long-enough-token-value\n")
    with (
        ScriptedModel(SCRIPT) as model,
        serve_daemon(daemon_for(tmp_path, model.url, token_file=token_file)) as base,
    ):
        body = {"messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{base}/v1/chat/completions", json=body).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.post(f"{base}/v1/chat/completions", json=body, headers=wrong).status_code == 401
        good = {"Authorization": "Bearer a-long-enough-token-value"}
        assert httpx.post(f"{base}/v1/chat/completions", json=body, headers=good).status_code == 200
        assert httpx.get(f"{base}/health").status_code == 200  # probes need no token


LONG = " ".join(f"word{i}" for i in range(200))  # ~1,500 characters: ~370 tokens at 4 a token


def test_client_max_tokens_caps_the_answer_not_the_tool_rounds(tmp_path):
    script = [call("ssh", host="web1", command="uptime"), LONG]
    with ScriptedModel(script) as model, serve_daemon(daemon_for(tmp_path, model.url)) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused")
        messages = [{"role": "user", "content": "uptime of web1?"}]
        resp = client.chat.completions.create(model="halops", messages=messages, max_tokens=20)
        choice = resp.choices[0]
        assert choice.finish_reason == "length"
        assert LONG.startswith(choice.message.content) and 0 < len(choice.message.content) <= 20 * 4
        assert [r.get("max_tokens") for r in model.requests] == [512, 512]  # tool rounds: llm.max_tokens
        chunks = list(
            client.chat.completions.create(model="halops", messages=messages, max_tokens=20, stream=True)
        )
        assert chunks[-1].choices[0].finish_reason == "length"
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == choice.message.content
        # A cap the answer fits in changes nothing.
        resp = client.chat.completions.create(model="halops", messages=messages, max_completion_tokens=1000)
        assert resp.choices[0].finish_reason == "stop" and resp.choices[0].message.content == LONG


def test_the_last_round_asks_the_model_for_the_clients_cap(tmp_path):
    with (
        ScriptedModel([LONG]) as model,
        serve_daemon(daemon_for(tmp_path, model.url, max_iterations=1)) as base,
    ):
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 7}
        r = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=30).json()
        assert model.requests[0]["max_tokens"] == 7
        assert (
            r["choices"][0]["finish_reason"] == "length" and len(r["choices"][0]["message"]["content"]) <= 28
        )
        bad = httpx.post(f"{base}/v1/chat/completions", json={**body, "max_tokens": 0}, timeout=30)
        assert bad.status_code == 400


def _raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_rebinding_host_gets_403_everywhere(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("a-long-enough-token-value\n")
    for extra in ({}, {"token_file": token_file}):
        with (
            ScriptedModel(SCRIPT) as model,
            serve_daemon(daemon_for(tmp_path, model.url, allowed_hosts=["ops.example"], **extra)) as base,
        ):
            port = base.rsplit(":", 1)[1]
            evil = {"Host": f"attacker.example:{port}", "Authorization": "Bearer a-long-enough-token-value"}
            body = {"messages": [{"role": "user", "content": "uptime?"}]}
            for method, path in [
                ("POST", "/v1/chat/completions"),
                ("GET", "/v1/approvals"),
                ("GET", "/v1/models"),
                ("GET", "/health"),
                ("GET", "/metrics"),
                ("POST", "/v1/feedback"),
            ]:
                r = httpx.request(method, f"{base}{path}", json=body, headers=evil)
                assert r.status_code == 403, path
                assert r.json()["error"]["code"] == "host_not_allowed"
            assert model.requests == []  # nothing reached the model
            # No Host at all (HTTP/1.0), or an empty one: refused too.
            assert _raw(base, b"GET /v1/models HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 403")
            assert _raw(base, b"GET /v1/models HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n").startswith(
                b"HTTP/1.1 403"
            )
            # The configured name and every loopback spelling still work.
            auth = {"Authorization": "Bearer a-long-enough-token-value"}
            for host in (f"ops.example:{port}", f"localhost:{port}", f"127.0.0.1:{port}"):
                assert httpx.get(f"{base}/v1/models", headers={**auth, "Host": host}).status_code == 200


def test_foreign_origin_post_gets_403_but_same_origin_works(api):
    base, model = api
    body = {"messages": [{"role": "user", "content": "uptime?"}]}
    r = httpx.post(f"{base}/v1/chat/completions", json=body, headers={"Origin": "http://attacker.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    r = httpx.post(f"{base}/v1/approvals/anything", json={"decision": "approve"}, headers={"Origin": "null"})
    assert r.status_code == 403
    assert model.requests == []
    r = httpx.post(f"{base}/v1/chat/completions", json=body, headers={"Origin": base})
    assert r.status_code == 200


def test_non_loopback_bind_without_token_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="token_file"):
        daemon_for(tmp_path, "http://127.0.0.1:1/v1", host="0.0.0.0")


def test_export_transcripts_in_chatml_with_tools(api, tmp_path):
    base, _ = api
    r = httpx.post(
        f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": "uptime? s3cret"}]}
    )
    assert r.status_code == 200, r.text

    store = TranscriptStore(tmp_path / "data" / "transcripts.sqlite", scrub=str)
    out = io.StringIO()
    assert export(store, out, scrub=str) == 1
    (example,) = [json.loads(line) for line in out.getvalue().splitlines()]
    roles = [m["role"] for m in example["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert "<tools>" in example["messages"][0]["content"]
    assert example["messages"][1]["content"] == "uptime? [X]"
    assert "<tool_call>" in example["messages"][2]["content"]
    assert json.loads(example["messages"][3]["content"])["stdout"] == "up 3 days"
    assert example["messages"][4]["content"] == SCRIPT[1]
    assert example["source"] == "halops-agent" and example["metadata"]["tools"] == ["ssh"]
