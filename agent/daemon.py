"""The agent daemon's object graph, built once from Settings: model client, tool runner,
retriever, transcript store, approvals, metrics. The HTTP layer (agent/server/app.py) calls it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from agent.config import ServiceSettings
from agent.loop.runner import AgentAnswer, AgentLoop, Retriever, StepListener, ToolRunner
from agent.server.metrics import Metrics
from agent.server.schemas import ChatRequest
from agent.transcripts.store import TranscriptStore
from halops.calls import tool_schemas
from halops.errors import ConfigError, HalopsError
from halops.grammar import tool_grammar
from halops.llm.client import LLMClient, probe

log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class ApprovalError(HalopsError):
    """An approval id that is unknown, expired or already decided."""


class Approvals(Protocol):
    def pending(self) -> list[dict[str, Any]]: ...

    def decide(self, approval_id: str, *, approve: bool, comment: str | None) -> dict[str, Any]: ...


def read_token(settings: ServiceSettings, env: dict[str, str] | None = None) -> str | None:
    """The bearer token, from agent.token_file ($CREDENTIALS_DIRECTORY first for a bare name)."""
    env = dict(os.environ) if env is None else env
    agent = settings.agent
    if agent.token_file is None:
        if agent.host not in LOOPBACK:
            raise ConfigError(
                f"agent.host is {agent.host}: a non-loopback bind needs agent.token_file",
                [("agent.token_file", "required when agent.host is not loopback")],
            )
        return None
    path = agent.token_file
    creds = env.get("CREDENTIALS_DIRECTORY")
    if not path.is_absolute() and creds:
        path = Path(creds) / path
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the agent token {path}", [("agent.token_file", str(exc))]) from None
    if len(token) < 16:
        raise ConfigError("agent token too short", [("agent.token_file", "use at least 16 characters")])
    return token


def conversation_key(request: ChatRequest) -> str:
    """A stable id for a conversation from clients that resend the whole history each time."""
    if request.conversation_id:
        return request.conversation_id
    msgs = request.plain_messages()
    first_user = next(m["content"] for m in msgs if m["role"] == "user")
    system = [m["content"] for m in msgs if m["role"] == "system"]
    digest = hashlib.sha256(json.dumps([request.user, system, first_user]).encode()).hexdigest()
    return "conv-" + digest[:24]


class Daemon:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        tools: ToolRunner,
        scrub: Callable[[str], str],
        retriever: Retriever | None = None,
        approvals: Approvals | None = None,
        store: TranscriptStore | None = None,
        token: str | None | Literal["from-settings"] = "from-settings",
        on_close: list[Callable[[], None]] | None = None,
    ):
        self.settings = settings
        self.token = read_token(settings) if token == "from-settings" else token
        self.metrics = Metrics()
        self.scrub = scrub
        self.store = store or TranscriptStore(settings.transcripts_db, scrub=scrub)
        self._on_close = on_close or []
        self.llm = LLMClient(settings.llm)
        self.approvals = approvals
        schemas = tool_schemas()
        self.loop = AgentLoop(
            llm=self.llm,
            tools=tools,
            store=self.store,
            settings=settings.agent,
            tool_schemas=schemas,
            scrub=scrub,
            retriever=retriever,
            observe=self.metrics.observe,
            grammar=tool_grammar(schemas) if settings.agent.grammar else None,
        )

    def chat(
        self,
        request: ChatRequest,
        *,
        request_id: str,
        client: str | None = None,
        on_step: StepListener | None = None,
    ) -> AgentAnswer:
        return self.loop.run(
            request.plain_messages(),
            conversation_id=conversation_key(request),
            request_id=request_id,
            client=client,
            max_tokens=request.answer_cap,
            on_step=on_step,
        )

    def model_ready(self) -> bool:
        return probe(self.settings.llm)

    def pending_approvals(self) -> list[dict[str, Any]]:
        return self.approvals.pending() if self.approvals else []

    def decide_approval(self, approval_id: str, *, approve: bool, comment: str | None) -> dict[str, Any]:
        if self.approvals is None:
            raise ApprovalError(f"no approval {approval_id}: approvals are not enabled")
        return self.approvals.decide(approval_id, approve=approve, comment=comment)

    def feedback(self, turn_id: str, score: int, comment: str | None) -> None:
        self.store.add_feedback(turn_id, score, comment)

    def add_close_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` when the daemon closes (the control plane stops its training children)."""
        self._on_close.append(hook)

    def close(self) -> None:
        for hook in self._on_close:
            hook()
        self.llm.close()
        self.store.close()
