"""Inputs that used to give a silently wrong result or a raw exception, and now give the right result.

The errors of the same review are in the catalogue (``tests/test_bad_inputs.py``);
here are the cases where the check must go on and be right: the model and its
data left exactly as found, numpy numbers taken where Python's are, each pass
on its own input, and data forms that work once named.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import pytest_memcheck as mc

from test_bad_inputs import FAST, named_mlp


def state_hash(model: nn.Module) -> str:
    """Every parameter, buffer and train/eval flag of a model."""
    h = hashlib.sha256()
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(bytes(m.training for m in model.modules()))
    return h.hexdigest()


@pytest.fixture
def model() -> nn.Sequential:
    torch.manual_seed(0)
    return named_mlp().eval()


def numbers(r: mc.CheckResult) -> Any:
    return r.auc, r.curve, r.samples, r.settings["draw"]


def test_numpy_numbers_and_iterables_are_taken_where_python_ones_are(model, tiny_data):
    expected = mc.check(model, tiny_data, samples_per_class=6, ks=(1, 2), classes=[0, 1, 2, 3], confidence=0.9)
    got = mc.check(
        model, tiny_data, samples_per_class=np.int64(6), ks=np.array([1, 2]), classes=(c for c in range(4)),
        confidence=np.float32(0.9), seed=np.int64(0), repeats=np.int64(1), iterations=np.int32(10),
        residual=np.bool_(False),
    )
    assert numbers(got) == numbers(expected)
    assert got.to_json()  # the settings are plain Python numbers


class AddsOneInPlace(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.add_(1)
        return self.net(x)


class AddsOne(AddsOneInPlace):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x + 1)


def test_a_forward_that_changes_its_input_gets_a_fresh_one_every_pass(model, tiny_data):
    x = tiny_data[0].clone()
    got = mc.check(AddsOneInPlace(model), (x, tiny_data[1]), **FAST)
    assert numbers(got) == numbers(mc.check(AddsOne(model), tiny_data, **FAST))
    assert torch.equal(x, tiny_data[0])  # the caller's data too


class NormNet(nn.Module):
    def __init__(self, train_in_forward: bool = False) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
        self.train_in_forward = train_in_forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.train_in_forward:
            self.train()
        return self.net(x)


def test_a_forward_that_trains_itself_is_an_error_and_leaves_the_model_as_found(tiny_data):
    torch.manual_seed(0)
    model = NormNet(train_in_forward=True).eval()
    before = state_hash(model)
    with pytest.raises(mc.ModelError, match=r"in training mode \(a self.train\(\) call inside forward\?\)"):
        mc.check(model, tiny_data, **FAST)
    assert state_hash(model) == before  # running statistics, flags: all put back


def test_a_check_leaves_parameters_buffers_and_modes_as_found(tiny_data):
    torch.manual_seed(0)
    model = NormNet()
    model.net[2].eval()  # mixed modes
    before = state_hash(model)
    mc.check(model, tiny_data, **FAST)
    assert state_hash(model) == before


class Counter(nn.Module):
    """Counts its calls in a buffer, as some wrappers do."""

    def __init__(self) -> None:
        super().__init__()
        self.net = named_mlp()
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(x)


def test_buffers_written_by_the_forward_are_put_back(tiny_data):
    torch.manual_seed(0)
    model = Counter().eval()
    mc.check(model, tiny_data, **FAST)
    assert int(model.calls) == 0


class GradForward(nn.Module):
    """Forces autograd on inside forward (a model that computes input gradients for itself)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            return self.net(x.requires_grad_())


def test_a_forward_that_forces_autograd_is_checked_like_any_other(model, tiny_data):
    assert numbers(mc.check(GradForward(model), tiny_data, **FAST)) == numbers(mc.check(model, tiny_data, **FAST))


def test_unsigned_labels(model, tiny_data):
    x, y = tiny_data
    assert numbers(mc.check(model, (x, y.to(torch.uint64)), **FAST)) == numbers(mc.check(model, tiny_data, **FAST))


