"""Early stopping on memorization (paper section 4.2.2, figure 6).

While a network learns the shared structure of a class, its deep layers stay
nearly linear on single-class batches and the NMF AuC rises; once it starts to
memorize (fit noisy or atypical samples one by one) the AuC falls. The first
local maximum of the smoothed AuC therefore marks where training should stop,
and needs no held-out data: the monitor only looks at training samples.

The AuC of one epoch is noisy, so it is smoothed with a centred moving average
(the paper: a radius of two epochs). A centred value is only final once
``radius`` later values exist, so the monitor decides ``radius`` checks late,
plus ``patience`` checks to see that the maximum really was one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from .batches import draw
from .engine import check
from .result import CheckResult

#: A light check: one per epoch must cost little next to the epoch itself.
DEFAULT_CHECK = {"ks": (1, 2, 4, 8)}


class MemorizationMonitor:
    """Call once per epoch (or every N steps) with the model; stop once the smoothed AuC has peaked.

    Usage::

        monitor = mc.MemorizationMonitor((x_train, y_train))
        for epoch in range(epochs):
            train_one_epoch(model)
            if monitor(epoch, model):      # or monitor.update(model, epoch)
                break                      # monitor.best_epoch: where to roll back to
        monitor.history                    # [{"epoch", "auc", "smoothed", ...}, ...]

    The training samples (``samples_per_class`` of each class, drawn with
    ``seed``) are drawn once, so that every check sees the same batches and the
    AuC moves only because the model does. ``radius``, ``patience`` and
    ``every`` count calls: with ``every=N`` only every N-th call checks. Further
    keyword arguments go to :func:`pytest_memcheck.check` (``method``,
    ``layers``, ``ks``, ...). After the stop the monitor keeps recording (to
    plot past it) but ``should_stop`` and ``best_epoch`` stay as decided.
    """

    def __init__(
        self,
        data: Any,
        *,
        samples_per_class: int = 50,
        radius: int = 2,
        patience: int = 3,
        min_delta: float = 0.0,
        every: int = 1,
        seed: int = 0,
        **check_kwargs: Any,
    ) -> None:
        if radius < 0 or patience < 1 or every < 1:
            raise ValueError(f"need radius >= 0, patience >= 1, every >= 1; got {radius}, {patience}, {every}")
        batches = draw(data, samples_per_class=samples_per_class, seed=seed)
        self._data = (batches.x, batches.y.flatten())
        self._check = {**DEFAULT_CHECK, **check_kwargs, "samples_per_class": samples_per_class, "seed": seed}
        self.radius, self.patience, self.min_delta, self.every = radius, patience, min_delta, every
        self.history: list[dict[str, Any]] = []
        self._calls = 0
        self._best: int | None = None  # index into history of the best settled smoothed value
        self._wait = 0
        self._stopped = False

    def __call__(self, epoch: int, model: nn.Module) -> bool:
        """``on_epoch(epoch, model)`` hook: checks every ``every``-th call, returns :attr:`should_stop`."""
        self._calls += 1
        if self._calls % self.every == 0:
            self.update(model, epoch)
        return self.should_stop

    def update(self, model: nn.Module, epoch: int | None = None) -> bool:
        """Check ``model`` on the fixed batches now and record it; returns :attr:`should_stop`."""
        result: CheckResult = check(model, self._data, **self._check)
        return self.record(result.auc, epoch, base_accuracy=result.base_accuracy, saturated=result.saturated)

    def record(self, auc: float, epoch: int | None = None, **extra: Any) -> bool:
        """Add one AuC measured elsewhere (or a synthetic one); returns :attr:`should_stop`."""
        epoch = len(self.history) if epoch is None else epoch
        self.history.append({"epoch": epoch, "auc": float(auc), "smoothed": None, **extra})
        settled = len(self.history) - 1 - self.radius
        if settled >= 0:
            self._settle(settled)
        return self.should_stop

    def _settle(self, i: int) -> None:
        """Smooth entry ``i`` (its window is complete now) and advance the stopping rule."""
        lo, hi = max(0, i - self.radius), i + self.radius + 1
        value = float(np.mean([h["auc"] for h in self.history[lo:hi]]))
        self.history[i]["smoothed"] = value
        if self._stopped:
            return
        if self._best is None or value > self.history[self._best]["smoothed"] + self.min_delta:
            self._best, self._wait = i, 0
        else:
            self._wait += 1
            self._stopped = self._wait >= self.patience

    @property
    def should_stop(self) -> bool:
        """True once the first local maximum of the smoothed AuC is followed by ``patience`` lower values."""
        return self._stopped

    @property
    def best_epoch(self) -> int | None:
        """Epoch of the highest smoothed AuC so far; after the stop, of the first local maximum."""
        return None if self._best is None else self.history[self._best]["epoch"]

    @property
    def stop_epoch(self) -> int | None:
        """Epoch of the call at which :attr:`should_stop` turned true (``None`` before)."""
        if not self._stopped:
            return None
        return self.history[self._best + self.patience + self.radius]["epoch"]
