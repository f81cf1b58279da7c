"""Errors of the model registry. Each is also a generic kind (halops.errors) so the daemon's HTTP
layer maps it to 404 or 409 without importing eval."""

from __future__ import annotations

from eval.errors import EvalError
from halops.errors import ConflictError, NotFoundError


class RegistryError(EvalError):
    """The registry cannot do what was asked; nothing was changed."""


class UnknownVersionError(RegistryError, NotFoundError):
    """No model version with that number."""


class RejectedVersionError(RegistryError, ConflictError):
    """The version was rejected by the gate: activating it needs force."""


class NothingToRollBackError(RegistryError, ConflictError):
    """No earlier active version to go back to."""


class UnknownPairError(RegistryError, NotFoundError):
    """No judging pair with that id."""


class PairJudgedError(RegistryError, ConflictError):
    """The pair was judged already: one verdict per pair keeps the preference data honest."""


class IncomparableError(RegistryError, ConflictError):
    """The two versions cannot be compared yet: a report is missing or they were scored on
    different cases."""
