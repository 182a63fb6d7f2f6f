"""The score: mixed batches built from the single-class draw, and the check filling score, interval and samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pytest_memcheck as mc
from pytest_memcheck import calibrated, mixing, score
from pytest_memcheck.batches import draw


def _draw(classes: int, per_class: int):
    n = classes * per_class * 2
    x = torch.arange(n, dtype=torch.float32)[:, None]
    return draw((x, torch.arange(n) % classes), samples_per_class=per_class, seed=0)


@pytest.mark.parametrize(("classes", "per_class"), [(10, 50), (12, 7), (3, 5), (25, 10)])
def test_mixed_batches_hold_every_drawn_sample_and_map_back(classes, per_class):
    single = _draw(classes, per_class)
    mixed = score.mix(tuple(single.y.shape))
    assert mixed.classes_per_batch <= score.CLASSES_PER_BATCH
    assert set(mixed.order.flatten().tolist()) == set(range(classes * per_class))  # every sample, some padding repeats
    labels = single.y.flatten()
    for positions in mixed.order:
        unique = positions.unique()  # a short batch is padded with repeats of its own samples
        counts = torch.bincount(labels[unique], minlength=classes)
        present = counts[counts > 0]
        assert len(present) <= score.CLASSES_PER_BATCH and int(present.max()) <= score.PER_CLASS
    # a per-sample outcome on the mixed batches lands back on its own sample
    outcome = single.x.flatten()[mixed.order].numpy()[None]
    assert np.array_equal(mixed.to_single(outcome)[0], single.x.flatten().reshape(classes, per_class).numpy())


def test_ten_classes_give_the_calibrated_rank_grid():
    assert score.mix((10, 50)).ranks() == (6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
    assert score.mix((20, 10)).ranks() == (6.0, 8.0, 12.0, 16.0, 24.0, 32.0)  # two blocks of ten
    assert score.mix((4, 10)).ranks() == (2.0, 3.0, 5.0, 6.0, 10.0, 13.0)


def test_a_baseline_comparison_reads_the_ranks_above_the_classes_in_a_batch():
    assert score.mix((10, 50)).regression_ranks() == (12.0, 16.0, 24.0, 32.0)
    assert score.mix((20, 10)).regression_ranks() == (12.0, 16.0, 24.0, 32.0)
    assert score.mix((4, 10)).regression_ranks() == (5.0, 6.0, 10.0, 13.0)


def test_the_arithmetic_a_baseline_is_checked_with_is_the_batches_the_score_builds():
    """result.py checks a baseline's compared ranks with mixing.py alone (no torch): it must agree with mix()."""
    for classes in range(1, 46):
        assert score.mix((classes, 5)).classes_per_batch == mixing.classes_per_batch(classes), classes


def test_check_keeps_the_values_at_the_compared_ranks(memorizing_cnn):
    model, data = memorizing_cnn  # its accuracy differs from rank to rank, so a wrong rank range shows
    result = mc.check(model, data.train, samples_per_class=20)
    upper = np.array([[np.nan if v is None else v for v in row] for row in result.regression_samples])
    assert upper.shape == (10, 20)
    # each sample's accuracy averaged over ranks 12-32 only (the model fits its draw: no sample is left out)
    assert not np.isnan(upper).any()
    curve = result.score_curve
    assert len({round(curve[k], 3) for k in (12.0, 16.0, 24.0, 32.0)}) > 1
    assert upper.mean() == pytest.approx(np.mean([curve[k] for k in (12.0, 16.0, 24.0, 32.0)]), abs=1e-6)
    assert result.regression_score == pytest.approx(upper.mean())
    assert mc.CheckResult.from_dict(result.to_dict()).regression_samples == result.regression_samples


def test_check_fills_the_score_by_default(clean_cnn):
    model, data = clean_cnn
    result = mc.check(model, data.train, samples_per_class=20)
    assert result.score is not None and result.score_ci[0] <= result.score <= result.score_ci[1]
    values = np.array([[np.nan if v is None else v for v in row] for row in result.score_samples])
    assert values.shape == (10, 20)
    assert result.score == pytest.approx(np.nanmean(values))
    assert result.settings["outputs"] == 10


def test_score_false_skips_the_extra_sweep(clean_cnn):
    model, data = clean_cnn
    result = mc.check(model, data.train, samples_per_class=10, score=False)
    assert result.score is None and result.score_ci is None and result.score_samples == []


def test_memorizing_model_scores_below_a_clean_one(clean_cnn, memorizing_cnn):
    clean = mc.check(clean_cnn[0], clean_cnn[1].train, score=True)
    memorizing = mc.check(memorizing_cnn[0], memorizing_cnn[1].train, score=True)
    assert clean.score_ci[0] > calibrated.MIN_SCORE > memorizing.score_ci[1]


def test_score_is_deterministic(clean_cnn):
    model, data = clean_cnn
    a = mc.check(model, data.train, samples_per_class=10, seed=3)
    b = mc.check(model, data.train, samples_per_class=10, seed=3)
    assert a.score == b.score and a.score_samples == b.score_samples and not math.isnan(a.score)
