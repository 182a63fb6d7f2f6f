"""The plain assertion helpers: pytest_memcheck.assert_not_memorizing / assert_no_regression, no fixture."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import pytest_memcheck as mc
from pytest_memcheck.engine import check
from pytest_memcheck.errors import DataError, MemcheckError

FAST = {"samples_per_class": 20, "ks": (1, 2, 4, 8)}
TINY = {"samples_per_class": 5, "ks": (1, 2)}


@pytest.fixture
def constant_model() -> nn.Module:
    """An MLP whose output ignores its input: always class 0, so compression never changes anything."""
    torch.manual_seed(0)
    model = mc_zoo_mlp()
    with torch.no_grad():
        model[-1].weight.zero_()
        model[-1].bias.copy_(torch.arange(10, 0, -1, dtype=torch.float32))
    return model.eval()


def mc_zoo_mlp() -> nn.Sequential:
    from pytest_memcheck import zoo

    return zoo.mlp(inputs=64, width=16, depth=2, classes=10)


@pytest.fixture
def digits_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(100, 1, 8, 8, generator=g), torch.arange(100) % 10


# ----------------------------------------------------------------------------- tiny models, no training


def test_failure_names_auc_floor_and_per_class_scores(memorizing_cnn):
    model, split = memorizing_cnn
    with pytest.raises(AssertionError) as exc:
        mc.assert_not_memorizing(model, split.train, min_auc=0.5, **FAST)
    message = str(exc.value)
    assert message.startswith("memcheck: 'Sequential' looks memorizing (fail)")
    assert "is below the floor min_auc 0.500" in message and "per-class AuC: 0: 0." in message
    assert "10 classes x 20 samples" in message and "nmf over k=1, 2, 4, 8" in message
    assert "--memcheck-update" not in message  # no baseline involved: no baseline hint


def test_model_at_chance_is_inconclusive_and_says_what_was_measured(constant_model, digits_data):
    # issue 13: a model at chance was called "saturated"; issue 12: never failed as memorizing
    with pytest.raises(AssertionError, match=r"is at chance \(inconclusive\)") as exc:
        mc.assert_not_memorizing(constant_model, digits_data, name="const", **TINY)
    assert "predicts 10.0% of the 50 checked training samples right" in str(exc.value)
    result = mc.assert_not_memorizing(constant_model, digits_data, allow_inconclusive=True, **TINY)
    assert isinstance(result, mc.CheckResult) and result.settings["samples_per_class"] == 5


def test_saturated_auc_is_inconclusive_unless_allowed(memorizing_mlp):
    # the single-class AuC of an MLP stays at its base accuracy whatever it memorized; the score sees it
    model, split = memorizing_mlp
    with pytest.raises(AssertionError, match=r"cannot be judged by its AuC \(inconclusive\)") as exc:
        mc.assert_not_memorizing(model, split.train, min_auc=0.5, name="mlp", **FAST)
    assert "saturated: the single-class AuC" in str(exc.value)
    result = mc.assert_not_memorizing(model, split.train, min_auc=0.5, allow_inconclusive=True, **FAST)
    assert result.saturated and result.auc > 0.9
    with pytest.raises(AssertionError, match="looks memorizing"):
        mc.assert_not_memorizing(model, split.train, **FAST)  # the default floor on the score


def test_bad_input_is_a_memcheck_error_not_an_assertion(constant_model, digits_data):
    with pytest.raises(DataError, match="samples_per_class"):
        mc.assert_not_memorizing(constant_model, digits_data, min_auc=0.5, samples_per_class=50, ks=(1,))
    with pytest.raises(ValueError, match="min_auc must be between 0 and 1"):
        mc.assert_not_memorizing(constant_model, digits_data, min_auc=60, **TINY)


def test_baseline_path_must_be_a_baseline_file_name(constant_model, digits_data, tmp_path):
    for bad in ("baseline.txt", "my model.json"):
        with pytest.raises(MemcheckError, match="must be named <name>.json"):
            mc.assert_no_regression(constant_model, digits_data, tmp_path / bad, update=True, **TINY)
    assert list(tmp_path.iterdir()) == []  # nothing written under another name


def test_update_needs_a_file_not_a_result(constant_model, digits_data):
    base = check(constant_model, digits_data, **TINY)
    with pytest.raises(MemcheckError, match="update=True records a baseline file"):
        mc.assert_no_regression(constant_model, digits_data, base, update=True, **TINY)


def test_result_in_hand_with_other_settings_is_not_compared(clean_cnn):
    model, split = clean_cnn
    base = check(model, split.train, samples_per_class=5, ks=(1, 2, 4))
    with pytest.raises(AssertionError, match=r"other settings \(ks: baseline \[1, 2, 4\], now \[1, 2\]\)") as exc:
        mc.assert_no_regression(model, split.train, base, allow_inconclusive=True, **TINY)
    assert "cannot be compared with its baseline" in str(exc.value)
    assert "record it as the baseline" not in str(exc.value)


def test_tiny_baseline_file_lifecycle(clean_cnn, tmp_path):
    model, split = clean_cnn
    digits_data = split.train
    constant_model = model
    path = tmp_path / "memcheck" / "const.json"
    with pytest.raises(AssertionError) as exc:
        mc.assert_no_regression(constant_model, digits_data, path, **TINY)
    message = str(exc.value)
    assert "no baseline recorded yet" in message and str(path) in message
    assert "update=True" in message  # the fix that works for a plain function call
    assert not path.exists()

    recorded = mc.assert_no_regression(constant_model, digits_data, path, update=True, **TINY)
    stored = json.loads(path.read_text())
    assert stored["name"] == "const" and stored["result"]["auc"] == recorded.auc


    before = path.read_bytes()
    again = mc.assert_no_regression(constant_model, digits_data, path, allow_inconclusive=True, **TINY)
    assert again.auc == recorded.auc
    assert path.read_bytes() == before  # comparing never rewrites


@pytest.mark.parametrize(
    "limits", [{}, {"max_drop": 0.05}, {"max_score_drop": 0.1}], ids=["defaults", "max_drop-alone", "max_score_drop-alone"]
)
def test_a_model_the_check_cannot_judge_is_not_recorded(constant_model, digits_data, tmp_path, limits):
    # with no floor to fail either: the guards decide what may be recorded, not the thresholds
    path = tmp_path / "memcheck" / "const.json"
    with pytest.raises(AssertionError, match="is at chance") as exc:
        mc.assert_no_regression(constant_model, digits_data, path, update=True, **limits, **TINY)
    assert "NOT recorded" in str(exc.value) and not path.exists()
    assert "record it as the baseline" not in str(exc.value)  # no hint to do what was just refused


# -------------------------------------------------------------------------------- the session's CNNs


def test_clean_cnn_passes_and_returns_its_result(clean_cnn):
    model, split = clean_cnn
    result = mc.assert_not_memorizing(model, split.train, min_auc=0.4, **FAST)
    assert isinstance(result, mc.CheckResult)
    assert result.auc_ci[0] >= 0.4 and not result.saturated
    assert result.settings["samples_per_class"] == 20


def test_memorizing_cnn_fails_with_the_numbers(memorizing_cnn):
    model, split = memorizing_cnn
    with pytest.raises(AssertionError) as exc:
        mc.assert_not_memorizing(model, split.train, min_auc=0.4, name="noisy-labels", **FAST)
    message = str(exc.value)
    assert message.startswith("memcheck: 'noisy-labels' looks memorizing (fail)")
    assert "is below the floor min_auc 0.400" in message and "95% CI" in message
    assert "per-class AuC: 0: " in message and " 9: " in message


def test_cnn_baseline_lifecycle(clean_cnn, memorizing_cnn, tmp_path):
    clean, clean_split = clean_cnn
    noisy, noisy_split = memorizing_cnn
    path = tmp_path / "cnn.json"

    with pytest.raises(AssertionError, match="has no baseline to compare with"):
        mc.assert_no_regression(clean, clean_split.train, path, max_drop=0.1, **FAST)
    assert not path.exists()

    accepted = mc.assert_no_regression(clean, clean_split.train, path, max_drop=0.1, update=True, **FAST)
    recorded = path.read_bytes()
    assert json.loads(recorded)["result"]["auc"] == accepted.auc

    same = mc.assert_no_regression(clean, clean_split.train, path, max_drop=0.1, **FAST)
    assert same.auc == accepted.auc  # same seed, same samples: the same numbers

    with pytest.raises(AssertionError) as exc:
        mc.assert_no_regression(noisy, noisy_split.train, path, max_drop=0.1, **FAST)
    message = str(exc.value)
    assert "looks memorizing (fail)" in message and "that is beyond max_drop 0.100" in message
    assert f"baseline [compared]: {path} (score {accepted.score:.3f}, AuC {accepted.auc:.3f})" in message
    assert "update=True" in message
    assert path.read_bytes() == recorded  # a failing candidate never touches the baseline

    with pytest.raises(AssertionError, match="was NOT updated: the model fails its floor"):
        mc.assert_no_regression(noisy, noisy_split.train, path, min_auc=0.4, update=True, **FAST)
    assert path.read_bytes() == recorded


def test_cnn_regression_against_a_result_in_hand(clean_cnn, memorizing_cnn):
    clean, clean_split = clean_cnn
    base = check(clean, clean_split.train, **FAST)
    same = mc.assert_no_regression(clean, clean_split.train, base, max_drop=0.05, **FAST)
    assert same.auc == base.auc
    noisy, noisy_split = memorizing_cnn
    with pytest.raises(AssertionError, match="beyond max_drop 0.050"):
        mc.assert_no_regression(noisy, noisy_split.train, base, max_drop=0.05, **FAST)
