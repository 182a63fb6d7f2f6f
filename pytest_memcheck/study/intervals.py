"""Do the check's intervals say how much a result moves between draws? Measured, not assumed.

For models of the zoo (saved weights, no retraining), the shipped check runs
with several draw seeds. The spread of the score and the AuC over the draws is
compared with the width of the intervals each draw reports, and the share of
other draws that fall inside a draw's interval is counted. The gate decides on
these intervals, so if they were too narrow it would flake; too wide, it would
leave models undecided.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .. import engine
from . import records
from .datasets import subset
from .families import FAMILIES
from .regimes import DROPOUT

DRAWS = 8


def load_model(record: records.Record, out: Path) -> tuple[torch.nn.Module, object]:
    """A measured model of the zoo (from its saved weights) and its training data."""
    family = FAMILIES[record["family"]]
    split = family.data(record["p"], record["seed"])
    if record["size"] is not None:
        split = subset(split, record["size"], record["seed"])
    model = family.model(dropout=DROPOUT if record["regularizer"] == "dropout" else 0.0)
    model.load_state_dict(torch.load(out / "weights" / record["weights"], weights_only=True))
    return model.eval(), split


def chosen(rs: Sequence[records.Record]) -> list[records.Record]:
    """Seed-0 label-noise models at p = 0, 0.2 and 0.4 of every family."""
    return [r for r in rs if r["regime"] == "noise" and r["seed"] == 0 and r["p"] in (0.0, 0.2, 0.4)]


def measure(out: Path, draws: int = DRAWS, log: Callable[[str], None] = print) -> list[dict]:
    """The shipped check with ``draws`` seeds on each chosen model; one row per model."""
    rows = []
    for r in chosen(records.load(out)):
        model, split = load_model(r, out)
        method = "nmf" if r["activation"] == "relu" else "pca"  # NMF needs non-negative activations
        results = [engine.check(model, split.train, seed=seed, method=method) for seed in range(draws)]
        row = {"run": r["run"], "family": r["family"], "p": r["p"]}
        for name, value, ci in (("score", "score", "score_ci"), ("auc", "auc", "auc_ci")):
            if getattr(results[0], value) is None:
                continue
            values = np.array([getattr(x, value) for x in results])
            cis = np.array([getattr(x, ci) for x in results])
            inside = [
                np.mean([cis[i, 0] <= values[j] <= cis[i, 1] for j in range(draws) if j != i]) for i in range(draws)
            ]
            row[name] = {
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)),
                "half_width": float(np.median((cis[:, 1] - cis[:, 0]) / 2)),
                "other_draws_inside": float(np.mean(inside)),
            }
        rows.append(row)
        log(f"{r['run']:<28} " + " ".join(f"{k} sd {row[k]['sd']:.4f} hw {row[k]['half_width']:.4f} in {row[k]['other_draws_inside']:.2f}" for k in ("score", "auc") if k in row))
    return rows
