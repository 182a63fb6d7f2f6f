"""The gate's decision: pass, fail or inconclusive, with reasons and margins.

Pure logic on :class:`~pytest_memcheck.result.CheckResult` objects: no pytest,
no files. A threshold is crossed only when the whole confidence interval is on
one side of it; an interval that straddles it is *inconclusive*, so the gate
does not flip between runs on noise. Against a baseline measured on the same
samples the comparison is paired, so an unchanged model is never inconclusive.
A saturated check is inconclusive too: compression never hurt the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .result import CheckResult
from .stats import difference_ci

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
_SEVERITY = {PASS: 0, INCONCLUSIVE: 1, FAIL: 2}


@dataclass(frozen=True)
class Thresholds:
    """``min_auc``: absolute floor. ``max_drop``: largest accepted fall below the baseline's AuC."""

    min_auc: float | None = None
    max_drop: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_auc", "max_drop"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")


@dataclass
class Verdict:
    """The decision and everything needed to explain it."""

    status: str
    reasons: list[str] = field(default_factory=list)
    margin: float | None = None  # signed distance (AuC) from the nearest threshold; > 0 is the safe side
    threshold: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _side(value: float, ci: tuple[float, float], limit: float) -> str:
    if ci[0] >= limit:
        return PASS
    if ci[1] < limit:
        return FAIL
    return INCONCLUSIVE


_NARROW = "; more samples_per_class or repeats narrow the interval"


def _level(result: CheckResult) -> str:
    """The confidence level the interval was computed at, as the reasons word it ("95% CI")."""
    return f"{100 * float(result.settings.get('confidence', 0.95)):g}% CI"


def _floor(result: CheckResult, min_auc: float) -> tuple[str, str, float, float]:
    lo, hi = result.auc_ci
    status = _side(result.auc, result.auc_ci, min_auc)
    margin = result.auc - min_auc
    where = {PASS: "is above", FAIL: "is below", INCONCLUSIVE: "straddles"}[status]
    reason = f"AuC {result.auc:.3f} ({_level(result)} {lo:.3f}-{hi:.3f}) {where} the floor min_auc {min_auc:.3f} by {margin:+.3f}"
    return status, reason + (_NARROW if status == INCONCLUSIVE else ""), margin, min_auc


def _pairing(result: CheckResult, baseline: CheckResult, candidate: np.ndarray, recorded: np.ndarray) -> str | None:
    """How the two results can be paired: same samples, same class batches, or not at all.

    Needs per-sample scores in both (an older baseline may have none).
    """
    if not (result.samples and baseline.samples):
        return None
    if candidate.shape == recorded.shape and result.settings.get("draw") == baseline.settings.get("draw"):
        return "samples"
    same_classes = result.settings.get("classes") == baseline.settings.get("classes")
    single = result.settings.get("batches", "single") == baseline.settings.get("batches", "single") == "single"
    repeats = result.settings.get("repeats", 1) == baseline.settings.get("repeats", 1) == 1
    return "classes" if same_classes and single and repeats and candidate.shape[0] == recorded.shape[0] else None


def _regression(result: CheckResult, baseline: CheckResult, max_drop: float) -> tuple[str, str, float, float]:
    candidate = np.asarray(result.samples, dtype=float) if result.samples else np.array([result.auc])
    recorded = np.asarray(baseline.samples, dtype=float) if baseline.samples else np.array([baseline.auc])
    pairing = _pairing(result, baseline, candidate, recorded)
    delta, ci = difference_ci(
        candidate,
        recorded,
        pairing=pairing,
        candidate_ci=result.auc_ci,
        baseline_ci=baseline.auc_ci,
        confidence=result.settings.get("confidence", 0.95),
        seed=result.settings.get("seed", 0),
    )
    status = _side(delta, ci, -max_drop)
    where = {PASS: "within", FAIL: "beyond", INCONCLUSIVE: "straddling"}[status]
    how = {"samples": "paired on the same samples", "classes": "paired by class"}.get(pairing or "", "independent draws")
    reason = (
        f"AuC {result.auc:.3f} vs the baseline's {baseline.auc:.3f}: change {delta:+.3f} ({_level(result)} {ci[0]:+.3f} to "
        f"{ci[1]:+.3f}, {how}) is {where} max_drop {max_drop:.3f}"
    )
    return status, reason + (_NARROW if status == INCONCLUSIVE else ""), delta + max_drop, baseline.auc - max_drop


def decide(result: CheckResult, thresholds: Thresholds, baseline: CheckResult | None = None) -> Verdict:
    """Combine the floor and the regression limit; the worst outcome wins (fail > inconclusive > pass)."""
    checks = []
    if thresholds.min_auc is not None:
        checks.append(_floor(result, thresholds.min_auc))
    if thresholds.max_drop is not None and baseline is not None:
        checks.append(_regression(result, baseline, thresholds.max_drop))
    if not checks:
        return Verdict(INCONCLUSIVE, ["no threshold applies: set min_auc, or max_drop with a recorded baseline"])

    status = max((c[0] for c in checks), key=_SEVERITY.__getitem__)
    reasons = [c[1] for c in checks]
    nearest = min(checks, key=lambda c: c[2])
    if result.saturated and status != FAIL:
        status = INCONCLUSIVE
        reasons.insert(
            0,
            "saturated: accuracy stays at its uncompressed level at every k, so the check cannot see "
            "memorization in these layers; compress earlier layers (layers=[...]) or use method='random'",
        )
    return Verdict(status, reasons, margin=nearest[2], threshold=nearest[3])
