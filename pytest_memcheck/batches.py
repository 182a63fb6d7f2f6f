"""Draw the check's batches from the user's data.

Accepts a ``(x, y)`` pair of tensors or arrays, a map-style ``Dataset`` of
``(x, y)`` pairs or of dicts (torchvision and HuggingFace-style datasets
included), or a ``DataLoader``. Labels are read first (cheaply where the
dataset exposes them), samples are chosen with a seeded ``torch.Generator``, and
only the chosen samples are loaded; their labels are checked against the ones
the draw was made from.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset, RandomSampler, SequentialSampler
from torch.utils.data import Subset, TensorDataset
from torch.utils.data.dataloader import default_collate

from .errors import DataError, warn

BATCH_MODES = ("single", "multi")

#: Keys that name a dict item's input and its label, tried in this order when ``keys`` is not given.
INPUT_KEYS = ("pixel_values", "input_values", "inputs", "input", "image", "img", "x", "data", "features")
LABEL_KEYS = ("labels", "label", "targets", "target", "y", "class", "classes")


@dataclass
class Batches:
    """``groups`` batches of ``n`` samples each: ``x`` is ``(groups * n, ...)`` in group order."""

    x: torch.Tensor
    y: torch.Tensor  # (groups, n) long
    classes: list[int]
    mode: str
    index: torch.Tensor  # (groups, n): each drawn sample's position in the data
    #: ``mode="single"``: the ``(groups, n)`` positions in ``x`` that ``mode="multi"`` with the same seed puts in
    #: each mixed batch (same samples, same batches): a sweep's ``order`` for a multi-class regrouping
    mixed: torch.Tensor | None = None

    @property
    def groups(self) -> int:
        return self.y.shape[0]

    @property
    def n(self) -> int:
        return self.y.shape[1]


@dataclass
class _Source:
    labels: torch.Tensor  # (N,)
    fetch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]  # indices -> inputs, their labels


#: Unsigned integer dtypes beyond uint8 (torch >= 2.3), which most torch reductions do not take.
_UNSIGNED = tuple(getattr(torch, name) for name in ("uint16", "uint32", "uint64") if hasattr(torch, name))

#: What to do when labels cannot become a tensor: the usual cause is class names.
_LABEL_HINT = "labels must be integer class indices 0..C-1; encode class names first (e.g. sklearn's LabelEncoder)"


def _as_tensor(value: Any, what: str, hint: str = "pass tensors or numpy arrays of numbers") -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value
    else:
        try:
            t = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise DataError(f"could not turn the {what} into a tensor ({exc}); {hint}") from exc
    if t.is_nested:
        raise DataError(f"the {what} are a nested tensor; pad them to one shape (torch.nested.to_padded_tensor)")
    if t.layout != torch.strided:
        raise DataError(f"the {what} are a sparse tensor ({t.layout}); pass them dense: .to_dense()")
    return t


class _Keys:
    """Which entries of a dict item (or a dict batch) hold the input and the label."""

    def __init__(self, keys: Sequence[str] | None) -> None:
        if keys is not None and (
            isinstance(keys, str) or len(keys) != 2 or not all(isinstance(k, str) for k in keys)
        ):
            raise DataError(f"keys must name a dict item's input and label, e.g. keys=('pixel_values', 'labels'), "
                            f"got {keys!r}")
        self.keys = None if keys is None else tuple(keys)

    def split(self, item: Any, what: str) -> tuple[Any, Any]:
        """``(input, label)`` of an item or batch: a pair, or a dict read through the keys."""
        if isinstance(item, dict):
            names = list(item)
            if self.keys is not None:
                missing = [k for k in self.keys if k not in item]
                if missing:
                    raise DataError(f"{what} has no key {missing[0]!r} (keys=); its keys are "
                                    f"{', '.join(map(repr, names))}")
                return item[self.keys[0]], item[self.keys[1]]
            x = next((k for k in INPUT_KEYS if k in item), None)
            y = next((k for k in LABEL_KEYS if k in item), None)
            if x is None or y is None:
                raise DataError(
                    f"{what} is a dict with keys {', '.join(map(repr, names))}; name its input and label "
                    f"with keys=(input_key, label_key), e.g. keys={tuple(names[:2])!r}"
                )
            return item[x], item[y]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise DataError(
                f"{what} is a {type(item).__name__}, not an (input, label) pair; "
                "wrap the dataset so that dataset[i] returns (x, y)"
            )
        return item[0], item[1]


def _item(dataset: Dataset, i: int) -> Any:
    """``dataset[i]``, with a dataset's own failure reported as the dataset's."""
    try:
        return dataset[i]
    except Exception as exc:
        length = f" (len(dataset) is {len(dataset)}: is __len__ right?)" if isinstance(exc, (IndexError, KeyError)) else ""
        raise DataError(
            f"reading dataset[{i}] raised {type(exc).__name__}: {exc}{length}; memcheck reads items by index, "
            "as a DataLoader does: fix the dataset"
        ) from exc


def _dataset_labels(dataset: Dataset, keys: _Keys) -> torch.Tensor:
    """Labels without loading inputs where the dataset allows it."""
    if isinstance(dataset, TensorDataset):
        if len(dataset.tensors) < 2:
            raise DataError("a TensorDataset needs (inputs, labels) tensors; got only one tensor")
        return dataset.tensors[1]
    if isinstance(dataset, Subset):
        return _dataset_labels(dataset.dataset, keys)[torch.as_tensor(dataset.indices, dtype=torch.long)]
    targets = getattr(dataset, "targets", None)
    if targets is not None and not callable(targets):
        labels = _as_tensor(targets, "dataset.targets", _LABEL_HINT)
        if labels.dim() > 0 and labels.shape[0] != len(dataset):  # type: ignore[arg-type]
            raise DataError(
                f"dataset.targets has {labels.shape[0]} labels but len(dataset) is {len(dataset)}; "  # type: ignore[arg-type]
                "they must match, one label per item"
            )
        return labels
    labels = [
        _as_tensor(keys.split(_item(dataset, i), f"dataset item {i}")[1], f"label of dataset item {i}", _LABEL_HINT)
        for i in range(len(dataset))  # type: ignore[arg-type]
    ]
    if not labels:
        return torch.empty(0, dtype=torch.long)
    try:
        return torch.stack(labels)
    except RuntimeError as exc:
        raise DataError(f"dataset labels have different shapes ({exc}); {_LABEL_HINT}") from exc


def _collated(
    collate: Callable, items: list[Any], keys: _Keys, first_index: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Batch items with the loader's collate function: the inputs, and the labels when they batch too."""
    first = keys.split(items[0], f"dataset item {first_index}")[0]
    if type(first).__module__.startswith("PIL."):
        raise DataError(
            f"the dataset's inputs are {type(first).__module__}.{type(first).__name__} images, which a model "
            "cannot take; give the dataset the transform used in training, e.g. "
            "transform=torchvision.transforms.ToTensor() (and its normalization)"
        )
    try:
        batch = collate(items)
    except Exception as exc:
        raise DataError(
            f"could not batch the dataset's items ({type(exc).__name__}: {exc}); dataset[i] must give "
            "(input, label) with inputs of one shape that the model takes"
        ) from exc
    x, y = keys.split(batch, "a collated batch")
    try:
        labels = torch.as_tensor(y)
    except (TypeError, ValueError, RuntimeError):
        labels = None
    return _as_tensor(x, "inputs"), labels


