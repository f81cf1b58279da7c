"""Settings of the agent package, and the tree of the running service.

`AgentSettings` (`[agent]`) and `SupervisorSettings` (`[supervisor]`) are the agent's own sections.
`ServiceSettings` is the part of the settings tree the service reads: the model client and server,
the agent, the supervisor, safety, the executors and retrieval. The composition root
(`agent.cli.settings.Settings`) adds the offline sections (data pipeline, trainer, eval) to it; the
daemon's modules never see those, so importing them loads nothing of the trainer.

The plumbing (file, environment, precedence) is `halops.settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agent.executors.config import ExecutorSettings
from halops.llm.config import LlmSettings, ServerSettings
from halops.settings import RootSettings, Section
from rag.config import RagSettings
from safety.config import SafetySettings

__all__ = ["AgentSettings", "ServiceSettings", "SupervisorSettings"]


class SupervisorSettings(Section):
    """`halops up`: the foreground supervisor for trying halops without systemd."""

    restart_backoff_s: float = Field(
        1.0, gt=0, description="Delay before restarting a crashed child; doubles per crash."
    )
    restart_backoff_max_s: float = Field(30.0, gt=0, description="Upper bound on the restart delay.")
    stable_after_s: float = Field(
        60.0, gt=0, description="A child running this long is healthy again: its backoff resets."
    )
    stop_timeout_s: float = Field(
        15.0, gt=0, description="Seconds a child gets to exit after SIGTERM before SIGKILL."
    )


DEFAULT_INSTRUCTIONS = (
    "You are halops, an operations assistant for the operator's own servers. Use the tools to look "
    "before you answer; prefer read-only diagnostics. Never guess command output: run the command or "
    "say you did not. Commands that change state need the operator's approval; say so when a tool "
    "result asks for it. Answer concisely with the facts the tools showed and the next step."
)


class AgentSettings(Section):
    """The agent daemon (`halops agent serve`): HTTP API and the tool loop."""

    host: str = Field(
        "127.0.0.1",
        description="Bind address. Any non-loopback address requires agent.token_file.",
    )
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the OpenAI-compatible API.")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (or addresses) clients may use to reach the API besides loopback "
        "addresses and localhost; any other Host header gets 403 (DNS rebinding guard). Add the "
        "name clients use when binding off loopback.",
    )
    token_file: Path | None = Field(
        None,
        description="File holding the bearer token clients must send. A relative name is looked "
        "up in $CREDENTIALS_DIRECTORY (systemd LoadCredential=) first. Empty: no auth (loopback only).",
    )
    instructions: str = Field(
        DEFAULT_INSTRUCTIONS, description="Operator instructions opening the system prompt."
    )
    max_iterations: int = Field(
        10, ge=1, le=50, description="Model rounds per request; the last one offers no tools."
    )
    request_timeout_s: float = Field(
        300.0, gt=0, description="Deadline for a whole request (all rounds and tool calls)."
    )
    max_tool_result_chars: int = Field(
        4000, ge=200, description="Characters of one tool result shown to the model (head and tail kept)."
    )
    max_prompt_chars: int = Field(
        12000,
        ge=1000,
        description="Prompt budget in characters (about 4 per token): older tool results are "
        "shortened first so the context never overflows the model's window.",
    )
    rag_k: int = Field(2, ge=0, le=20, description="Runbook chunks retrieved per request (0: no RAG).")
    rag_excerpt_chars: int = Field(
        600,
        ge=0,
        description="Characters of each runbook excerpt put in the prompt (0: whole chunks). On CPU "
        "each prompt token costs every cold request about 6 ms.",
    )
    grammar: bool = Field(
        True,
        description="Constrain tool rounds with a grammar built from the tool schemas, so every "
        "call the model writes parses and validates. Needs a server that accepts a GBNF `grammar` "
        "field (llama-cpp-python's and llama.cpp's llama-server do; vLLM and Ollama do not).",
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest accepted request body; larger gets HTTP 413."
    )
    max_upload_bytes: int = Field(
        200_000_000,
        ge=1024,
        description="Largest training file accepted by POST /v1/files (a JSONL dataset); larger gets 413.",
    )
    transcripts_db: Path | None = Field(
        None, description="SQLite transcript store. Empty: <data_dir>/transcripts.sqlite."
    )
    drain_timeout_s: float = Field(
        30.0, gt=0, description="On SIGTERM, how long in-flight requests may take to finish."
    )


class ServiceSettings(RootSettings):
    """The sections of the running service. Build the whole tree with `agent.cli.settings`."""

    llm: LlmSettings = Field(default_factory=LlmSettings, description="Model client.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="Model server.")
    agent: AgentSettings = Field(default_factory=AgentSettings, description="Agent daemon.")
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings, description="`halops up`.")
    safety: SafetySettings = Field(default_factory=SafetySettings, description="Safety policy.")
    executors: ExecutorSettings = Field(default_factory=ExecutorSettings, description="Tool executors.")
    rag: RagSettings = Field(default_factory=RagSettings, description="Retrieval.")

    @property
    def transcripts_db(self) -> Path:
        return self.agent.transcripts_db or self.data_dir / "transcripts.sqlite"
