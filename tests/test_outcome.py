"""outcome.evaluate: the baseline states (none, missing, updated, kept, compared, mismatch) and explain()."""

from __future__ import annotations

import dataclasses

import json

import pytest
from torch import nn

from pytest_memcheck.baseline import BaselineStore, fingerprint
from pytest_memcheck.errors import BaselineError
from pytest_memcheck.gate import FAIL, INCONCLUSIVE, PASS, Thresholds
from pytest_memcheck.outcome import UPDATE_HINT, evaluate
from pytest_memcheck.result import CheckResult

SAMPLES = [[0.6, 0.7, 0.8, 0.7], [0.5, 0.7, 0.9, 0.7]]  # mean 0.7


def result(auc: float = 0.7, half: float = 0.05, *, shift: float | None = None, **settings) -> CheckResult:
    """A result; ``shift`` moves the paired per-sample scores so a baseline comparison sees the change."""
    shift = auc - 0.7 if shift is None else shift
    return CheckResult(
        auc=auc,
        auc_ci=(auc - half, auc + half),
        score=auc,
        saturated=False,
        curve={1.0: auc - 0.1, 2.0: auc, 4.0: auc + 0.1},
        per_class={0: 0.61, 1: 0.79},
        base_accuracy=0.97,
        layers=["fc1", "fc2"],
        method="nmf",
        settings={
            "method": "nmf", "ks": [1.0, 2.0, 4.0], "residual": False, "iterations": 50, "samples_per_class": 4,
            "batches": "single", "classes": [0, 1], "seed": 0, "draw": "same", "confidence": 0.95, **settings,
        },
        samples=[[v + shift for v in g] for g in SAMPLES],
    )


@pytest.fixture
def model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


@pytest.fixture
def store(tmp_path) -> BaselineStore:
    return BaselineStore(tmp_path / "memcheck")


def files(store: BaselineStore) -> list[str]:
    return sorted(p.name for p in store.directory.glob("*.json")) if store.directory.exists() else []


# ------------------------------------------------------------------------------------------- no store


def test_without_a_store_only_the_floor_decides(model):
    out = evaluate("m", model, result(0.7), Thresholds(min_auc=0.5), None)
    assert out.status == PASS and out.baseline_state == "not used" and out.baseline_path is None
    low = evaluate("m", model, result(0.3), Thresholds(min_auc=0.5), None)
    assert low.status == FAIL and low.headline == "looks memorizing"


# -------------------------------------------------------------------------------------------- missing


def test_missing_baseline_with_max_drop_fails_with_the_update_hint(model, store):
    out = evaluate("m", model, result(0.7), Thresholds(max_drop=0.05), store)
    assert out.status == FAIL and out.baseline_state == "missing"
    assert out.headline == "has no baseline to compare with"
    assert any("no baseline recorded yet" in r and UPDATE_HINT in r for r in out.verdict.reasons)
    assert str(store.path("m")) in out.explain() and UPDATE_HINT in out.explain()
    assert files(store) == []  # never written without update


def test_missing_baseline_with_a_floor_too_still_reports_the_floor(model, store):
    out = evaluate("m", model, result(0.7), Thresholds(min_auc=0.5, max_drop=0.05), store)
    assert out.status == FAIL and out.baseline_state == "missing"
    assert any("is above the floor" in r for r in out.verdict.reasons)
    assert out.verdict.margin == pytest.approx(0.2) and out.verdict.threshold == pytest.approx(0.5)


@pytest.mark.parametrize("unrecordable", [result(0.2), dataclasses.replace(result(0.7), base_accuracy=0.5)],
                         ids=["below-the-floor", "underfit"])
def test_missing_baseline_of_a_model_an_update_would_refuse_gives_no_update_hint(model, store, unrecordable):
    out = evaluate("m", model, unrecordable, Thresholds(min_auc=0.5, max_drop=0.05), store)
    assert out.baseline_state == "missing" and UPDATE_HINT not in out.explain()
    refused = evaluate("m", model, unrecordable, Thresholds(min_auc=0.5, max_drop=0.05), store, update=True)
    assert "was NOT recorded" in refused.explain() and files(store) == []  # the hint would have said the opposite


def test_floor_only_gate_does_not_use_the_baseline(model, store):
    out = evaluate("m", model, result(0.7), Thresholds(min_auc=0.5), store)
    assert out.status == PASS and out.baseline_state == "not used"
    assert files(store) == []


