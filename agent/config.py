"""Settings: one `halops.toml`, overridden by `HALOPS_*` environment variables.

Every section is a pydantic model whose fields carry descriptions (the README's config reference is
generated from them). Nothing here runs at import time: callers build a `Settings` with
`load_settings()` and pass it (or the section they need) down explicitly.

Precedence, highest first: environment (`HALOPS_<SECTION>__<FIELD>`, `HALOPS_DATA_DIR`), the config
file, the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent.errors import ConfigError
from agent.executors.config import ExecutorSettings
from eval.config import EvalSettings
from rag.config import RagSettings
from safety.config import SafetySettings
from trainer.config import TrainerSettings
from trainer.data.config import DataSettings

SYSTEM_CONFIG = Path("/etc/halops/halops.toml")
# The parsed config file, visible to the settings source only while load_settings() builds Settings.
_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("halops_config_file", default=None)
CONFIG_ENV = "HALOPS_CONFIG"


def user_config_path(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "halops" / "halops.toml"


def default_data_dir() -> Path:
    # A system install (root, systemd) keeps state in /var/lib; a user install in XDG data home.
    if os.geteuid() == 0:
        return Path("/var/lib/halops")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "halops"


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class LlmSettings(Section):
    """How the agent talks to a model server (the embedded one, llama-server, vLLM, Ollama...)."""

    base_url: str = Field(
        "http://127.0.0.1:8081/v1",
        description="OpenAI-compatible base URL of the model server, including the /v1 suffix.",
    )
    model: str = Field(
        "halops-local",
        description="Model name sent in requests. llama-cpp-python and llama-server ignore it; "
        "vLLM and Ollama need the name they serve.",
    )
    api_key: SecretStr | None = Field(
        None, description="Bearer token for the model server, if it requires one."
    )
    connect_timeout_s: float = Field(3.0, gt=0, description="Seconds to wait for a TCP connection.")
    read_timeout_s: float = Field(
        300.0, gt=0, description="Seconds to wait for the model's answer (whole completion)."
    )
    max_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Retries on connection errors only (never on timeouts or HTTP errors, "
        "which could repeat a long generation).",
    )
    retry_backoff_s: float = Field(
        0.5, ge=0, description="First retry delay in seconds; doubles on each further retry."
    )
    max_tokens: int = Field(512, gt=0, description="Default cap on generated tokens per completion.")
    temperature: float = Field(0.2, ge=0, le=2, description="Default sampling temperature.")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")) or len(v.split("://", 1)[1].strip("/")) == 0:
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8081/v1")
        return v


class ServerSettings(Section):
    """The embedded model server started by `halops llm serve` and `halops up`."""

    host: str = Field("127.0.0.1", description="Bind address. Keep it on loopback: it has no auth.")
    port: int = Field(8081, ge=1, le=65535, description="TCP port of the model server.")
    model_path: Path | None = Field(
        None,
        description="GGUF to serve. Empty: <data_dir>/models/current.gguf, which falls back to the "
        "bundled SmolLM2-135M-Instruct (version 0) when nothing is deployed.",
    )
    n_ctx: int = Field(4096, ge=256, description="Context window in tokens.")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for generation. Empty: llama.cpp's default."
    )
    n_gpu_layers: int = Field(
        0, ge=-1, description="Layers offloaded to the GPU; -1 offloads all (CUDA builds only)."
    )
    llama_server_binary: Path | None = Field(
        None,
        description="Path to llama.cpp's own `llama-server`. Empty: use llama-cpp-python's "
        "embedded server. Both speak the same OpenAI API.",
    )
    startup_timeout_s: float = Field(
        180.0, gt=0, description="Seconds to wait for the server to load the model and answer."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the embedded server answers besides loopback addresses and "
        "localhost (DNS rebinding guard; any other Host header gets 403). llama-server has no such "
        "check: keep it on loopback.",
    )


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
    rag_k: int = Field(4, ge=0, le=20, description="Runbook chunks retrieved per request (0: no RAG).")
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest accepted request body; larger gets HTTP 413."
    )
    transcripts_db: Path | None = Field(
        None, description="SQLite transcript store. Empty: <data_dir>/transcripts.sqlite."
    )
    drain_timeout_s: float = Field(
        30.0, gt=0, description="On SIGTERM, how long in-flight requests may take to finish."
    )


class Settings(BaseSettings):
    """All of halops' settings. Build with `load_settings()`; never instantiate at import time."""

    model_config = SettingsConfigDict(
        env_prefix="HALOPS_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where models, the vector store, SQLite databases, datasets and logs live. "
        "Default /var/lib/halops for root, else $XDG_DATA_HOME/halops.",
    )
    llm: LlmSettings = Field(default_factory=LlmSettings, description="Model client.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="Model server.")
    agent: AgentSettings = Field(default_factory=AgentSettings, description="Agent daemon.")
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings, description="`halops up`.")
    safety: SafetySettings = Field(default_factory=SafetySettings, description="Safety policy.")
    executors: ExecutorSettings = Field(default_factory=ExecutorSettings, description="Tool executors.")
    rag: RagSettings = Field(default_factory=RagSettings, description="Retrieval.")
    data: DataSettings = Field(default_factory=DataSettings, description="Training data pipeline.")
    trainer: TrainerSettings = Field(default_factory=TrainerSettings, description="Fine-tuning.")
    eval: EvalSettings = Field(default_factory=EvalSettings, description="Model eval and the deploy gate.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit kwargs (tests, code) > environment > the config file > defaults.
        return (init_settings, env_settings, _FileSource(settings_cls))

    # Derived locations: one place decides the data dir layout.
    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def transcripts_db(self) -> Path:
        return self.agent.transcripts_db or self.data_dir / "transcripts.sqlite"


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole file at once

    def __call__(self) -> dict[str, Any]:
        return _FILE_DATA.get() or {}


def resolve_config_path(explicit: Path | None, env: dict[str, str] | None = None) -> Path | None:
    """The config file to read: --config, else $HALOPS_CONFIG, else the first of /etc, per-user."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    for candidate in (SYSTEM_CONFIG, user_config_path(env)):
        if candidate.is_file():
            return candidate
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", [("(file)", f"{path} does not exist")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML", [("(file)", str(exc))]) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}", [("(file)", str(exc))]) from None


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        out.append((key, msg))
    return out


def load_settings(config: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the config file (see `resolve_config_path`) and the environment into `Settings`.

    Raises `ConfigError` listing every problem at once, each with its dotted key.
    """
    path = resolve_config_path(config, env)
    data = read_config_file(path) if path is not None else {}
    token = _FILE_DATA.set(data)
    try:
        return Settings()
    except ValidationError as exc:
        problems = _problems(exc)
        where = f" in {path}" if path else ""
        raise ConfigError(f"{len(problems)} problem(s) in the configuration{where}", problems) from None
    finally:
        _FILE_DATA.reset(token)


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets replaced by asterisks, unset values dropped."""
    return settings.model_dump(mode="json", exclude_none=True)
