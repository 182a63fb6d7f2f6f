"""Stop a PyTorch Lightning run before it memorizes noisy labels, and keep the best checkpoint.

Trains a digits CNN on labels of which 40% were randomized. A MemorizationCallback
checks the training data after every epoch (no held-out data needed), logs
``memcheck/*`` to the trainer's logger (CSV here), stops the run once the
smoothed check has peaked and keeps that epoch's checkpoint. To see what the stop
saved, ``--compare`` then trains the stopped model on to ``--max-epochs``: it
fits more and more of the random labels and its test accuracy falls.

    pip install 'pytest-memcheck[lightning]'
    python examples/lightning_early_stopping.py --out lightning-run --compare
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from lightning.pytorch.loggers import CSVLogger
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from pytest_memcheck import zoo
from pytest_memcheck.lightning import MemorizationCallback


class DigitsClassifier(LightningModule):
    """pytest_memcheck.zoo's digits CNN, trained with Adam."""

    def __init__(self, lr: float = 2e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = zoo.digits_cnn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def train_loader(data: zoo.Split, seed: int) -> DataLoader:
    return DataLoader(TensorDataset(data.x, data.y), batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(seed))


def trainer(out: Path, max_epochs: int, callbacks: list) -> Trainer:
    """A quiet CPU trainer that logs to ``out`` as CSV (Lightning's own checkpointing off: the callback keeps one)."""
    return Trainer(
        max_epochs=max_epochs, callbacks=callbacks, logger=CSVLogger(out, name="logs"), accelerator="cpu",
        deterministic=True, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        log_every_n_steps=1,
    )


def memorized(model: torch.nn.Module, data: zoo.Split) -> float:
    """Fraction of the randomized training labels the model reproduces (about 0.1 by chance)."""
    return zoo.accuracy(model, data.x[data.noisy], data.y[data.noisy])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--p", type=float, default=0.4, help="fraction of randomized training labels (default 0.4)")
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("lightning-run"))
    parser.add_argument("--compare", action="store_true", help="then train the stopped model on to --max-epochs")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed, verbose=False)
    data = zoo.digits(args.p, args.seed)
    model = DigitsClassifier()
    # data=None: the callback draws from the trainer's training set, with its (noisy) labels.
    # A light check (20 samples per class, 4 ranks) and a short smoothing window suit this small model.
    memorization = MemorizationCallback(
        samples_per_class=20, ks=(1, 2, 4, 8), radius=1, patience=2, dirpath=args.out / "checkpoints", verbose=True
    )
    trainer(args.out, args.max_epochs, [memorization]).fit(model, train_loader(data, args.seed))
    best = DigitsClassifier.load_from_checkpoint(memorization.best_model_path).eval()
    summary = {
        "stopped_epoch": memorization.stopped_epoch,
        "best_epoch": memorization.best_epoch,
        "best_model_path": memorization.best_model_path,
        "monitored": memorization.memorization_monitor.quantity,
        "at_stop": {"test_accuracy": zoo.accuracy(model.eval(), data.x_test, data.y_test), "memorized": memorized(model, data)},
        "at_best": {"test_accuracy": zoo.accuracy(best, data.x_test, data.y_test), "memorized": memorized(best, data)},
    }
    print(f"stopped after epoch {summary['stopped_epoch']} (0-based); the smoothed {summary['monitored']} peaked at "
          f"epoch {summary['best_epoch']}: {summary['best_model_path']}")
    for when in ("at_best", "at_stop"):
        print(f"  {when.replace('_', ' the ')}: test accuracy {summary[when]['test_accuracy']:.3f}, "
              f"random labels reproduced {summary[when]['memorized']:.3f}")
    if args.compare and memorization.stopped_epoch:
        remaining = args.max_epochs - memorization.stopped_epoch - 1
        trainer(args.out, remaining, []).fit(model.train(), train_loader(data, args.seed + 1))
        summary["trained_on"] = {"test_accuracy": zoo.accuracy(model.eval(), data.x_test, data.y_test),
                                 "memorized": memorized(model, data)}
        print(f"  trained on to epoch {args.max_epochs - 1}: test accuracy {summary['trained_on']['test_accuracy']:.3f}, "
              f"random labels reproduced {summary['trained_on']['memorized']:.3f}")
    return summary


if __name__ == "__main__":
    main()