def test_floor_only_gate_is_not_failed_by_a_stale_or_broken_baseline(model, store):
    store.save("m", result(0.7, method="pca"), "0" * 16)  # other architecture and settings
    assert evaluate("m", model, result(0.7), Thresholds(min_auc=0.5), store).status == PASS
    store.path("m").write_text("{broken")
    assert evaluate("m", model, result(0.7), Thresholds(min_auc=0.5), store).status == PASS


# --------------------------------------------------------------------------------------------- update


def test_update_writes_the_baseline(model, store):
    res = result(0.7)
    out = evaluate("m", model, res, Thresholds(min_auc=0.5, max_drop=0.05), store, update=True)
    assert out.status == PASS and out.baseline_state == "recorded"  # issue 10: "updated" did not say which
    assert out.baseline_path == str(store.path("m")) and out.baseline_auc == 0.7
    assert f"baseline recorded: {store.path('m')} (AuC 0.700)" in out.verdict.reasons
    stored = store.load("m")
    assert stored.result == res and stored.fingerprint == fingerprint(model)


def test_update_without_a_floor_writes_and_passes(model, store):
    out = evaluate("m", model, result(0.2), Thresholds(max_drop=0.05), store, update=True)
    assert out.status == PASS and out.baseline_state == "recorded"
    assert store.load("m").result.auc == 0.2


def test_update_replaces_an_older_baseline(model, store):
    store.save("m", result(0.6), fingerprint(model))
    out = evaluate("m", model, result(0.75), Thresholds(max_drop=0.05), store, update=True)
    assert store.load("m").result.auc == 0.75
    assert out.baseline_state == "replaced" and f"baseline replaced: {store.path('m')} (AuC 0.750)" in out.reasons


def test_update_refuses_a_model_below_its_floor(model, store):
    out = evaluate("m", model, result(0.3), Thresholds(min_auc=0.5, max_drop=0.05), store, update=True)
    assert out.status == FAIL and out.baseline_state == "missing"
    assert any("was NOT recorded: the model fails its floor" in r for r in out.verdict.reasons)
    assert files(store) == []
    assert UPDATE_HINT not in out.explain()  # recording it again would be refused again


def test_update_below_the_floor_keeps_the_existing_baseline(model, store):
    path = store.save("m", result(0.7), fingerprint(model))
    before = path.read_bytes()
    out = evaluate("m", model, result(0.3), Thresholds(min_auc=0.5, max_drop=0.05), store, update=True)
    assert out.status == FAIL
    assert out.baseline_state == "kept"
    assert any("kept" in r for r in out.verdict.reasons)
    assert path.read_bytes() == before
    assert out.headline == "looks memorizing"


def test_update_with_an_interval_straddling_the_floor_records_but_is_inconclusive(model, store):
    out = evaluate("m", model, result(0.5, 0.05), Thresholds(min_auc=0.5, max_drop=0.05), store, update=True)
    assert out.status == INCONCLUSIVE and out.baseline_state == "recorded"
    assert store.load("m").result.auc == 0.5


# -------------------------------------------------------------------------------------------- compare


def test_compare_unchanged_model_passes_and_never_writes(model, store):
    path = store.save("m", result(0.7), fingerprint(model))
    before = path.read_bytes()
    out = evaluate("m", model, result(0.7), Thresholds(min_auc=0.5, max_drop=0.05), store)
    assert out.status == PASS and out.baseline_state == "compared" and out.baseline_auc == 0.7
    assert path.read_bytes() == before


def test_compare_other_seed_is_still_compared(model, store):
    store.save("m", result(0.7, 0.02), fingerprint(model))
    out = evaluate("m", model, result(0.7, 0.02, seed=3, draw="other"), Thresholds(max_drop=0.3), store)
    assert out.baseline_state == "compared" and out.status == PASS
    assert "paired by class" in out.verdict.reasons[0]  # other samples of the same class batches


def test_compare_regression_fails_and_explains(model, store):
    store.save("m", result(0.7), fingerprint(model))
    out = evaluate("m", model, result(0.5), Thresholds(min_auc=0.3, max_drop=0.05), store)
    assert out.status == FAIL and out.baseline_state == "compared"
    assert out.headline == "looks memorizing"
    assert out.verdict.threshold == pytest.approx(0.65) and out.verdict.margin == pytest.approx(-0.15)
    text = out.explain()
    assert "change -0.200" in text and "beyond max_drop 0.050" in text
    assert UPDATE_HINT in text  # if the drop is intended, this is how to accept it


