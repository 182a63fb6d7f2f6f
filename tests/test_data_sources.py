"""Every supported form of the training data gives the same draw, and the same result, for the same seed.

The draw depends only on the labels, their order and the seed, so the same
samples given as tensors, arrays, datasets, loaders or image files on disk must
lead to bit-identical batches (``settings["draw"]`` fingerprints them) and so to
identical numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset, TensorDataset

import pytest_memcheck as mc
from pytest_memcheck import zoo

datasets = pytest.importorskip("torchvision.datasets")
transforms = pytest.importorskip("torchvision.transforms")
Image = pytest.importorskip("PIL.Image")

FAST: dict[str, Any] = {"samples_per_class": 6, "ks": (1, 2), "seed": 3}


class Items(Dataset):
    """A custom map-style dataset without ``.targets``: labels come from its items."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        return self.x[i], self.y[i].tolist()  # a Python int, or a list for one-hot labels


class Stream(IterableDataset):
    """An iterable dataset of (x, y) pairs."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return zip(self.x, self.y)


def padded_subset(x: torch.Tensor, y: torch.Tensor) -> Subset:
    """The same samples as a Subset of a larger dataset (labels read through the subset's indices)."""
    extra = torch.zeros(7, *x.shape[1:])
    return Subset(TensorDataset(torch.cat([extra, x]), torch.cat([torch.full((7,), 9), y])), range(7, 7 + len(y)))


SOURCES: dict[str, Callable[[torch.Tensor, torch.Tensor], Any]] = {
    "tensors": lambda x, y: (x, y),
    "tensor list": lambda x, y: [x, y],
    "numpy arrays": lambda x, y: (x.numpy(), y.numpy()),
    "int32 labels": lambda x, y: (x, y.int()),
    "TensorDataset": lambda x, y: TensorDataset(x, y),
    "Subset": padded_subset,
    "custom Dataset without targets": Items,
    "DataLoader": lambda x, y: DataLoader(TensorDataset(x, y), batch_size=7),
    "DataLoader of a custom Dataset": lambda x, y: DataLoader(Items(x, y), batch_size=7),
    "DataLoader of an IterableDataset": lambda x, y: DataLoader(Stream(x, y), batch_size=7),
}


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    return zoo.mlp(inputs=64, width=16, depth=2, classes=4).eval()


@pytest.mark.filterwarnings("ignore:the DataLoader wraps an IterableDataset")
@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_gives_the_draw_and_result_of_the_tensors(name, model, tiny_data):
    expected = mc.check(model, tiny_data, **FAST)
    got = mc.check(model, SOURCES[name](*tiny_data), **FAST)
    assert got.settings["draw"] == expected.settings["draw"]
    assert got.to_dict() | {"timings": None} == expected.to_dict() | {"timings": None}


def write_image_folder(root: Path, pixels: np.ndarray, labels: np.ndarray) -> None:
    """One PNG per sample under ``root/class_<c>/<i>.png``; file names sort in sample order."""
    for i, (img, c) in enumerate(zip(pixels, labels)):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:03d}.png")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, torch.Tensor, torch.Tensor]:
    """An RGB 8x8 image folder of 4 classes x 10 images, and the same data as tensors in folder order."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    pixels = rng.integers(0, 256, size=(40, 8, 8, 3), dtype=np.uint8)
    root = tmp_path_factory.mktemp("images")
    write_image_folder(root, pixels, labels)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255  # what ToTensor gives
    return root, x, torch.from_numpy(labels)


@pytest.fixture(scope="module")
def rgb_model() -> nn.Module:
    torch.manual_seed(0)
    return zoo.mlp(inputs=3 * 8 * 8, width=16, depth=2, classes=4).eval()


def test_image_folder_on_local_files_matches_the_tensors(images, rgb_model):
    root, x, y = images
    folder = datasets.ImageFolder(root, transform=transforms.ToTensor())
    assert folder.classes == ["class_0", "class_1", "class_2", "class_3"]
    expected = mc.check(rgb_model, (x, y), **FAST)
    got = mc.check(rgb_model, folder, **FAST)
    assert got.settings["draw"] == expected.settings["draw"]
    assert (got.auc, got.curve, got.samples) == (expected.auc, expected.curve, expected.samples)


def test_dataset_folder_loads_only_the_drawn_samples(images, rgb_model):
    root, x, y = images
    loaded: list[str] = []

    def load(path: str) -> Any:
        loaded.append(path)
        return Image.open(path).convert("RGB")

    folder = datasets.DatasetFolder(root, loader=load, extensions=(".png",), transform=transforms.ToTensor())
    got = mc.check(rgb_model, DataLoader(folder, batch_size=4), **FAST)
    assert got.settings["draw"] == mc.check(rgb_model, (x, y), **FAST).settings["draw"]
    # labels came from .targets: only the 4 x 6 drawn images were ever opened
    assert len(set(loaded)) == 4 * FAST["samples_per_class"]


def test_one_hot_labels_of_dataset_items_get_the_one_hot_hint(tiny_data):
    x, y = tiny_data
    with pytest.raises(mc.DataError, match=r"one-hot\? pass y.argmax\(1\)"):
        mc.check(nn.Identity(), Items(x, nn.functional.one_hot(y)), **FAST)


def test_other_seed_other_draw(model, tiny_data):
    a = mc.check(model, TensorDataset(*tiny_data), **FAST)
    b = mc.check(model, TensorDataset(*tiny_data), **{**FAST, "seed": 4})
    assert a.settings["draw"] != b.settings["draw"]
