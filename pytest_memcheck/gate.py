"""The gate's decision: pass, fail or inconclusive, with reasons and margins.

Pure logic on a :class:`~pytest_memcheck.result.CheckResult`: no pytest, no files.
A threshold is crossed only when the whole confidence interval of the AuC is on
one side of it; an interval that straddles it is *inconclusive*, so that the
gate does not flip between runs on noise. A saturated check is inconclusive
too: compression never hurt the model, so the check cannot tell anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .result import CheckResult

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class Thresholds:
    """``min_auc``: absolute floor. ``max_drop``: largest accepted fall below the baseline's AuC."""

    min_auc: float | None = None
    max_drop: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_auc", "max_drop"):
            value = getattr(self, name)
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


def _against(result: CheckResult, limit: float, what: str) -> tuple[str, str, float]:
    lo, hi = result.auc_ci
    margin = result.auc - limit
    ci = f"AuC {result.auc:.3f} (95% CI {lo:.3f}-{hi:.3f})"
    if lo >= limit:
        return PASS, f"{ci} is above {what} {limit:.3f} by {margin:+.3f}", margin
    if hi < limit:
        return FAIL, f"{ci} is below {what} {limit:.3f} by {margin:+.3f}", margin
    return (
        INCONCLUSIVE,
        f"{ci} straddles {what} {limit:.3f} (margin {margin:+.3f}); more samples_per_class "
        "or repeats narrow the interval",
        margin,
    )


def decide(result: CheckResult, thresholds: Thresholds, baseline: CheckResult | None = None) -> Verdict:
    """Combine the floor and the regression limit; the worst outcome wins (fail > inconclusive > pass)."""
    checks: list[tuple[str, str, float, float]] = []
    if thresholds.min_auc is not None:
        status, reason, margin = _against(result, thresholds.min_auc, "the floor min_auc")
        checks.append((status, reason, margin, thresholds.min_auc))
    if thresholds.max_drop is not None and baseline is not None:
        limit = baseline.auc - thresholds.max_drop
        status, reason, margin = _against(
            result, limit, f"the baseline's {baseline.auc:.3f} minus max_drop {thresholds.max_drop:.3f} ="
        )
        checks.append((status, reason, margin, limit))
    if not checks:
        return Verdict(INCONCLUSIVE, ["no threshold applies: set min_auc, or max_drop with a recorded baseline"])

    rank = {PASS: 0, INCONCLUSIVE: 1, FAIL: 2}
    status = max((c[0] for c in checks), key=rank.__getitem__)
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
