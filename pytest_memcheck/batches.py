"""Draw the check's batches from the user's data.

Accepts a ``(x, y)`` pair of tensors or arrays, a map-style ``Dataset`` of
``(x, y)`` pairs (torchvision datasets included), or a ``DataLoader``. Labels
are read first (cheaply where the dataset exposes them), samples are chosen
with a seeded ``torch.Generator``, and only the chosen samples are loaded.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset, RandomSampler, SequentialSampler
from torch.utils.data import Subset, TensorDataset
from torch.utils.data.dataloader import default_collate

from .errors import DataError, warn

BATCH_MODES = ("single", "multi")


@dataclass
class Batches:
    """``groups`` batches of ``n`` samples each: ``x`` is ``(groups * n, ...)`` in group order."""

    x: torch.Tensor
    y: torch.Tensor  # (groups, n) long
    classes: list[int]
    mode: str

    @property
    def groups(self) -> int:
        return self.y.shape[0]

    @property
    def n(self) -> int:
        return self.y.shape[1]


@dataclass
class _Source:
    labels: torch.Tensor  # (N,)
    fetch: Callable[[torch.Tensor], torch.Tensor]  # indices -> stacked inputs


#: What to do when labels cannot become a tensor: the usual cause is class names.
_LABEL_HINT = "labels must be integer class indices 0..C-1; encode class names first (e.g. sklearn's LabelEncoder)"


def _as_tensor(value: Any, what: str, hint: str = "pass tensors or numpy arrays of numbers") -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DataError(f"could not turn the {what} into a tensor ({exc}); {hint}") from exc


def _item_label(item: Any, i: int) -> torch.Tensor:
    """The label of ``dataset[i]`` as a tensor (a scalar, or a vector for one-hot labels)."""
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise DataError(
            f"dataset item {i} is a {type(item).__name__}, not an (input, label) pair; "
            "wrap the dataset so that dataset[i] returns (x, y)"
        )
    return _as_tensor(item[1], f"label of dataset item {i}", _LABEL_HINT)


def _dataset_labels(dataset: Dataset) -> torch.Tensor:
    """Labels without loading inputs where the dataset allows it."""
    if isinstance(dataset, TensorDataset):
        if len(dataset.tensors) < 2:
            raise DataError("a TensorDataset needs (inputs, labels) tensors; got only one tensor")
        return dataset.tensors[1]
    if isinstance(dataset, Subset):
        return _dataset_labels(dataset.dataset)[torch.as_tensor(dataset.indices, dtype=torch.long)]
    targets = getattr(dataset, "targets", None)
    if targets is not None and not callable(targets):
        return _as_tensor(targets, "dataset.targets", _LABEL_HINT)
    labels = [_item_label(dataset[i], i) for i in range(len(dataset))]  # type: ignore[arg-type]
    if not labels:
        return torch.empty(0, dtype=torch.long)
    try:
        return torch.stack(labels)
    except RuntimeError as exc:
        raise DataError(f"dataset labels have different shapes ({exc}); {_LABEL_HINT}") from exc


def _from_dataset(dataset: Dataset, collate: Callable = default_collate) -> _Source:
    def fetch(indices: torch.Tensor) -> torch.Tensor:
        batch = collate([dataset[int(i)] for i in indices])
        return _as_tensor(batch[0], "inputs")

    return _Source(_dataset_labels(dataset), fetch)


def _ignored_loader_settings(loader: DataLoader) -> list[str]:
    """The parts of a map-style loader that would change which samples it yields, and in what order."""
    ignored = []
    if isinstance(loader.sampler, RandomSampler):
        ignored.append("shuffle=True")
    elif not isinstance(loader.sampler, SequentialSampler):
        ignored.append(f"sampler ({type(loader.sampler).__name__})")
    if loader.batch_sampler is not None and type(loader.batch_sampler) is not BatchSampler:
        ignored.append(f"batch_sampler ({type(loader.batch_sampler).__name__})")
    elif loader.drop_last:
        ignored.append("drop_last=True")
    return ignored


def _from_loader(loader: DataLoader) -> _Source:
    if not isinstance(loader.dataset, IterableDataset):
        ignored = _ignored_loader_settings(loader)
        if ignored:
            warn(
                f"the DataLoader's {' and '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored: "
                "memcheck reads loader.dataset by index and draws its own samples with the check's seed, "
                "so the result is the same as for the dataset itself; pass loader.dataset to silence this"
            )
        return _from_dataset(loader.dataset, loader.collate_fn)
    warn(
        "the DataLoader wraps an IterableDataset: memcheck reads it to the end once and draws from what it "
        "yielded; if the stream shuffles or is endless, results change from run to run (or never come): "
        "pass a map-style Dataset or (x, y) tensors for a reproducible check"
    )
    xs, ys = [], []
    for batch in loader:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise DataError("the DataLoader must yield (inputs, labels) batches")
        xs.append(_as_tensor(batch[0], "inputs"))
        ys.append(_as_tensor(batch[1], "labels", _LABEL_HINT))
    if not xs:
        raise DataError("the DataLoader yielded no batches; give the check some training data")
    return _from_tensors(torch.cat(xs), torch.cat(ys))


def _from_tensors(x: Any, y: Any) -> _Source:
    x, y = _as_tensor(x, "inputs"), _as_tensor(y, "labels", _LABEL_HINT)
    if x.shape[:1] != y.shape[:1]:
        raise DataError(f"inputs have {x.shape[0]} samples but labels have {y.shape[0]}; pass matching (x, y)")
    return _Source(y, lambda idx: x[idx.to(x.device)])


def _source(data: Any) -> _Source:
    if isinstance(data, DataLoader):
        return _from_loader(data)
    if isinstance(data, Dataset):
        return _from_dataset(data)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _from_tensors(*data)
    raise DataError(
        f"cannot read data of type {type(data).__name__}; pass an (x, y) pair of tensors, "
        "a torch Dataset of (x, y) items, or a DataLoader"
    )


def _check_labels(labels: torch.Tensor) -> torch.Tensor:
    if labels.numel() == 0:
        raise DataError("the data is empty; give the check training samples of every class")
    if labels.dim() != 1:
        hint = " (one-hot? pass y.argmax(1))" if labels.dim() == 2 else ""
        raise DataError(f"labels must be a 1-D vector of class indices, got shape {tuple(labels.shape)}{hint}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise DataError(f"labels must be integer class indices, got dtype {labels.dtype}; pass y.long()")
    if int(labels.min()) < 0:
        raise DataError(
            f"labels must be class indices >= 0, found {int(labels.min())}; "
            "map them to 0..C-1 as in training (ignore_index labels such as -100 must be filtered out)"
        )
    return labels.long().cpu()


def _is_int(value: Any) -> bool:
    """A whole class index: Python, numpy or 0-d tensor integers, not bools."""
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and not value.is_floating_point() and value.dtype != torch.bool
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def draw(
    data: Any,
    *,
    samples_per_class: int,
    seed: int,
    classes: Sequence[int] | None = None,
    mode: str = "single",
    keys: Sequence[str] | None = None,
) -> Batches:
    """Draw ``samples_per_class`` samples of each class with ``seed``.

    ``mode="single"`` gives one batch per class; ``"multi"`` gives as many batches
    of the same size, each mixing the same samples across classes.
    """
    if mode not in BATCH_MODES:
        raise DataError(f"batches={mode!r} is not known; use 'single' or 'multi'")
    if not isinstance(samples_per_class, int) or isinstance(samples_per_class, bool) or samples_per_class < 2:
        raise DataError(
            f"samples_per_class must be a whole number >= 2, got {samples_per_class!r}: a batch of one sample "
            "has nothing to compress across"
        )
    if classes is not None and (isinstance(classes, (str, int)) or not all(_is_int(c) for c in classes)):
        raise DataError(f"classes must be a list of class indices such as classes=[0, 3], got {classes!r}")
    source = _source(data)
    labels = _check_labels(source.labels)
    present = sorted(int(c) for c in labels.unique())
    if classes is None:
        chosen = present
    else:
        chosen = sorted(int(c) for c in classes)
        missing = [c for c in chosen if c not in present]
        if missing:
            raise DataError(f"class(es) {missing} have no samples in the data; present classes: {present}")
    if len(chosen) < 1:
        raise DataError("no classes to check")

    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in chosen:
        idx = (labels == c).nonzero().flatten()
        if idx.numel() < samples_per_class:
            raise DataError(
                f"class {c} has {idx.numel()} samples but the check needs samples_per_class="
                f"{samples_per_class}; lower samples_per_class, or leave class {c} out with classes=[...]"
            )
        picked.append(idx[torch.randperm(idx.numel(), generator=g)[:samples_per_class]])
    index = torch.stack(picked)  # (groups, n)
    if mode == "multi":
        index = index.flatten()[torch.randperm(index.numel(), generator=g)].reshape(index.shape)
    x = source.fetch(index.flatten())
    if x.device.type == "meta":
        raise DataError("the inputs are on the meta device and hold no values; pass materialized tensors")
    if x.shape[0] != index.numel():
        raise DataError(f"the data returned {x.shape[0]} inputs for {index.numel()} indices")
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise DataError("the drawn inputs contain NaN or inf values; clean the data before the check")
    return Batches(x=x, y=labels[index], classes=chosen, mode=mode)
