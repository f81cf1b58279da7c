"""The error tree moved to the foundation: `halops.errors`. These names stay importable from here."""

from halops.errors import (
    ConfigError,
    HalopsError,
    LLMBadResponseError,
    LLMError,
    LLMTimeoutError,
    LLMUnavailableError,
    ModelNotFoundError,
)

__all__ = [
    "ConfigError",
    "HalopsError",
    "LLMBadResponseError",
    "LLMError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "ModelNotFoundError",
]
