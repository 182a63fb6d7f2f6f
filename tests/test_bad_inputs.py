"""Every bad input the engine sees gets an error or warning that names the problem and the fix.

``CATALOGUE`` is the list that ``docs/reliability.md`` tabulates: each entry is a
call with one thing wrong, the error class it must raise, and a pattern that
the message must match (the problem *and* what to do about it). After every
error the model must be left exactly as found.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import pytest_memcheck as mc
from pytest_memcheck.errors import ActivationError, DataError, LayerError, MemcheckError, ModelError

FAST: dict[str, Any] = {"samples_per_class": 6, "ks": (1, 2)}


def named_mlp(width: int = 16) -> nn.Sequential:
    """A 2-hidden-layer MLP for 1x8x8 inputs and 4 classes, with readable module names."""
    return nn.Sequential(
        OrderedDict(
            flat=nn.Flatten(),
            fc1=nn.Linear(64, width),
            act1=nn.ReLU(),
            fc2=nn.Linear(width, width),
            act2=nn.ReLU(),
            head=nn.Linear(width, 4),
        )
    )


@pytest.fixture
def model() -> nn.Sequential:
    torch.manual_seed(0)
    return named_mlp().eval()


class Wrapped(nn.Module):
    """Wraps a classifier whose forward returns something other than a logits tensor."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.net, self.kind = named_mlp(), kind

    def forward(self, x: torch.Tensor) -> Any:
        logits = self.net(x)
        if self.kind == "tuple":
            return logits, logits.sum()
        if self.kind == "dict":
            return {"logits": logits, "features": x.flatten(1)}
        return logits.unsqueeze(1)  # "3d": (batch, 1, classes)


class Overflow(nn.Module):
    """``fc`` overflows to inf; ``clamp_logits`` hides it from the output (only the activations show it)."""

    def __init__(self, clamp_logits: bool) -> None:
        super().__init__()
        self.fc, self.act, self.head = nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4)
        self.clamp_logits = clamp_logits
        with torch.no_grad():
            self.fc.weight.fill_(1e38)
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc(x.flatten(1)))
        return self.head(h.clamp(max=1.0) if self.clamp_logits else h)


class NanHead(nn.Module):
    """Finite activations everywhere, NaN logits (a functional op, invisible to module hooks)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = named_mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * float("nan")


class Unused(nn.Module):
    """Has a ReLU module that its forward never calls."""

    def __init__(self) -> None:
        super().__init__()
        self.net, self.spare = named_mlp(), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Pairs(torch.utils.data.Dataset):
    """A dataset whose items are not (x, y) pairs."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def dead(model: nn.Sequential) -> nn.Sequential:
    with torch.no_grad():
        model.fc2.weight.zero_()
        model.fc2.bias.fill_(-1.0)
    return model


