"""Errors of the data pipeline: one kind per thing the operator can fix."""

from __future__ import annotations

from halops.errors import HalopsError


class DataError(HalopsError):
    """Something in the data pipeline cannot go on; the message says what to do."""


class StageInputError(DataError):
    """A stage's input is missing or unusable (run the earlier stage, fix the file or the setting)."""


class TokenizerError(DataError):
    """The target tokenizer cannot be loaded from the configured source."""


class SecretLeakError(DataError):
    """Scrubbed output still holds something the scrubber flags: nothing was written to final/."""
