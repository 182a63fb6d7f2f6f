"""gate.decide: pass / fail / inconclusive against a floor and a baseline, with reasons and margins."""

from __future__ import annotations

import dataclasses

import math

import pytest

import numpy as np

from pytest_memcheck import calibrated
from pytest_memcheck.gate import FAIL, INCONCLUSIVE, PASS, Guard, Status, Thresholds, Verdict, decide
from pytest_memcheck.errors import MemcheckError
from pytest_memcheck.result import CheckResult


def result(
    auc=0.7, ci=None, *, saturated=False, samples=None, draw="d0", confidence=0.95, score=None, score_ci=None,
    score_samples=None, regression_samples=None, base=1.0, outputs=10, classes=10, depth=None,
) -> CheckResult:
    """A result; its values at the ranks a baseline comparison reads are the score's unless given."""
    ci = (auc - 0.05, auc + 0.05) if ci is None else ci
    if score is not None and score_ci is None:
        score_ci = (score - 0.05, score + 0.05)
    return CheckResult(
        auc=auc,
        auc_ci=ci,
        score=score,
        score_ci=score_ci,
        score_samples=[] if score_samples is None else score_samples,
        regression_samples=(score_samples or []) if regression_samples is None else regression_samples,
        saturated=saturated,
        curve={1.0: auc - 0.1, 2.0: auc + 0.1},
        per_class={0: auc - 0.02, 1: auc + 0.02},
        base_accuracy=base,
        layers=["fc1", "fc2"],
        method="nmf",
        settings={
            "seed": 0, "draw": draw, "confidence": confidence, "samples_per_class": 4, "outputs": outputs,
            "classes": list(range(classes)), "depth": depth,
        },
        samples=[] if samples is None else samples,
    )


def shifted(samples: list[list[float]], by: float) -> list[list[float]]:
    return [[v + by for v in group] for group in samples]


SAMPLES = [[0.6, 0.7, 0.8, 0.7], [0.5, 0.7, 0.9, 0.7]]  # mean 0.7
FIFTY = [[0.1] * 50] * 10  # 10 classes x 50 samples


# ---------------------------------------------------------------------------------------------- floor


@pytest.mark.parametrize(
    ("ci", "status", "word"),
    [((0.65, 0.75), PASS, "is above"), ((0.45, 0.55), FAIL, "is below"), ((0.55, 0.65), INCONCLUSIVE, "straddles")],
)
def test_floor_needs_the_whole_interval_on_one_side(ci, status, word):
    auc = sum(ci) / 2
    verdict = decide(result(auc, ci), Thresholds(min_auc=0.6))
    assert verdict.status == status
    assert verdict.passed == (status == PASS)
    assert verdict.threshold == pytest.approx(0.6)
    assert verdict.margin == pytest.approx(auc - 0.6)
    assert word in verdict.reasons[0] and "min_auc 0.600" in verdict.reasons[0]
    assert f"{auc:.3f}" in verdict.reasons[0] and f"{auc - 0.6:+.3f}" in verdict.reasons[0]


def test_inconclusive_floor_says_how_to_narrow_the_interval():
    verdict = decide(result(0.6, (0.55, 0.65)), Thresholds(min_auc=0.6))
    assert verdict.status == INCONCLUSIVE
    assert "samples_per_class" in verdict.reasons[0] and "repeats" in verdict.reasons[0]


def test_interval_touching_the_floor_from_above_passes():
    assert decide(result(0.65, (0.6, 0.7)), Thresholds(min_auc=0.6)).status == PASS


def test_reason_states_the_configured_confidence_level():
    verdict = decide(result(0.7, (0.68, 0.72), confidence=0.8), Thresholds(min_auc=0.6))
    assert "80% CI" in verdict.reasons[0]


def test_no_argument_means_the_calibrated_score_thresholds():
    t = Thresholds()
    assert (t.min_score, t.max_score_drop) == (calibrated.MIN_SCORE, calibrated.MAX_SCORE_DROP)
    assert t.min_auc is None and t.max_drop is None and t.default


