"""Request bodies of the agent API. Unknown OpenAI fields are accepted and ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI content parts: keep the text ones
            return "\n".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatOptions(BaseModel):
    """halops's own request options, under `halops`: OpenAI clients never send them."""

    model_config = ConfigDict(extra="forbid")

    stream_steps: bool = Field(
        False,
        description="With stream=true, send each tool call as a chunk (empty `choices`, a `halops.step`) "
        "as soon as it has run, before the answer.",
    )


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None
    conversation_id: str | None = Field(None, max_length=200)
    max_tokens: int | None = Field(
        None, ge=1, description="Cap on the answer's tokens (tool rounds keep theirs)."
    )
    max_completion_tokens: int | None = Field(None, ge=1, description="OpenAI's newer name for max_tokens.")
    halops: ChatOptions | None = None

    @property
    def answer_cap(self) -> int | None:
        caps = [c for c in (self.max_tokens, self.max_completion_tokens) if c is not None]
        return min(caps) if caps else None

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, v: list[ChatMessage]) -> list[ChatMessage]:
        if v[-1].role != "user":
            raise ValueError("the last message must be from the user")
        return v

    def plain_messages(self) -> list[dict[str, str]]:
        role = {"developer": "system", "tool": "user"}
        return [{"role": role.get(m.role, m.role), "content": m.text()} for m in self.messages]


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "deny"]
    comment: str | None = Field(None, max_length=2000)


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The `id` of the chat completion being rated.")
    rating: Literal["up", "down", 1, -1]
    comment: str | None = Field(None, max_length=4000)

    @property
    def score(self) -> int:
        return 1 if self.rating in ("up", 1) else -1
