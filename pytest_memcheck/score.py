"""The score: how much of a model's predictions survive compressing *mixed* batches.

The paper's AuC compresses single-class batches; its scale differs between
architectures (a clean CNN scores 0.8, a memorizing MLP 0.98), so no one floor
fits all models. The score compresses batches that mix the classes, a few
samples of each, at ranks of the order of the number of classes in a batch: a
network whose deep layers keep each class on a few shared directions keeps its
predictions when the batch is reduced to about that many directions; a network
that stores training samples one by one needs many more, and loses the
predictions of the samples it memorized. Clean models of every family in the
validation zoo keep most predictions, memorizing ones lose them, on one scale
(docs/validation.md: chosen among the paper's checks and their combinations
with one model family held out).

Mixed batches are built from the single-class draw itself (no second draw):
classes are split into blocks of at most :data:`CLASSES_PER_BATCH`, and each
batch holds :data:`PER_CLASS` samples of every class of its block. Per-sample
values are mapped back to the single-class layout ``(classes, samples)``, so a
baseline comparison pairs them like the AuC's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .batches import Batches

#: Mixed batches hold at most this many classes...
CLASSES_PER_BATCH = 10
#: ... and this many samples of each.
PER_CLASS = 5
#: Ranks as multiples of the classes in a batch: 6, 8, 12, 16, 24, 32 for ten classes.
RANK_FRACTIONS = (0.6, 0.8, 1.2, 1.6, 2.4, 3.2)


@dataclass(frozen=True)
class Mixed:
    """Mixed batches and where each of their samples sits in the single-class draw."""

    batches: Batches
    #: ``order[i]`` is the position in the single-class draw (flattened) of mixed sample ``i``.
    order: torch.Tensor
    classes_per_batch: int
    single_shape: tuple[int, int]  # (classes, samples) of the single-class draw

    def ranks(self) -> tuple[float, ...]:
        """The k grid for these batches: :data:`RANK_FRACTIONS` of the classes per batch, whole and distinct."""
        ks = sorted({max(1, round(f * self.classes_per_batch)) for f in RANK_FRACTIONS})
        return tuple(float(k) for k in ks)

    def to_single(self, per_sample: torch.Tensor) -> torch.Tensor:
        """Per-sample values of the mixed batches (flattened) back in the single-class layout."""
        out = per_sample.new_empty(self.single_shape[0] * self.single_shape[1])
        out[self.order] = per_sample  # a padded batch repeats a sample of its own: same value
        return out.reshape(self.single_shape)


def mix(single: Batches) -> Mixed:
    """Regroup a single-class draw ``(classes, n)`` into mixed batches of equal size.

    Classes are split into ``ceil(C / CLASSES_PER_BATCH)`` blocks of nearly equal
    size (in class order), each class's samples into chunks of
    :data:`PER_CLASS` (in draw order, which is random); batch ``j`` of a block
    holds chunk ``j`` of every class of the block. Deterministic: the draw's
    seed already made the order random.
    """
    if single.mode != "single":
        raise ValueError("mixed batches are built from a single-class draw")
    classes, n = single.y.shape
    blocks = [b for b in torch.arange(classes).tensor_split(math.ceil(classes / CLASSES_PER_BATCH)) if len(b)]
    chunks = [c for c in torch.arange(n).tensor_split(math.ceil(n / PER_CLASS)) if len(c)]
    width = max(len(b) for b in blocks)
    order = []
    for block in blocks:
        for chunk in chunks:
            order.append((block[:, None] * n + chunk[None, :]).flatten())
    # batches must be the same size for the batched solver: pad short ones by repeating their samples
    size = max(len(o) for o in order)
    padded = [o.repeat(math.ceil(size / len(o)))[:size] for o in order]
    flat = torch.stack(padded)
    x = single.x[flat.flatten().to(single.x.device)]
    y = single.y.flatten()[flat.flatten()].reshape(flat.shape)
    index = single.index.flatten()[flat.flatten()].reshape(flat.shape)
    return Mixed(Batches(x=x, y=y, classes=single.classes, mode="mixed", index=index), flat.flatten(), width, (classes, n))


#: The compression the score applies to mixed batches (the calibrated choice).
METHOD = "pca"


def in_single_order(mixed: Mixed, correct: np.ndarray) -> np.ndarray:
    """The sweep's outcome on ``mixed.batches``, ``(K, batches, batch size)``, as ``(K, classes, n)`` in single-class order."""
    return np.stack([mixed.to_single(torch.from_numpy(np.asarray(c)).flatten()).numpy() for c in correct])