def test_explicit_thresholds_replace_the_defaults():
    assert Thresholds(min_auc=0.6) == Thresholds(min_auc=0.6, min_score=None, max_score_drop=None)
    assert not Thresholds(max_drop=0.05).default
    # the calibrated values given explicitly are the user's thresholds, not the defaults
    explicit = Thresholds(min_score=calibrated.MIN_SCORE, max_score_drop=calibrated.MAX_SCORE_DROP)
    assert not explicit.default and explicit != Thresholds()


def test_max_drop_without_a_baseline_is_not_applied():
    verdict = decide(result(), Thresholds(max_drop=0.05))
    assert verdict.status == INCONCLUSIVE and "no threshold applies" in verdict.reasons[0]


def test_default_thresholds_judge_the_score_not_the_auc():
    floor = calibrated.MIN_SCORE
    good = decide(result(0.2, score=floor + 0.3))
    assert good.status == PASS and "score" in good.reasons[0] and "min_score" in good.reasons[0]
    bad = decide(result(0.9, score=floor - 0.2))
    assert bad.status == FAIL and f"{floor:.3f}" in bad.reasons[0]


def test_default_thresholds_without_a_score_say_how_to_get_one():
    verdict = decide(result(0.9))
    assert verdict.status == INCONCLUSIVE and "score=True" in verdict.reasons[0] and "min_auc" in verdict.reasons[0]


@pytest.mark.parametrize("value", [np.float32(0.5), np.float64(0.5), np.int64(0), 0.5])
def test_numpy_numbers_are_accepted_as_thresholds(value):
    assert Thresholds(min_auc=value).min_auc == float(value)
    assert type(Thresholds(min_auc=value).min_auc) is float


# ------------------------------------------------------------------------------------------- baseline


def test_unchanged_model_on_the_same_samples_passes_with_zero_change():
    base = result(0.7, samples=SAMPLES)
    verdict = decide(result(0.7, samples=SAMPLES), Thresholds(max_drop=0.05), base)
    assert verdict.status == PASS
    assert "change +0.000" in verdict.reasons[0] and "paired on the same samples" in verdict.reasons[0]
    assert verdict.margin == pytest.approx(0.05)
    assert verdict.threshold == pytest.approx(0.65)


def test_drop_beyond_max_drop_fails():
    base = result(0.7, samples=SAMPLES)
    cand = result(0.5, samples=shifted(SAMPLES, -0.2))
    verdict = decide(cand, Thresholds(max_drop=0.05), base)
    assert verdict.status == FAIL
    assert "beyond max_drop 0.050" in verdict.reasons[0] and "change -0.200" in verdict.reasons[0]
    assert verdict.margin == pytest.approx(-0.15)
    assert verdict.threshold == pytest.approx(0.65)


def test_improvement_passes():
    base = result(0.5, samples=shifted(SAMPLES, -0.2))
    verdict = decide(result(0.7, samples=SAMPLES), Thresholds(max_drop=0.0), base)
    assert verdict.status == PASS and verdict.margin == pytest.approx(0.2)


def test_drop_whose_interval_straddles_the_limit_is_inconclusive():
    # independent draws: intervals of half-width 0.05 combine to ~0.071 around a change of -0.05
    base = result(0.7, (0.65, 0.75), draw="a")
    cand = result(0.65, (0.6, 0.7), draw="b")
    verdict = decide(cand, Thresholds(max_drop=0.05), base)
    assert verdict.status == INCONCLUSIVE
    assert "independent draws" in verdict.reasons[0] and "straddling" in verdict.reasons[0]
    # more samples on the candidate alone would not be compared: both sides have to be measured again
    assert verdict.reasons[0].endswith(
        "to narrow it, raise samples_per_class or repeats; record the baseline again from the accepted model with "
        "the raised settings; check candidates with the same settings"
    )
    floor = decide(result(0.6, (0.55, 0.65)), Thresholds(min_auc=0.6))
    assert floor.reasons[0].endswith("; more samples_per_class or repeats narrow the interval")


def test_other_draws_of_the_same_classes_are_paired_by_class():
    # other samples of the same class batches: the between-class spread cancels
    spread = [[0.5 + 0.01 * (i % 3) for i in range(30)], [0.9 + 0.01 * (i % 3) for i in range(30)]]  # mean 0.71
    base = result(0.71, (0.5, 0.92), samples=spread, draw="a")
    cand = result(0.69, (0.48, 0.9), samples=shifted(spread, -0.02), draw="b")
    verdict = decide(cand, Thresholds(max_drop=0.1), base)
    assert "paired by class" in verdict.reasons[0]
    assert verdict.status == PASS  # unpaired, intervals of +-0.2 would have straddled the limit


