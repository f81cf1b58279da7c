"""The OpenAI-compatible HTTP API. Thin: validation, auth, error shapes and SSE live here; the work
is the daemon's. Endpoints are plain `def`: each request runs on a worker thread (the agent core is
synchronous), so a slow model call never blocks the event loop.
"""

from __future__ import annotations

import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.console.auth import ConsoleAuth
from agent.console.routes import mount_console
from agent.control import files_routes, jobs_routes, models_routes, status_routes
from agent.daemon import ApprovalError, Daemon
from agent.loop.runner import AgentAnswer, DeadlineExceededError, Step
from agent.server.errors import ApiError, error_body
from agent.server.schemas import ApprovalDecision, ChatRequest, Feedback
from agent.transcripts.store import UnknownTurnError
from halops.errors import (
    ConflictError,
    HalopsError,
    LLMBadResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
    NotFoundError,
)
from safety.httpguard import HostGuard

MODEL_NAME = "halops"
KEEPALIVE_S = 5.0


# Failure kind → (HTTP status, OpenAI error type, code). Kinds, never message text.
_ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (LLMUnavailableError, 503, "server_error", "model_unavailable"),
    (LLMTimeoutError, 504, "server_error", "model_timeout"),
    (DeadlineExceededError, 504, "server_error", "deadline_exceeded"),
    (LLMBadResponseError, 502, "server_error", "model_bad_response"),
    (UnknownTurnError, 404, "invalid_request_error", "not_found"),
    (ApprovalError, 404, "invalid_request_error", "approval_not_found"),
    (NotFoundError, 404, "invalid_request_error", "not_found"),
    (ConflictError, 409, "invalid_request_error", "conflict"),
]


def classify(exc: Exception) -> tuple[int, str, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.type, exc.code or "error"
    for kind, status, type_, code in _ERRORS:
        if isinstance(exc, kind):
            return status, type_, code
    return 500, "server_error", "internal_error"


def completion_body(answer: AgentAnswer) -> dict[str, Any]:
    return {
        "id": answer.turn_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_NAME,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.content},
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        },
        "halops": extension(answer),
    }


def extension(answer: AgentAnswer) -> dict[str, Any]:
    """The tool steps, outside `content` (which is only the answer)."""
    return {
        "conversation_id": answer.conversation_id,
        "iterations": answer.iterations,
        "sources": answer.sources,
        "steps": [step_body(s) for s in answer.steps],
    }


def step_body(s: Step) -> dict[str, Any]:
    """One tool call as clients see it: what ran, the policy's word on it, and what came back."""
    return {
        "iteration": s.iteration,
        "tool": s.tool,
        "arguments": s.arguments,
        "status": s.status,
        "verdict": s.verdict,
        "rule": s.rule,
        **({"approval_id": s.approval_id} if s.approval_id else {}),
        "exit_code": s.exit_code,
        "reason": s.reason,
        "stdout": s.stdout,
        "stderr": s.stderr,
        "duration_ms": s.duration_ms,
    }


