"""The gates configured in ``[tool.memcheck.models.*]``, as objects a test or the command line can use.

A gate's model and data are loaded on first use and kept, so that the
``memcheck_model`` and ``memcheck_batches`` fixtures (one instance per pytest
session) and ``memcheck check --gate NAME`` load nothing they do not need.
Batches come from :func:`~pytest_memcheck.batches.draw`, the check's own
drawing, with the settings, seed and repeat the gate's check uses; outcomes
from :func:`~pytest_memcheck.assertions.gated`, the gate's own decision.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from torch import nn

from .assertions import gated
from .baseline import BaselineStore
from .batches import Batches, draw
from .config import MemcheckConfig, ModelConfig
from .engine import check
from .errors import MemcheckError
from .gate import Thresholds
from .loading import load_data, load_model
from .outcome import UPDATE_HINT, Outcome

#: ``check``'s own defaults, for the settings a gate leaves unset.
_CHECK_DEFAULTS = {name: p.default for name, p in inspect.signature(check).parameters.items()}


class ConfiguredGates:
    """The configured gates of one project, with ``seed`` and ``device`` as the run sets them.

    ``seed`` and ``device`` default to the configuration's (``--memcheck-seed``
    and ``--memcheck-device`` override them in a pytest run).
    """

    def __init__(self, config: MemcheckConfig, rootdir: Path, *, seed: int | None = None, device: str | None = None) -> None:
        self.config = config
        self.rootdir = rootdir
        self.seed = config.seed if seed is None else seed
        self.device = device or config.device
        self._models: dict[str, nn.Module] = {}
        self._data: dict[str, Any] = {}
        self._batches: dict[tuple[str, int], Batches] = {}

    @property
    def names(self) -> list[str]:
        return list(self.config.models)

    def spec(self, name: str) -> ModelConfig:
        """The ``[tool.memcheck.models.<name>]`` table; an unknown name lists the known ones."""
        __tracebackhide__ = True  # a user's test calls this: its own line is the one to show
        try:
            return self.config.models[name]
        except (KeyError, TypeError):
            if self.config.path is None:
                raise MemcheckError(
                    f"no gate named {name!r}: there is no pyproject.toml in {self.rootdir}; run from the project's "
                    "root, where [tool.memcheck.models] is configured"
                ) from None
            known = ", ".join(map(repr, self.names)) or "none"
            raise MemcheckError(
                f"no gate named {name!r} in [tool.memcheck.models] of {self.config.path}; configured gates: {known}"
            ) from None

    def model(self, name: str) -> nn.Module:
        """The gate's model, loaded once (the same object every time: copy it before changing it)."""
        __tracebackhide__ = True  # a user's test calls this: its own line is the one to show
        if name not in self._models:
            spec = self.spec(name)
            self._models[name] = load_model(
                spec.model, self.rootdir, architecture=spec.architecture, trust_pickle=spec.trust_pickle,
                device=self.device,
            )
        return self._models[name]

    def data(self, name: str) -> Any:
        """The gate's training data as its ``data`` callable gives it, loaded once."""
        __tracebackhide__ = True  # a user's test calls this: its own line is the one to show
        if name not in self._data:
            self._data[name] = load_data(self.spec(name).data, self.rootdir)
        return self._data[name]

    def check_kwargs(self, name: str) -> dict[str, Any]:
        """The keyword arguments of the gate's check: the run's seed and device, then the table's settings."""
        return {"seed": self.seed, "device": self.device, **self.spec(name).check}

    def thresholds(self, name: str) -> Thresholds:
        return self.spec(name).thresholds()

    def batches(self, name: str, repeat: int = 0) -> Batches:
        """The class-sorted batches the gate's check draws (its ``repeat``-th draw when ``repeats`` > 1).

        ``classes`` lists the class of each batch, ``x`` the inputs batch after
        batch, ``y`` the labels ``(batches, samples)``, ``index`` each sample's
        position in the data. Drawn once, kept for the session.
        """
        __tracebackhide__ = True  # a user's test calls this: its own line is the one to show
        kw = self.check_kwargs(name)
        setting = lambda key: kw.get(key, _CHECK_DEFAULTS[key])  # noqa: E731
        repeats = setting("repeats")
        if not isinstance(repeat, int) or not 0 <= repeat < repeats:
            raise MemcheckError(
                f"gate {name!r} draws {repeats} set(s) of batches (repeats = {repeats}); "
                f"repeat={repeat!r} must be in 0..{repeats - 1}"
            )
        if (name, repeat) not in self._batches:
            self._batches[name, repeat] = draw(
                self.data(name),
                samples_per_class=setting("samples_per_class"),
                seed=kw["seed"] + repeat,
                classes=setting("classes"),
                mode=setting("batches"),
                keys=setting("keys"),
            )
        return self._batches[name, repeat]

    def outcome(self, name: str, *, update: bool = False, update_hint: str = UPDATE_HINT) -> Outcome:
        """Check the gate's model and decide, exactly as ``pytest --memcheck`` does for its item."""
        return gated(
            self.model(name),
            self.data(name),
            name=name,
            thresholds=self.thresholds(name),
            store=BaselineStore(self.config.baseline_dir),
            update=update,
            update_hint=update_hint,
            **self.check_kwargs(name),
        )
