"""The data object a check returns, and its JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: Bumped when the meaning or layout of a stored result changes. Schema 2 added the score's
#: interval and per-sample values; schema 1 results still load (without them).
SCHEMA_VERSION = 2


@dataclass
class CheckResult:
    """What a memorization check measured.

    ``auc`` is the paper's quantity: the mean over classes of the mean accuracy
    over the k grid (in [0, 1]; higher = the deep layers are closer to linear
    per class = the model generalizes). Its scale differs between
    architectures. ``score`` is the quantity the default gate judges, on one
    scale for every architecture (:mod:`pytest_memcheck.score`), with its
    interval ``score_ci`` and per-sample values ``score_samples`` (``None`` for
    a sample the model does not fit, which the score leaves out).
    ``saturated`` says the single-class AuC cannot see memorization on this
    model (it stays at the uncompressed accuracy while the score does not
    confirm generalization).
    """

    auc: float
    auc_ci: tuple[float, float]
    score: float | None
    saturated: bool
    curve: dict[float, float]
    per_class: dict[int, float]
    base_accuracy: float
    layers: list[str]
    method: str
    settings: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ranks: dict[str, list[int]] = field(default_factory=dict)
    #: Each sample's accuracy averaged over the k grid, ``[group][sample]``: what the
    #: interval is bootstrapped from, and what a baseline comparison pairs up.
    samples: list[list[float]] = field(default_factory=list)
    score_ci: tuple[float, float] | None = None
    #: The score's per-sample values, ``[class][sample]`` (None: a sample left out).
    score_samples: list[list[float | None]] = field(default_factory=list)

    @property
    def checked_samples(self) -> int:
        """How many training samples the check drew (all classes, all repeats)."""
        return sum(len(group) for group in self.samples)

    @property
    def ks(self) -> list[float]:
        return list(self.curve)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["schema"] = SCHEMA_VERSION
        d["auc_ci"] = list(self.auc_ci)
        d["score_ci"] = None if self.score_ci is None else list(self.score_ci)
        d["curve"] = {_key(k): v for k, v in self.curve.items()}
        d["per_class"] = {str(c): v for c, v in self.per_class.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CheckResult":
        d = dict(d)
        d.pop("schema", None)
        d["auc_ci"] = tuple(d["auc_ci"])
        d["score_ci"] = None if d.get("score_ci") is None else tuple(d["score_ci"])
        d["curve"] = dict(sorted((float(k), float(v)) for k, v in d["curve"].items()))
        d["per_class"] = dict(sorted((int(c), float(v)) for c, v in d["per_class"].items()))
        return cls(**d)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **{"indent": 2, **kwargs})

    @classmethod
    def from_json(cls, text: str) -> "CheckResult":
        return cls.from_dict(json.loads(text))

    def __str__(self) -> str:
        lo, hi = self.auc_ci
        flag = " (saturated: the check sees nothing on this model)" if self.saturated else ""
        return (
            f"{self.method} AuC {self.auc:.3f} [{lo:.3f}, {hi:.3f}]"
            + ("" if self.score is None else f", score {self.score:.3f}")
            + ", "
            f"base accuracy {self.base_accuracy:.3f}, layers {', '.join(self.layers)}{flag}"
        )


def _key(k: float) -> str:
    return str(int(k)) if float(k).is_integer() else repr(float(k))