class DeadBranch(nn.Module):
    """A residual MLP whose branch layer ``net.act2`` is dead: the network still predicts through the shortcut."""

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = dead(net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        h = n.act1(n.fc1(n.flat(x)))
        return n.head(h + n.act2(n.fc2(h)))


class Recurrent(nn.Module):
    """An LSTM after the ReLU: a layer whose output is a tuple, not a tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.act, self.lstm, self.head = nn.Linear(64, 16), nn.ReLU(), nn.LSTM(16, 16), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.act(self.fc(x.flatten(1))))
        return self.head(out)


def split(model: nn.Sequential) -> nn.Sequential:
    model.fc1.to("meta")
    return model


def with_value(x: torch.Tensor, value: float) -> torch.Tensor:
    x = x.clone()
    x[5, 0, 3, 3] = value
    return x


def scripted(model: nn.Module) -> torch.jit.ScriptModule:
    with pytest.warns(FutureWarning):  # torch.jit is deprecated, but still met in the wild
        return torch.jit.script(model)


class Complex(nn.Module):
    """Returns complex logits (a spectral model's raw output)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = named_mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.complex(self.net(x), self.net(x))


class SecondCallFails(nn.Module):
    """Raises on its second forward only: the check's uncompressed pass after the trace."""

    def __init__(self) -> None:
        super().__init__()
        self.net, self.calls = named_mlp(), 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR")
        return self.net(x)


class TrainsItself(nn.Module):
    """Calls self.train() in forward, so that BatchNorm would update its running statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.train()
        return self.net(x)


class Gelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.act, self.head = nn.Linear(64, 16), nn.GELU(), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.act(self.fc(x.flatten(1))))


class Items(torch.utils.data.Dataset):
    """A map-style dataset of (x, y) pairs, or of dicts, that can be told to misbehave."""

    def __init__(self, x, y, *, targets=None, length=None, broken=None, item=lambda x, y: (x, y)) -> None:
        self.x, self.y, self.length, self.broken, self.item = x, y, length, broken, item
        if targets is not None:
            self.targets = targets

    def __len__(self) -> int:
        return len(self.x) if self.length is None else self.length

    def __getitem__(self, i: int):
        if i == self.broken:
            raise OSError(f"image {i} is truncated")
        return self.item(self.x[i], int(self.y[i]))


def pil_items(x: torch.Tensor, y: torch.Tensor) -> Items:
    from PIL import Image

    return Items(x, y, item=lambda x, y: (Image.fromarray((x[0].numpy() * 255).astype("uint8")), y))


def misfiled(y: torch.Tensor) -> list[int]:
    targets = y.tolist()
    targets[0], targets[1] = targets[1], targets[0]  # items 0 and 1 swapped
    return targets


Call = Callable[[nn.Sequential, torch.Tensor, torch.Tensor], Any]


class Case(NamedTuple):
    problem: str
    call: Call
    error: type[MemcheckError]
    match: str


def check(m: nn.Module, data: Any, **kw: Any) -> mc.CheckResult:
    return mc.check(m, data, **{**FAST, **kw})


CATALOGUE: list[Case] = [
    # the model
    Case("device='meta' asked for", lambda m, x, y: check(m, (x, y), device="meta"), ModelError,
         r"device='meta' holds no values.*leave device unset to use the model's own device \(cpu\)"),
    Case("model on another device than asked", lambda m, x, y: check(m, (x, y), device="cuda"), ModelError,
         r"the model is on cpu but device='cuda' was asked for; memcheck never moves your model: "
         r"call model.to\('cuda'\) first"),
    Case("model on the meta device", lambda m, x, y: check(m.to("meta"), (x, y)), ModelError,
         r"on the meta device and hold no values; materialize it first: model.to_empty"),
    Case("device is not a device", lambda m, x, y: check(m, (x, y), device="gpu"), ModelError,
         r"device='gpu' is not a torch device .*use e.g. 'cpu', 'cuda'"),
    Case("model parameters on two devices", lambda m, x, y: check(split(m), (x, y)), ModelError,
         r"spread over \['cpu', 'meta'\].*call model.to\(device\) first"),
    Case("TorchScript model", lambda m, x, y: check(scripted(m), (x, y)), ModelError,
         r"TorchScript models cannot be hooked.*check the eager nn.Module"),
    Case("not a model", lambda m, x, y: check(lambda t: t, (x, y)), ModelError,
         r"model must be a torch.nn.Module, got function"),
    Case("forward returns a tuple", lambda m, x, y: check(Wrapped("tuple"), (x, y)), ModelError,
         r"returned a tuple of length 2 \(indices 0..1\), not a logits tensor.*output=0 for a tuple"),
    Case("forward returns a dict", lambda m, x, y: check(Wrapped("dict"), (x, y)), ModelError,
         r"returned a dict with keys 'logits', 'features', not a logits tensor.*output='logits'"),
    Case("output= selects nothing", lambda m, x, y: check(Wrapped("dict"), (x, y), output="probs"), ModelError,
         r"output='probs' could not select the logits from the model's dict with keys 'logits', 'features'"),
    Case("output= index out of range", lambda m, x, y: check(Wrapped("tuple"), (x, y), output=2), ModelError,
         r"output=2 could not select .* tuple of length 2 \(indices 0..1\)"),
    Case("logits not (batch, classes)", lambda m, x, y: check(Wrapped("3d"), (x, y)), ModelError,
         r"expected logits of shape \(batch, classes\), got \(24, 1, 4\); pass output=callable"),
    Case("forward fails on the inputs", lambda m, x, y: check(m, ((x * 4).long(), y)), ModelError,
         r"forward pass failed on the check's inputs with RuntimeError: .*dtype.*make the data give what the model"),
    Case("forward returns complex logits", lambda m, x, y: check(Complex(), (x, y)), ModelError,
         r"the model's logits are complex \(torch.complex64\), so they do not rank classes; pass output=callable"),
    Case("output= callable that raises", lambda m, x, y: check(m, (x, y), output=lambda out: out.logits),
         ModelError, r"output='<lambda>' raised AttributeError: 'Tensor' object has no attribute 'logits'; it must "
         r"turn the model's output into \(batch, classes\) logits"),
    Case("output= on a forward that returns a tensor", lambda m, x, y: check(m, (x, y), output="logits"),
         ModelError, r"output='logits' selects a part of a tuple, dict or object, but the model's forward returned "
         r"a logits tensor already; leave output unset"),
    Case("forward that fails on its second call", lambda m, x, y: check(SecondCallFails(), (x, y)), ModelError,
         r"forward pass failed on the check's inputs with RuntimeError: cuDNN error"),
    Case("forward that calls self.train()", lambda m, x, y: check(TrainsItself(), (x, y)), ModelError,
         r"the model's forward put TrainsItself, net, net.0 \.\.\. in training mode \(a self.train\(\) call inside "
         r"forward\?\).*remove the call from forward"),
    # layers
    Case("layer not found", lambda m, x, y: check(m, (x, y), layers=["act3"]), LayerError,
         r"no module named 'act3' in Sequential. Did you mean 'act\d', 'act\d'\? ReLU layers .*: act1, act2"),
    Case("layer given as a number", lambda m, x, y: check(m, (x, y), layers=[2]), LayerError,
         r"layers must be module names \(strings\), got 2; write layers=\['2'\]"),
    Case("layer that never runs", lambda m, x, y: check(Unused(), (x, y), layers=["spare"]), LayerError,
         r"layer 'spare' was found but it never runs in the model's forward pass; pick a module that runs"),
    Case("bad call index", lambda m, x, y: check(m, (x, y), layers=["act1#last"]), LayerError,
         r"the part after '#' must be a call index such as '#0'"),
    Case("no layers", lambda m, x, y: check(m, (x, y), layers=[]), LayerError,
         r"layers=\[\] selects nothing; leave layers unset"),
    Case("layer not non-negative", lambda m, x, y: check(m, (x, y), layers=["fc1"]), LayerError,
         r"layer 'fc1' outputs negative values \(minimum -.*\).*pick the ReLU that follows it"),
    Case("dead (all-zero) layer", lambda m, x, y: check(dead(m), (x, y), layers=["act2"]), ActivationError,
         r"layer 'act2' outputs only zeros .*\(a dead layer\).*pick another layer or check the model's training"),
    Case("layer whose output is not a tensor", lambda m, x, y: check(Recurrent(), (x, y), layers=["lstm"]),
         LayerError, r"layer 'lstm' does not return a floating-point tensor; pick an activation layer"),
    Case("inf activations that reach the logits", lambda m, x, y: check(Overflow(False), (x, y)), ActivationError,
         r"output contains NaN and layer 'fc' is the first to produce NaN or inf.*check the weights and the input"),
    Case("inf activations in a compressed layer", lambda m, x, y: check(Overflow(True), (x, y)), ActivationError,
         r"layer 'act' produced NaN or inf activations .*\(first seen at layer 'fc'\).*check the weights"),
    Case("NaN logits", lambda m, x, y: check(NanHead(), (x, y)), ModelError,
         r"logits contain NaN on the check's batches.*check the model on these inputs"),
    Case("NMF on a GELU layer", lambda m, x, y: check(Gelu(), (x, y), layers=["act"]), LayerError,
         r"layer 'act' outputs negative values \(minimum -.*\): it is a GELU, and NMF factorizes non-negative "
         r"activations; .* use method='pca' or method='random', which compress any activation"),
    Case("no activation layers", lambda m, x, y: check(nn.Sequential(nn.Flatten(), nn.Linear(64, 4)), (x, y)),
         LayerError, r"the model has no activation layers \(nn.ReLU, F.relu / torch.relu in forward, SiLU, GELU"),
    # labels and classes
    Case("class absent", lambda m, x, y: check(m, (x, y), classes=[0, 7]), DataError,
         r"class\(es\) \[7\] have no samples in the data; present classes: \[0, 1, 2, 3\]"),
    Case("class too small", lambda m, x, y: check(m, (x, y), samples_per_class=20), DataError,
         r"class 0 has 12 samples but the check needs samples_per_class=20; lower samples_per_class, or leave"),
    Case("classes not a list", lambda m, x, y: check(m, (x, y), classes=3), DataError,
         r"classes must be a list of class indices such as classes=\[0, 3\], got 3"),
    Case("float labels", lambda m, x, y: check(m, (x, y.float())), DataError,
         r"labels must be integer class indices, got dtype torch.float32; pass y.long\(\)"),
    Case("bool labels", lambda m, x, y: check(m, (x, y > 1)), DataError,
         r"labels must be integer class indices, got dtype torch.bool"),
    Case("one-hot labels", lambda m, x, y: check(m, (x, nn.functional.one_hot(y))), DataError,
         r"labels must be a 1-D vector of class indices, got shape \(48, 4\) \(one-hot\? pass y.argmax\(1\)\)"),
    Case("class named twice", lambda m, x, y: check(m, (x, y), classes=[0, 0, 1]), DataError,
         r"classes=\[0, 0, 1\] names class 0 more than once; name each class once"),
    Case("no class named", lambda m, x, y: check(m, (x, y), classes=[]), DataError,
         r"classes=\[\] selects no class; leave classes unset to check every class"),
    Case("labels as a column", lambda m, x, y: check(m, (x, y[:, None])), DataError,
         r"got shape \(48, 1\) \(a column of labels\? pass y.flatten\(\)\)"),
    Case("multi-label targets", lambda m, x, y: check(m, (x, torch.stack([y % 2, y // 2, y % 3], 1))), DataError,
         r"got shape \(48, 3\) \(several labels per sample\? memcheck checks single-label classifiers"),
    Case("one label for all samples", lambda m, x, y: check(m, (x, y[0])), DataError,
         r"labels must be a 1-D vector of class indices, got a single number; pass one label per sample"),
    Case("sparse labels", lambda m, x, y: check(m, (x, y.to_sparse())), DataError,
         r"the labels are a sparse tensor \(torch.sparse_coo\); pass them dense: .to_dense\(\)"),
    Case("labels on the meta device", lambda m, x, y: check(m, (x, y.to("meta"))), DataError,
         r"the labels are on the meta device and hold no values"),
    Case("negative labels", lambda m, x, y: check(m, (x, y - 1)), DataError,
         r"labels must be class indices >= 0, found -1; map them to 0..C-1"),
    Case("labels out of range for the model", lambda m, x, y: check(m, (x, y + 2)), DataError,
         r"label 5 is out of range for a model with 4 outputs; labels must be 0..3"),
    Case("class names as labels", lambda m, x, y: check(m, (x, np.array(list("abcd"))[y.numpy()])), DataError,
         r"could not turn the labels into a tensor .*encode class names first"),
    # inputs and data
    Case("NaN in inputs", lambda m, x, y: check(m, (with_value(x, float("nan")), y)), DataError,
         r"drawn inputs contain NaN or inf values; clean the data"),
    Case("inf in inputs", lambda m, x, y: check(m, (with_value(x, float("inf")), y)), DataError,
         r"drawn inputs contain NaN or inf values; clean the data"),
    Case("empty tensors", lambda m, x, y: check(m, (x[:0], y[:0])), DataError,
         r"the data is empty; give the check training samples"),
    Case("empty dataset", lambda m, x, y: check(m, TensorDataset(x[:0], y[:0])), DataError,
         r"the data is empty"),
    Case("empty iterable DataLoader", lambda m, x, y: check(m, DataLoader(Stream(x[:0], y[:0]), batch_size=4)),
         DataError, r"the DataLoader yielded no batches"),
    Case("x and y of different lengths", lambda m, x, y: check(m, (x, y[:40])), DataError,
         r"inputs have 48 samples but labels have 40; pass matching \(x, y\)"),
    Case("unreadable data type", lambda m, x, y: check(m, {"x": x, "y": y}), DataError,
         r"cannot read data of type dict; pass an \(x, y\) pair of tensors, a torch Dataset .* or a DataLoader"),
    Case("dataset items not (x, y)", lambda m, x, y: check(m, Pairs(x)), DataError,
         r"dataset item 0 is a Tensor, not an \(input, label\) pair; wrap the dataset"),
    Case("sparse inputs", lambda m, x, y: check(m, (x.to_sparse(), y)), DataError,
         r"the inputs are a sparse tensor \(torch.sparse_coo\); pass them dense: .to_dense\(\)"),
    Case("nested inputs", lambda m, x, y: check(m, (torch.nested.nested_tensor(list(x), layout=torch.jagged), y)), DataError,
         r"the inputs are a nested tensor; pad them to one shape \(torch.nested.to_padded_tensor\)"),
    Case("dataset item that cannot be read", lambda m, x, y: check(m, Items(x, y, broken=5)), DataError,
         r"reading dataset\[5\] raised OSError: image 5 is truncated; memcheck reads items by index, as a "
         r"DataLoader does: fix the dataset"),
    Case("dataset __len__ too long", lambda m, x, y: check(m, Items(x, y, length=60)), DataError,
         r"reading dataset\[48\] raised IndexError: .*\(len\(dataset\) is 60: is __len__ right\?\)"),
    Case("dataset.targets too long", lambda m, x, y: check(m, Items(x, y, targets=y.tolist() + [0] * 12)),
         DataError, r"dataset.targets has 60 labels but len\(dataset\) is 48; they must match, one label per item"),
    Case("dataset.targets that disagree with the items", lambda m, x, y: check(m, Items(x, y, targets=misfiled(y))),
         DataError, r"dataset.targets disagrees with the items: it says item \d+ is class \d, but dataset\[\d+\] "
         r"gives label \d \(\d of 24 drawn items disagree\); fix .targets"),
    Case("PIL images without a transform", lambda m, x, y: check(m, pil_items(x, y)), DataError,
         r"the dataset's inputs are PIL.Image.Image images, which a model cannot take; give the dataset the "
         r"transform used in training, e.g. transform=torchvision.transforms.ToTensor\(\)"),
    Case("dict items with unknown keys", lambda m, x, y: check(m, Items(x, y, item=lambda x, y: {"a": x, "b": y})),
         DataError, r"dataset item 0 is a dict with keys 'a', 'b'; name its input and label with "
         r"keys=\(input_key, label_key\), e.g. keys=\('a', 'b'\)"),
    Case("keys= naming a missing key", lambda m, x, y: check(m, Items(x, y, item=lambda x, y: {"a": x, "b": y}),
                                                              keys=("a", "label")), DataError,
         r"dataset item 0 has no key 'label' \(keys=\); its keys are 'a', 'b'"),
    Case("inputs on the meta device", lambda m, x, y: check(m, (x.to("meta"), y)), DataError,
         r"inputs are on the meta device and hold no values"),
    # settings
    Case("samples_per_class < 2", lambda m, x, y: check(m, (x, y), samples_per_class=1), DataError,
         r"samples_per_class must be a whole number >= 2, got 1: a batch of one sample has nothing to compress"),
    Case("samples_per_class not whole", lambda m, x, y: check(m, (x, y), samples_per_class=5.5), DataError,
         r"samples_per_class must be a whole number >= 2, got 5.5"),
    Case("unknown method", lambda m, x, y: check(m, (x, y), method="svd"), MemcheckError,
         r"unknown method 'svd'; choose one of nmf, pca, random"),
    Case("unknown batches", lambda m, x, y: check(m, (x, y), batches="mixed"), DataError,
         r"batches='mixed' is not known; use 'single' or 'multi'"),
    Case("empty grid", lambda m, x, y: check(m, (x, y), ks=()), MemcheckError,
         r"the k grid is empty; pass ks=\(1, 2, 4, 8\) or leave ks unset"),
    Case("grid not a sequence", lambda m, x, y: check(m, (x, y), ks=8), MemcheckError,
         r"ks must be a sequence of numbers such as ks=\(1, 2, 4, 8\), got 8"),
    Case("grid as a string", lambda m, x, y: check(m, (x, y), ks="1248"), MemcheckError,
         r"ks must be a sequence of numbers .*got '1248'"),
    Case("grid with a non-number", lambda m, x, y: check(m, (x, y), ks=(1, "2")), MemcheckError,
         r"ks must hold numbers, got '2'"),
    Case("rank 0 in the grid", lambda m, x, y: check(m, (x, y), ks=(0, 1)), MemcheckError,
         r"nmf ranks must be whole numbers >= 1, got 0"),
    Case("fractional rank", lambda m, x, y: check(m, (x, y), method="pca", ks=(1.5,)), MemcheckError,
         r"pca ranks must be whole numbers >= 1, got 1.5"),
    Case("NaN in the grid", lambda m, x, y: check(m, (x, y), ks=(float("nan"),)), MemcheckError,
         r"nmf ranks must be whole numbers >= 1, got nan"),
    Case("repeated grid values", lambda m, x, y: check(m, (x, y), ks=(1, 2, 2)), MemcheckError,
         r"the k grid has repeated values: \(1, 2, 2\)"),
    Case("random ablation fraction above 1", lambda m, x, y: check(m, (x, y), method="random", ks=(2.5,)),
         MemcheckError, r"random ablation keeps a fraction in \(0, 1\] or a whole number \(> 1\) of units, got 2.5"),
    Case("negative seed", lambda m, x, y: check(m, (x, y), seed=-1), MemcheckError,
         r"seed must be a whole number >= 0, got -1"),
    Case("residual not a bool", lambda m, x, y: check(m, (x, y), residual="no"), MemcheckError,
         r"residual must be True or False, got 'no'"),
    Case("seed beyond torch.Generator's range", lambda m, x, y: check(m, (x, y), seed=2**64), MemcheckError,
         r"seed must be at most 2\*\*63 - 1 \(torch.Generator's range; repeats use seed, seed \+ 1, ...\), got "
         r"18446744073709551616"),
    Case("repeats < 1", lambda m, x, y: check(m, (x, y), repeats=0), MemcheckError,
         r"repeats must be a whole number >= 1, got 0"),
    Case("iterations < 1", lambda m, x, y: check(m, (x, y), iterations=0), MemcheckError,
         r"iterations must be a whole number >= 1, got 0; the NNDSVDa start alone is a poor fit"),
    Case("confidence outside (0, 1)", lambda m, x, y: check(m, (x, y), confidence=95), MemcheckError,
         r"confidence must be a number in \(0, 1\) such as 0.95, got 95"),
]


class Stream(IterableDataset):
    """An iterable dataset of (x, y) pairs, as streaming pipelines give."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __iter__(self):
        return zip(self.x, self.y)


def untouched(model: nn.Module) -> bool:
    """No hook left behind and the eval flags as the fixture set them."""
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m.training for m in model.modules())


@functools.cache
def documented() -> dict[str, tuple[str, str]]:
    """The engine's table in docs/reliability.md: problem -> (error class, message; "..." marks a cut)."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = text[text.index("## The engine:"):text.index("### Adjusted or suspicious")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 3 and re.fullmatch(r"`\w+Error`", cells[1]):
            rows[cells[0]] = (cells[1].strip("`"), cells[2].replace("\\|", "|"))
    return rows


def row(problem: str) -> tuple[str, str]:
    """The docs' row of a catalogue case: its problem, maybe with more said after it."""
    rows = [v for k, v in documented().items() if k.replace("`", "").startswith(problem)]
    assert len(rows) == 1, f"docs/reliability.md should have one row for {problem!r}, has {len(rows)}"
    return rows[0]


@pytest.mark.filterwarnings("ignore::pytest_memcheck.MemcheckWarning")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.problem) for c in CATALOGUE])
def test_bad_input_is_named_with_its_fix(case: Case, model, tiny_data):
    with pytest.raises(case.error, match=case.match) as info:
        case.call(model, *tiny_data)
    assert isinstance(info.value, ValueError)  # every MemcheckError is a ValueError
    assert untouched(model)
    # the docs quote the message itself, cut only where they say "...": its pieces, in order
    kind, message = row(case.problem)
    assert kind == type(info.value).__name__
    text, at = str(info.value), 0
    for piece in (p.strip() for p in message.split("...")):
        assert piece in text[at:], f"docs/reliability.md quotes {piece!r}; the message is {text!r}"
        at = text.index(piece, at) + len(piece)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layers": ["nope"]}, r"no module named 'nope'"),
        ({"ks": 4}, r"ks must be a sequence"),
        ({"seed": -2}, r"seed must be a whole number"),
        ({"device": "meta"}, r"device='meta' holds no values"),
        ({"samples_per_class": 1}, r"samples_per_class must be"),
    ],
)
def test_layerwise_validates_like_check(kwargs, match, model, tiny_data):
    with pytest.raises(MemcheckError, match=match):
        mc.layerwise(model, tiny_data, **{**FAST, **kwargs})


