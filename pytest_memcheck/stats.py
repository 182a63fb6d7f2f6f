"""Turn per-sample outcomes of a check into its AuC, interval, score and flags."""

from __future__ import annotations

import numpy as np

from . import calibrated

#: Bootstrap resamples drawn per batch of work, to bound memory on checks with many classes.
_CHUNK = 250


def bootstrap_ci(
    sample_auc: np.ndarray,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    resample_groups: bool = False,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-sample values ``(groups, n)``.

    Groups are the class batches (and the batches of repeated draws). By
    default only the samples within each group are resampled: every class of
    the data is checked, so the chance in a check is which samples of each class
    it drew. That matches how much the score moves between draws
    (docs/validation.md). The single-class AuC moves more: each class batch is
    factorized as a whole, so which samples share a batch changes every
    sample's outcome at once; ``resample_groups=True`` (a two-level bootstrap:
    groups, then samples) covers that. NaN marks a sample that is not scored:
    each resample averages the scored ones.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    return _quantiles(_resampled_means(sample_auc, rng, n_boot, resample_groups=resample_groups), confidence)


def _resampled_means(
    values: np.ndarray, rng: np.random.Generator, n_boot: int, joint: np.ndarray | None = None, resample_groups: bool = False
) -> np.ndarray:
    """``n_boot`` means of ``values`` with the samples of each group resampled (and the groups too, if asked).

    With ``joint``, an array of the same shape, the same resampled positions
    also give its means: ``(means of values, means of joint)`` (a paired bootstrap).
    """
    groups, n = values.shape
    out, paired = [], []
    for start in range(0, n_boot, _CHUNK):
        size = min(_CHUNK, n_boot - start)
        rows = rng.integers(0, groups, size=(size, groups))[:, :, None] if resample_groups else np.arange(groups)[None, :, None]
        s = rng.integers(0, n, size=(size, groups, n))
        out.append(_mean(values[rows, s], axis=(1, 2)))
        if joint is not None:
            paired.append(_mean(joint[rows, s], axis=(1, 2)))
    means = np.concatenate(out)
    return means if joint is None else (means, np.concatenate(paired))


def _mean(a: np.ndarray, axis=None) -> np.ndarray:
    """Mean over ``axis`` of the scored (non-NaN) values; NaN where none is scored."""
    scored = ~np.isnan(a)
    total = np.where(scored, a, 0.0).sum(axis=axis)
    count = scored.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def mean(a: np.ndarray) -> float:
    """The mean of the scored (non-NaN) per-sample values."""
    return float(_mean(np.asarray(a, dtype=float)))


def _quantiles(boots: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    boots = boots[~np.isnan(boots)]
    if not boots.size:
        return float("nan"), float("nan")
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return float(lo), float(hi)


def is_saturated(auc: float, base_accuracy: float, score_ci: tuple[float, float] | None) -> bool:
    """The single-class AuC cannot see memorization on this model.

    True when the AuC stays within ``SATURATION_TOL`` of the uncompressed
    accuracy (compressing single-class batches barely moved a prediction)
    while the score does not confirm that the model generalizes (its interval
    is not wholly above the floor, or there is no score). A flat curve on a
    model that the score passes is what the paper expects of a generalizing
    network; on one that it does not pass, the flat curve only shows that a
    class batch's shared directions keep its label (typical of MLPs, whatever
    they memorized).
    """
    flat = auc >= base_accuracy - calibrated.SATURATION_TOL
    confirmed = score_ci is not None and score_ci[0] >= calibrated.MIN_SCORE
    return flat and not confirmed


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
    resample_groups: bool = False,
) -> tuple[float, tuple[float, float]]:
    """Change of the AuC from a baseline, with its interval.

    ``pairing="samples"`` (the same drawn samples): both are resampled at the
    same positions, so an unchanged model gives exactly zero.
    ``pairing="classes"`` (the same class batches, other samples of each class):
    each side's samples are resampled within each class, so the spread between
    classes, which both share, does not enter. ``None``: the two results are
    independent and their intervals combine in quadrature.
    """
    delta = mean(candidate) - mean(baseline)
    same_samples = pairing == "samples" and candidate.shape == baseline.shape and candidate.size
    same_classes = pairing == "classes" and candidate.ndim == baseline.ndim == 2 and candidate.shape[0] == baseline.shape[0]
    rng = np.random.default_rng(seed)
    if same_samples:
        now, then = _resampled_means(candidate, rng, n_boot, joint=baseline, resample_groups=resample_groups)
        return delta, _quantiles(now - then, confidence)
    if same_classes:
        # other samples of the same classes: each side resampled within each class on its own
        if resample_groups:  # the same classes drawn for both, so that what the classes share cancels
            state = rng.bit_generator.state
            now = _resampled_means(candidate, rng, n_boot, resample_groups=True)
            rng.bit_generator.state = state
            then = _resampled_means(baseline, rng, n_boot, resample_groups=True)
        else:
            now, then = _resampled_means(candidate, rng, n_boot), _resampled_means(baseline, rng, n_boot)
        return delta, _quantiles(now - then, confidence)
    half = float(np.hypot((candidate_ci[1] - candidate_ci[0]) / 2, (baseline_ci[1] - baseline_ci[0]) / 2))
    return delta, (delta - half, delta + half)
