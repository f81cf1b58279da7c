"""Typed errors of the trainer, split by what the operator can do about them."""

from __future__ import annotations

from halops.errors import ConfigError, HalopsError


class TrainerError(HalopsError):
    """A training, merge or conversion step failed."""


class TrainConfigError(ConfigError):
    """The recipe config is invalid; `problems` lists every (key, message) found at once."""


class JobBusyError(TrainerError):
    """Another training job holds the lock: one job at a time."""


class JobNotFoundError(TrainerError):
    """No job with that id in the job store."""


class OutOfMemoryError(TrainerError):
    """Training ran out of (GPU or host) memory; the message says what to lower."""


class ConvertError(TrainerError):
    """The merged model could not be turned into a working GGUF."""