def test_forward_failure_keeps_the_original_error(model, tiny_data):
    x, y = tiny_data
    with pytest.raises(ModelError) as info:
        check(model, (x[:, :, :4], y))
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_asked_for_without_cuda(tiny_data):
    class Parameterless(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x.flatten(1)[:, :4])

    with pytest.raises(ModelError, match=r"device='cuda' was asked for but CUDA is not available here"):
        check(Parameterless(), tiny_data, device="cuda")


def test_training_mode_is_checked_in_eval_mode_restored_and_noted(model, tiny_data):
    expected = check(model, tiny_data)
    model.train()
    model.act1.eval()  # a mixed-mode model gets each flag back
    got = check(model, tiny_data)
    assert [m.training for m in model.modules()] == [True, True, True, False, True, True, True]
    assert "checked in eval mode and restored" in " ".join(got.notes)
    assert (got.auc, got.curve, got.samples) == (expected.auc, expected.curve, expected.samples)


def test_default_layers_pass_over_a_dead_layer_and_say_so(model, tiny_data):
    branched = DeadBranch(model).eval()
    r = check(branched, tiny_data, **FAST)
    assert r.layers == ["net.act1"]
    assert "net.act2 outputs only zeros (a dead layer), so the default layers are the last live ones: net.act1" in (
        r.notes
    )
    assert untouched(branched)