def test_compare_raises_on_a_corrupt_baseline_and_leaves_it(model, store):
    store.directory.mkdir(parents=True)
    store.path("m").write_text('{"format": "pytest-memcheck-baseline"')
    with pytest.raises(BaselineError, match="corrupt or truncated"):
        evaluate("m", model, result(), Thresholds(max_drop=0.05), store)
    assert store.path("m").read_text() == '{"format": "pytest-memcheck-baseline"'


# ------------------------------------------------------------------------------------------- mismatch


def test_other_architecture_is_reported_not_compared(model, store):
    store.save("m", result(0.7), "0" * 16)
    out = evaluate("m", model, result(0.7), Thresholds(max_drop=0.05), store)
    assert out.status == FAIL and out.baseline_state == "mismatch"
    assert out.headline == "cannot be compared with its baseline"
    assert "another architecture" in out.verdict.reasons[0] and "not compared" in out.verdict.reasons[0]
    assert UPDATE_HINT in out.explain()


def test_other_settings_are_reported_not_compared(model, store):
    store.save("m", result(0.7, samples_per_class=50), fingerprint(model))
    out = evaluate("m", model, result(0.7), Thresholds(max_drop=0.05), store)
    assert out.baseline_state == "mismatch" and out.status == FAIL
    assert "samples_per_class: baseline 50, now 4" in out.verdict.reasons[0]


def test_mismatch_still_reports_a_floor_failure(model, store):
    store.save("m", result(0.7), "0" * 16)
    out = evaluate("m", model, result(0.3), Thresholds(min_auc=0.5, max_drop=0.05), store)
    assert out.status == FAIL and out.headline == "looks memorizing"
    assert any("is below the floor" in r for r in out.verdict.reasons)
    assert out.verdict.threshold == pytest.approx(0.5)


# -------------------------------------------------------------------------------------------- explain


def test_explain_has_everything_to_act_on(model, store):
    store.save("m", result(0.7), fingerprint(model))
    out = evaluate("m", model, result(0.55), Thresholds(min_auc=0.4, max_drop=0.05), store)
    text = out.explain()
    assert text.startswith("memcheck: 'm' looks memorizing (fail)")
    assert "AuC 0.550" in text and "95% CI 0.500-0.600" in text  # the score and its uncertainty
    assert "min_auc 0.400" in text and "max_drop 0.050" in text  # the thresholds
    assert "per-class AuC: 0: 0.61; 1: 0.79" in text
    assert f"baseline [compared]: {store.path('m')} (score 0.700, AuC 0.700)" in text
    assert "nmf over k=1, 2, 4" in text and "2 classes x 4 samples; seed 0" in text
    assert UPDATE_HINT in text


def test_explain_of_a_pass_has_no_update_hint(model, store):
    store.save("m", result(0.7), fingerprint(model))
    out = evaluate("m", model, result(0.7), Thresholds(max_drop=0.05), store)
    assert out.status == PASS and UPDATE_HINT not in out.explain()


def test_explain_of_a_floor_only_failure_has_no_baseline_hint(model, store):
    out = evaluate("m", model, result(0.3), Thresholds(min_auc=0.5), store)
    assert out.status == FAIL and UPDATE_HINT not in out.explain()


def test_to_dict_is_json_ready(model, store):
    store.save("m", result(0.7), fingerprint(model))
    d = evaluate("m", model, result(0.7), Thresholds(min_auc=0.5, max_drop=0.05), store).to_dict()
    back = json.loads(json.dumps(d))
    assert back["status"] == PASS and back["baseline"] == {
        "state": "compared", "path": str(store.path("m")), "auc": 0.7, "score": 0.7, "regression_score": None
    }
    assert back["min_auc"] == 0.5 and back["max_drop"] == 0.05 and back["result"]["auc"] == 0.7


# ------------------------------------------------------------------------------ what changed, what failed


def test_architecture_mismatch_names_the_changed_modules(model, store):
    from pytest_memcheck.baseline import modules

    narrow = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    store.save("m", result(0.7), fingerprint(narrow), modules(narrow))
    out = evaluate("m", model, result(0.7), Thresholds(max_drop=0.05), store)
    assert out.baseline_state == "mismatch" and out.verdict.margin is None and out.verdict.threshold is None
    assert "another architecture (2 changed: 0 (Linear weight(4, 4), bias(4,) -> Linear weight(8, 4), bias(8,))" in out.reasons[0]


def test_update_records_the_modules_it_compares_later(model, store):
    evaluate("m", model, result(0.7), Thresholds(max_drop=0.05), store, update=True)
    assert json.loads(store.path("m").read_text())["modules"]["0"] == "Linear:weight(8, 4),bias(8,)"


