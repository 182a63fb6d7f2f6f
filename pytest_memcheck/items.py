"""Test items for the models configured in ``[tool.memcheck.models]``.

With only configuration and no test written, ``pytest --memcheck`` collects one
item per model table, named after it (``pyproject.toml::memcheck[candidate]``).
Each item records exactly one outcome, also when its model, data or baseline
cannot be loaded, so that every report lists every gate.
"""

from __future__ import annotations

import traceback
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest

from .config import ModelConfig
from .errors import MemcheckError, MemcheckWarning
from .escape import log_text
from .session import SESSION_KEY, MemcheckSession, record, stage

_PACKAGE = Path(__file__).resolve().parent


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
        from .engine import check
        from .loading import load_data, load_model
        from .outcome import Stage, Status, evaluate

        state: MemcheckSession = self.config.stash[SESSION_KEY]
        root, spec, store = self.config.rootpath, self.spec, state.store
        thresholds = spec.thresholds()
        with stage(self, spec.name, Stage.MODEL, thresholds):
            model = load_model(
                spec.model, root, architecture=spec.architecture, trust_pickle=spec.trust_pickle, device=state.device
            )
        with stage(self, spec.name, Stage.DATA, thresholds):
            data = load_data(spec.data, root)
        with stage(self, spec.name, Stage.CHECK, thresholds):
            result = check(model, data, **state.check_kwargs(spec.check))
        with stage(self, spec.name, Stage.BASELINE, thresholds, store.path(spec.name)):
            outcome = evaluate(spec.name, model, result, thresholds, store, update=state.update)
        record(self, outcome)
        if outcome.status == Status.FAIL or (outcome.status == Status.INCONCLUSIVE and spec.inconclusive == "fail"):
            raise GateFailure(outcome.explain())
        if outcome.status == Status.INCONCLUSIVE:
            warnings.warn(outcome.explain(), MemcheckWarning, stacklevel=1)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, GateFailure):
            return str(excinfo.value)
        if isinstance(excinfo.value, MemcheckError):
            return log_text(f"memcheck gate {self.spec.name!r}: {excinfo.value}{self._user_frames(excinfo.value)}")
        return super().repr_failure(excinfo)

    def _user_frames(self, error: BaseException) -> str:
        """Where the user's own code raised the error behind ``error`` (a data or model callable, an import)."""
        cause = error.__cause__
        if cause is None or cause.__traceback__ is None:
            return ""
        frames = traceback.extract_tb(cause.__traceback__)
        root = self.config.rootpath.resolve()
        for i, frame in enumerate(frames):
            path = Path(frame.filename).resolve()
            if _PACKAGE in path.parents or frame.filename.startswith("<"):
                continue
            if root in path.parents and "site-packages" not in path.parts:  # the project's own code
                shown = "".join(traceback.format_list(frames[i:])).rstrip()
                return f"\n\nwhere your code raised it (most recent call last):\n{shown}\n{type(cause).__name__}: {cause}"
            return ""
        return ""

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"memcheck gate {self.spec.name!r}"
