"""How the score groups classes into mixed batches, and the ranks it reads: arithmetic only.

The score (:mod:`pytest_memcheck.score`) builds its batches with these numbers,
and a baseline file is checked against them (:mod:`pytest_memcheck.result`)
where torch need not be imported.
"""

from __future__ import annotations

import math

#: Mixed batches hold at most this many classes...
CLASSES_PER_BATCH = 10
#: ... and this many samples of each.
PER_CLASS = 5
#: Ranks as multiples of the classes in a batch: 6, 8, 12, 16, 24, 32 for ten classes.
RANK_FRACTIONS = (0.6, 0.8, 1.2, 1.6, 2.4, 3.2)


def classes_per_batch(classes: int) -> int:
    """The classes in the largest mixed batch: ``classes`` split into as few blocks of nearly equal size as
    :data:`CLASSES_PER_BATCH` allows (20 classes: two blocks of ten; 12: two of six)."""
    return math.ceil(classes / math.ceil(classes / CLASSES_PER_BATCH))


def ranks(per_batch: int) -> tuple[float, ...]:
    """The k grid for batches of ``per_batch`` classes: :data:`RANK_FRACTIONS` of it, whole and distinct."""
    return tuple(float(k) for k in sorted({max(1, round(f * per_batch)) for f in RANK_FRACTIONS}))


def regression_ranks(per_batch: int) -> tuple[float, ...]:
    """The ranks a baseline comparison reads: those above the classes in a batch (12-32 for ten classes).

    Below that many directions, which classes a compressed batch keeps depends on how
    the network laid out its class means, which changes from one training seed to
    the next: in one family of the validation zoo a clean retrain moved the score there
    as much as 20% random labels did. Above it, retrains agree and label noise still shows
    (docs/validation.md, chosen with one family held out).
    """
    return tuple(k for k in ranks(per_batch) if k > per_batch)
