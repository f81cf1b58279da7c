"""The agent loop. Synchronous: one request is one thread; concurrency comes from the HTTP server.

retrieve → system prompt (+ tools, + runbook excerpts) → model → parse <tool_call> blocks →
run each call (safety decides, executors act, output scrubbed) → <tool_response> back → repeat,
at most `max_iterations` rounds; the last round offers no tools, so the model must answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.config import AgentSettings
from agent.transcripts.store import TranscriptStore
from halops.calls import ToolCall
from halops.errors import HalopsError
from halops.llm.client import ChatResult, LLMClient
from halops.outcome import ToolOutcome
from halops.parser import STOP, parse_reply
from halops.prompt import (
    ContextChunk,
    RenderedResult,
    final_round,
    fit_context,
    system_prompt,
    tool_response_message,
)

Message = dict[str, Any]

REPEATED = (
    "this exact call already ran in this request and was not run again; its result is above. "
    "Answer from the results you have."
)


class DeadlineExceededError(HalopsError):
    """The request ran past agent.request_timeout_s."""


@dataclass(frozen=True)
class CallContext:
    """Where a call comes from: for audit lines and for linking approvals to their conversation."""

    request_id: str
    conversation_id: str
    turn_id: str


class ToolRunner(Protocol):
    def run(self, call: ToolCall, *, context: CallContext, timeout_s: float) -> ToolOutcome: ...


class Retriever(Protocol):
    def retrieve(self, query: str, k: int | None = None) -> Sequence[ContextChunk]: ...


@dataclass
class Step:
    iteration: int
    tool: str
    arguments: dict[str, Any]
    status: str
    verdict: str | None
    rule: str | None
    approval_id: str | None = None
    # What an operator reviewing the call needs (the console's tool cards); scrubbed like the answer.
    exit_code: int | None = None
    reason: str | None = None
    stdout: str = ""
    stderr: str = ""
    duration_ms: float | None = None


@dataclass
class AgentAnswer:
    turn_id: str
    conversation_id: str
    content: str
    iterations: int
    steps: list[Step] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_ms: float = 0.0
    sources: list[str] = field(default_factory=list)
    finish_reason: str = "stop"  # "length": the answer was cut at the client's max_tokens


Observer = Callable[[str, dict[str, Any]], None]
# Told of each tool call as soon as it has run (turn id, step): lets a stream show it live.
StepListener = Callable[[str, Step], None]


class AgentLoop:
    def __init__(
        self,
        *,
        llm: LLMClient,
        tools: ToolRunner,
        store: TranscriptStore,
        settings: AgentSettings,
        tool_schemas: list[dict[str, Any]],
        scrub: Callable[[str], str],
        retriever: Retriever | None = None,
        observe: Observer | None = None,
        grammar: str | None = None,
    ):
        self.llm = llm
        self.tools = tools
        self.store = store
        self.settings = settings
        self.tool_schemas = tool_schemas
        self.scrub = scrub
        self.retriever = retriever
        self.observe = observe or (lambda event, data: None)
        # GBNF for tool rounds (halops.grammar): every call the model writes parses and validates.
        self.grammar = grammar

    def _context(self, conversation: list[Message]) -> list[ContextChunk]:
        if self.retriever is None or self.settings.rag_k == 0:
            return []
        query = next((m["content"] for m in reversed(conversation) if m["role"] == "user"), "")
        try:
            return list(self.retriever.retrieve(query, self.settings.rag_k))
        except HalopsError as exc:
            # Retrieval is an aid: an answer without runbooks beats no answer.
            self.observe("rag_error", {"error": str(exc)})
            return []

    def run(
        self,
        messages: list[Message],
        *,
        conversation_id: str,
        request_id: str,
        client: str | None = None,
        max_tokens: int | None = None,
        on_step: StepListener | None = None,
    ) -> AgentAnswer:
        """`max_tokens` caps the answer returned (the client's); tool rounds keep llm.max_tokens."""
        deadline = time.monotonic() + self.settings.request_timeout_s
        turn_id = self.store.start_turn(
            conversation_id=conversation_id, request_id=request_id, messages=messages, client=client
        )
        answer = AgentAnswer(turn_id=turn_id, conversation_id=conversation_id, content="", iterations=0)
        client_system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
        conversation = [m for m in messages if m["role"] != "system"]
        approved = self.store.take_approval_results(conversation_id, turn_id)
        if approved:  # calls an operator decided since the last turn: shown before the new question
            results = [
                RenderedResult(r["name"], {**r["payload"], "approval_id": r["approval_id"]}) for r in approved
            ]
            conversation[-1:-1] = [tool_response_message(results)]
        context_ids = CallContext(request_id=request_id, conversation_id=conversation_id, turn_id=turn_id)
        context = self._context(conversation)
        answer.sources = sorted({c.source for c in context})
        scratch: list[Message] = []
        ran: set[str] = set()  # calls already run in this request (tool + arguments)
        answer_next = False
        # One system prompt for every round: the final round adds its note at the end instead of
        # dropping the tool block, so the model server's cached prefix survives to the answer.
        system = system_prompt(
            self.settings.instructions,
            tools=self.tool_schemas,
            context=context,
            client_system=client_system,
            context_chars=self.settings.rag_excerpt_chars,
        )
        try:
            for iteration in range(self.settings.max_iterations):
                final = answer_next or iteration == self.settings.max_iterations - 1
                prompt = fit_context(
                    [{"role": "system", "content": system}, *conversation, *scratch],
                    self.settings.max_prompt_chars,
                )
                if final:
                    prompt = final_round(prompt)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DeadlineExceededError(
                        f"request took longer than {self.settings.request_timeout_s:.0f}s"
                    )
                # The last round can only answer: give it the client's cap directly.
                cap = max_tokens if final and max_tokens is not None else None
                result = self.llm.chat(
                    prompt,
                    stop=STOP,
                    timeout_s=remaining,
                    max_tokens=cap,
                    grammar=None if final else self.grammar,
                )
                answer.iterations = iteration + 1
                answer.prompt_tokens += result.prompt_tokens or 0
                answer.completion_tokens += result.completion_tokens or 0
                answer.model_ms += result.elapsed_s * 1000
                self.store.add_step(
                    turn_id,
                    iteration,
                    result.content,
                    prompt_tokens=result.prompt_tokens,
                    completion_tokens=result.completion_tokens,
                    model_ms=result.elapsed_s * 1000,
                )
                self.observe("model", {"ms": result.elapsed_s * 1000, "tokens": result.completion_tokens})
                parsed = parse_reply(result.content)
                if final or not parsed.has_calls:
                    text, answer.finish_reason = _capped(parsed.text, result, max_tokens)
                    # The answer leaves the daemon: the model may repeat a secret it was shown.
                    answer.content = self.scrub(text) or (
                        "I could not finish within my tool budget; the steps so far are in the transcript."
                        if parsed.has_calls
                        else "(the model gave no answer)"
                    )
                    break
                scratch.append({"role": "assistant", "content": result.content})
                rendered, fresh = self._run_calls(
                    context_ids, iteration, parsed, deadline, answer, ran, on_step
                )
                scratch.append(tool_response_message(rendered))
                # A round that only repeats earlier calls (typically a denied one, retried) would
                # loop to the round limit: the next round answers from what is there, no tools.
                answer_next = not fresh
        except BaseException as exc:
            self.store.finish_turn(
                turn_id,
                status="error",
                answer=None,
                error=f"{type(exc).__name__}: {exc}",
                system_prompt=system,
                iterations=answer.iterations,
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                model_ms=answer.model_ms,
            )
            raise
        self.store.finish_turn(
            turn_id,
            status="ok",
            answer=answer.content,
            system_prompt=system,
            iterations=answer.iterations,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            model_ms=answer.model_ms,
        )
        return answer

    def _run_calls(
        self, ctx, iteration, parsed, deadline, answer, ran: set[str], on_step=None
    ) -> tuple[list[RenderedResult], int]:
        """Run a round's calls; also returns how many were new (not run before in this request)."""
        turn_id = ctx.turn_id
        limit = self.settings.max_tool_result_chars
        rendered: list[RenderedResult] = []
        seq = fresh = 0
        for call in parsed.calls:
            remaining = max(deadline - time.monotonic(), 0.0)
            key = call.tool + json.dumps(call.arguments, sort_keys=True)
            if key in ran:
                outcome = ToolOutcome(status="error", reason=REPEATED)
            elif remaining <= 0:
                outcome = ToolOutcome(status="timeout", reason="the request deadline passed before this call")
            else:
                outcome = self.tools.run(call, context=ctx, timeout_s=remaining)
            if key not in ran:
                ran.add(key)
                fresh += 1
            payload = outcome.for_model(limit)
            self._record(turn_id, iteration, seq, call.tool, call.arguments, outcome, payload, answer)
            if on_step is not None:
                on_step(turn_id, answer.steps[-1])
            rendered.append(RenderedResult(name=call.tool, payload=payload))
            seq += 1
        for err in parsed.errors:
            outcome = ToolOutcome(
                status="error",
                reason=f"tool call #{err.index + 1} was not run: {err.message}. Write "
                '<tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>.',
            )
            payload = outcome.for_model(limit)
            self._record(turn_id, iteration, seq, "(malformed)", {"raw": err.raw}, outcome, payload, answer)
            rendered.append(RenderedResult(name="(malformed)", payload=payload))
            seq += 1
            fresh += 1  # a malformed call is a new attempt: the model gets a round to fix it
        return rendered, fresh

    def _record(self, turn_id, iteration, seq, tool, arguments, outcome, payload, answer) -> None:
        self.store.add_tool_call(
            turn_id,
            iteration=iteration,
            seq=seq,
            tool=tool,
            arguments=arguments,
            verdict=outcome.verdict,
            rule=outcome.rule,
            reason=outcome.reason,
            status=outcome.status,
            exit_code=outcome.exit_code,
            result=payload,
            duration_ms=outcome.duration_ms,
            approval_id=outcome.approval_id,
        )
        answer.steps.append(
            Step(
                iteration,
                tool,
                arguments,
                outcome.status,
                outcome.verdict,
                outcome.rule,
                outcome.approval_id,
                exit_code=outcome.exit_code,
                reason=self.scrub(outcome.reason) if outcome.reason else None,
                # What the model was shown (clipped), scrubbed once more: it leaves the daemon.
                stdout=self.scrub(payload.get("stdout", "")),
                stderr=self.scrub(payload.get("stderr", "")),
                duration_ms=outcome.duration_ms,
            )
        )
        self.observe("tool", {"tool": tool, "verdict": outcome.verdict or "none", "status": outcome.status})


def _capped(text: str, result: ChatResult, max_tokens: int | None) -> tuple[str, str]:
    """The answer within the client's `max_tokens`, and its finish reason.

    A round that could still call tools ran with the tool-round cap, so its answer may be longer
    than the client asked for: it is cut in proportion to the tokens the model server counted (no
    tokenizer here), at a word boundary, and reported as "length", as OpenAI's API does.
    """
    used = result.completion_tokens or 0
    if max_tokens is not None and used > max_tokens and text:
        keep = len(text) * max_tokens // used
        cut = text[:keep]
        if " " in cut.strip():
            cut = cut[: cut.rstrip().rfind(" ")]
        return cut.rstrip(), "length"
    return text, "length" if result.finish_reason == "length" else "stop"