def test_results_on_other_classes_are_not_paired():
    base = result(0.7, (0.69, 0.71), samples=SAMPLES, draw="a")
    cand = result(0.7, (0.69, 0.71), samples=SAMPLES, draw="b")
    cand.settings["classes"] = [0, 2]
    verdict = decide(cand, Thresholds(max_drop=0.05), base)
    assert "independent draws" in verdict.reasons[0]
    assert verdict.status == PASS


def test_baseline_without_per_sample_scores_is_compared_unpaired():
    base = result(0.7, (0.69, 0.71), samples=[])
    verdict = decide(result(0.7, (0.69, 0.71), samples=SAMPLES), Thresholds(max_drop=0.05), base)
    assert "independent draws" in verdict.reasons[0] and verdict.status == PASS


# ------------------------------------------------------------------------------------- both, and worst


def test_worst_outcome_wins_fail_over_pass():
    base = result(0.7, samples=SAMPLES)
    cand = result(0.7, (0.4, 0.45), samples=SAMPLES)  # unchanged vs baseline, but below the floor
    verdict = decide(cand, Thresholds(min_auc=0.6, max_drop=0.05), base)
    assert verdict.status == FAIL
    assert len(verdict.reasons) == 2
    assert any("is below the floor" in r for r in verdict.reasons)
    assert any("within max_drop" in r for r in verdict.reasons)


def test_worst_outcome_wins_inconclusive_over_pass():
    base = result(0.7, samples=SAMPLES)
    cand = result(0.62, (0.55, 0.7), samples=shifted(SAMPLES, 0.0))
    verdict = decide(cand, Thresholds(min_auc=0.6, max_drop=0.05), base)
    assert verdict.status == INCONCLUSIVE


def test_worst_outcome_wins_fail_over_inconclusive():
    base = result(0.7, samples=SAMPLES)
    cand = result(0.5, (0.55, 0.65), samples=shifted(SAMPLES, -0.2))  # floor straddled, drop far beyond
    verdict = decide(cand, Thresholds(min_auc=0.6, max_drop=0.05), base)
    assert verdict.status == FAIL


def test_margin_and_threshold_come_from_the_nearest_limit():
    base = result(0.7, samples=SAMPLES)
    cand = result(0.68, (0.66, 0.7), samples=shifted(SAMPLES, -0.02))
    verdict = decide(cand, Thresholds(min_auc=0.3, max_drop=0.05), base)
    assert verdict.status == PASS
    assert verdict.margin == pytest.approx(0.03)  # -0.02 + 0.05, nearer than 0.68 - 0.3
    assert verdict.threshold == pytest.approx(0.65)
    floor_nearer = decide(cand, Thresholds(min_auc=0.6, max_drop=0.5), base)
    assert floor_nearer.margin == pytest.approx(0.08) and floor_nearer.threshold == pytest.approx(0.6)


# ------------------------------------------------------------------------------------------ saturated


def test_saturated_passing_result_is_inconclusive_and_says_what_was_measured():
    verdict = decide(result(0.95, (0.94, 0.96), saturated=True, score=0.2), Thresholds(min_auc=0.5))
    assert verdict.status == INCONCLUSIVE and verdict.guard == Guard.SATURATED
    assert verdict.reasons[0].startswith("saturated: the single-class AuC 0.950 stays within")
    assert "the score 0.200 does not show that it generalizes" in verdict.reasons[0]
    assert verdict.margin == pytest.approx(0.45)  # the numbers are still reported
    assert any("is above the floor" in r for r in verdict.reasons)


def test_saturated_failing_result_still_fails():
    verdict = decide(result(0.3, (0.25, 0.35), saturated=True), Thresholds(min_auc=0.5))
    assert verdict.status == FAIL and verdict.guard is None
    assert not verdict.reasons[0].startswith("saturated")


