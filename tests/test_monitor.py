"""MemorizationMonitor: stops after the first maximum of the smoothed AuC, and works on a real model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pytest_memcheck as mc
from pytest_memcheck import zoo


def _monitor(**kwargs) -> mc.MemorizationMonitor:
    """A monitor fed by hand (record()); the data is only drawn, never checked."""
    x, y = torch.rand(40, 1, 8, 8), torch.arange(40) % 4
    return mc.MemorizationMonitor((x, y), samples_per_class=5, **kwargs)


def _planted(peak: int, epochs: int = 40, noise: float = 0.02, seed: int = 0) -> np.ndarray:
    """A rise to ``peak`` and a fall after it, with seeded per-epoch noise (like fig. 6's AuC)."""
    t = np.arange(1, epochs + 1)
    trend = 0.8 - 0.5 * np.abs(t - peak) / epochs
    return trend + noise * np.random.default_rng(seed).standard_normal(epochs)


@pytest.mark.parametrize("seed", range(5))
def test_stops_at_a_planted_maximum(seed):
    monitor = _monitor(radius=2, patience=3)
    for epoch, auc in enumerate(_planted(peak=15, seed=seed), start=1):
        if monitor.record(auc, epoch):
            break
    assert monitor.should_stop
    assert abs(monitor.best_epoch - 15) <= 2
    # decided radius + patience checks after the maximum, no earlier
    assert monitor.stop_epoch == epoch == monitor.best_epoch + 2 + 3


def test_does_not_stop_while_the_auc_rises():
    monitor = _monitor()
    for epoch, auc in enumerate(np.linspace(0.2, 0.8, 30), start=1):
        monitor.record(auc, epoch)
    assert not monitor.should_stop
    assert monitor.stop_epoch is None
    assert monitor.best_epoch == 30 - monitor.radius  # the newest settled value


def test_decision_is_kept_while_training_goes_on():
    monitor = _monitor(radius=1, patience=2)
    for epoch, auc in enumerate([0.1, 0.5, 0.3, 0.2, 0.1, 0.1, 0.9, 0.95, 0.99], start=1):
        monitor.record(auc, epoch)
    # smoothed: .3 .3 .333 .2 .133 -> the maximum at epoch 3, decided at epoch 6
    assert monitor.should_stop and monitor.best_epoch == 3 and monitor.stop_epoch == 6
    assert len(monitor.history) == 9  # still recorded, for the plot
    assert monitor.history[2]["smoothed"] == pytest.approx((0.5 + 0.3 + 0.2) / 3)
    assert monitor.history[6]["smoothed"] == pytest.approx((0.1 + 0.9 + 0.95) / 3)
    assert monitor.history[-1]["smoothed"] is None  # its window is not complete


def test_every_checks_only_each_nth_call(monkeypatch):
    monitor = _monitor(every=3)
    seen = []
    monkeypatch.setattr(monitor, "update", lambda model, epoch: seen.append(epoch))
    for epoch in range(1, 10):
        monitor(epoch, model=None)
    assert seen == [3, 6, 9]


@pytest.mark.parametrize("kwargs", [{"radius": -1}, {"patience": 0}, {"every": 0}])
def test_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        _monitor(**kwargs)


def test_real_model_in_a_training_loop():
    data = zoo.digits(0.0, seed=0)
    torch.manual_seed(0)
    model = zoo.mlp(width=32, depth=2)
    monitor = mc.MemorizationMonitor(data.train, samples_per_class=8, ks=(1, 2), radius=1, patience=1)
    _, epochs = zoo.fit(model, data.x, data.y, max_epochs=6, target_accuracy=None, on_epoch=monitor)
    assert len(monitor.history) == epochs
    assert all(0 <= h["auc"] <= 1 and 0 <= h["base_accuracy"] <= 1 for h in monitor.history)
    assert monitor.best_epoch is not None
    if monitor.should_stop:
        assert epochs == monitor.stop_epoch  # fit() stopped when told to
    assert not model.training