def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def stream_answer(work: Any, metrics_error: Any, *, live_steps: bool = False) -> Iterator[str]:
    """Run `work(on_step)` on a thread; SSE keep-alives while it runs, then the answer as chunks.

    With `live_steps`, each tool call is sent as soon as it has run, as a chunk with no choices
    (the shape OpenAI uses for its usage chunk, so its clients skip it) and a `halops.step`.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue()

    def on_step(turn_id: str, step: Step) -> None:
        box.put(("step", (turn_id, step)))

    def target() -> None:
        try:
            box.put(("ok", work(on_step if live_steps else None)))
        except Exception as exc:  # noqa: BLE001 - every failure becomes an SSE error event
            box.put(("error", exc))

    threading.Thread(target=target, daemon=True, name="halops-stream").start()
    while True:
        try:
            kind, value = box.get(timeout=KEEPALIVE_S)
        except queue.Empty:
            yield ": keep-alive\n\n"  # SSE comment: keeps proxies and clients from timing out
            continue
        if kind != "step":
            break
        turn_id, step = value
        chunk = {"id": turn_id, "object": "chat.completion.chunk", "created": int(time.time())}
        yield _sse({**chunk, "model": MODEL_NAME, "choices": [], "halops": {"step": step_body(step)}})
    if kind == "error":
        status, type_, code = classify(value)
        metrics_error(code)
        yield _sse(error_body(str(value), type_, code))
        yield "data: [DONE]\n\n"
        return
    answer: AgentAnswer = value
    base = {
        "id": answer.turn_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL_NAME,
    }
    yield _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
    text = answer.content
    for start in range(0, len(text), 64):
        delta = {"content": text[start : start + 64]}
        yield _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    yield _sse(
        {
            **base,
            "choices": [{"index": 0, "delta": {}, "finish_reason": answer.finish_reason}],
            "halops": extension(answer),
        }
    )
    yield "data: [DONE]\n\n"


def create_app(daemon: Daemon) -> FastAPI:
    settings = daemon.settings.agent
    token = daemon.token
    console = ConsoleAuth(token)
    app = FastAPI(title="halops agent", docs_url=None, redoc_url=None, openapi_url=None)
    metrics = daemon.metrics

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        endpoint = (
            request.url.path
            if request.url.path in KNOWN_PATHS
            else ("/v1/approvals/{id}" if request.url.path.startswith("/v1/approvals/") else "other")
        )
        started = time.perf_counter()
        response = await _guarded(request, call_next)
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    async def _guarded(request: Request, call_next: Any) -> Response:
        # The console's session cookie stands in for the bearer token, and brings a CSRF check.
        refused = console.refuse(request)
        if refused is not None:
            status, code, message = refused
            return JSONResponse(error_body(message, "permission_error", code), status)
        if token is not None and not console.public(request) and not console.signed_in(request):
            supplied = request.headers.get("authorization", "")
            if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
                return JSONResponse(
                    error_body("missing or wrong bearer token", "authentication_error", "unauthorized"), 401
                )
        # Training files are datasets, far larger than any chat request: they get their own cap.
        limit = settings.max_upload_bytes if request.url.path == "/v1/files" else settings.max_body_bytes
        too_large = JSONResponse(
            error_body(f"request body over {limit} bytes", "invalid_request_error", "too_large"), 413
        )
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return too_large
        if length is None and request.method in {"POST", "PUT", "PATCH"}:
            body = await request.body()  # chunked upload: measure what actually came
            if len(body) > limit:
                return too_large
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        return JSONResponse(error_body(first["msg"], "invalid_request_error", "invalid_request", param), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail), "invalid_request_error", "http_error"), exc.status_code
        )

    # HalopsError is registered on its own so Starlette's ExceptionMiddleware answers it: a handler
    # for bare Exception runs in ServerErrorMiddleware, which re-raises after answering, logging a
    # traceback and resetting the client's keep-alive connection (the next request on it fails).
    @app.exception_handler(HalopsError)
    @app.exception_handler(Exception)
    async def _any(_: Request, exc: Exception) -> JSONResponse:
        status, type_, code = classify(exc)
        metrics.errors.labels(code).inc()
        message = (
            str(exc)
            if status < 500 or isinstance(exc, HalopsError)
            else "internal error (see the daemon log)"
        )
        return JSONResponse(error_body(message, type_, code), status)

    # Our own errors are answers, not crashes: handled here, Starlette does not log a traceback
    # for them (it does for whatever reaches the catch-all above).
    @app.exception_handler(HalopsError)
    async def _ours(request: Request, exc: HalopsError) -> JSONResponse:
        return await _any(request, exc)

    @app.post("/v1/chat/completions")
    def chat(body: ChatRequest, request: Request) -> Any:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex

        def work(on_step: Any = None) -> AgentAnswer:
            client = request.headers.get("user-agent")
            return daemon.chat(body, request_id=request_id, client=client, on_step=on_step)

        if body.stream:
            live = bool(body.halops and body.halops.stream_steps)
            return StreamingResponse(
                stream_answer(work, lambda code: metrics.errors.labels(code).inc(), live_steps=live),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return completion_body(work())

    app.include_router(models_routes.router(daemon.settings, MODEL_NAME))  # /v1/models, /v1/halops/models

    @app.get("/health")
    def health() -> JSONResponse:
        ready = daemon.model_ready()
        body = {"status": "ok" if ready else "unavailable", "model_server": "up" if ready else "down"}
        return JSONResponse(body, 200 if ready else 503)

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/approvals")
    def approvals() -> dict[str, Any]:
        return {"object": "list", "data": daemon.pending_approvals()}

    @app.post("/v1/approvals/{approval_id}")
    def decide(approval_id: str, body: ApprovalDecision) -> dict[str, Any]:
        return daemon.decide_approval(approval_id, approve=body.decision == "approve", comment=body.comment)

    @app.post("/v1/feedback")
    def feedback(body: Feedback) -> dict[str, Any]:
        daemon.feedback(body.id, body.score, body.comment)
        return {"id": body.id, "score": body.score, "recorded": True}

    app.include_router(files_routes.router(daemon))
    app.include_router(jobs_routes.router(daemon))
    app.include_router(status_routes.router(daemon))
    mount_console(app, console)

    # Added last, so outermost: a rebinding page is refused before auth or any handler sees it.
    app.add_middleware(HostGuard, allowed_hosts=bind_hosts(settings.host, settings.allowed_hosts))
    return app


def bind_hosts(host: str, allowed: list[str]) -> list[str]:
    """The configured names plus the address the server is bound to, unless that is a wildcard.

    An IP literal cannot be the result of DNS rebinding, so answering to the bind address itself
    is safe, and it is what clients off this host naturally use.
    """
    return [*allowed, host] if host not in ("", "0.0.0.0", "::") else list(allowed)


KNOWN_PATHS = {"/v1/chat/completions", "/v1/models", "/health", "/metrics", "/v1/approvals", "/v1/feedback"}
