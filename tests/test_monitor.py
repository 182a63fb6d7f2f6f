"""MemorizationMonitor: stops after the first maximum of the smoothed AuC, and works on a real model."""

from __future__ import annotations

import re

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
    assert monitor.best_epoch == 30  # the newest value, provisional: no lag behind a rising curve


def test_decision_is_kept_while_training_goes_on():
    monitor = _monitor(radius=1, patience=2)
    for epoch, auc in enumerate([0.1, 0.5, 0.3, 0.2, 0.1, 0.1, 0.9, 0.95, 0.99], start=1):
        monitor.record(auc, epoch)
    # smoothed: .3 .3 .333 .2 .133 -> the maximum at epoch 3, decided at epoch 6
    assert monitor.should_stop and monitor.best_epoch == 3 and monitor.stop_epoch == 6
    assert len(monitor.history) == 9  # still recorded, for the plot
    assert monitor.history[2]["smoothed"] == pytest.approx((0.5 + 0.3 + 0.2) / 3)
    assert monitor.history[6]["smoothed"] == pytest.approx((0.1 + 0.9 + 0.95) / 3)
    assert not monitor.history[-1]["final"]  # its window is not complete: one-sided, provisional
    assert monitor.history[-1]["smoothed"] == pytest.approx((0.95 + 0.99) / 2)


def test_newest_entries_are_smoothed_provisionally_and_then_finally():
    monitor = _monitor(radius=2)
    values = [0.2, 0.4, 0.9, 0.3, 0.5, 0.6]
    for epoch, value in enumerate(values, start=1):
        monitor.record(value, epoch)
        newest = monitor.history[-1]
        # one-sided: the newest value and the radius values before it
        assert newest["smoothed"] == pytest.approx(np.mean(values[max(0, epoch - 3) : epoch]))
        assert [h["final"] for h in monitor.history] == [i + 2 < epoch for i in range(epoch)]
    # a final value is the centred mean and does not change any more
    assert monitor.history[2]["smoothed"] == pytest.approx(np.mean(values[0:5]))
    before = [h["smoothed"] for h in monitor.history if h["final"]]
    monitor.record(0.1, 7)
    assert [h["smoothed"] for h in monitor.history[: len(before)]] == before


def test_best_epoch_follows_the_newest_values_without_lag():
    monitor = _monitor(radius=2, patience=3)
    for epoch, value in enumerate([0.2, 0.3, 0.4, 0.5, 0.6], start=1):
        monitor.record(value, epoch)
        if epoch > 3:  # until then every window holds all the values, and ties keep the first
            assert monitor.best_epoch == epoch
    # after the peak the best moves back to it once the later windows fill with lower values
    for epoch, value in enumerate([0.5, 0.4, 0.3], start=6):
        monitor.record(value, epoch)
    assert monitor.best_epoch == 5 and monitor.history[monitor.best_index]["final"]


def test_state_dict_resumes_the_same_decision():
    values = _planted(peak=12, seed=1)
    whole = _monitor(radius=2, patience=3)
    first = _monitor(radius=2, patience=3)
    for epoch, value in enumerate(values[:10], start=1):
        whole.record(value, epoch)
        first.record(value, epoch)
    resumed = _monitor(radius=2, patience=3)
    resumed.load_state_dict(first.state_dict())
    for epoch, value in enumerate(values[10:], start=11):
        assert resumed.record(value, epoch) == whole.record(value, epoch)
    assert resumed.history == whole.history
    assert (resumed.best_epoch, resumed.stop_epoch) == (whole.best_epoch, whole.stop_epoch)


def test_score_falls_back_to_the_auc_when_the_check_gives_none():
    data = zoo.digits(0.0, seed=0)
    torch.manual_seed(0)
    model = zoo.mlp(width=16, depth=2).eval()
    monitor = mc.MemorizationMonitor(data.train, monitor="score", samples_per_class=4, ks=(1, 2))
    monitor.update(model, 1)
    expected = "auc" if monitor.history[0]["score"] is None else "score"
    assert monitor.quantity == expected
    assert monitor.history[0]["value"] == monitor.history[0][expected]


def test_unknown_quantity_is_refused():
    with pytest.raises(mc.MemcheckError, match="monitor='loss'.*'auc', 'score'"):
        _monitor(monitor="loss")


def test_every_checks_only_each_nth_call(monkeypatch):
    monitor = _monitor(every=3)
    seen = []
    monkeypatch.setattr(monitor, "update", lambda model, epoch: seen.append(epoch))
    for epoch in range(1, 10):
        monitor(epoch, model=None)
    assert seen == [3, 6, 9]


@pytest.mark.parametrize(
    "kwargs, message",
    [({"radius": -1}, "radius must be a whole number >= 0, got -1"),
     ({"patience": 0}, "patience must be a whole number >= 1, got 0"),
     ({"every": 1.5}, "every must be a whole number >= 1, got 1.5")],
)
def test_rejects_bad_settings(kwargs, message):
    with pytest.raises(mc.MemcheckError, match=re.escape(message)):
        _monitor(**kwargs)


def test_numpy_whole_numbers_are_settings_too():
    monitor = _monitor(radius=np.int64(1), patience=np.int32(2), every=np.int64(3))
    assert (monitor.radius, monitor.patience, monitor.every) == (1, 2, 3) and type(monitor.every) is int


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
