"""Errors of the eval and the deploy gate."""

from __future__ import annotations

from halops.errors import HalopsError


class EvalError(HalopsError):
    """Cases that cannot be loaded, a model that cannot be served or reached, a bad report."""


class RegressionError(EvalError):
    """The candidate scored worse than the deployed model: it was not deployed."""
