"""The ``memcheck`` fixture: checks and assertions configured by the session's options."""

from __future__ import annotations

from typing import Any

import pytest

from .session import MemcheckSession, record


class MemcheckFixture:
    """Session-aware helpers for a user's test.

    ``--memcheck-seed`` and ``--memcheck-device`` set the defaults of every check,
    ``--memcheck-update`` turns ``assert_no_regression`` into a baseline update,
    and every assertion's outcome lands in the session's reports.
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

    def assert_not_memorizing(
        self, model: Any, data: Any, *, min_auc: float, name: str | None = None, allow_inconclusive: bool = False, **kwargs: Any
    ):
        """Fail unless the AuC is above ``min_auc`` with confidence; returns the result."""
        __tracebackhide__ = True
        from .assertions import gated, require
        from .gate import Thresholds

        outcome = gated(model, data, name=name or self.default_name(), thresholds=Thresholds(min_auc=min_auc), **self._kwargs(kwargs))
        record(self._node, outcome)
        return require(outcome, allow_inconclusive)

    def assert_no_regression(
        self,
        model: Any,
        data: Any,
        *,
        name: str | None = None,
        max_drop: float = 0.05,
        min_auc: float | None = None,
        allow_inconclusive: bool = False,
        **kwargs: Any,
    ):
        """Compare with the stored baseline ``<baseline_dir>/<name>.json`` (written by ``--memcheck-update``)."""
        __tracebackhide__ = True
        from .assertions import gated, require
        from .gate import Thresholds

        outcome = gated(
            model,
            data,
            name=name or self.default_name(),
            thresholds=Thresholds(min_auc=min_auc, max_drop=max_drop),
            store=self._state.store,
            update=self._state.update,
            **self._kwargs(kwargs),
        )
        record(self._node, outcome)
        return require(outcome, allow_inconclusive)
