"""Errors and warnings about the user's input.

Every problem the tool detects in a model, its data or a baseline is a
:class:`MemcheckError` whose message names the problem *and* the fix, so that a
failing CI log is enough to act on.
"""

from __future__ import annotations


class MemcheckError(ValueError):
    """Base of every error pytest-memcheck raises about its input."""


class LayerError(MemcheckError):
    """A requested layer is missing, ambiguous or not a non-negative activation."""


class DataError(MemcheckError):
    """The data cannot give the batches the check needs."""


class ActivationError(MemcheckError):
    """Activations are unusable (NaN/inf, all zero)."""


class BaselineError(MemcheckError):
    """A stored baseline is missing, corrupt or from another model/settings."""


class MemcheckWarning(UserWarning):
    """Something was adjusted or looks suspicious, but the check could go on."""
