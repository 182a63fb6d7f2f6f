"""Other class counts: does the ten-class calibration carry over? (docs/validation.md, "Other class counts")

Every zoo family has ten classes. This probe cuts a family's data set to its
first C classes (C < 10; labels randomized among those C with probability p),
gives its architecture C outputs, trains it as the zoo does, and judges it
with the default gate, with and without the class-count guard. Nothing here
is tuned: it measures where the calibrated thresholds stop holding.

    python -m pytest_memcheck.study.classes --families digits_cnn shapes_resnet --classes 2 3 5
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import replace

import torch
from torch import nn

from .. import calibrated, zoo
from ..engine import check
from ..gate import Thresholds, decide, outside_calibration
from ..zoo import Split
from .families import FAMILIES
from .run import MAX_EPOCHS

NOISE = (0.0, 0.4, 1.0)
SEEDS = (0, 1)


def cut(split: Split, classes: int, p: float, seed: int) -> Split:
    """The samples of the first ``classes`` classes, training labels randomized among them with probability ``p``."""
    train, test = split.y < classes, split.y_test < classes
    y, noisy = zoo.randomize_labels(split.y[train], p, classes, seed)
    return Split(split.x[train], y, split.x_test[test], split.y_test[test], noisy)


def with_outputs(model: nn.Module, classes: int) -> nn.Module:
    """``model`` with its last linear layer replaced by one with ``classes`` outputs."""
    name, last = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, nn.Linear(last.in_features, classes))
    return model


def measure(family: str, classes: int, p: float, seed: int) -> dict:
    fam = FAMILIES[family]
    split = cut(fam.data(0.0, 0), classes, p, seed)
    torch.manual_seed(seed)
    model, _ = zoo.fit(with_outputs(fam.model(), classes), split.x, split.y, seed=seed, max_epochs=MAX_EPOCHS,
                       **fam.fit_kwargs)
    error = 1.0 - zoo.accuracy(model, split.x_test, split.y_test)
    result = check(model, split.train)
    unguarded = decide(replace(result, settings={**result.settings, "classes": list(range(calibrated.CLASSES))}))
    # the same result as if checked on ten classes: the calibrated thresholds without the guard
    return {
        "family": family, "classes": classes, "p": p, "seed": seed, "error": error, "score": result.score,
        "without_guard": unguarded.status.value, "verdict": decide(result).status.value,
        "guarded": outside_calibration(result, Thresholds()) is not None,
    }


def table(rows: list[dict]) -> str:
    """Markdown: per family, class count and p, the scores and the verdicts of the ten-class thresholds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["family"], r["classes"], r["p"]].append(r)
    out = ["| family | classes | p | test error | score | verdicts without the guard | default gate |",
           "|---|---|---|---|---|---|---|"]
    for (family, classes, p), rs in groups.items():
        err = ", ".join(f"{r['error']:.2f}" for r in rs)
        score = ", ".join(f"{r['score']:.2f}" for r in rs)
        raw = ", ".join(r["without_guard"] for r in rs)
        out.append(f"| {family} | {classes} | {p:g} | {err} | {score} | {raw} | {', '.join(r['verdict'] for r in rs)} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=["digits_cnn", "signals_cnn", "shapes_resnet", "digits_mlp"])
    parser.add_argument("--classes", nargs="+", type=int, default=[2, 3, 5])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if any(not 2 <= c < calibrated.CLASSES for c in args.classes):
        parser.error(f"--classes must be between 2 and {calibrated.CLASSES - 1}: the zoo's data sets have {calibrated.CLASSES}")
    torch.set_num_threads(args.threads)
    rows = []
    for family in args.families:
        for classes in args.classes:
            for p in NOISE:
                for seed in SEEDS:
                    rows.append(measure(family, classes, p, seed))
                    print(rows[-1], file=sys.stderr, flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
