"""Assertion helpers for users' own tests, with or without the ``memcheck`` fixture."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .baseline import BaselineStore
from .check import check
from .gate import INCONCLUSIVE, PASS, Thresholds, decide
from .outcome import Outcome, evaluate
from .result import CheckResult


def gated(
    model: Any,
    data: Any,
    *,
    name: str,
    thresholds: Thresholds,
    store: BaselineStore | None = None,
    update: bool = False,
    **check_kwargs: Any,
) -> Outcome:
    """Run the check and decide on it (recording a baseline with ``update``)."""
    result = check(model, data, **check_kwargs)
    return evaluate(name, model, result, thresholds, store, update=update)


def require(outcome: Outcome, allow_inconclusive: bool = False) -> CheckResult:
    """Raise ``AssertionError`` with the full explanation unless the gate passed."""
    __tracebackhide__ = True  # the user's test line is the interesting frame
    if outcome.status == PASS or (allow_inconclusive and outcome.status == INCONCLUSIVE):
        return outcome.result
    raise AssertionError(outcome.explain())


def assert_not_memorizing(
    model: Any,
    data: Any,
    *,
    min_auc: float,
    allow_inconclusive: bool = False,
    name: str | None = None,
    **check_kwargs: Any,
) -> CheckResult:
    """Check ``model`` and fail unless its AuC is above ``min_auc`` with confidence.

    An interval straddling the floor, or a saturated check, is inconclusive and
    fails too unless ``allow_inconclusive``. ``check_kwargs`` go to :func:`check`.
    Returns the result for further assertions.
    """
    __tracebackhide__ = True
    outcome = gated(model, data, name=name or type(model).__name__, thresholds=Thresholds(min_auc=min_auc), **check_kwargs)
    return require(outcome, allow_inconclusive)


def assert_no_regression(
    model: Any,
    data: Any,
    baseline: str | os.PathLike[str] | CheckResult,
    *,
    max_drop: float = 0.05,
    min_auc: float | None = None,
    update: bool = False,
    allow_inconclusive: bool = False,
    **check_kwargs: Any,
) -> CheckResult:
    """Fail if ``model``'s AuC fell more than ``max_drop`` below a baseline.

    ``baseline`` is a stored baseline file (``tests/memcheck/model.json``) or a
    result in hand. With a file, ``update=True`` records the result there instead
    (atomically); a missing file fails with the hint to do so.
    """
    __tracebackhide__ = True
    thresholds = Thresholds(min_auc=min_auc, max_drop=max_drop)
    if isinstance(baseline, CheckResult):
        result = check(model, data, **check_kwargs)
        verdict = decide(result, thresholds, baseline)
        outcome = Outcome("model", result, verdict, thresholds, "compared", None, baseline.auc)
    else:
        path = Path(baseline)
        outcome = gated(
            model, data, name=path.stem, thresholds=thresholds, store=BaselineStore(path.parent), update=update, **check_kwargs
        )
    return require(outcome, allow_inconclusive)
