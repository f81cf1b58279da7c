"""A small synchronous client for OpenAI-compatible chat servers.

Works against llama-cpp-python's server, llama.cpp's `llama-server`, vLLM and Ollama: it uses only
`/v1/models` and `/v1/chat/completions`, and renders nothing server-specific.

Retries cover connection failures only. A request that reached the server is never sent again: a
read timeout or an HTTP error may mean a long generation already ran, and repeating it would double
the cost (or the side effects of a tool-using turn).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from halops.errors import LLMBadResponseError, LLMTimeoutError, LLMUnavailableError
from halops.llm.config import LlmSettings

Message = dict[str, Any]

# Failures where the request provably never reached the server, so a retry is safe.
_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass
class ChatResult:
    content: str
    finish_reason: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    elapsed_s: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class LLMClient:
    def __init__(
        self,
        settings: LlmSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self._sleep = sleep
        headers = {}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=self._timeout(None),
            transport=transport,
        )

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _timeout(self, read_s: float | None) -> httpx.Timeout:
        read = self.settings.read_timeout_s if read_s is None else read_s
        return httpx.Timeout(read, connect=min(self.settings.connect_timeout_s, read))

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        delay = self.settings.retry_backoff_s
        for attempt in range(self.settings.max_retries + 1):
            try:
                response = self._http.send(request, stream=stream)
            except _RETRYABLE as exc:
                if attempt == self.settings.max_retries:
                    raise LLMUnavailableError(
                        f"model server not reachable at {self.base_url} ({type(exc).__name__})",
                        self.base_url,
                    ) from exc
                self._sleep(delay)
                delay *= 2
                continue
            except httpx.TimeoutException as exc:
                raise LLMTimeoutError(
                    f"model server at {self.base_url} did not answer in time", self.base_url
                ) from exc
            except httpx.TransportError as exc:
                # Reset or protocol error after the request went out: not safe to repeat.
                raise LLMUnavailableError(
                    f"model server at {self.base_url} dropped the connection ({type(exc).__name__})",
                    self.base_url,
                ) from exc
            if response.status_code >= 400:
                if stream:
                    response.read()
                    response.close()
                raise LLMBadResponseError(
                    f"model server at {self.base_url} answered HTTP {response.status_code}: "
                    f"{response.text[:300]}",
                    self.base_url,
                    response.status_code,
                )
            return response
        raise AssertionError("unreachable")

    def _payload(self, messages: list[Message], **options: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "max_tokens": options.pop("max_tokens", None) or self.settings.max_tokens,
            "temperature": self.settings.temperature
            if options.get("temperature") is None
            else options["temperature"],
        }
        options.pop("temperature", None)
        body.update({k: v for k, v in options.items() if v is not None})
        return body

    def chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
        timeout_s: float | None = None,
        grammar: str | None = None,
    ) -> ChatResult:
        """One non-streaming completion. `timeout_s` caps the whole request (a per-call deadline).

        `grammar` (GBNF) constrains sampling on servers built on llama.cpp; others ignore or refuse it.
        """
        body = self._payload(
            messages, max_tokens=max_tokens, temperature=temperature, stop=stop, grammar=grammar
        )
        request = self._http.build_request(
            "POST",
            "/chat/completions",
            json=body,
            extensions={"timeout": self._timeout(timeout_s).as_dict()},
        )
        started = time.monotonic()
        response = self._send(request)
        data = self._json(response)
        try:
            choice = data["choices"][0]
            content = choice["message"].get("content") or ""
            if not isinstance(content, str):
                raise TypeError("content is not a string")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMBadResponseError(
                f"model server at {self.base_url} sent a response without choices[0].message ({exc})",
                self.base_url,
                response.status_code,
            ) from exc
        usage = data.get("usage") or {}
        return ChatResult(
            content=content,
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            model=data.get("model"),
            elapsed_s=time.monotonic() - started,
            raw=data,
        )

    def stream_chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
        timeout_s: float | None = None,
    ) -> Iterator[str]:
        """Yield content deltas as the server streams them (Server-Sent Events)."""
        body = self._payload(messages, max_tokens=max_tokens, temperature=temperature, stop=stop, stream=True)
        request = self._http.build_request(
            "POST",
            "/chat/completions",
            json=body,
            extensions={"timeout": self._timeout(timeout_s).as_dict()},
        )
        response = self._send(request, stream=True)
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                try:
                    chunk = json.loads(payload)
                    delta = chunk["choices"][0].get("delta") or {}
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise LLMBadResponseError(
                        f"model server at {self.base_url} sent a malformed stream chunk",
                        self.base_url,
                    ) from exc
                if delta.get("content"):
                    yield delta["content"]
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(
                f"model server at {self.base_url} stalled mid-stream", self.base_url
            ) from exc
        except httpx.TransportError as exc:
            raise LLMUnavailableError(
                f"model server at {self.base_url} dropped the stream ({type(exc).__name__})",
                self.base_url,
            ) from exc
        finally:
            response.close()

    def list_models(self, timeout_s: float | None = None) -> list[str]:
        request = self._http.build_request(
            "GET", "/models", extensions={"timeout": self._timeout(timeout_s).as_dict()}
        )
        data = self._json(self._send(request))
        try:
            return [m["id"] for m in data["data"]]
        except (KeyError, TypeError) as exc:
            raise LLMBadResponseError(
                f"model server at {self.base_url} sent a malformed model list", self.base_url
            ) from exc

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError as exc:
            raise LLMBadResponseError(
                f"model server at {self.base_url} sent a body that is not JSON",
                self.base_url,
                response.status_code,
            ) from exc
        if not isinstance(data, dict):
            raise LLMBadResponseError(
                f"model server at {self.base_url} sent JSON that is not an object",
                self.base_url,
                response.status_code,
            )
        return data


def probe(settings: LlmSettings, timeout_s: float = 2.0) -> bool:
    """True when the server answers /v1/models now (one try, no retries): a health check."""
    quick = settings.model_copy(update={"max_retries": 0, "connect_timeout_s": timeout_s})
    try:
        with LLMClient(quick) as client:
            client.list_models(timeout_s=timeout_s)
        return True
    except (LLMUnavailableError, LLMTimeoutError, LLMBadResponseError):
        return False