def test_saturation_does_not_touch_a_score_verdict():
    verdict = decide(result(0.99, saturated=True, score=calibrated.MIN_SCORE + 0.3))
    assert verdict.status == PASS and verdict.guard is None


# ----------------------------------------------------------------------------------------------- guards


def test_model_at_chance_is_not_judged_and_says_so():
    verdict = decide(result(0.1, score=0.05, base=0.11, outputs=10, samples=FIFTY))
    assert verdict.status == INCONCLUSIVE and verdict.guard == Guard.CHANCE
    assert verdict.reasons == [verdict.reasons[0]] and verdict.reasons[0].startswith("at chance: the model predicts 11.0%")
    assert "its 10 outputs (10.0%)" in verdict.reasons[0]


def test_underfit_model_is_never_failed_as_memorizing():
    fit = calibrated.MIN_FIT - 0.2
    verdict = decide(result(0.1, (0.05, 0.15), score=0.05, base=fit, samples=FIFTY), Thresholds(min_auc=0.9))
    assert verdict.status == INCONCLUSIVE and verdict.guard == Guard.UNDERFIT
    assert verdict.reasons[0].startswith(f"underfit: the model fits {fit:.1%} of the 500 checked training samples")
    assert "that fit at least 96.6% of theirs" in verdict.reasons[0]  # the guard as the docs state it, not rounded


def test_a_model_that_fits_enough_is_judged():
    assert decide(result(0.1, (0.05, 0.15), base=calibrated.MIN_FIT), Thresholds(min_auc=0.9)).status == FAIL


def test_interval_too_wide_to_decide_anything_is_undecidable():
    wide = calibrated.MAX_HALF_WIDTH + 0.05
    score = calibrated.MIN_SCORE
    verdict = decide(result(score=score, score_ci=(score - wide, score + wide)))
    assert verdict.status == INCONCLUSIVE and verdict.guard == Guard.UNDECIDABLE
    assert verdict.reasons[0].startswith("undecidable:") and verdict.reasons[0].endswith("raise samples_per_class or repeats")
    same = [[score] * 4] * 10
    against = decide(
        result(score=score, score_ci=(score - wide, score + wide), score_samples=same),
        baseline=result(score=score, score_samples=same),
    )
    assert against.guard == Guard.UNDECIDABLE
    assert against.reasons[0].endswith("raise samples_per_class or repeats (and record the baseline again with them)")


def test_narrow_straddling_interval_is_plain_inconclusive():
    score = calibrated.MIN_SCORE
    verdict = decide(result(score=score, score_ci=(score - 0.02, score + 0.02)))
    assert verdict.status == INCONCLUSIVE and verdict.guard is None


# --------------------------------------------------------------------------------------- score baseline


def test_score_regression_is_paired_on_the_same_samples_and_reports_what_it_detects():
    values = [[0.9, 1.0, 0.8, 1.0]] * 10
    base = result(score=0.925, score_samples=values)
    cand = result(score=0.725, score_samples=[[v - 0.2 for v in row] for row in values])
    verdict = decide(cand, Thresholds(max_score_drop=0.05), base)
    assert verdict.status == FAIL and "paired on the same samples" in verdict.reasons[0]
    # the score's limit is a share of the baseline's score: 5% of 0.925
    assert "change -0.200" in verdict.reasons[0] and "max_score_drop 0.050 of the baseline's score = 0.046" in verdict.reasons[0]
    assert verdict.detectable == pytest.approx(0.05 * 0.925)  # a constant shift: a zero-width interval
    assert verdict.threshold == pytest.approx(0.925 * 0.95)
    assert "it detects a fall of 0.046 or more" in verdict.reasons[0]


def test_score_regression_reads_the_ranks_above_the_class_count():
    # a retrain that moved only the low ranks (the whole score fell by 0.2) is not a regression ...
    values = [[0.9, 1.0, 0.8, 1.0]] * 10
    base = result(score=0.825, score_samples=[[v - 0.1 for v in row] for row in values], regression_samples=values)
    moved_low = result(score=0.625, score_samples=[[v - 0.3 for v in row] for row in values], regression_samples=values)
    verdict = decide(moved_low, Thresholds(max_score_drop=0.05), base)
    assert verdict.status == PASS and verdict.reasons[0].startswith("score at the ranks above the class count: 0.925")
    assert "of the baseline's score = 0.046" in verdict.reasons[0]  # 5% of 0.925 at those ranks, not of 0.825
    # ... a fall there is, whatever the whole score did
    fell_high = result(score=0.925, score_samples=values, regression_samples=[[v - 0.2 for v in row] for row in values])
    assert decide(fell_high, Thresholds(max_score_drop=0.05), base).status == FAIL


