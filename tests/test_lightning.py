"""MemorizationCallback: a Lightning run stopped before it memorizes noisy labels, its logs, checkpoint and state."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("lightning")

from lightning.pytorch import LightningModule, Trainer  # noqa: E402
from torch.utils.data import DataLoader, IterableDataset, TensorDataset  # noqa: E402

from pytest_memcheck import MemcheckError, zoo  # noqa: E402
from pytest_memcheck.lightning import MemorizationCallback  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lightning_early_stopping.py"


def _example():
    spec = importlib.util.spec_from_file_location("lightning_early_stopping", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_stops_a_run_that_starts_to_memorize_noisy_labels(tmp_path):
    summary = _example().main(["--out", str(tmp_path), "--compare", "--max-epochs", "40", "--threads", "1"])
    stopped, best = summary["stopped_epoch"], summary["best_epoch"]
    assert 0 < best < stopped < 39  # it stopped, a few checks after the peak
    # at the stop the model reproduces the random labels at chance level (0.1) and generalizes;
    # trained on, it memorizes them and its test accuracy falls
    assert summary["at_stop"]["memorized"] < 0.2 and summary["at_stop"]["test_accuracy"] > 0.85
    assert summary["trained_on"]["memorized"] > summary["at_stop"]["memorized"] + 0.25
    assert summary["trained_on"]["test_accuracy"] < summary["at_stop"]["test_accuracy"] - 0.05
    # only the best epoch's checkpoint stays
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [f"memcheck-epoch={best}.ckpt"]
    assert summary["best_model_path"] == str(tmp_path / "checkpoints" / f"memcheck-epoch={best}.ckpt")
    # logged through the trainer's logger, once per checked epoch
    with open(tmp_path / "logs" / "version_0" / "metrics.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["memcheck/smoothed"]]
    assert [int(r["epoch"]) for r in rows] == list(range(stopped + 1))
    assert all(0 <= float(r[f"memcheck/{summary['monitored']}"]) <= 1 for r in rows)
    # the checkpoint holds the callback's state (loadable with weights_only=True): a resumed run continues from it
    checkpoint = torch.load(summary["best_model_path"], weights_only=True)
    state = next(v for k, v in checkpoint["callbacks"].items() if k.startswith("MemorizationCallback"))
    resumed = MemorizationCallback()
    resumed.load_state_dict(state)
    monitor = resumed._start(zoo.digits(0.4, 0).train)
    assert [h["epoch"] for h in monitor.history] == list(range(best + 1)) and not monitor.should_stop


class _Tiny(LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = zoo.mlp(inputs=64, width=16, depth=2, classes=4)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(callback: MemorizationCallback, epochs: int, data) -> Trainer:
    torch.manual_seed(0)
    trainer = Trainer(max_epochs=epochs, callbacks=[callback], logger=False, accelerator="cpu", enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(_Tiny(), DataLoader(TensorDataset(*data), batch_size=16, shuffle=True))
    return trainer


@pytest.mark.parametrize("stop", [True, False])
def test_every_n_epochs_and_the_stop(tiny_data, monkeypatch, stop):
    """Checks after epochs 1, 3, 5; a falling value decides at the second check, which stops the run or not."""
    from pytest_memcheck import monitor as monitor_module

    falling = iter([0.5, 0.4, 0.3])
    monkeypatch.setattr(monitor_module, "check", lambda model, data, **kw: SimpleNamespace(
        auc=next(falling), score=None, base_accuracy=1.0, saturated=False))
    x, y = tiny_data
    data = (x.flatten(1), y)
    callback = MemorizationCallback(data, every_n_epochs=2, stop=stop, radius=0, patience=1, samples_per_class=4)
    trainer = _fit(callback, 6, data)
    monitor = callback.memorization_monitor
    assert monitor.should_stop and monitor.best_epoch == 1 and monitor.quantity == "auc"
    if stop:
        assert [h["epoch"] for h in monitor.history] == [1, 3]
        assert callback.stopped_epoch == 3 and trainer.current_epoch == 4
    else:
        assert [h["epoch"] for h in monitor.history] == [1, 3, 5]
        assert callback.stopped_epoch == 0 and trainer.current_epoch == 6
    assert trainer.callback_metrics["memcheck/auc"] == pytest.approx(0.4 if stop else 0.3)
    assert "memcheck/smoothed" in trainer.callback_metrics


def test_the_trainers_training_set_is_the_default_data(tiny_data):
    x, y = tiny_data
    callback = MemorizationCallback(samples_per_class=4, ks=(1, 2))
    _fit(callback, 1, (x.flatten(1), y))
    assert callback.memorization_monitor.history[0]["epoch"] == 0


def test_training_data_it_cannot_index_is_a_clear_error():
    class Stream(IterableDataset):
        def __iter__(self):
            yield from ()

    callback = MemorizationCallback()
    with pytest.raises(MemcheckError, match=r"pass them: MemorizationCallback\(data=\(x_train, y_train\)\)"):
        callback._monitor(SimpleNamespace(train_dataloader=DataLoader(Stream())))


def test_bad_settings_fail_at_construction(tiny_data):
    with pytest.raises(MemcheckError, match="every_n_epochs must be a whole number >= 1"):
        MemorizationCallback(every_n_epochs=0)
    with pytest.raises(MemcheckError, match="monitor='loss'"):
        MemorizationCallback(tiny_data, monitor="loss")
