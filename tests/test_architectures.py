"""Real architectures: torchvision's networks, functional ReLUs, networks without ReLU, wrappers.

Every network is built with random weights and checked on a few small random
inputs: what is tested is that the check runs, picks sensible layers and
computes exactly what a check that reruns the whole network per k computes
(the replayed prefix must be invisible), not what the AuC of a random network is.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import pytest_memcheck as mc
from pytest_memcheck import engine

models = pytest.importorskip("torchvision.models")

SMALL: dict[str, Any] = {"samples_per_class": 2, "ks": (1, 2)}


def images(classes: int = 10, per_class: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(classes * per_class, 3, size, size, generator=g), torch.arange(classes * per_class) % classes


def network(name: str, **kw: Any) -> nn.Module:
    torch.manual_seed(0)
    return getattr(models, name)(weights=None, num_classes=10, **kw).eval()


def rerun_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the engine replay nothing: every compressed pass runs the whole network (the reference)."""
    from pytest_memcheck.prefix import Plan

    monkeypatch.setattr(engine, "plan", lambda trace, first: Plan(first))


#: name -> (method, what the default layers must look like)
TORCHVISION = {
    "resnet18": ("nmf", ["layer4.0.relu#1", "layer4.1.relu#0", "layer4.1.relu#1"]),
    "resnet50": ("nmf", ["layer4.2.relu#0", "layer4.2.relu#1", "layer4.2.relu#2"]),
    "densenet121": ("nmf", ["features.denseblock4.denselayer16.relu1", "features.denseblock4.denselayer16.relu2",
                            "relu()"]),
    "mobilenet_v2": ("nmf", ["features.17.conv.0.2", "features.17.conv.1.2", "features.18.2"]),
    "shufflenet_v2_x0_5": ("nmf", ["stage4.3.branch2.2", "stage4.3.branch2.7", "conv5.2"]),
    "vgg11_bn": ("nmf", ["features.27", "classifier.1", "classifier.4"]),
    "squeezenet1_0": ("nmf", ["features.12.expand1x1_activation", "features.12.expand3x3_activation",
                              "classifier.2"]),
    "regnet_y_400mf": ("nmf", ["trunk_output.block4.block4-5.f.a.2", "trunk_output.block4.block4-5.f.b.2",
                               "trunk_output.block4.block4-5.activation"]),
    "mobilenet_v3_small": ("pca", ["features.11.block.1.2", "features.12.2", "classifier.1"]),
    "efficientnet_b0": ("pca", ["features.7.0.block.0.2", "features.7.0.block.1.2", "features.8.2"]),
    "convnext_tiny": ("pca", ["features.7.0.block.4", "features.7.1.block.4", "features.7.2.block.4"]),
}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_network_runs_on_its_main_path_as_a_full_rerun_would(name, monkeypatch):
    method, layers = TORCHVISION[name]
    model = network(name)
    data = images()
    got = mc.check(model, data, method=method, **SMALL)
    assert got.layers == layers
    assert not any("prefix" in n for n in got.notes)
    rerun_everything(monkeypatch)
    reference = mc.check(model, data, method=method, **SMALL)
    assert got.samples == reference.samples and got.base_accuracy == reference.base_accuracy


@pytest.mark.parametrize("name, activation", [("efficientnet_b0", "SiLU"), ("convnext_tiny", "GELU"),
                                              ("mobilenet_v3_small", "Hardswish")])
def test_default_nmf_on_a_network_without_relu_names_the_activation_and_pca(name, activation):
    with pytest.raises(mc.LayerError, match=rf"main path are {activation} .*NMF factorizes non-negative .*"
                                            r"use method='pca' or method='random'"):
        mc.check(network(name), images(), **SMALL)


def test_squeeze_excitation_branches_are_passed_over_with_a_note():
    r = mc.check(network("regnet_y_400mf"), images(), **SMALL)
    assert not any(".se." in label for label in r.layers)
    assert any("trunk_output.block4.block4-5.f.se.activation" in n and "gating side branches" in n for n in r.notes)


def test_random_ablation_of_a_gelu_network_replays_exactly(monkeypatch):
    """Random ablation multiplies by 0/1 masks: bit-exact, so any stale or missing replay would show."""
    model, data = network("convnext_tiny"), images()
    got = mc.check(model, data, method="random", **{**SMALL, "ks": (0.1, 0.5)})
    rerun_everything(monkeypatch)
    assert got.samples == mc.check(model, data, method="random", **{**SMALL, "ks": (0.1, 0.5)}).samples


