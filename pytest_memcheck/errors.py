"""Errors and warnings about the user's input.

Every problem the tool detects in a model, its data or a baseline is a
:class:`MemcheckError` whose message names the problem *and* the fix, so that a
failing CI log is enough to act on.
"""

from __future__ import annotations

import sys
import warnings


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


class ModelError(MemcheckError):
    """The model cannot be checked as given (TorchScript, device, output, forward failure)."""


def warn(message: str) -> None:
    """Issue a :class:`MemcheckWarning` attributed to the first caller outside this package.

    Warnings arise deep inside (``draw`` under ``check``, ``layerwise`` or the
    monitor); pointing them at the user's own line makes them actionable and
    lets ``filterwarnings`` target the user's module.
    """
    package = __name__.rpartition(".")[0] + "."
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, MemcheckWarning, stacklevel=level)
