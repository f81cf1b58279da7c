"""Settings of the model client and the model server (sections `[llm]` and `[server]`).

In the foundation because the agent, the eval gate and the trainer's data pipeline all talk to a
model server, and `halops llm serve`, `halops up` and the eval gate all start one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from halops.settings import Section


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