def _from_dataset(dataset: Dataset, keys: _Keys, collate: Callable = default_collate) -> _Source:
    def fetch(indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return _collated(collate, [_item(dataset, int(i)) for i in indices], keys, int(indices[0]))

    return _Source(_dataset_labels(dataset, keys), fetch)


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


def _from_loader(loader: DataLoader, keys: _Keys) -> _Source:
    if not isinstance(loader.dataset, IterableDataset):
        ignored = _ignored_loader_settings(loader)
        if ignored:
            warn(
                f"the DataLoader's {' and '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored: "
                "memcheck reads loader.dataset by index and draws its own samples with the check's seed, "
                "so the result is the same as for the dataset itself; pass loader.dataset to silence this"
            )
        return _from_dataset(loader.dataset, keys, loader.collate_fn)
    warn(
        "the DataLoader wraps an IterableDataset: memcheck reads it to the end once and draws from what it "
        "yielded; if the stream shuffles or is endless, results change from run to run (or never come): "
        "pass a map-style Dataset or (x, y) tensors for a reproducible check"
    )
    xs, ys = [], []
    for batch in loader:
        x, y = keys.split(batch, "a batch of the DataLoader")
        xs.append(_as_tensor(x, "inputs"))
        ys.append(_as_tensor(y, "labels", _LABEL_HINT))
    if not xs:
        raise DataError("the DataLoader yielded no batches; give the check some training data")
    return _from_tensors(torch.cat(xs), torch.cat(ys))


def _from_tensors(x: Any, y: Any) -> _Source:
    x, y = _as_tensor(x, "inputs"), _as_tensor(y, "labels", _LABEL_HINT)
    if x.dim() == 0:
        raise DataError("the inputs are a single number; pass one input per sample, stacked along the first axis")
    if y.dim() > 0 and x.shape[0] != y.shape[0]:
        raise DataError(f"inputs have {x.shape[0]} samples but labels have {y.shape[0]}; pass matching (x, y)")
    return _Source(y, lambda idx: (x[idx.to(x.device)], None))


def _source(data: Any, keys: _Keys) -> _Source:
    if isinstance(data, DataLoader):
        return _from_loader(data, keys)
    if isinstance(data, Dataset):
        return _from_dataset(data, keys)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _from_tensors(*data)
    raise DataError(
        f"cannot read data of type {type(data).__name__}; pass an (x, y) pair of tensors, "
        "a torch Dataset of (x, y) items, or a DataLoader"
    )


def _shape_hint(labels: torch.Tensor) -> str:
    """Why labels of shape ``(N, C)`` are not class indices, and what to pass instead."""
    if labels.dim() != 2:
        return ""
    if labels.shape[1] == 1:
        return " (a column of labels? pass y.flatten())"
    values = labels.double()
    if bool(((values == 0) | (values == 1)).all()) and bool((values.sum(1) == 1).all()):
        return " (one-hot? pass y.argmax(1))"
    return " (several labels per sample? memcheck checks single-label classifiers: one class index per sample)"


def _check_labels(labels: torch.Tensor) -> torch.Tensor:
    if labels.device.type == "meta":
        raise DataError("the labels are on the meta device and hold no values; pass materialized labels")
    if labels.dim() == 0:
        raise DataError("labels must be a 1-D vector of class indices, got a single number; pass one label per sample")
    if labels.numel() == 0:
        raise DataError("the data is empty; give the check training samples of every class")
    if labels.dim() != 1:
        raise DataError(f"labels must be a 1-D vector of class indices, got shape {tuple(labels.shape)}"
                        f"{_shape_hint(labels)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise DataError(f"labels must be integer class indices, got dtype {labels.dtype}; pass y.long()")
    labels = labels.cpu()
    if labels.dtype in _UNSIGNED:  # torch reduces few unsigned types
        labels = torch.from_numpy(labels.numpy().astype(np.int64, casting="unsafe"))
    if int(labels.min()) < 0:
        raise DataError(
            f"labels must be class indices >= 0, found {int(labels.min())}; "
            "map them to 0..C-1 as in training (ignore_index labels such as -100 must be filtered out)"
        )
    return labels.long()


def _is_int(value: Any) -> bool:
    """A whole class index: Python, numpy or 0-d tensor integers, not bools."""
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and not value.is_floating_point() and value.dtype != torch.bool
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _classes(classes: Any) -> list[int] | None:
    """``classes=`` as a list of ints (any iterable of whole numbers), each class once."""
    if classes is None:
        return None
    if isinstance(classes, (str, bytes, numbers.Number)) or not isinstance(classes, Iterable):
        raise DataError(f"classes must be a list of class indices such as classes=[0, 3], got {classes!r}")
    given = list(classes)
    if not all(_is_int(c) for c in given):
        raise DataError(f"classes must be a list of class indices such as classes=[0, 3], got {given!r}")
    chosen = [int(c) for c in given]
    if not chosen:
        raise DataError("classes=[] selects no class; leave classes unset to check every class in the data")
    twice = sorted({c for c in chosen if chosen.count(c) > 1})
    if twice:
        raise DataError(f"classes={chosen} names class {twice[0]} more than once; name each class once")
    return sorted(chosen)


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
    of the same size, each mixing the same samples across classes. ``keys``
    names the input and label of dict items (default: common names such as
    ``"pixel_values"`` and ``"labels"``).
    """
    if mode not in BATCH_MODES:
        raise DataError(f"batches={mode!r} is not known; use 'single' or 'multi'")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, (bool, np.bool_)) or not 0 <= seed < 2**63:
        raise DataError(f"seed must be a whole number from 0 to 2**63 - 1 (torch.Generator's range), got {seed!r}")
    if (
        not isinstance(samples_per_class, numbers.Integral)
        or isinstance(samples_per_class, (bool, np.bool_))
        or samples_per_class < 2
    ):
        raise DataError(
            f"samples_per_class must be a whole number >= 2, got {samples_per_class!r}: a batch of one sample "
            "has nothing to compress across"
        )
    samples_per_class = int(samples_per_class)
    wanted = _classes(classes)
    source = _source(data, _Keys(keys))
    labels = _check_labels(source.labels)
    present = sorted(int(c) for c in labels.unique())
    chosen = present if wanted is None else wanted
    missing = [c for c in chosen if c not in present]
    if missing:
        raise DataError(f"class(es) {missing} have no samples in the data; present classes: {present}")

    g = torch.Generator().manual_seed(int(seed))
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
    mix = torch.randperm(index.numel(), generator=g).reshape(index.shape)
    if mode == "multi":
        index = index.flatten()[mix]
    x, given = source.fetch(index.flatten())
    if x.device.type == "meta":
        raise DataError("the inputs are on the meta device and hold no values; pass materialized tensors")
    if x.dim() == 0 or x.shape[0] != index.numel():
        raise DataError(f"the data returned {x.shape[0] if x.dim() else 'one'} inputs for {index.numel()} indices")
    _agree(labels, index.flatten(), given)
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise DataError("the drawn inputs contain NaN or inf values; clean the data before the check")
    return Batches(x=x, y=labels[index], classes=chosen, mode=mode, index=index, mixed=None if mode == "multi" else mix)


def _agree(labels: torch.Tensor, index: torch.Tensor, given: torch.Tensor | None) -> None:
    """The drawn items' own labels must be the ones the draw was made from (``dataset.targets``)."""
    if given is None or given.shape != index.shape or given.is_floating_point() or given.dtype == torch.bool:
        return
    expected = labels[index]
    wrong = (given.cpu().long() != expected).nonzero().flatten()
    if wrong.numel():
        i = int(wrong[0])
        raise DataError(
            f"dataset.targets disagrees with the items: it says item {int(index[i])} is class {int(expected[i])}, "
            f"but dataset[{int(index[i])}] gives label {int(given[i])} ({wrong.numel()} of {index.numel()} drawn "
            "items disagree); fix .targets (memcheck draws from it so as not to load every item)"
        )
