"""Turn per-sample outcomes of a check into its AuC, interval, score and flags."""

from __future__ import annotations

import numpy as np

from . import calibrated

#: Bootstrap resamples drawn per batch of work, to bound memory on checks with many classes.
_CHUNK = 250


def bootstrap_ci(
    sample_auc: np.ndarray, *, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, resampling samples within each group.

    ``sample_auc`` is ``(groups, n)``: each sample's accuracy averaged over the
    k grid (or the score's per-sample values). Groups are the class batches
    (and the batches of repeated draws). The groups are not resampled: every
    class of the data is checked, so the only chance in a check is which
    samples of each class it drew. Over 8 draws of the same models, the spread
    of the score matched this interval, while resampling the classes too made
    it 3 to 10 times wider (docs/validation.md). NaN marks a sample that is not
    scored: each resample averages the scored ones.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    return _quantiles(_resampled_means(sample_auc, rng, n_boot), confidence)


def _resampled_means(values: np.ndarray, rng: np.random.Generator, n_boot: int, joint: np.ndarray | None = None) -> np.ndarray:
    """``n_boot`` means of ``values`` with the samples of each group resampled (stratified bootstrap).

    With ``joint``, an array of the same shape, the same resampled positions
    also give its means: ``(means of values, means of joint)`` (a paired bootstrap).
    """
    groups, n = values.shape
    rows = np.arange(groups)[None, :, None]
    out, paired = [], []
    for start in range(0, n_boot, _CHUNK):
        s = rng.integers(0, n, size=(min(_CHUNK, n_boot - start), groups, n))
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
        now, then = _resampled_means(candidate, rng, n_boot, joint=baseline)
        return delta, _quantiles(now - then, confidence)
    if same_classes:
        # other samples of the same classes: each side resampled within each class on its own
        return delta, _quantiles(_resampled_means(candidate, rng, n_boot) - _resampled_means(baseline, rng, n_boot), confidence)
    half = float(np.hypot((candidate_ci[1] - candidate_ci[0]) / 2, (baseline_ci[1] - baseline_ci[0]) / 2))
    return delta, (delta - half, delta + half)