def test_a_gate_that_could_not_run_is_an_error_with_its_stage():
    from pytest_memcheck.errors import DataError
    from pytest_memcheck.outcome import Outcome, Stage, Status

    out = Outcome.failed("m", Stage.DATA, DataError("'mydata:x' raised OSError: gone"), Thresholds(min_auc=0.5))
    assert out.status == Status.ERROR == "error" and out.result is None and out.verdict is None
    assert out.headline == "could not load its data" and out.reasons == ["'mydata:x' raised OSError: gone"]
    assert out.explain() == "memcheck: 'm' could not load its data (error)\n  'mydata:x' raised OSError: gone"
    assert out.to_dict()["error"] == {"stage": "data", "type": "DataError", "message": "'mydata:x' raised OSError: gone"}


def test_statuses_are_one_vocabulary_in_order_of_severity():
    from pytest_memcheck.outcome import Status

    assert [s.value for s in sorted(Status, key=lambda s: s.severity)] == ["pass", "inconclusive", "fail", "error"]
    assert [Status.ERROR.counted(1), Status.ERROR.counted(2), Status.PASS.counted(3)] == ["1 error", "2 errors", "3 passed"]


# ---------------------------------------------------------------------------------- default thresholds


def _scored(auc: float, score: float) -> CheckResult:
    r = result(auc, classes=list(range(10)))  # the default thresholds judge ten classes or more
    return dataclasses.replace(
        r, score=score, score_ci=(score - 0.02, score + 0.02), score_samples=[[score] * len(g) for g in r.samples],
        regression_samples=[[score] * len(g) for g in r.samples],
    )


def test_default_thresholds_compare_the_score_with_the_baseline(model, store):
    store.save("m", _scored(0.7, 0.9), fingerprint(model))
    same = evaluate("m", model, _scored(0.7, 0.9), Thresholds(), store)
    assert same.status == PASS and same.baseline_state == "compared" and same.baseline_score == 0.9
    fallen = evaluate("m", model, _scored(0.7, 0.7), Thresholds(), store)
    assert fallen.status == FAIL and "max_score_drop" in fallen.reasons[-1]


def test_baseline_without_a_score_is_not_compared_on_the_score(model, store):
    old = dataclasses.replace(result(0.7, classes=list(range(10))), score=None)  # what pytest-memcheck 0.1 recorded
    store.save("m", old, fingerprint(model))
    out = evaluate("m", model, _scored(0.7, 0.9), Thresholds(), store)
    assert out.status == FAIL and out.baseline_state == "mismatch"
    assert "without the score that max_score_drop compares" in out.reasons[0] and "re-record it" in out.reasons[0]
    assert UPDATE_HINT in out.explain()
    # an explicit AuC limit still compares it
    assert evaluate("m", model, _scored(0.7, 0.9), Thresholds(max_drop=0.05), store).baseline_state == "compared"


def test_baseline_without_the_compared_ranks_says_to_re_record(model, store):
    old = dataclasses.replace(_scored(0.7, 0.9), regression_samples=[])  # an earlier 0.2 build kept the score only
    store.save("m", old, fingerprint(model))
    out = evaluate("m", model, _scored(0.7, 0.9), Thresholds(), store)
    assert out.status == FAIL and out.baseline_state == "mismatch"
    assert "kept no score values at the ranks above the class count" in out.reasons[0] and "re-record it" in out.reasons[0]
    assert UPDATE_HINT in out.explain()


@pytest.mark.parametrize("with_store", [False, True])
def test_default_thresholds_do_not_judge_a_deep_network_and_say_how_to(model, store, with_store):
    deep = dataclasses.replace(_scored(0.7, 0.3), settings={**_scored(0.7, 0.3).settings, "depth": 17})
    # no baseline recorded: still inconclusive, and no advice to record one (it would not help)
    outcome = evaluate("m", model, deep, Thresholds(), store if with_store else None)
    assert outcome.status == INCONCLUSIVE and outcome.headline == "is too deep for the default gate"
    assert len(outcome.reasons) == 1 and outcome.baseline_state == "not used"
    assert outcome.reasons[0].startswith("too deep: the default score thresholds hold for networks with at most 7")
    assert "memcheck: 'm' is too deep for the default gate (inconclusive)" in outcome.explain()
    assert "record" not in outcome.explain()


