"""The shallow exception tree shared by every halops package.

One root so a CLI can catch "anything halops raised on purpose" and print it without a traceback;
one level of kinds below it, split by what the caller can do about it (fix config, wait for a
server, report a bug), never by message text.
"""

from __future__ import annotations


class HalopsError(Exception):
    """Root of every error halops raises deliberately."""


class ConfigError(HalopsError):
    """The configuration is unreadable or invalid; `problems` lists each (key, message)."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


class ModelNotFoundError(HalopsError):
    """No GGUF model to serve: nothing deployed and no bundled default installed."""


class LLMError(HalopsError):
    """A model server call failed. `url` is the server's base URL."""

    def __init__(self, message: str, url: str):
        super().__init__(message)
        self.url = url


class LLMUnavailableError(LLMError):
    """The model server could not be reached (refused, DNS, reset) even after retries."""


class LLMTimeoutError(LLMError):
    """The model server accepted the request but did not answer in time."""


class LLMBadResponseError(LLMError):
    """The model server answered with an error status or a body that is not an OpenAI response."""

    def __init__(self, message: str, url: str, status_code: int | None = None):
        super().__init__(message, url)
        self.status_code = status_code


class NotFoundError(HalopsError):
    """What the caller named (a model version, a judging pair, ...) does not exist.

    A kind, not a place: a package's own error also derives from this one so an HTTP surface can
    answer 404 without importing that package.
    """


class ConflictError(HalopsError):
    """The request is valid but the current state forbids it (a rejected version without force,
    nothing to roll back to). HTTP surfaces answer 409; nothing was changed."""