def test_a_baseline_without_values_at_those_ranks_is_not_compared_on_the_score():
    values = [[0.9] * 4] * 10
    old = result(score=0.9, score_samples=values, regression_samples=[])  # an earlier 0.2 build's baseline
    verdict = decide(result(score=0.9, score_samples=values), Thresholds(max_score_drop=0.05), old)
    assert verdict.status == INCONCLUSIVE
    assert verdict.reasons[0].startswith("the baseline keeps no score values at the ranks above the class count")
    assert verdict.reasons[0].endswith("record the baseline again")
    # the floor still fails a model below it: the missing comparison does not hide that
    low = [[0.3] * 4] * 10
    floored = decide(result(score=0.3, score_samples=low), Thresholds(min_score=0.645, max_score_drop=0.05), old)
    assert floored.status == FAIL and "below the floor" in floored.reasons[0]
    assert floored.reasons[1].startswith("the baseline keeps no score values")
    # and a result saved without them is told to check again, not to re-record the baseline
    new = decide(result(score=0.9, score_samples=values, regression_samples=[]), Thresholds(max_score_drop=0.05),
                 result(score=0.9, score_samples=values))
    assert new.status == INCONCLUSIVE and new.reasons[0].endswith("check the model again")


def test_samples_the_score_leaves_out_are_ignored_in_a_comparison():
    base = result(score=0.9, score_samples=[[0.9, None, 0.9, 0.9]] * 10)
    cand = result(score=0.9, score_samples=[[0.9, 0.9, None, 0.9]] * 10)
    assert decide(cand, Thresholds(max_score_drop=0.05), base).status == PASS


def test_verdict_round_trips_to_a_dict():
    verdict = decide(result(), Thresholds(min_auc=0.5))
    d = verdict.to_dict()
    assert d["status"] == "pass" and type(d["status"]) is str and d["reasons"] == verdict.reasons
    assert Verdict(**d) == verdict


def test_statuses_read_as_their_words():
    assert f"{Status.FAIL}" == "fail" and str(Guard.UNDERFIT) == "underfit" and Status.PASS == "pass"


# ----------------------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize("kwargs", [{"min_auc": -0.1}, {"min_auc": 1.5}, {"max_drop": -0.01}, {"max_drop": 2}])
def test_thresholds_out_of_range_are_refused(kwargs):
    (name, value), = kwargs.items()
    with pytest.raises(ValueError, match=f"{name} must be between 0 and 1, got {value}"):
        Thresholds(**kwargs)


@pytest.mark.parametrize("kwargs", [{"min_auc": math.nan}, {"max_drop": math.nan}, {"min_auc": math.inf}])
def test_thresholds_that_are_not_numbers_are_refused(kwargs):
    with pytest.raises(ValueError, match="must be between 0 and 1"):
        Thresholds(**kwargs)


@pytest.mark.parametrize("kwargs", [{"min_auc": "0.5"}, {"max_drop": True}, {"min_auc": [0.5]}])
def test_thresholds_of_the_wrong_type_are_refused_with_a_value_error(kwargs):
    with pytest.raises(ValueError, match="must be a number"):
        Thresholds(**kwargs)


def test_threshold_edges_are_accepted():
    assert Thresholds(min_auc=0, max_drop=1) == Thresholds(min_auc=0.0, max_drop=1.0)
    assert Thresholds(min_auc=1, max_drop=0).max_drop == 0


