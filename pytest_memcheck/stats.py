"""Turn per-sample outcomes of a check into its AuC, interval, score and flags."""

from __future__ import annotations

import numpy as np

#: Compression that never moves accuracy below ``base - SATURATION_TOL`` at any
#: k leaves nothing to measure.
SATURATION_TOL = 0.02


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
    """True when no k of the grid brought accuracy noticeably below the uncompressed one."""
    return min(curve.values()) >= base_accuracy - tol


def normalized_score(auc: float, base_accuracy: float) -> float:
    """The AuC relative to the uncompressed accuracy of the same batches.

    A model that does not even fit its training batches loses AuC for a reason
    other than non-linearity; dividing by the base accuracy removes that part.
    """
    return auc / base_accuracy if base_accuracy > 0 else 0.0


def difference_ci(
    candidate: np.ndarray,
    baseline: np.ndarray,
    *,
    paired: bool,
    candidate_ci: tuple[float, float],
    baseline_ci: tuple[float, float],
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, tuple[float, float]]:
    """Change of the AuC from a baseline, with its interval.

    On the same drawn samples (``paired``) the per-sample differences are
    bootstrapped: an unchanged model gives exactly zero, and the interval only
    reflects how the change varies over classes and samples. Otherwise the two
    results are independent and their intervals combine in quadrature.
    """
    delta = float(candidate.mean() - baseline.mean())
    if paired and candidate.shape == baseline.shape and candidate.size:
        return delta, bootstrap_ci(candidate - baseline, confidence=confidence, seed=seed)
    half = float(np.hypot((candidate_ci[1] - candidate_ci[0]) / 2, (baseline_ci[1] - baseline_ci[0]) / 2))
    return delta, (delta - half, delta + half)
