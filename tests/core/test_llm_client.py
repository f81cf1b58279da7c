"""The LLM client: retries only on connection errors, typed errors for everything else."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from halops.errors import LLMBadResponseError, LLMTimeoutError, LLMUnavailableError
from halops.llm.client import LLMClient, probe
from halops.llm.config import LlmSettings
from tests.support.procs import free_port

OK_BODY = {
    "model": "m",
    "choices": [{"message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1},
}


def client_with(handler, sleeps=None, **overrides) -> LLMClient:
    settings = LlmSettings(base_url="http://model.test/v1", **overrides)
    return LLMClient(
        settings,
        transport=httpx.MockTransport(handler),
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


@pytest.mark.unit
def test_chat_parses_an_openai_response_and_sends_defaults():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(
            json.loads(request.content), path=request.url.path, auth=request.headers.get("authorization")
        )
        return httpx.Response(200, json=OK_BODY)

    with client_with(handler, api_key="tok", max_tokens=33) as client:
        result = client.chat([{"role": "user", "content": "hi"}], stop=["</s>"])
    assert result.content == "hello" and result.finish_reason == "stop"
    assert (result.prompt_tokens, result.completion_tokens) == (5, 1)
    assert seen["path"] == "/v1/chat/completions"
    assert seen["max_tokens"] == 33 and seen["stop"] == ["</s>"] and seen["auth"] == "Bearer tok"


@pytest.mark.unit
def test_connection_errors_are_retried_with_doubling_backoff():
    calls, sleeps = [], []

    def handler(request):
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=OK_BODY)

    with client_with(handler, sleeps, max_retries=3, retry_backoff_s=0.5) as client:
        assert client.chat([{"role": "user", "content": "x"}]).content == "hello"
    assert len(calls) == 3 and sleeps == [0.5, 1.0]


@pytest.mark.unit
def test_gives_up_after_max_retries_with_unavailable():
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    with client_with(handler, max_retries=2) as client, pytest.raises(LLMUnavailableError) as info:
        client.chat([{"role": "user", "content": "x"}])
    assert len(calls) == 3
    assert "model server not reachable at http://model.test/v1" in str(info.value)


@pytest.mark.unit
@pytest.mark.parametrize(
    "exc, expected",
    [(httpx.ReadTimeout, LLMTimeoutError), (httpx.RemoteProtocolError, LLMUnavailableError)],
)
def test_errors_after_the_request_was_sent_are_not_retried(exc, expected):
    calls = []

    def handler(request):
        calls.append(1)
        raise exc("boom", request=request)

    with client_with(handler, max_retries=5) as client, pytest.raises(expected):
        client.chat([{"role": "user", "content": "x"}])
    assert len(calls) == 1


@pytest.mark.unit
@pytest.mark.parametrize(
    "response, status",
    [
        (httpx.Response(500, text="kaboom"), 500),
        (httpx.Response(503, json={"error": "loading"}), 503),
        (httpx.Response(200, text="<html>not json"), 200),
        (httpx.Response(200, json={"choices": []}), 200),
        (httpx.Response(200, json=[1, 2]), 200),
        (httpx.Response(200, json={"choices": [{"message": {"content": 5}}]}), 200),
    ],
)
def test_bad_responses_raise_bad_response_once(response, status):
    calls = []

    def handler(request):
        calls.append(1)
        return response

    with client_with(handler) as client, pytest.raises(LLMBadResponseError) as info:
        client.chat([{"role": "user", "content": "x"}])
    assert info.value.status_code == status and len(calls) == 1


@pytest.mark.unit
def test_stream_yields_deltas_until_done():
    def sse(*events):
        return "".join(f"data: {e}\n\n" for e in events)

    chunks = [{"choices": [{"delta": {"content": c}}]} for c in ("Hel", "lo")]
    body = sse(
        json.dumps({"choices": [{"delta": {"role": "assistant"}}]}), *map(json.dumps, chunks), "[DONE]"
    )

    def handler(request):
        assert json.loads(request.content)["stream"] is True
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    with client_with(handler) as client:
        assert list(client.stream_chat([{"role": "user", "content": "x"}])) == ["Hel", "lo"]


@pytest.mark.unit
def test_malformed_stream_chunk_is_a_bad_response():
    def handler(request):
        return httpx.Response(200, text="data: {not json\n\n")

    with client_with(handler) as client, pytest.raises(LLMBadResponseError):
        list(client.stream_chat([{"role": "user", "content": "x"}]))


@pytest.mark.integration
def test_refused_port_is_unavailable_fast():
    port = free_port()  # nothing listens there
    settings = LlmSettings(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, retry_backoff_s=0.05)
    started = time.monotonic()
    with LLMClient(settings) as client, pytest.raises(LLMUnavailableError):
        client.chat([{"role": "user", "content": "x"}])
    assert time.monotonic() - started < 2
    assert probe(settings) is False


@pytest.mark.integration
def test_server_that_accepts_but_never_answers_times_out():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_hold():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    try:
        port = sock.getsockname()[1]
        settings = LlmSettings(base_url=f"http://127.0.0.1:{port}/v1", read_timeout_s=0.5)
        started = time.monotonic()
        with LLMClient(settings) as client, pytest.raises(LLMTimeoutError):
            client.chat([{"role": "user", "content": "x"}])
        assert time.monotonic() - started < 3
        assert len(accepted) == 1  # a timed-out request is not resent
    finally:
        stop.set()
        thread.join()
        sock.close()
