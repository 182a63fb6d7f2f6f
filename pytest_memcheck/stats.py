"""Turn per-sample outcomes of a check into its AuC, interval, score and flags."""

from __future__ import annotations

import numpy as np

#: A check whose AuC (mean accuracy over the k grid) stays within this of the
#: uncompressed accuracy barely moved the predictions: it sees nothing.
SATURATION_TOL = 0.1

#: The check whose AuC is the cross-architecture score: multi-class NMF. In the
#: label-noise zoo it ranked three architectures by test error far better than
#: any normalization of the single-class AuC (docs/validation.md).
SCORE_CHECK = {"method": "nmf", "batches": "multi"}


def bootstrap_ci(
    sample_auc: np.ndarray, *, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Two-level percentile bootstrap of the AuC.

    ``sample_auc`` is ``(groups, n)``: each sample's accuracy averaged over the
    k grid. Groups (class batches, and the batches of repeated draws) are
    resampled, then samples within each chosen group, so that the interval
    reflects both which classes and which samples the check happened to see.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    groups, n = sample_auc.shape
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, size=(n_boot, groups))
    s = rng.integers(0, n, size=(n_boot, groups, n))
    boots = sample_auc[g[:, :, None], s].mean(axis=(1, 2))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return float(lo), float(hi)


def is_saturated(curve: dict[float, float], base_accuracy: float, tol: float = SATURATION_TOL) -> bool:
    """True when compression cost less than ``tol`` of the uncompressed accuracy, averaged over k.

    Measured on the label-noise zoo: digits MLPs keep an AuC of 0.93-1.0 at
    every noise level (a rank-1 factor of a single-class batch is close to its
    mean, which keeps the label), so no threshold separates their p; CNNs stay
    below 0.81 even when clean. The older rule (no k below ``base - 0.02``)
    missed 6 of the 18 MLPs, whose rank-1 point dips while the AuC stays ~0.96.
    """
    return sum(curve.values()) / len(curve) >= base_accuracy - tol


def normalized_score(auc: float, base_accuracy: float) -> float:
    """The AuC of the :data:`SCORE_CHECK` relative to the uncompressed accuracy of its batches.

    Multi-class batches need the network's non-linearity to keep classes apart,
    so their AuC measures how much a network relies on it on a scale that the
    architectures share; single-class AuCs sit on a scale of their own per
    architecture. Dividing by the base accuracy discounts a model that does not
    even fit its training batches.
    """
    return auc / base_accuracy if base_accuracy > 0 else 0.0


def difference_ci(
    candidate: np.ndarray,
    baseline: np.ndarray,
    *,
    pairing: str | None,
    candidate_ci: tuple[float, float],
    baseline_ci: tuple[float, float],
    confidence: float = 0.95,
    seed: int = 0,
    n_boot: int = 2000,
) -> tuple[float, tuple[float, float]]:
    """Change of the AuC from a baseline, with its interval.

    ``pairing="samples"`` (the same drawn samples): the per-sample differences
    are bootstrapped, so an unchanged model gives exactly zero.
    ``pairing="classes"`` (the same class batches, other samples of each class):
    classes are resampled together and samples independently, so the large
    spread between classes, shared by both results, cancels. ``None``: the two
    results are independent and their intervals combine in quadrature.
    """
    delta = float(candidate.mean() - baseline.mean())
    if pairing == "samples" and candidate.shape == baseline.shape and candidate.size:
        return delta, bootstrap_ci(candidate - baseline, confidence=confidence, seed=seed, n_boot=n_boot)
    if pairing == "classes" and candidate.ndim == baseline.ndim == 2 and candidate.shape[0] == baseline.shape[0]:
        rng = np.random.default_rng(seed)
        groups = candidate.shape[0]
        g = rng.integers(0, groups, size=(n_boot, groups))[:, :, None]
        boot = lambda a: a[g, rng.integers(0, a.shape[1], size=(n_boot, groups, a.shape[1]))].mean(axis=(1, 2))  # noqa: E731
        diffs = boot(candidate) - boot(baseline)
        alpha = (1 - confidence) / 2
        lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
        return delta, (float(lo), float(hi))
    half = float(np.hypot((candidate_ci[1] - candidate_ci[0]) / 2, (baseline_ci[1] - baseline_ci[0]) / 2))
    return delta, (delta - half, delta + half)
