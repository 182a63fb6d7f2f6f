"""The ``memcheck`` fixture: checks and assertions configured by the session's options."""

from __future__ import annotations

from typing import Any

import pytest

from .session import MemcheckSession, record, stage


class MemcheckFixture:
    """Session-aware memorization checks for a user's test.

    ``--memcheck-seed`` and ``--memcheck-device`` set the defaults of every check,
    ``--memcheck-update`` turns ``assert_no_regression`` into a baseline update,
    and every assertion's outcome (also one whose check could not run) lands in
    the session's reports. Example::

        @pytest.mark.memcheck
        def test_classifier_generalizes(memcheck):
            memcheck.assert_no_regression(load_model(), train_set(), min_auc=0.6, max_drop=0.05)
    """

    def __init__(self, state: MemcheckSession, node: pytest.Item) -> None:
        self._state = state
        self._node = node

    def _kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return self._state.check_kwargs(kwargs)

    def default_name(self) -> str:
        """``<test module>.<test name>``: the baseline file name when none is given."""
        return f"{self._node.path.stem}.{self._node.name}"

    def check(self, model: Any, data: Any, **kwargs: Any):
        """:func:`pytest_memcheck.check` with the session's seed and device."""
        from .engine import check

        return check(model, data, **self._kwargs(kwargs))

    def _gate(self, model: Any, data: Any, name: str, thresholds: Any, store: Any, kwargs: dict[str, Any]):
        """Check and decide, recording the outcome, also of a check or baseline that fails."""
        from .engine import check
        from .outcome import Stage, evaluate

        with stage(self._node, name, Stage.CHECK, thresholds):
            result = check(model, data, **self._kwargs(kwargs))
        with stage(self._node, name, Stage.BASELINE, thresholds, None if store is None else store.path(name)):
            outcome = evaluate(name, model, result, thresholds, store, update=self._state.update)
        record(self._node, outcome)
        return outcome

    def assert_not_memorizing(
        self,
        model: Any,
        data: Any,
        *,
        min_score: float | None = None,
        min_auc: float | None = None,
        name: str | None = None,
        allow_inconclusive: bool = False,
        **kwargs: Any,
    ):
        """Fail unless the model is above its floor with confidence; returns the result.

        The floor is the calibrated default on the score unless ``min_score`` or
        ``min_auc`` (the paper's AuC) is given. ``kwargs`` go to
        :func:`pytest_memcheck.check`; ``allow_inconclusive`` lets an interval
        straddling the floor (or a model the check cannot judge) pass.
        """
        __tracebackhide__ = True
        from .assertions import require
        from .gate import Thresholds

        floors = Thresholds.given(min_score=min_score, min_auc=min_auc).floors()
        outcome = self._gate(model, data, name or self.default_name(), floors, None, kwargs)
        return require(outcome, allow_inconclusive)

    def assert_no_regression(
        self,
        model: Any,
        data: Any,
        *,
        name: str | None = None,
        max_score_drop: float | None = None,
        min_score: float | None = None,
        max_drop: float | None = None,
        min_auc: float | None = None,
        allow_inconclusive: bool = False,
        **kwargs: Any,
    ):
        """Compare with the stored baseline ``<baseline_dir>/<name>.json`` (written by ``--memcheck-update``).

        With no threshold given, the calibrated defaults hold the score to its
        floor and to the baseline's score; ``max_drop`` / ``min_auc`` judge the
        paper's AuC instead. One check gates both floor and baseline; returns the result.
        """
        __tracebackhide__ = True
        from .assertions import require
        from .gate import Thresholds

        thresholds = Thresholds.given(max_score_drop=max_score_drop, min_score=min_score, max_drop=max_drop, min_auc=min_auc)
        outcome = self._gate(model, data, name or self.default_name(), thresholds, self._state.store, kwargs)
        return require(outcome, allow_inconclusive)