OWN_THRESHOLDS = (
    "Judge it with thresholds set from models you accepted (min_score and max_score_drop, or min_auc and max_drop)"
)
FEWER = "classes they gave wrong verdicts both ways in our validation."
DEEPER = "on some deeper networks they passed memorizing models and missed regressions in our validation."
OUTSIDE = [
    *[(dict(classes=c, outputs=c), Guard.FEW_CLASSES, "too few classes: the default score thresholds hold for models "
       f"checked on at least 10 classes, and this one was checked on {c}; on models with 2, 3 or 5 {FEWER}")
      for c in (2, 3, 5, 9)],
    *[(dict(depth=d), Guard.TOO_DEEP, "too deep: the default score thresholds hold for networks with at most 7 "
       f"activation layers on the main path, and this one has {d}; {DEEPER}") for d in (8, 12, 17)],
]


@pytest.mark.parametrize("outside, guard, reason", OUTSIDE)
def test_the_default_thresholds_do_not_judge_models_outside_the_calibration(outside, guard, reason):
    # clean-looking and memorizing-looking alike, alone and against a baseline: the calibrated scale did not hold there
    for score in (0.95, 0.3):
        verdict = decide(result(score=score, samples=FIFTY, **outside))
        assert verdict.status == INCONCLUSIVE and verdict.guard == guard
        assert verdict.reasons == [f"{reason} {OWN_THRESHOLDS}"]
    baseline = result(score=0.95, samples=FIFTY, **outside)
    assert decide(result(score=0.3, samples=FIFTY, **outside), baseline=baseline).guard == guard


@pytest.mark.parametrize("outside", [dict(classes=2, outputs=2), dict(depth=17)])
@pytest.mark.parametrize(
    "thresholds",
    [Thresholds(min_score=0.8), Thresholds(min_score=calibrated.MIN_SCORE),
     Thresholds(min_score=0.8, max_score_drop=calibrated.MAX_SCORE_DROP)],
    ids=["own-floor", "calibrated-floor-given", "calibrated-limit-given"],
)
def test_explicit_thresholds_judge_models_outside_the_calibration(outside, thresholds):
    # even where a value equals the calibrated one: the user chose it for this model
    assert decide(result(score=0.95, samples=FIFTY, **outside), thresholds).status == PASS
    assert decide(result(score=0.3, samples=FIFTY, **outside), thresholds).status == FAIL


@pytest.mark.parametrize("outside", [dict(classes=2, outputs=2), dict(depth=17)])
def test_an_explicit_limit_alone_judges_a_regression_outside_the_calibration(outside):
    limit = Thresholds(max_score_drop=calibrated.MAX_SCORE_DROP)  # the hard-task advice: the limit, no floor
    def scored(value: float) -> CheckResult:
        return result(score=value, samples=FIFTY, score_samples=[[value] * 50] * 10, **outside)

    assert decide(scored(0.9), limit, scored(0.9)).status == PASS
    assert decide(scored(0.5), limit, scored(0.9)).status == FAIL


def test_the_default_flag_survives_copies_and_cannot_mark_other_values():
    assert dataclasses.replace(Thresholds()).default and Thresholds(**dataclasses.asdict(Thresholds())).default
    assert Thresholds.restored(Thresholds().to_dict(), True) == Thresholds()
    with pytest.raises(MemcheckError, match="default=True marks the calibrated default thresholds"):
        Thresholds(min_score=0.5, default=True)


def test_the_floors_of_the_defaults_keep_their_bounds():
    floors = Thresholds().floors()
    assert floors.default and floors.max_score_drop is None
    assert decide(result(score=0.95, samples=FIFTY, depth=17), floors).guard == Guard.TOO_DEEP
    assert not Thresholds(min_score=0.7, max_score_drop=0.1).floors().default


@pytest.mark.parametrize("depth", [1, 7, None])  # None: a result saved before depth was recorded
def test_the_default_thresholds_judge_networks_as_deep_as_the_calibrations(depth):
    assert decide(result(score=0.3, samples=FIFTY, depth=depth)).status == FAIL
    assert decide(result(score=0.95, samples=FIFTY, depth=depth)).status == PASS


def test_too_few_classes_is_named_first_when_both_bounds_are_crossed():
    assert decide(result(score=0.9, classes=2, outputs=2, samples=FIFTY, depth=17)).guard == Guard.FEW_CLASSES


def test_the_default_thresholds_judge_models_with_more_classes():
    verdict = decide(result(score=0.3, classes=20, outputs=20, samples=FIFTY))
    assert verdict.status == FAIL and verdict.guard is None
