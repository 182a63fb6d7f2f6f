"""Measured models of the zoo, decoded: per-sample outcomes aligned on the same samples.

Every candidate check of a model ran on the same drawn training samples; the
multi-class checks group them differently (a permutation of the single-class
draw). :class:`Measured` maps every per-sample array back to the single-class
order ``(classes, samples)``, so that candidates can be combined sample by
sample and compared with a baseline on the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from .records import Record, unpack_bits, unpack_ints


@dataclass
class Measured:
    record: Record
    _cache: dict = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str):
        # record fields as attributes (family, p, seed, regime, test_error, ...)
        try:
            return self.__dict__["record"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    @property
    def key(self) -> str:
        return f"{self.record['run']}@{self.record['epoch_tag']}"

    @cached_property
    def index(self) -> np.ndarray:
        """Dataset indices of the drawn samples, ``(classes, n)`` in single-class order."""
        flat = unpack_ints(self.record["draws"]["single"]["index"])
        return flat.reshape(len(self.record["test_accuracy_per_class"]), -1)

    @cached_property
    def _to_single(self) -> np.ndarray:
        """Positions of the single-class samples within the multi-class draw."""
        multi = unpack_ints(self.record["draws"]["multi"]["index"])
        where = {int(i): pos for pos, i in enumerate(multi)}
        return np.array([where[int(i)] for i in self.index.ravel()])

    @cached_property
    def noisy(self) -> np.ndarray:
        return unpack_bits(self.record["draws"]["single"]["noisy"]).reshape(self.index.shape)

    def has(self, check: str) -> bool:
        return check in self.record["checks"]

    def ks(self, check: str) -> list[float]:
        return self.record["checks"][check]["ks"]

    def _aligned(self, check: str, part: str) -> np.ndarray:
        """``correct`` (K, classes, n) or ``base`` (classes, n) of ``check`` in single-class order."""
        key = (check, part)
        if key not in self._cache:
            a = unpack_bits(self.record["checks"][check][part])
            if self.record["checks"][check].get("grouping", "multi" if "multi" in check else "single") == "multi":
                lead = a.shape[:-2]
                a = a.reshape(*lead, -1)[..., self._to_single].reshape(*lead, *self.index.shape)
            self._cache[key] = a
        return self._cache[key]

    def correct(self, check: str, ks: Sequence[float] | None = None) -> np.ndarray:
        """Per-sample accuracy averaged over ``ks`` (default: the check's whole grid), ``(classes, n)``."""
        a = self._aligned(check, "correct")
        if ks is not None:
            a = a[[self.ks(check).index(k) for k in ks]]
        return a.mean(axis=0)

    def base(self, check: str = "nmf") -> np.ndarray:
        """Per-sample uncompressed correctness (the model fits the sample's training label)."""
        return self._aligned(check, "base").astype(float)

    @property
    def memorized(self) -> float:
        """Fraction of the checked samples with a randomized label that the model fits (NaN: none drawn)."""
        noisy = self.noisy
        return float(self.base()[noisy].mean()) if noisy.any() else float("nan")

    @property
    def memorized_share(self) -> float:
        """Share of the checked samples that carry a randomized label and are fit: memorization, counted.

        Only the study knows which labels it randomized: a reference for how well the score ranks models.
        """
        return float((self._fits * self.noisy).mean())

    @property
    def fit(self) -> float:
        """Fraction of the checked training samples the model fits."""
        return float(self._fits.mean())

    @cached_property
    def _fits(self) -> np.ndarray:
        """Per-sample uncompressed correctness, read from the first check (every check ran on the same samples)."""
        return self.base(next(iter(self.record["checks"])))


def decode(records: list[Record]) -> list[Measured]:
    return [Measured(r) for r in records]
