"""The check on real data: it separates a generalizing from a memorizing model."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import pytest_memcheck as mc
from pytest_memcheck import zoo


def test_clean_model_scores_clearly_higher_than_memorizing_one(clean_cnn, memorizing_cnn):
    clean = mc.check(clean_cnn[0], clean_cnn[1].train)
    memo = mc.check(memorizing_cnn[0], memorizing_cnn[1].train)
    assert clean.base_accuracy > 0.99 and memo.base_accuracy > 0.99
    assert clean.auc > memo.auc + 0.3
    # The intervals do not overlap: the gap is not noise.
    assert clean.auc_ci[0] > memo.auc_ci[1]


def test_single_class_batches_score_above_multi_class(clean_cnn):
    model, data = clean_cnn
    single = mc.check(model, data.train, batches="single")
    multi = mc.check(model, data.train, batches="multi")
    assert single.auc > multi.auc + 0.1
    assert multi.settings["batches"] == "multi"


@pytest.mark.parametrize("method", ["pca", "random"])
def test_baseline_methods_separate_the_models(method, clean_cnn, memorizing_cnn):
    clean = mc.check(clean_cnn[0], clean_cnn[1].train, method=method)
    memo = mc.check(memorizing_cnn[0], memorizing_cnn[1].train, method=method)
    assert clean.method == method
    assert clean.auc > memo.auc + 0.1


def test_random_ablation_defaults_to_kept_fractions(clean_cnn):
    r = mc.check(clean_cnn[0], clean_cnn[1].train, method="random")
    assert max(r.ks) < 1
    # the fc layer has 128 units: a 0.5 fraction keeps 64 of them
    assert r.ranks["9"][r.ks.index(0.5)] == 64


def test_result_fields_and_curve(clean_cnn):
    model, data = clean_cnn
    r = mc.check(model, data.train, samples_per_class=20)
    assert r.layers == ["3", "6", "9"]  # the last three ReLU modules
    assert list(r.curve) == [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0]
    assert r.auc == pytest.approx(sum(r.curve.values()) / len(r.curve))
    assert r.auc == pytest.approx(sum(r.per_class.values()) / len(r.per_class))
    assert sorted(r.per_class) == list(range(10))
    assert r.auc_ci[0] <= r.auc <= r.auc_ci[1]
    assert r.settings["samples_per_class"] == 20
    assert r.timings["solver"] > 0 and r.timings["total"] >= r.timings["solver"]
    # accuracy recovers as k grows
    assert r.curve[16.0] > r.curve[1.0]


def test_same_seed_same_numbers_other_seed_other_batches(clean_cnn):
    model, data = clean_cnn
    a = mc.check(model, data.train, seed=3, samples_per_class=20)
    b = mc.check(model, data.train, seed=3, samples_per_class=20)
    c = mc.check(model, data.train, seed=4, samples_per_class=20)
    assert a.to_dict() | {"timings": None} == b.to_dict() | {"timings": None}
    assert a.curve != c.curve


def test_model_is_left_exactly_as_found(clean_cnn):
    model, data = clean_cnn
    model.train()
    model[1].eval()  # a mixed-mode model must get its own flags back
    before = copy.deepcopy(model.state_dict())
    modes = [m.training for m in model.modules()]
    r = mc.check(model, data.train, samples_per_class=10)
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert any("training mode" in n for n in r.notes)
    model.eval()


def test_hooks_removed_and_mode_restored_after_an_error(clean_cnn):
    model, data = clean_cnn
    with pytest.raises(mc.LayerError):
        mc.check(model, data.train, layers=["nope"])
    assert not model.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_linear_layers_of_an_mlp(tiny_data):
    torch.manual_seed(0)
    model = zoo.mlp(inputs=64, width=32, depth=3, classes=4)
    r = mc.check(model, tiny_data, samples_per_class=12, ks=(1, 2, 4))
    assert r.layers == ["2", "4", "6"]
    assert 0 <= r.auc <= 1


def test_depth_counts_the_activation_layers_on_the_main_path(tiny_data):
    # what the default gate's *too deep* guard reads
    torch.manual_seed(0)
    for depth in (3, 9):
        r = mc.check(zoo.mlp(inputs=64, width=32, depth=depth, classes=4), tiny_data, samples_per_class=12, ks=(1, 2))
        assert r.settings["depth"] == depth


def test_layer_globs_and_conv1d():
    torch.manual_seed(0)
    data = zoo.waves(0.0, n=200)
    model = zoo.waves_cnn()
    r = mc.check(model, data.train, layers=["[14]"], samples_per_class=10, ks=(1, 4))
    assert r.layers == ["1", "4"]  # a glob over module names
    assert r.ranks["1"] == [1, 4]


def test_inplace_relu_and_reused_relu_module(tiny_data):
    class Reuse(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.out = nn.Linear(64, 16), nn.Linear(16, 16), nn.Linear(16, 4)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            h = self.relu(self.fc1(x.flatten(1)))
            return self.out(self.relu(self.fc2(h)) + h)

    torch.manual_seed(0)
    model = Reuse()
    with pytest.warns(mc.MemcheckWarning, match="more than once"):
        r = mc.check(model, tiny_data, layers="relu", samples_per_class=12, ks=(1, 2))
    assert r.layers == ["relu#0", "relu#1"]
    one = mc.check(model, tiny_data, layers="relu#1", samples_per_class=12, ks=(1, 2))
    assert one.layers == ["relu#1"]
    default = mc.check(model, tiny_data, samples_per_class=12, ks=(1, 2))
    assert default.layers == ["relu#0", "relu#1"]


def test_residual_variant_runs_and_is_recorded(clean_cnn):
    r = mc.check(clean_cnn[0], clean_cnn[1].train, residual=True, samples_per_class=10, ks=(1, 2))
    assert r.settings["residual"] is True


def test_k_above_the_rank_limit_is_clipped_and_reported(tiny_data):
    torch.manual_seed(0)
    model = zoo.mlp(inputs=64, width=8, depth=2, classes=4)
    r = mc.check(model, tiny_data, samples_per_class=12, ks=(4, 8, 12))
    assert r.ranks["4"] == [4, 8, 8]
    assert any("clipped" in n and "12" in n for n in r.notes)


def test_layerwise_gives_one_result_per_relu(clean_cnn):
    model, data = clean_cnn
    results = mc.layerwise(model, data.train, samples_per_class=10, ks=(1, 4))
    assert list(results) == ["1", "3", "6", "9"]
    assert all(r.layers == [name] for name, r in results.items())


def test_result_json_round_trip(clean_cnn):
    r = mc.check(clean_cnn[0], clean_cnn[1].train, samples_per_class=10, ks=(1, 2))
    again = mc.CheckResult.from_json(r.to_json())
    assert again == r
