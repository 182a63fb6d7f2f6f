"""A PyTorch Lightning callback: stop training, or keep the best checkpoint, before the model memorizes.

:class:`MemorizationCallback` runs a :class:`~pytest_memcheck.monitor.MemorizationMonitor`
on the training data every ``every_n_epochs`` epochs, logs the monitored value
through the trainer's logger, and, like Lightning's ``EarlyStopping`` and
``ModelCheckpoint``, can stop the run once the smoothed value has peaked and
keep the checkpoint of the epoch where it peaked. Needs the ``lightning`` extra:
``pip install 'pytest-memcheck[lightning]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, IterableDataset

from .errors import MemcheckError
from .monitor import MemorizationMonitor

try:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.utilities import rank_zero_info
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "pytest_memcheck.lightning needs PyTorch Lightning: pip install 'pytest-memcheck[lightning]'"
    ) from exc


class MemorizationCallback(Callback):
    """Check the training data every ``every_n_epochs`` epochs; stop or keep the best checkpoint when it peaks.

    Args:
        data: the training samples to check, as :func:`pytest_memcheck.check`
            takes them; ``None`` (default) reads the trainer's training
            DataLoader's dataset at the first check.
        monitor: ``"score"`` (default; the AuC where the check gives no score)
            or ``"auc"``. Higher means "generalizes", so there is no ``mode``.
        every_n_epochs: check after every N-th training epoch.
        patience: checks with no improvement of the smoothed value (after the
            ``radius`` checks it needs to be final) before the run stops; like
            ``EarlyStopping``'s, it counts checks, not epochs.
        radius: half-width of the centred moving average (the paper: 2).
        min_delta: smallest rise of the smoothed value that counts as one.
        stop: tell the trainer to stop once the smoothed value has peaked.
        dirpath: keep the checkpoint of the best epoch there
            (``filename.format(epoch=...)`` + ``.ckpt``); ``None`` keeps none.
            While training, the checkpoints of the newest ``radius`` checks are
            kept too, since their smoothed values are not final yet.
        samples_per_class, seed, check_kwargs: the check's settings (see
            :class:`~pytest_memcheck.monitor.MemorizationMonitor`).

    Logs ``memcheck/auc``, ``memcheck/score`` (when the check gives one) and
    ``memcheck/smoothed`` (of the monitored value, provisional for the newest
    epochs), so that Lightning's own callbacks can monitor them too.

    Attributes:
        stopped_epoch: the epoch at which this callback stopped the run (0 if it did not).
        best_model_path: the kept checkpoint of the best epoch ("" without ``dirpath``).
        best_model_score: the smoothed value at that epoch.
        memorization_monitor: the monitor (its ``history`` has every check), created at the first check.

    Example::

        from lightning.pytorch import Trainer
        from pytest_memcheck.lightning import MemorizationCallback

        memorization = MemorizationCallback(dirpath="checkpoints")
        Trainer(max_epochs=100, callbacks=[memorization]).fit(model, train_loader)
        model = LitModel.load_from_checkpoint(memorization.best_model_path)
    """

    def __init__(
        self,
        data: Any = None,
        *,
        monitor: str = "score",
        every_n_epochs: int = 1,
        patience: int = 3,
        radius: int = 2,
        min_delta: float = 0.0,
        stop: bool = True,
        dirpath: str | Path | None = None,
        filename: str = "memcheck-epoch={epoch}",
        samples_per_class: int = 50,
        seed: int = 0,
        verbose: bool = False,
        **check_kwargs: Any,
    ) -> None:
        super().__init__()
        if not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise MemcheckError(f"every_n_epochs must be a whole number >= 1, got {every_n_epochs!r}")
        self.data = data
        self.monitor = monitor
        self.every_n_epochs = every_n_epochs
        self.stop = stop
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.filename = filename
        self.verbose = verbose
        self._monitor_kwargs = dict(
            monitor=monitor, patience=patience, radius=radius, min_delta=min_delta,
            samples_per_class=samples_per_class, seed=seed, **check_kwargs,
        )
        self.memorization_monitor: MemorizationMonitor | None = None
        self._pending_state: dict[str, Any] | None = None
        self.stopped_epoch = 0
        self.best_model_path = ""
        self.best_model_score: float | None = None
        self._checkpoints: dict[int, str] = {}  # epoch -> file, for the epochs that may still turn out best
        if data is not None:  # draw now: bad data fails before training starts
            self._start(data)

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, every_n_epochs=self.every_n_epochs)

    def _start(self, data: Any) -> MemorizationMonitor:
        self.memorization_monitor = MemorizationMonitor(data, **self._monitor_kwargs)
        if self._pending_state is not None:
            self.memorization_monitor.load_state_dict(self._pending_state)
            self._pending_state = None
        return self.memorization_monitor

    def _monitor(self, trainer: pl.Trainer) -> MemorizationMonitor:
        if self.memorization_monitor is not None:
            return self.memorization_monitor
        loader = trainer.train_dataloader
        if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset):
            raise MemcheckError(
                f"MemorizationCallback cannot read samples from the trainer's training data ({type(loader).__name__}); "
                "pass them: MemorizationCallback(data=(x_train, y_train)) or a map-style Dataset"
            )
        return self._start(loader.dataset)  # by index: the loader's shuffling does not change the draw

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        if trainer.sanity_checking or trainer.fast_dev_run or (epoch + 1) % self.every_n_epochs:
            return
        monitor = self._monitor(trainer)
        decided = monitor.should_stop
        monitor.update(pl_module, epoch)
        latest = monitor.history[-1]
        for name in ("auc", "score"):
            if latest[name] is not None:
                pl_module.log(f"memcheck/{name}", float(latest[name]), on_step=False, on_epoch=True)
        pl_module.log("memcheck/smoothed", latest["smoothed"], on_step=False, on_epoch=True)
        if self.dirpath is not None:
            self._keep_checkpoints(trainer, monitor, self.dirpath / f"{self.filename.format(epoch=epoch)}.ckpt", epoch)
        best = monitor.best_index
        self.best_model_score = None if best is None else monitor.history[best]["smoothed"]
        if monitor.should_stop and not decided:
            message = (
                f"memcheck: the smoothed {monitor.quantity} peaked at epoch {monitor.best_epoch} "
                f"({self.best_model_score:.3f}) and fell for {monitor.patience} checks: the model starts to memorize"
            )
            if self.stop and trainer.strategy.reduce_boolean_decision(True, all=False):
                trainer.should_stop = True
                self.stopped_epoch = epoch
                message += "; stopping"
            if self.verbose:
                rank_zero_info(message)

    def _keep_checkpoints(self, trainer: pl.Trainer, monitor: MemorizationMonitor, path: Path, epoch: int) -> None:
        """Save this epoch's checkpoint; keep the best epoch's and those whose smoothed values may still change."""
        trainer.save_checkpoint(path, weights_only=False)  # a whole checkpoint: training can resume from it
        self._checkpoints[epoch] = str(path)
        self._prune(trainer, monitor, keep_provisional=not monitor.should_stop)

    def _prune(self, trainer: pl.Trainer, monitor: MemorizationMonitor, keep_provisional: bool) -> None:
        keep = {monitor.best_epoch}
        if keep_provisional:  # each may still become the best, and so may the final best again
            final_best = monitor.final_best_index
            keep |= {h["epoch"] for i, h in enumerate(monitor.history) if not h["final"] or i == final_best}
        for epoch in [e for e in self._checkpoints if e not in keep]:
            trainer.strategy.remove_checkpoint(self._checkpoints.pop(epoch))
        self.best_model_path = self._checkpoints.get(monitor.best_epoch, "")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Only the best epoch's checkpoint stays."""
        if self.dirpath is not None and self.memorization_monitor is not None:
            self._prune(trainer, self.memorization_monitor, keep_provisional=False)

    @property
    def best_epoch(self) -> int | None:
        """The epoch with the highest smoothed value (see :attr:`MemorizationMonitor.best_epoch`)."""
        return None if self.memorization_monitor is None else self.memorization_monitor.best_epoch

    def state_dict(self) -> dict[str, Any]:
        monitor = self.memorization_monitor
        return {
            "monitor_state": self._pending_state if monitor is None else monitor.state_dict(),
            "stopped_epoch": self.stopped_epoch,
            "best_model_path": self.best_model_path,
            "best_model_score": self.best_model_score,
            "checkpoints": dict(self._checkpoints),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.stopped_epoch = state_dict["stopped_epoch"]
        self.best_model_path = state_dict["best_model_path"]
        self.best_model_score = state_dict["best_model_score"]
        self._checkpoints = dict(state_dict["checkpoints"])
        self._pending_state = state_dict["monitor_state"]
        if self.memorization_monitor is not None and self._pending_state is not None:
            self.memorization_monitor.load_state_dict(self._pending_state)
            self._pending_state = None
