"""The shipped constants are the validation study's final choices (docs/data/validation-summary.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_memcheck import calibrated, score

SUMMARY = Path(__file__).resolve().parent.parent / "docs" / "data" / "validation-summary.json"


@pytest.fixture(scope="module")
def final() -> dict:
    return json.loads(SUMMARY.read_text())["final"]


def test_constants_are_the_studys_choices(final):
    assert calibrated.MIN_SCORE == round(final["min_score"], 3)
    assert calibrated.MAX_SCORE_DROP == round(final["max_score_drop"], 3)
    assert calibrated.MIN_FIT == round(final["min_fit"], 3)
    assert calibrated.MAX_HALF_WIDTH == round(final["max_half_width"], 3)


def test_the_score_is_the_chosen_formula(final):
    # mixed batches compressed with PCA at every activation layer, all of the calibrated ranks, every sample
    assert final["formula"] == f"mixed_{score.METHOD}_all (raw)"
    assert score.mix((10, 50)).ranks() == (6.0, 8.0, 12.0, 16.0, 24.0, 32.0)  # the study's grid for 10 classes


def test_a_baseline_comparison_reads_the_chosen_ranks(final):
    # the ranks above the class count: the study chose them with the limit, one family held out
    assert score.mix((10, 50)).regression_ranks() == tuple(k for k in score.mix((10, 50)).ranks() if k >= final["drop_from_rank"])
    assert score.mix((10, 50)).regression_ranks() == (12.0, 16.0, 24.0, 32.0)
