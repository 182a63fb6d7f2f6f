"""Early stopping with MemorizationMonitor (paper fig. 6): where would it stop, where was test error lowest?

Trains a digits CNN on labels with 40% noise for a fixed number of epochs,
well past the test-error minimum (the point where it starts to fit the noisy
labels), checking the model after every epoch on fixed training batches. The
monitor never sees test data; the test error is recorded only to compare.

    python examples/early_stopping.py --seeds 3 --out early-stopping
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from pytest_memcheck import MemorizationMonitor, zoo


def run(p: float, seed: int, epochs: int) -> dict:
    """Train one model for ``epochs`` epochs, recording the monitor and the test error after each."""
    data = zoo.digits(p, seed)
    torch.manual_seed(seed)
    model = zoo.digits_cnn()
    monitor = MemorizationMonitor(data.train, seed=seed)
    test_error: list[float] = []

    def on_epoch(epoch: int, model: torch.nn.Module) -> bool:
        test_error.append(1 - zoo.accuracy(model, data.x_test, data.y_test))
        monitor(epoch, model)
        return False  # train on past the stop, to see what it would have saved

    zoo.fit(model, data.x, data.y, seed=seed, max_epochs=epochs, target_accuracy=None, on_epoch=on_epoch)
    best_test = int(np.argmin(test_error)) + 1
    chosen = monitor.best_epoch
    return {
        "seed": seed,
        "history": monitor.history,
        "test_error": test_error,
        "test_error_min_epoch": best_test,
        "test_error_min": min(test_error),
        "monitor_best_epoch": chosen,
        "monitor_stop_epoch": monitor.stop_epoch,
        "test_error_at_monitor_best": None if chosen is None else test_error[chosen - 1],
        "test_error_final": test_error[-1],
        "train_accuracy_final": zoo.accuracy(model, data.x, data.y),
    }


def describe(r: dict) -> str:
    chosen = r["monitor_best_epoch"]
    at = "never stopped" if chosen is None else f"best epoch {chosen} (stop signalled at epoch {r['monitor_stop_epoch']}), test error there {r['test_error_at_monitor_best']:.3f}"
    return (
        f"seed {r['seed']}: test error lowest at epoch {r['test_error_min_epoch']} ({r['test_error_min']:.3f}); "
        f"monitor {at}; after all epochs {r['test_error_final']:.3f} (train accuracy {r['train_accuracy_final']:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--p", type=float, default=0.4, help="fraction of randomized training labels (default 0.4)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("early-stopping"))
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in range(args.seeds):
        r = run(args.p, seed, args.epochs)
        print(describe(r), flush=True)
        runs.append(r)
        if not args.no_plots:
            from pytest_memcheck.plots import early_stopping

            early_stopping(r["history"], r["test_error"], args.out / f"early_stopping_seed{seed}.png",
                           r["monitor_best_epoch"], r["test_error_min_epoch"])
    (args.out / "early_stopping.json").write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