def test_vision_transformer_tokens_are_compressed_over_their_features():
    torch.manual_seed(0)
    vit = models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                   mlp_dim=64, num_classes=10).eval()
    r = mc.check(vit, images(), method="pca", samples_per_class=2, ks=(1, 2, 60))
    assert r.layers == ["encoder.layers.encoder_layer_0.mlp.1", "encoder.layers.encoder_layer_1.mlp.1"]
    # a matrix per class holds 2 samples x 17 tokens (rows) of 64 features (columns): the rank limit is 34;
    # read with channels first, the 17 tokens would pass for channels and limit it to 17
    assert r.ranks["encoder.layers.encoder_layer_1.mlp.1"] == [1, 2, 34]


class FunctionalNet(nn.Module):
    """A hand-written CNN whose ReLUs are all functional calls, one of them in place, one in a block."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.block = Block()
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.block(x)
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1).relu_())


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x) + x, inplace=True)


def test_functional_relus_are_found_named_and_selectable(monkeypatch):
    model, data = FunctionalNet().eval(), images(size=8)
    torch.manual_seed(0)
    r = mc.check(model, data, **SMALL)
    assert r.layers == ["relu()#1", "block.relu()", "relu()#2"]
    assert any("'block.relu()' is a functional relu() call in block" in n for n in r.notes)
    one = mc.check(model, data, layers=["relu()#0"], **SMALL)
    assert one.layers == ["relu()#0"]
    rerun_everything(monkeypatch)
    assert mc.check(model, data, **SMALL).samples == r.samples


def test_compiled_and_data_parallel_models_are_checked_under_their_own_names():
    model, data = network("resnet18"), images()
    plain = mc.check(model, data, **SMALL)
    for wrapped, prefix in ((torch.compile(model), "_orig_mod."), (nn.DataParallel(model), "module.")):
        got = mc.check(wrapped, data, **SMALL)
        assert (got.layers, got.samples) == (plain.layers, plain.samples)
        assert any(f"without {prefix!r}" in n for n in got.notes)
        named = mc.check(wrapped, data, layers=[prefix + "layer4.1.relu#1"], **SMALL)
        assert named.layers == ["layer4.1.relu#1"]


def test_bfloat16_model_and_data():
    model = network("resnet18").to(torch.bfloat16)
    x, y = images()
    r = mc.check(model, (x.to(torch.bfloat16), y), **SMALL)
    assert len(r.settings["draw"]) == 16 and 0 <= r.auc <= 1


class HuggingFaceStyle(nn.Module):
    """Takes a tensor, returns an object with a ``.logits`` attribute (not a dict)."""

    class Output:
        def __init__(self, logits: torch.Tensor) -> None:
            self.logits, self.hidden = logits, logits * 2

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> Output:
        return self.Output(self.net(x))


def test_attribute_style_output():
    torch.manual_seed(0)
    model, data = HuggingFaceStyle().eval(), images(size=8)
    with pytest.raises(mc.ModelError, match=r"returned a Output with tensor attributes 'logits', 'hidden'.*"
                                            r"output='logits' for this object"):
        mc.check(model, data, **SMALL)
    got = mc.check(model, data, output="logits", **SMALL)
    assert got.samples == mc.check(model.net, data, **SMALL).samples


class LongSkip(nn.Module):
    """An early output changed in place at the top level and read again by the head, past the compressed layer."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.BatchNorm2d(4))
        self.body = nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc, self.act, self.head = nn.Linear(8, 16), nn.ReLU(), nn.Linear(16 + 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.stem(x)
        a.relu_()
        h = self.act(self.fc(self.body(a)))
        return self.head(torch.cat([h, a.mean((2, 3))], 1))


def test_outputs_read_past_the_compressed_layer_are_replayed_as_they_were(monkeypatch):
    torch.manual_seed(0)
    model, data = LongSkip().eval(), images(size=8)
    got = mc.check(model, data, layers=["act"], **SMALL)
    rerun_everything(monkeypatch)
    assert got.samples == mc.check(model, data, layers=["act"], **SMALL).samples
