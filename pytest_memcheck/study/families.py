"""The zoo's model families: a data set, an architecture, and how to train them.

Twelve ReLU families over four data sets and six kinds of architecture (plain
CNN, residual CNN, deeper VGG-like CNN, MLP, deeper MLP), and two GELU families for the question whether
PCA (which needs no non-negativity) sees memorization in non-ReLU networks.
Calibration leaves one family out at a time, so every family is a test case
for rules chosen on the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from ..zoo import Split
from . import architectures as arch
from .datasets import DATASETS


@dataclass(frozen=True)
class Family:
    """A data set and an architecture; ``build(act, dropout)`` makes a fresh model."""

    name: str
    dataset: str
    kind: str  # "cnn", "resnet", "mlp", "deep_mlp"
    build: Callable[..., nn.Module]
    activation: str = "relu"
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None
    fit_kwargs: dict[str, Any] = field(default_factory=dict)

    def data(self, p: float, seed: int) -> Split:
        return DATASETS[self.dataset](p, seed)

    def model(self, dropout: float = 0.0) -> nn.Module:
        act = {"relu": nn.ReLU, "gelu": nn.GELU}[self.activation]
        return self.build(act=act, dropout=dropout)


def shift_and_noise(max_shift: int, sigma: float) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """Augmentation for images and signals: a random circular shift of the whole batch plus Gaussian noise."""

    def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        dims = tuple(range(2, x.dim()))
        shifts = tuple(int(s) for s in torch.randint(-max_shift, max_shift + 1, (len(dims),), generator=g))
        return torch.roll(x, shifts, dims) + sigma * torch.randn(x.shape, generator=g)

    return augment


def noise_only(sigma: float) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """Augmentation for tabular features: Gaussian noise."""
    return lambda x, g: x + sigma * torch.randn(x.shape, generator=g)


_IMAGE_AUG = shift_and_noise(1, 0.05)
_SIGNAL_AUG = shift_and_noise(2, 0.1)
_TABLE_AUG = noise_only(0.1)


def _families() -> dict[str, Family]:
    fams = [
        Family("digits_cnn", "digits", "cnn", lambda **k: arch.cnn(2, 8, pool_first=False, **k), augment=_IMAGE_AUG),
        Family("digits_mlp", "digits", "mlp", lambda **k: arch.mlp(64, **k), augment=_IMAGE_AUG),
        Family("digits_resnet", "digits", "resnet", lambda **k: arch.ResNet(2, **k), augment=_IMAGE_AUG),
        Family("signals_cnn", "signals", "cnn", lambda **k: arch.cnn(1, 64, **k), augment=_SIGNAL_AUG),
        Family("signals_mlp", "signals", "mlp", lambda **k: arch.mlp(64, **k), augment=_SIGNAL_AUG),
        Family("signals_resnet", "signals", "resnet", lambda **k: arch.ResNet(1, **k), augment=_SIGNAL_AUG),
        Family("shapes_cnn", "shapes", "cnn", lambda **k: arch.cnn(2, 16, **k), augment=_IMAGE_AUG),
        Family("shapes_resnet", "shapes", "resnet", lambda **k: arch.ResNet(2, **k), augment=_IMAGE_AUG),
        Family("tabular_mlp", "tabular", "mlp", lambda **k: arch.mlp(32, **k), augment=_TABLE_AUG),
        Family("tabular_deep_mlp", "tabular", "deep_mlp", lambda **k: arch.mlp(32, 256, 6, **k), augment=_TABLE_AUG),
        Family("digits_deep_mlp", "digits", "deep_mlp", lambda **k: arch.mlp(64, 256, 6, **k), augment=_IMAGE_AUG),
        Family("shapes_deep_cnn", "shapes", "deep_cnn", lambda **k: arch.deep_cnn(16, **k), augment=_IMAGE_AUG),
        Family("shapes_cnn_gelu", "shapes", "cnn", lambda **k: arch.cnn(2, 16, **k), "gelu", _IMAGE_AUG),
        Family("signals_mlp_gelu", "signals", "mlp", lambda **k: arch.mlp(64, **k), "gelu", _SIGNAL_AUG),
    ]
    return {f.name: f for f in fams}


FAMILIES = _families()
RELU_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.activation == "relu")