def test_a_collapsed_network_is_at_chance_not_an_error(model, tiny_data):
    """A dead last layer makes every prediction the same: the gate's at-chance guard, as for any such model."""
    r = check(dead(model), tiny_data, **FAST)
    assert r.layers == ["act1"] and r.base_accuracy == 0.25
    verdict = mc.decide(r)
    assert verdict.status == mc.Status.INCONCLUSIVE and verdict.guard == mc.Guard.CHANCE
    assert "at chance: the model predicts 25.0%" in verdict.reasons[0]


def test_partly_training_model_is_noted(model, tiny_data):
    model.act2.train()  # e.g. a dropout left in training mode inside an eval model
    assert any("training mode" in n for n in check(model, tiny_data).notes)
    assert model.act2.training and not model.training


def test_k_above_the_rank_limit_is_clipped_and_noted(model, tiny_data):
    r = check(model, tiny_data, ks=(1, 6, 40))  # 6 samples of 16 units: rank at most 6
    assert r.ranks == {"act1": [1, 6, 6], "act2": [1, 6, 6]}
    assert "k=40 exceeds the rank limit min(m, q) = 6 of layer 'act1' (6 x 16); clipped to it" in r.notes
    assert r.curve[40.0] == r.curve[6.0]


def test_reused_relu_module_is_warned_about_and_named_per_call(tiny_data):
    class Reuse(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2, self.head = nn.Linear(64, 16), nn.Linear(16, 16), nn.Linear(16, 4)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.relu(self.fc2(self.relu(self.fc1(x.flatten(1))))))

    torch.manual_seed(0)
    with pytest.warns(mc.MemcheckWarning, match=r"relu run more than once .* Name one call with '#i' \(e.g. 'relu#0'\)"):
        r = check(Reuse(), tiny_data, layers=["relu"])
    assert r.layers == ["relu#0", "relu#1"]


