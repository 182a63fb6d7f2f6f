"""Which models the zoo trains: label noise, training-set size, regularization, checkpoints, seeds.

A :class:`ModelSpec` names one training run. The regimes are the situations
users meet, and each one tests an assumption of ours:

* ``noise``       - label noise p in {0, .05, .1, .2, .4, 1}, three seeds: the
  paper's experiment, and the retrains with another seed a regression gate
  must not flag;
* ``size``        - clean labels but 20 or 50 training samples per class: poor
  generalization without label noise (a known blind spot of the paper's AuC);
* ``regularized`` - weight decay, dropout or augmentation, clean or p = 0.4;
* ``checkpoint``  - the same runs measured from epoch 1 (underfit) to three
  times the epochs needed to fit (overtrained).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

NOISE_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.4, 1.0)
SEEDS = (0, 1, 2)
SIZES = (20, 50)
REGULARIZERS = ("weight_decay", "dropout", "augment")
#: Epochs at which a checkpointed run is measured while it trains (then at its fit and overtrained).
CHECKPOINT_EPOCHS = (1, 2, 4, 8, 16, 32, 64)
#: A checkpointed run keeps training to this multiple of the epochs it needed to fit.
OVERTRAIN_FACTOR = 3
WEIGHT_DECAY = 0.1
DROPOUT = 0.3


@dataclass(frozen=True)
class ModelSpec:
    """One training run of the zoo."""

    family: str
    p: float
    seed: int
    size: int | None = None  # training samples per class; None: the whole training set
    regularizer: str | None = None  # one of REGULARIZERS
    checkpoints: bool = False  # also measure it during training and overtrained

    @property
    def regime(self) -> str:
        if self.size is not None:
            return "size"
        if self.regularizer is not None:
            return "regularized"
        return "noise"

    @property
    def key(self) -> str:
        parts = [self.family, f"p{self.p:g}", f"s{self.seed}"]
        if self.size is not None:
            parts.append(f"n{self.size}")
        if self.regularizer is not None:
            parts.append(self.regularizer)
        return "/".join(parts)


def grid(
    families: tuple[str, ...],
    noise_levels: tuple[float, ...] = NOISE_LEVELS,
    seeds: tuple[int, ...] = SEEDS,
    sizes: tuple[int, ...] = SIZES,
    regularizers: tuple[str, ...] = REGULARIZERS,
    checkpoint_noise: tuple[float, ...] = (0.0, 0.4),
) -> list[ModelSpec]:
    """Every run of the regimes above for ``families``; checkpoints on seed 0 of ``checkpoint_noise``."""
    specs = []
    for family in families:
        for p in noise_levels:
            for seed in seeds:
                specs.append(ModelSpec(family, p, seed, checkpoints=seed == seeds[0] and p in checkpoint_noise))
        specs += [ModelSpec(family, 0.0, seed, size=n) for n in sizes for seed in seeds[:2]]
        specs += [ModelSpec(family, p, seeds[0], regularizer=r) for r in regularizers for p in (0.0, 0.4)]
    return specs


def quick(families: tuple[str, ...]) -> list[ModelSpec]:
    """A slice for a few minutes: clean, p = 0.4 and p = 1, one seed, plus one clean retrain."""
    return [ModelSpec(f, p, 0) for f in families for p in (0.0, 0.4, 1.0)] + [ModelSpec(f, 0.0, 1) for f in families]


def without_checkpoints(specs: list[ModelSpec]) -> list[ModelSpec]:
    return [replace(s, checkpoints=False) for s in specs]