def test_random_fraction_below_one_unit_and_count_above_the_width_are_noted(model, tiny_data):
    r = mc.check(model, tiny_data, method="random", samples_per_class=6, ks=(1e-300, 0.5, 500))
    assert r.ranks["act1"] == [1, 8, 16]
    assert "k=1e-300 keeps less than one of the 16 units of layer 'act1'; raised to one unit" in r.notes
    assert "k=500 exceeds the 16 units of layer 'act1'; clipped to all of them" in r.notes


def test_a_class_without_samples_is_noted(model, tiny_data):
    x, y = tiny_data
    keep = y < 3
    r = mc.check(model, (x[keep], y[keep]), **FAST)
    assert "1 of the model's 4 classes (3) have no samples in the data and were not checked" in r.notes
    assert not any("have no samples" in n for n in mc.check(model, (x[keep], y[keep]), classes=[0, 1], **FAST).notes)


def test_output_selector_on_a_tensor_leaks_no_torch_warning(model, tiny_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(mc.ModelError, match="leave output unset"):
            mc.check(model, tiny_data, output="logits", **FAST)


class Dicts(Dataset):
    """HuggingFace-style items: {"pixel_values": x, "labels": y}, or under other keys."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, keys: tuple[str, str] = ("pixel_values", "labels")) -> None:
        self.x, self.y, self.keys = x, y, keys

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {self.keys[0]: self.x[i], self.keys[1]: int(self.y[i]), "id": i}


def test_dict_items_and_dict_batches(model, tiny_data):
    expected = numbers(mc.check(model, tiny_data, **FAST))
    x, y = tiny_data
    assert numbers(mc.check(model, Dicts(x, y), **FAST)) == expected
    assert numbers(mc.check(model, Dicts(x, y, ("img", "cls")), keys=("img", "cls"), **FAST)) == expected
    to_dict = lambda items: {"image": torch.stack([i[0] for i in items]), "label": torch.tensor([int(i[1]) for i in items])}  # noqa: E731
    loader = DataLoader(TensorDataset(x, y), batch_size=5, collate_fn=to_dict)
    assert numbers(mc.check(model, loader, **FAST)) == expected


def test_nmf_takes_arrays_and_keeps_finite_factors_near_the_float32_limit():
    A = torch.rand(40, 12, generator=torch.Generator().manual_seed(0))
    U, V = mc.nmf(A.numpy(), 3)
    assert isinstance(U, torch.Tensor) and torch.allclose(U @ V, torch.matmul(*mc.nmf(A, 3)))
    U, V = mc.nmf(A * 3e38, 3)
    assert bool(torch.isfinite(U).all() and torch.isfinite(V).all())
    ref = torch.matmul(*mc.nmf(A, 3))
    assert torch.allclose((U.double() @ V.double()) / 3e38, ref.double(), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    "A, kwargs, match",
    [
        (torch.rand(40, 12), {"k": 2.5}, r"ranks must be whole numbers, got 2.5"),
        (torch.rand(40, 12), {"k": 2, "iterations": 1.5}, r"iterations must be a whole number >= 0, got 1.5"),
        (torch.rand(40, 12), {"k": 2, "seed": 2**64}, r"seed must be a whole number from 0 to 2\*\*63 - 1"),
        (torch.rand(0, 12), {"k": 1}, r"the matrix is empty \(shape \(0, 12\)\); there is nothing to factorize"),
        (torch.rand(40, 12).to_sparse(), {"k": 1}, r"expected a dense tensor, got a torch.sparse_coo one; pass A.to_dense"),
    ],
    ids=["fractional rank", "fractional iterations", "seed beyond 64 bits", "empty", "sparse"],
)
def test_nmf_refuses_what_it_cannot_factorize(A, kwargs, match):
    with pytest.raises(mc.MemcheckError, match=match):
        mc.nmf(A, **kwargs)
