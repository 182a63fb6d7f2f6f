"""Early stopping on memorization (paper section 4.2.2, figure 6).

While a network learns the shared structure of a class, its deep layers stay
nearly linear on single-class batches and the NMF AuC rises; once it starts to
memorize (fit noisy or atypical samples one by one) the AuC falls. The first
local maximum of the smoothed AuC therefore marks where training should stop,
and needs no held-out data: the monitor only looks at training samples.

The AuC of one epoch is noisy, so it is smoothed with a centred moving average
(the paper: a radius of two epochs). A centred value is only *final* once
``radius`` later values exist; until then each of the newest entries carries a
*provisional* value, the mean of the part of its window that exists. The stop
is decided on final values only (so it never flips back), ``radius`` checks
late plus ``patience`` checks to see that the maximum really was one; the best
epoch so far also counts the provisional values, so it never lags behind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from .batches import draw
from .engine import check, require_whole
from .errors import MemcheckError
from .result import CheckResult

#: A light check: one per epoch must cost little next to the epoch itself.
DEFAULT_CHECK = {"ks": (1, 2, 4, 8)}

#: What a monitor can follow: result attributes where higher means "generalizes".
QUANTITIES = ("auc", "score")


class MemorizationMonitor:
    """Call once per epoch (or every N steps) with the model; stop once the smoothed AuC has peaked.

    Usage::

        monitor = mc.MemorizationMonitor((x_train, y_train))
        for epoch in range(epochs):
            train_one_epoch(model)
            if monitor(epoch, model):      # or monitor.update(model, epoch)
                break                      # monitor.best_epoch: where to roll back to
        monitor.history                    # [{"epoch", "value", "smoothed", "final", ...}, ...]

    The training samples (``samples_per_class`` of each class, drawn with
    ``seed``) are drawn once, so that every check sees the same batches and the
    value moves only because the model does. ``monitor`` names the quantity
    followed: ``"auc"`` (the paper's single-class NMF AuC, the default) or
    ``"score"`` (falls back to the AuC when the check gives no score; the
    quantity used is in :attr:`quantity` after the first check). ``radius``,
    ``patience`` and ``every`` count checks: with ``every=N`` only every N-th
    call checks. Further keyword arguments go to :func:`pytest_memcheck.check`
    (``method``, ``layers``, ``ks``, ...). After the stop the monitor keeps
    recording (to plot past it) but ``should_stop`` and ``best_epoch`` stay as
    decided.
    """

    def __init__(
        self,
        data: Any,
        *,
        monitor: str = "auc",
        samples_per_class: int = 50,
        radius: int = 2,
        patience: int = 3,
        min_delta: float = 0.0,
        every: int = 1,
        seed: int = 0,
        **check_kwargs: Any,
    ) -> None:
        radius = require_whole(radius, "radius", 0)
        patience = require_whole(patience, "patience", 1)
        every = require_whole(every, "every", 1)
        if monitor not in QUANTITIES:
            raise MemcheckError(f"monitor={monitor!r} is not something a check measures; use one of {QUANTITIES}")
        batches = draw(data, samples_per_class=samples_per_class, seed=seed)
        self._data = (batches.x, batches.y.flatten())
        self._check = {**DEFAULT_CHECK, **check_kwargs, "samples_per_class": samples_per_class, "seed": seed}
        self.monitor = monitor
        #: The quantity actually followed: ``monitor``, or ``"auc"`` where the check gives no score.
        self.quantity: str | None = None
        self.radius, self.patience, self.min_delta, self.every = radius, patience, min_delta, every
        self.history: list[dict[str, Any]] = []
        self._calls = 0
        self._best: int | None = None  # index into history of the best *final* smoothed value
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
        if self.quantity is None:
            self.quantity = self.monitor if getattr(result, self.monitor) is not None else "auc"
        value = getattr(result, self.quantity)
        if value is None:
            raise MemcheckError(
                f"the check gave no {self.quantity} at epoch {epoch} although earlier checks did; "
                "keep the check's settings fixed during training"
            )
        extra = {"auc": result.auc, "score": result.score, "base_accuracy": result.base_accuracy, "saturated": result.saturated}
        return self.record(value, epoch, **extra)

    def record(self, value: float, epoch: int | None = None, **extra: Any) -> bool:
        """Add one value measured elsewhere (or a synthetic one); returns :attr:`should_stop`.

        Each entry of :attr:`history` gets ``smoothed``, the mean of the values
        within ``radius`` entries of it, and ``final``: whether that window is
        complete. The newest ``radius`` entries are provisional and change as
        later values arrive; every other entry is final and never changes.
        """
        epoch = len(self.history) if epoch is None else epoch
        self.history.append({"epoch": epoch, "value": float(value), "smoothed": None, "final": False, **extra})
        n = len(self.history)
        for i in range(max(0, n - 1 - self.radius), n):
            window = self.history[max(0, i - self.radius) : i + self.radius + 1]
            self.history[i]["smoothed"] = float(np.mean([h["value"] for h in window]))
            self.history[i]["final"] = i + self.radius < n
        settled = n - 1 - self.radius
        if settled >= 0 and not self._stopped:
            self._advance(settled)
        return self.should_stop

    def _better(self, i: int, than: int | None) -> bool:
        return than is None or self.history[i]["smoothed"] > self.history[than]["smoothed"] + self.min_delta

    def _advance(self, i: int) -> None:
        """The stopping rule, on entry ``i`` whose smoothed value just became final."""
        if self._better(i, self._best):
            self._best, self._wait = i, 0
        else:
            self._wait += 1
            self._stopped = self._wait >= self.patience

    @property
    def should_stop(self) -> bool:
        """True once the first local maximum of the smoothed value is followed by ``patience`` lower final values."""
        return self._stopped

    @property
    def final_best_index(self) -> int | None:
        """Index into :attr:`history` of the highest *final* smoothed value: what the stop rule compares with.

        Only a later value becoming final and higher can replace it, so a caller
        keeping the best model must keep this one and the provisional ones.
        """
        return self._best

    @property
    def best_index(self) -> int | None:
        """Index into :attr:`history` of :attr:`best_epoch`."""
        best = self._best
        if not self._stopped:
            for i, h in enumerate(self.history):
                if not h["final"] and self._better(i, best):
                    best = i
        return best

    @property
    def best_epoch(self) -> int | None:
        """Epoch of the highest smoothed value so far; after the stop, of the first local maximum.

        Before the stop it counts the provisional values of the newest entries,
        so it may still move back to an earlier epoch when their windows fill;
        it is final when ``history[best_index]["final"]`` is, and after the stop.
        """
        best = self.best_index
        return None if best is None else self.history[best]["epoch"]

    @property
    def stop_epoch(self) -> int | None:
        """Epoch of the call at which :attr:`should_stop` turned true (``None`` before)."""
        if not self._stopped:
            return None
        return self.history[self._best + self.patience + self.radius]["epoch"]

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue (the batches are drawn again from the data and seed)."""
        return {
            "history": [dict(h) for h in self.history],
            "quantity": self.quantity,
            "calls": self._calls,
            "best": self._best,
            "wait": self._wait,
            "stopped": self._stopped,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`."""
        self.history = [dict(h) for h in state["history"]]
        self.quantity = state["quantity"]
        self._calls, self._best, self._wait, self._stopped = state["calls"], state["best"], state["wait"], state["stopped"]
