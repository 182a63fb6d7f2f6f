"""Test items for the models configured in ``[tool.memcheck.models]``.

With only configuration and no test written, ``pytest --memcheck`` collects one
item per model table, named after it (``pyproject.toml::memcheck[candidate]``).
"""

from __future__ import annotations

import warnings
from typing import Any, Iterator

import pytest

from .config import ModelConfig
from .errors import MemcheckError, MemcheckWarning
from .session import SESSION_KEY, MemcheckSession, record


class GateFailure(AssertionError):
    """A configured gate decided against the model; the message explains why."""


class MemcheckFile(pytest.File):
    """``pyproject.toml``, seen as the collection of its configured gates."""

    def collect(self) -> Iterator[pytest.Item]:
        state: MemcheckSession = self.config.stash[SESSION_KEY]
        for name, spec in state.config.models.items():
            yield MemcheckItem.from_parent(self, name=f"memcheck[{name}]", spec=spec)


class MemcheckItem(pytest.Item):
    def __init__(self, *, spec: ModelConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.add_marker("memcheck")

    def runtest(self) -> None:
        from .assertions import gated
        from .gate import FAIL, INCONCLUSIVE, Thresholds
        from .loading import load_data, load_model

        state: MemcheckSession = self.config.stash[SESSION_KEY]
        root = self.config.rootpath
        spec = self.spec
        model = load_model(spec.model, root, architecture=spec.architecture, trust_pickle=spec.trust_pickle)
        data = load_data(spec.data, root)
        outcome = gated(
            model,
            data,
            name=spec.name,
            thresholds=Thresholds(spec.min_auc, spec.max_drop),
            store=state.store,
            update=state.update,
            **state.check_kwargs(spec.check),
        )
        record(self, outcome)
        if outcome.status == FAIL or (outcome.status == INCONCLUSIVE and spec.inconclusive == "fail"):
            raise GateFailure(outcome.explain())
        if outcome.status == INCONCLUSIVE:
            warnings.warn(outcome.explain(), MemcheckWarning, stacklevel=1)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, (GateFailure, MemcheckError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"memcheck gate {self.spec.name!r}"

