"""pytest-memcheck: catch ReLU classifiers that memorize their training data.

Library use::

    import pytest_memcheck as mc
    result = mc.check(model, (x_train, y_train))
    print(result.score, result.score_ci, result.auc)
    mc.decide(result)      # the default gate: pass, fail or inconclusive, with reasons

Names are imported lazily so that the pytest plugin costs nothing (no torch
import) in test runs without ``--memcheck``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    ActivationError,
    BaselineError,
    DataError,
    LayerError,
    MemcheckError,
    MemcheckWarning,
    ModelError,
)

__version__ = "0.2.0"

_LAZY = {
    "check": ".engine",
    "layerwise": ".engine",
    "CheckResult": ".result",
    "nmf": ".factorize",
    "MemorizationMonitor": ".monitor",
    "assert_not_memorizing": ".assertions",
    "assert_no_regression": ".assertions",
    "Verdict": ".gate",
    "Thresholds": ".gate",
    "Status": ".gate",
    "Guard": ".gate",
    "decide": ".gate",
}

__all__ = [
    "ActivationError",
    "BaselineError",
    "DataError",
    "LayerError",
    "MemcheckError",
    "MemcheckWarning",
    "ModelError",
    "__version__",
    *_LAZY,
]

if TYPE_CHECKING:  # pragma: no cover
    from .assertions import assert_no_regression, assert_not_memorizing
    from .engine import check, layerwise
    from .factorize import nmf
    from .gate import Guard, Status, Thresholds, Verdict, decide
    from .monitor import MemorizationMonitor
    from .result import CheckResult


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
