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

The score compresses every activation on the network's main path together
(:func:`layers`), not only the final block: a deep network's final layers
can hold each class on fewer directions than there are classes whether it
memorized or not (its memorization happens earlier), and the validation zoo's
deep MLPs are scored right only with every layer compressed.

Mixed batches regroup the single-class draw itself (no second draw): classes are split into
blocks of at most :data:`CLASSES_PER_BATCH`, and each batch holds
:data:`PER_CLASS` samples of every class of its block. Per-sample values are
mapped back to the single-class layout ``(classes, samples)``, so a baseline
comparison pairs them like the AuC's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import mixing
from .mixing import CLASSES_PER_BATCH, PER_CLASS

#: The compression the score applies to mixed batches (the calibrated choice: PCA needs no
#: non-negativity, so the score is the same quantity on ReLU, GELU or SiLU networks).
METHOD = "pca"
#: The score compresses every activation on the main path, at most this many (the last ones),
#: which bounds its cost on deep networks: every network of the validation zoo has at most
#: seven, so there it compresses all of them. Deeper networks are not judged by the default
#: gate (``calibrated.LAYERS``): on some of them the last eight missed memorization.
MAX_LAYERS = 8


def depth(sites) -> int:
    """The model's activation layers on the main path, dead or not: how the zoo's depths were counted."""
    return sum(1 for s in sites if s.activation and s.main)


def layers(sites) -> list[str]:
    """The layers the score compresses: the last :data:`MAX_LAYERS` live activations on the model's main path."""
    live = [s.label for s in sites if s.activation and s.main and s.nonzero > 0]
    return live[-MAX_LAYERS:]


@dataclass(frozen=True)
class Mixed:
    """How a single-class draw ``(classes, n)`` is regrouped into mixed batches."""

    #: ``order[b, i]``: the position in the single-class draw (flattened) of sample ``i`` of mixed batch ``b``.
    order: torch.Tensor
    classes_per_batch: int
    single_shape: tuple[int, int]  # (classes, samples) of the single-class draw

    def ranks(self) -> tuple[float, ...]:
        """The k grid for these batches (:func:`mixing.ranks`)."""
        return mixing.ranks(self.classes_per_batch)

    def regression_ranks(self) -> tuple[float, ...]:
        """The ranks a baseline comparison reads: those above the classes in a batch (:func:`mixing.regression_ranks`)."""
        return mixing.regression_ranks(self.classes_per_batch)

    def to_single(self, outcome: np.ndarray) -> np.ndarray:
        """A sweep's outcome on the mixed batches, ``(K, batches, batch size)``, as ``(K, classes, n)``."""
        outcome = np.asarray(outcome)
        out = np.empty((outcome.shape[0], self.single_shape[0] * self.single_shape[1]), dtype=outcome.dtype)
        out[:, self.order.flatten().numpy()] = outcome.reshape(outcome.shape[0], -1)  # a padded repeat: same value
        return out.reshape(outcome.shape[0], *self.single_shape)


def mix(single_shape: tuple[int, int]) -> Mixed:
    """Mixed batches of equal size for a single-class draw of ``(classes, n)`` samples.

    Classes are split into ``ceil(C / CLASSES_PER_BATCH)`` blocks of nearly equal
    size (in class order), each class's samples into chunks of
    :data:`PER_CLASS` (in draw order, which is random); batch ``j`` of a block
    holds chunk ``j`` of every class of the block. Batches that come out shorter
    than the others repeat some of their own samples, since the batched solver
    needs equal sizes. Deterministic: the draw's seed already made the order random.
    """
    classes, n = single_shape
    blocks = [b for b in torch.arange(classes).tensor_split(math.ceil(classes / CLASSES_PER_BATCH)) if len(b)]
    chunks = [c for c in torch.arange(n).tensor_split(math.ceil(n / PER_CLASS)) if len(c)]
    order = [(block[:, None] * n + chunk[None, :]).flatten() for block in blocks for chunk in chunks]
    size = max(len(o) for o in order)
    padded = torch.stack([o.repeat(math.ceil(size / len(o)))[:size] for o in order])
    return Mixed(padded, max(len(b) for b in blocks), (classes, n))