def test_a_recorded_baseline_does_not_make_the_default_thresholds_judge_a_deep_network(model, store):
    deep = dataclasses.replace(_scored(0.7, 0.3), settings={**_scored(0.7, 0.3).settings, "depth": 17})
    store.save("m", _scored(0.7, 0.9), fingerprint(model))
    assert evaluate("m", model, deep, Thresholds(), store).status == INCONCLUSIVE
    # an explicit regression limit compares it
    explicit = evaluate("m", model, deep, Thresholds(max_score_drop=0.1), store)
    assert explicit.status == FAIL and explicit.baseline_state == "compared"


@pytest.mark.parametrize("with_store", [False, True])
def test_default_thresholds_do_not_judge_a_two_class_model_and_say_how_to(model, store, with_store):
    two = dataclasses.replace(_scored(0.7, 0.3), settings=result().settings)
    outcome = evaluate("m", model, two, Thresholds(), store if with_store else None)
    assert outcome.status == INCONCLUSIVE and outcome.headline == "has too few classes for the default gate"
    assert outcome.reasons[0].startswith("too few classes: the default score thresholds hold for models checked on at least 10")
    assert len(outcome.reasons) == 1 and "record" not in outcome.explain()  # a missing baseline is not the problem


def test_explain_fits_an_80_column_log_without_breaking_a_clause(model, store):
    ten = dataclasses.replace(result(0.2), per_class={c: 0.2 for c in range(10)}, layers=[f"block{i}.relu" for i in range(6)])
    store.save("m", result(0.7), fingerprint(model))
    text = evaluate("m", model, ten, Thresholds(min_auc=0.5, max_drop=0.05), store).explain()
    lines = text.splitlines()
    assert all(len(line) <= 80 or "; " not in line.strip() for line in lines), text  # only a single clause is longer
    assert "  per-class AuC: 0: 0.20; 1: 0.20; 2: 0.20" in text
    assert any(line.startswith("    ") and line.endswith("9: 0.20") for line in lines)  # continued, indented
    assert str(store.path("m")) in text  # a path is never broken


@pytest.mark.parametrize("fall, status", [(0.1, FAIL), (0.047, INCONCLUSIVE)])
@pytest.mark.parametrize("hint", [UPDATE_HINT, "assert_no_regression(..., 'tests/memcheck/m.json', update=True) once; then call it without update"])
def test_a_score_regression_reads_in_80_columns(model, store, fall, status, hint):
    """The default gate's comparison: every clause of its reason, the interval's advice included, fits a CI log."""
    spread = [[0.8, 1.0, 0.9, 0.9], [0.85, 0.95, 0.9, 0.9]]
    candidate = [[v - fall + d for v, d in zip(row, (0.03, -0.03, 0.02, -0.02))] for row in spread]

    def scored(values: list[list[float]]) -> CheckResult:
        mean = sum(map(sum, values)) / 8
        r = result(classes=list(range(10)))
        return dataclasses.replace(r, score=mean, score_ci=(mean - 0.02, mean + 0.02), score_samples=values, regression_samples=values)

    store.save("m", scored(spread), fingerprint(model))
    outcome = evaluate("m", model, scored(candidate), Thresholds(), store, update_hint=hint)
    text = outcome.explain()
    assert outcome.status == status and "that is " in text and hint.split(";")[0] in text, text
    assert all(len(line) <= 80 for line in text.splitlines() if not line.startswith("  baseline [")), text


def test_the_headline_names_the_status_once(model):
    assert evaluate("m", model, result(0.7), Thresholds(min_auc=0.5), None).explain().startswith("memcheck: 'm' passed\n")
    assert evaluate("m", model, result(0.2), Thresholds(min_auc=0.5), None).explain().startswith(
        "memcheck: 'm' looks memorizing (fail)\n"
    )


def test_folding_keeps_a_quoted_name_and_each_line_of_a_reason_whole():
    from pytest_memcheck.outcome import _fold

    name = "memcheck: 'resnet50; a-long-descriptive-name-for-the-ci-gate-of-the-imagenet-subset' looks memorizing (fail)"
    assert _fold(name) == name  # the "; " inside the quoted name is not a clause boundary
    assert _fold("  a; b\n  c") == "  a; b\n  c"  # lines are measured one by one
    # an apostrophe inside a word is not a quote: the clause after "the baseline's 0.950;" is cut
    possessive = "  score 0.900 vs the baseline's 0.950; " + "x" * 70
    assert _fold(possessive).splitlines() == ["  score 0.900 vs the baseline's 0.950;", "    " + "x" * 70]
    long = "  " + "; ".join(["clause number %d of a long reason" % i for i in range(4)])
    assert _fold(long).splitlines() == [
        "  clause number 0 of a long reason; clause number 1 of a long reason;",
        "    clause number 2 of a long reason; clause number 3 of a long reason",
    ]
