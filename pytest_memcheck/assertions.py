"""Assertion helpers for users' own tests, with or without the ``memcheck`` fixture."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .baseline import BaselineStore, settings_mismatch
from .engine import check
from .errors import MemcheckError
from .gate import FAIL, INCONCLUSIVE, PASS, Thresholds, Verdict, decide
from .outcome import UPDATE_HINT, BaselineState, Outcome, evaluate, missing_score
from .result import CheckResult


def gated(
    model: Any,
    data: Any,
    *,
    name: str,
    thresholds: Thresholds,
    store: BaselineStore | None = None,
    update: bool = False,
    update_hint: str = UPDATE_HINT,
    **check_kwargs: Any,
) -> Outcome:
    """Run the check and decide on it (recording a baseline with ``update``)."""
    result = check(model, data, **check_kwargs)
    return evaluate(name, model, result, thresholds, store, update=update, update_hint=update_hint)


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
    min_score: float | None = None,
    min_auc: float | None = None,
    allow_inconclusive: bool = False,
    name: str | None = None,
    **check_kwargs: Any,
) -> CheckResult:
    """Check ``model`` and fail unless it is above its floor with confidence.

    With no floor given, the calibrated default floor on the score
    (``Thresholds().min_score``); ``min_score`` or ``min_auc`` (a floor on the
    paper's AuC) replace it. An interval straddling the floor, or a model the
    check cannot judge (at chance, underfit, saturated AuC), is inconclusive
    and fails too unless ``allow_inconclusive``. ``check_kwargs`` go to
    :func:`check`. Returns the result for further assertions.
    """
    __tracebackhide__ = True
    floors = Thresholds.given(min_score=min_score, min_auc=min_auc).floors()  # no baseline: the floors alone
    outcome = gated(model, data, name=name or type(model).__name__, thresholds=floors, **check_kwargs)
    return require(outcome, allow_inconclusive)


def assert_no_regression(
    model: Any,
    data: Any,
    baseline: str | os.PathLike[str] | CheckResult,
    *,
    max_score_drop: float | None = None,
    min_score: float | None = None,
    max_drop: float | None = None,
    min_auc: float | None = None,
    update: bool = False,
    allow_inconclusive: bool = False,
    **check_kwargs: Any,
) -> CheckResult:
    """Fail if ``model`` fell below a baseline by more than the limit (or below a floor).

    With no threshold given, the calibrated defaults: the score's floor and its
    largest accepted fall (``Thresholds()``); ``max_drop`` / ``min_auc`` judge
    the paper's AuC instead. ``baseline`` is a stored baseline file
    (``tests/memcheck/model.json``) or a result in hand. With a file,
    ``update=True`` records the result there instead (atomically); a missing
    file fails with the hint to do so.
    """
    __tracebackhide__ = True
    thresholds = Thresholds.given(max_score_drop=max_score_drop, min_score=min_score, max_drop=max_drop, min_auc=min_auc)
    if isinstance(baseline, CheckResult):
        if update:
            raise MemcheckError("update=True records a baseline file: pass its path (tests/memcheck/model.json), not a result")
        result = check(model, data, **check_kwargs)
        problem = settings_mismatch(baseline, result) or missing_score(baseline, thresholds)
        if problem is not None:  # another grid, method or sample size measures another AuC
            verdict = Verdict(FAIL, [f"{problem}, so it is not compared; check both with the same settings"])
            state = BaselineState.MISMATCH
        else:
            verdict, state = decide(result, thresholds, baseline), BaselineState.COMPARED
        # a result in hand is not recorded anywhere: no update hint
        outcome = Outcome(
            "model", result, verdict, thresholds, state, None, baseline.auc, baseline.score, update_hint="",
            baseline_regression_score=baseline.regression_score,
        )
    else:
        path = Path(baseline)
        store = BaselineStore(path.parent)
        if path.suffix != ".json" or store.path(path.stem) != path:
            raise MemcheckError(
                f"baseline file {str(path)!r} must be named <name>.json with letters, digits, '.', '_' or '-' "
                f"in <name>, e.g. {str(store.path(path.stem))!r}"
            )
        outcome = gated(
            model,
            data,
            name=path.stem,
            thresholds=thresholds,
            store=store,
            update=update,
            update_hint=f"assert_no_regression(..., {str(path)!r}, update=True) once; then call it without update",
            **check_kwargs,
        )
    return require(outcome, allow_inconclusive)
