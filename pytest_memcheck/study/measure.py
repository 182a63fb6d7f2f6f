"""Measure one model for the study: every candidate check, per sample and per k.

A candidate is a compression method, a batch grouping and a layer selection;
the calibration (``calibrate.py``) chooses the shipped score among them and
their combinations on held-out families, so every candidate is measured on the
same drawn samples and stored in full (which sample stayed correct at which k).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import engine
from ..batches import draw
from ..factorize import DEFAULT_ITERATIONS
from ..hooks import inspection
from ..layers import trace
from ..score import mix
from ..zoo import Split
from .records import Record, pack_bits, pack_ints

#: The engine's multi-class batches (random mixes of all drawn samples), at ranks up to beyond the class count.
MULTI_KS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
ACTIVATIONS = (nn.ReLU, nn.GELU)


@dataclass(frozen=True)
class Candidate:
    """One check of the study: ``layers`` is "last3" (the paper's final block) or "all" (every activation).

    ``batches="mixed"`` is the score's grouping (:func:`pytest_memcheck.score.mix`)
    at its rank grid; its per-sample outcomes are stored in single-class order.
    """

    name: str
    method: str
    batches: str = "single"
    layers: str = "last3"
    ks: tuple[float, ...] | None = None
    needs_nonnegative: bool = False


CANDIDATES = (
    Candidate("nmf", "nmf", needs_nonnegative=True),
    Candidate("pca", "pca"),
    Candidate("random", "random"),
    Candidate("random_all", "random", layers="all"),
    Candidate("mixed_pca", "pca", "mixed"),
    Candidate("mixed_pca_all", "pca", "mixed", "all"),
    Candidate("mixed_nmf", "nmf", "mixed", needs_nonnegative=True),
)


def activation_labels(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Call-site labels of the model's activations on its main path, in execution order."""
    model.eval()
    with torch.no_grad():
        sites = trace(model, x[:4]).sites
    return [s.label for s in sites if s.activation and s.main]


def raw_check(model: nn.Module, data: Any, layers: list[str], candidate: Candidate, samples_per_class: int, seed: int) -> dict[str, Any]:
    """Per-sample, per-k correctness of one candidate: ``correct`` (K, groups, n), ``base`` (groups, n).

    A mixed-batch candidate is stored in the single-class layout (classes, n).
    """
    mixed = candidate.batches == "mixed"
    ks = None if mixed else candidate.ks
    probe = engine._setup(model, candidate.method, ks, False, DEFAULT_ITERATIONS, seed, None, None, 0.95)
    with inspection(model):
        bt = draw(data, samples_per_class=samples_per_class, seed=seed, mode="single" if mixed else candidate.batches)
        prefix = probe.prepare(bt, layers)
        if mixed:
            regroup = mix(tuple(bt.y.shape))
            correct = regroup.to_single(probe.sweep(prefix, grid=regroup.ranks(), order=regroup.order))
            grid = regroup.ranks()
        else:
            correct, grid = probe.sweep(prefix), probe.grid
    return {"correct": correct, "base": prefix.base, "ks": list(grid), "solver": probe.solver_seconds}


def measure(model: nn.Module, split: Split, samples_per_class: int, seed: int = 0, activation: str = "relu") -> Record:
    """Every candidate on ``model``'s training data (its own, possibly noisy, labels)."""
    labels = activation_labels(model, split.x)
    selections = {"last3": labels[-3:], "all": labels}
    index_data = (torch.arange(len(split.y)), split.y)  # the same draw as the check's, as dataset indices
    draws = {}
    for mode in ("single", "multi"):
        idx = draw(index_data, samples_per_class=samples_per_class, seed=seed, mode=mode).x
        draws[mode] = {"index": pack_ints(idx.numpy()), "noisy": pack_bits(split.noisy[idx].numpy())}
    checks = {}
    for c in CANDIDATES:
        if c.needs_nonnegative and activation != "relu":
            continue
        t0 = time.perf_counter()
        raw = raw_check(model, split.train, selections[c.layers], c, samples_per_class, seed)
        checks[c.name] = {
            "ks": raw["ks"],
            "grouping": "single" if c.batches == "mixed" else c.batches,  # the layout the outcomes are stored in
            "correct": pack_bits(raw["correct"]),
            "base": pack_bits(raw["base"]),
            "auc": float(raw["correct"].mean()),
            "base_accuracy": float(raw["base"].mean()),
            "seconds": time.perf_counter() - t0,
            "solver_seconds": raw["solver"],
        }
    return {"layers": selections, "draws": draws, "checks": checks, "samples_per_class": samples_per_class}


def clean_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, dict[str, float]]:
    """Accuracy on clean labels, overall and per class."""
    with torch.no_grad():
        hit = (model(x).argmax(1) == y).float()
    return float(hit.mean()), {str(int(c)): float(hit[y == c].mean()) for c in y.unique()}


def summary_line(r: Record) -> str:
    aucs = " ".join(f"{n} {c['auc']:.2f}" for n, c in r["checks"].items())
    return (
        f"{r['run']:<34} {r['epoch_tag']:<11} train {r['train_accuracy']:.3f} test_err {r['test_error']:.3f} | "
        f"{aucs} | {r['seconds']:.0f}s"
    )

