"""CheckResult's JSON form: every field validated on the way in, a short repr on the way out."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pytest_memcheck.errors import BaselineError, MemcheckError
from pytest_memcheck.result import FIELDS, CheckResult


def result(**changes) -> CheckResult:
    base = CheckResult(
        auc=0.7,
        auc_ci=(0.65, 0.75),
        score=0.71,
        saturated=False,
        curve={1.0: 0.6, 2.0: 0.7, 4.0: 0.8},
        per_class={0: 0.68, 1: 0.72},
        base_accuracy=0.98,
        layers=["2", "4"],
        method="nmf",
        settings={"method": "nmf", "ks": [1, 2, 4], "samples_per_class": 4, "seed": 0, "confidence": 0.95},
        timings={"total": 1.5},
        notes=["the model was in training mode; it was checked in eval mode and restored"],
        ranks={"2": [1, 2, 4]},
        samples=[[0.7] * 4, [0.7] * 4],
    )
    return dataclasses.replace(base, **changes)


def test_every_field_has_a_validator():
    # adding a field to CheckResult means adding its line to FIELDS
    assert [f.name for f in dataclasses.fields(CheckResult)] == list(FIELDS)


def test_round_trip():
    r = result()
    assert CheckResult.from_json(r.to_json()) == r
    assert CheckResult.from_dict(json.loads(r.to_json())) == r


def _json_with(**changes) -> str:
    d = json.loads(result().to_json())
    d.update(changes)
    return json.dumps(d)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("null", "must be a JSON object, got null"),
        ("{}", "field 'auc' is missing"),
        ("[1, 2]", "must be a JSON object, got list"),
        ('"auc"', "must be a JSON object, got str"),
        (_json_with(auc=-5), "field 'auc' must be a number in [0, 1], got -5"),
        (_json_with(auc="0.9"), "field 'auc' must be a number in [0, 1], got '0.9'"),
        (_json_with(auc=True), "field 'auc' must be a number in [0, 1], got True"),
        (_json_with(auc_ci=[0.9, 0.1]), "field 'auc_ci' must be a [low, high] pair with low <= high"),
        (_json_with(auc_ci=[0.1]), "field 'auc_ci' must be a [low, high] pair"),
        (_json_with(auc_ci=[0.1, 2]), "field 'auc_ci[1]' must be a number in [0, 1]"),
        (_json_with(settings=[]), "field 'settings' must be an object, got []"),
        (_json_with(samples=[[0.5, 0.5], [0.5]]), "field 'samples' must be a table of equally long rows"),
        (_json_with(samples=[[0.5, "x"]]), "field 'samples[0][1]' must be a number in [0, 1]"),
        (_json_with(curve={"one": 0.5}), "field 'curve' must be an object whose keys are positive numbers, got 'one'"),
        (_json_with(per_class={"0": 1.5}), "field 'per_class.0' must be a number in [0, 1], got 1.5"),
        (_json_with(layers="2"), "field 'layers' must be a list, got '2'"),
        (_json_with(saturated="no"), "field 'saturated' must be true or false, got 'no'"),
        (_json_with(timings={"total": -1}), "field 'timings.total' must be a finite number >= 0"),
        (_json_with(surprise=1), "unknown field 'surprise'"),
        (_json_with(settings={"seed": -1}), "field 'settings.seed' must be a whole number >= 0, got -1"),
        (_json_with(settings={"ks": [1, "2"]}), "field 'settings.ks[1]' must be a positive finite number"),
        (_json_with(settings={"depth": "deep"}), "field 'settings.depth' must be a whole number"),
        (_json_with(settings={"outputs": 0}), "field 'settings.outputs' must be a whole number >= 1, got 0"),
        (_json_with(settings={"x": [[[[[[1]]]]]]}), "must be nested at most 4 deep"),
        (_json_with(method="x" * 20_000), "field 'method' must be a string of at most 10000 characters"),
        (_json_with(schema=99), "field 'schema' is 99; this version reads schemas 1, 2"),
        (_json_with().replace('"auc": 0.7', '"auc": NaN'), "NaN is not a finite number"),
        (_json_with().replace('"score": 0.71', '"score": Infinity'), "Infinity is not a finite number"),
        (_json_with().replace('"seed": 0', '"seed": ' + "9" * 5000), "is corrupt (Exceeds the limit"),
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        ('{"auc": 0.7', "corrupt or truncated"),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else None,
)
def test_invalid_json_is_a_clear_error_naming_the_field(text, message):
    with pytest.raises(BaselineError) as exc:
        CheckResult.from_json(text)
    assert message in str(exc.value)
    assert isinstance(exc.value, MemcheckError)


def test_from_dict_validates_too():
    with pytest.raises(BaselineError, match="field 'auc' must be a number in"):
        CheckResult.from_dict({**json.loads(result().to_json()), "auc": float("nan")})


def test_repr_is_short_and_the_details_stay_behind_explicit_calls():
    r = result(samples=[[0.7] * 500] * 10, notes=["x" * 300])
    text = repr(r)
    assert len(text) < 200 and "0.7, 0.7" not in text
    assert text.startswith("CheckResult(method='nmf', auc=0.700, auc_ci=(0.650, 0.750)")
    assert len(r.to_dict()["samples"]) == 10  # the details, asked for
    many = result(layers=[f"block{i}.relu" for i in range(40)])
    assert len(repr(many)) < 250 and "36 more" in repr(many)
    # layerwise returns {layer: CheckResult}; printing it stays short too
    assert len(str({f"l{i}": r for i in range(4)})) < 800


def test_str_says_what_saturation_means():
    assert str(result()) == "nmf AuC 0.700 [0.650, 0.750], score 0.710, base accuracy 0.980, layers 2, 4"
    # only the single-class AuC is blind then: the score still judges the model
    assert str(result(saturated=True)).endswith(
        "layers 2, 4 (saturated: the single-class AuC cannot see memorization in these layers)"
    )