def test_warnings_point_at_the_callers_line(model, tiny_data):
    loader = DataLoader(TensorDataset(*tiny_data), batch_size=8, shuffle=True)
    with pytest.warns(mc.MemcheckWarning) as record:
        check(model, loader)
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    "loader_kwargs, match",
    [
        ({"shuffle": True}, r"the DataLoader's shuffle=True is ignored: memcheck reads loader.dataset by index"),
        ({"drop_last": True}, r"the DataLoader's drop_last=True is ignored"),
        ({"shuffle": True, "drop_last": True}, r"shuffle=True and drop_last=True are ignored"),
        ({"sampler": torch.utils.data.WeightedRandomSampler([1.0] * 48, 48)}, r"sampler \(WeightedRandomSampler\)"),
    ],
)
def test_loader_that_shuffles_or_drops_gives_the_datasets_result(loader_kwargs, match, model, tiny_data):
    dataset = TensorDataset(*tiny_data)
    expected = check(model, dataset)
    with pytest.warns(mc.MemcheckWarning, match=match + r".*the result is the same as for the dataset itself"):
        got = check(model, DataLoader(dataset, batch_size=5, **loader_kwargs))
    assert (got.auc, got.curve, got.samples, got.settings["draw"]) == (
        expected.auc, expected.curve, expected.samples, expected.settings["draw"]
    )


def test_iterable_loader_is_warned_about(model, tiny_data):
    with pytest.warns(mc.MemcheckWarning, match=r"IterableDataset: memcheck reads it to the end once.*map-style"):
        got = check(model, DataLoader(Stream(*tiny_data), batch_size=5))
    assert got.settings["draw"] == check(model, tiny_data).settings["draw"]


@pytest.mark.parametrize("kind, output", [("tuple", 0), ("dict", "logits"), ("dict", lambda out: out["logits"])])
def test_structured_output_works_once_output_is_named(kind, output, tiny_data):
    torch.manual_seed(0)
    wrapped = Wrapped(kind).eval()
    got = check(wrapped, tiny_data, output=output)
    plain = check(wrapped.net, tiny_data)
    assert got.layers == ["net.act1", "net.act2"]
    assert (got.auc, got.curve, got.samples) == (plain.auc, plain.curve, plain.samples)
