"""The gate's decision: pass, fail or inconclusive, with reasons, margins and what it could detect.

Pure logic on :class:`~pytest_memcheck.result.CheckResult` objects: no pytest,
no files. A threshold is crossed only when the whole confidence interval is on
one side of it; an interval that straddles it is *inconclusive*, so the gate
does not flip between runs on noise. Against a baseline measured on the same
samples the comparison is paired, so an unchanged model is never inconclusive.

``Thresholds()`` with no argument judges the *score* with the calibrated floor
and regression limit of :mod:`~pytest_memcheck.calibrated`; explicit
``min_auc`` / ``max_drop`` judge the paper's single-class AuC instead. Before
any threshold, validity guards decide whether the check can judge the model
at all: a model at chance or one that does not fit its training samples is
never failed as memorizing.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any, NamedTuple

import numpy as np

from . import calibrated, stats
from .errors import MemcheckError
from .result import CheckResult
from .stats import difference_ci


class TextEnum(str, Enum):
    """An enum whose members print as their value, as reports and JSON hold them (``enum.StrEnum`` from 3.11)."""

    def __str__(self) -> str:
        return self.value


class Status(TextEnum):
    """What a gate came to, in increasing severity (the worst one is a run's headline).

    :func:`decide` gives the first three; ``ERROR`` is a gate that could not run
    (its model, data or baseline could not be loaded, or the check refused its
    input). The values are what reports and JSON files hold.
    """

    PASS = "pass"
    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"
    ERROR = "error"

    @property
    def label(self) -> str:
        return self.value.upper()

    @property
    def severity(self) -> int:
        return list(Status).index(self)

    def counted(self, n: int) -> str:
        """How a count of gates with this status reads: "2 passed", "1 error", "2 errors"."""
        word = {"pass": "passed", "fail": "failed"}.get(self.value, self.value)
        return f"{n} {word}{'s' if self == Status.ERROR and n != 1 else ''}"


class Guard(TextEnum):
    """Why a check could not judge the model (its verdict is inconclusive)."""

    CHANCE = "at chance"
    UNDERFIT = "underfit"
    SATURATED = "saturated"
    UNDECIDABLE = "undecidable"
    FEW_CLASSES = "too few classes"
    TOO_DEEP = "too deep"


PASS, FAIL, INCONCLUSIVE = Status.PASS, Status.FAIL, Status.INCONCLUSIVE
#: The thresholds' names, as keyword arguments, configuration keys and JSON fields.
KEYS = ("min_auc", "max_drop", "min_score", "max_score_drop")


@dataclass(frozen=True)
class Thresholds:
    """What the gate requires of a model.

    With no argument: the calibrated defaults, a floor on the score
    (``min_score``) and, when a baseline is recorded, a limit on its fall
    (``max_score_drop``, a share of the baseline's score: 0.1 lets a score of
    0.9 fall to 0.81; compared at the ranks above the class count, where a
    retrain with another seed leaves it alone). Any explicit value replaces the defaults entirely:
    ``min_auc`` is a floor and ``max_drop`` a fall limit (in AuC units) on the
    paper's AuC.
    """

    min_auc: float | None = None
    max_drop: float | None = None
    min_score: float | None = None
    max_score_drop: float | None = None
    #: True for the calibrated defaults (set when no threshold is given): only they carry the calibration's
    #: bounds (class count, depth). Explicit values judge as given, even when they equal the calibrated ones.
    default: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        for name in KEYS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise MemcheckError(f"{name} must be a number between 0 and 1, got {value!r}")
            if not 0 <= value <= 1:  # NaN too
                raise MemcheckError(f"{name} must be between 0 and 1, got {value}")
            object.__setattr__(self, name, float(value))
        if all(getattr(self, name) is None for name in KEYS):
            object.__setattr__(self, "min_score", calibrated.MIN_SCORE)
            object.__setattr__(self, "max_score_drop", calibrated.MAX_SCORE_DROP)
            object.__setattr__(self, "default", True)
        elif self.default and not (
            self.min_auc is None
            and self.max_drop is None
            and self.min_score in (None, calibrated.MIN_SCORE)
            and self.max_score_drop in (None, calibrated.MAX_SCORE_DROP)
        ):  # the defaults' floors are the defaults too; anything else was set by hand
            raise MemcheckError(
                "default=True marks the calibrated default thresholds (Thresholds() with no argument); "
                f"these are set explicitly: {self}"
            )

    @classmethod
    def given(cls, **values: float | None) -> "Thresholds":
        """The thresholds that are not None; the calibrated defaults when none is."""
        return cls(**{k: v for k, v in values.items() if v is not None})

    @classmethod
    def restored(cls, values: dict[str, Any], default: bool) -> "Thresholds":
        """Thresholds as :meth:`to_dict` gave them (a report, an outcome sent by a pytest-xdist worker)."""
        return cls(**{k: values.get(k) for k in KEYS}, default=bool(default))

    def to_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in KEYS}, "default_thresholds": self.default}

    @property
    def uses_baseline(self) -> bool:
        return self.max_drop is not None or self.max_score_drop is not None

    @property
    def has_floor(self) -> bool:
        return self.min_auc is not None or self.min_score is not None

    def floors(self) -> "Thresholds | None":
        """The floors alone (what decides where no baseline is compared); None without a floor."""
        return replace(self, max_drop=None, max_score_drop=None) if self.has_floor else None


@dataclass
class Verdict:
    """The decision and everything needed to explain it."""

    status: Status
    reasons: list[str] = field(default_factory=list)
    margin: float | None = None  # signed distance from the nearest threshold; > 0 is the safe side
    threshold: float | None = None
    guard: Guard | None = None  # why the check could not judge the model, when it could not
    detectable: float | None = None  # the smallest shortfall or drop the nearest check could have detected

    def __post_init__(self) -> None:
        self.status = Status(self.status)  # also from the plain strings of a JSON report
        self.guard = None if self.guard is None else Guard(self.guard)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["guard"] = None if self.guard is None else self.guard.value
        return d


class _Check(NamedTuple):
    status: Status
    reason: str
    margin: float
    threshold: float
    half_width: float  # of the interval the decision was taken on
    detectable: float


def _side(ci: tuple[float, float], limit: float) -> Status:
    if ci[0] >= limit:
        return PASS
    if ci[1] < limit:
        return FAIL
    return INCONCLUSIVE


_NARROW = "; more samples_per_class or repeats narrow the interval"
#: A change's interval narrows only if both sides do: a different samples_per_class is not compared at all, and
#: repeats on the candidate alone lose the pairing.
_NARROW_CHANGE = (  # clauses short enough for an 80-column log (outcome._fold breaks between them)
    "; to narrow it, raise samples_per_class or repeats; record the baseline again from the accepted model with "
    "the raised settings; check candidates with the same settings"
)


def _level(result: CheckResult) -> str:
    """The confidence level the interval was computed at, as the reasons word it ("95% CI")."""
    return f"{100 * float(result.settings.get('confidence', 0.95)):g}% CI"


def _floor(result: CheckResult, what: str, value: float, ci: tuple[float, float], floor: float, key: str) -> _Check:
    status = _side(ci, floor)
    margin = value - floor
    where = {PASS: "is above", FAIL: "is below", INCONCLUSIVE: "straddles"}[status]
    half = (ci[1] - ci[0]) / 2
    reason = (
        f"{what} {value:.3f} ({_level(result)} {ci[0]:.3f}-{ci[1]:.3f}) {where} the floor {key} {floor:.3f} "
        f"by {margin:+.3f}"
    )
    return _Check(status, reason + (_NARROW if status == INCONCLUSIVE else ""), margin, floor, half, half)


def _pairing(result: CheckResult, baseline: CheckResult, candidate: np.ndarray, recorded: np.ndarray) -> str | None:
    """How the two results can be paired: same samples, same class batches, or not at all.

    ``candidate`` and ``recorded`` are the per-sample values; ``None`` when either result kept none.
    """
    if candidate is None or recorded is None:
        return None
    if candidate.shape == recorded.shape and result.settings.get("draw") == baseline.settings.get("draw"):
        return "samples"
    same_classes = result.settings.get("classes") == baseline.settings.get("classes")
    single = result.settings.get("batches", "single") == baseline.settings.get("batches", "single") == "single"
    repeats = result.settings.get("repeats", 1) == baseline.settings.get("repeats", 1) == 1
    return "classes" if same_classes and single and repeats and candidate.shape[0] == recorded.shape[0] else None


def _per_sample(values: list[list[float | None]]) -> np.ndarray | None:
    """Stored per-sample values as an array (None = not scored: NaN); None if none were kept."""
    if not values:
        return None
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def _regression(
    result: CheckResult, baseline: CheckResult, what: str, key: str, max_drop: float, score: bool
) -> _Check:
    level, seed = result.settings.get("confidence", 0.95), result.settings.get("seed", 0)
    if score:
        # the ranks above the class count: below them a retrain with another seed moves the score (score.py)
        candidate, recorded = _per_sample(result.regression_samples), _per_sample(baseline.regression_samples)
        what = "score at the ranks above the class count:"
        now, then = result.regression_score, baseline.regression_score
    else:
        now, then = result.auc, baseline.auc
        candidate, recorded = _per_sample(result.samples), _per_sample(baseline.samples)
    pairing = _pairing(result, baseline, candidate, recorded)
    ci_now, ci_then = (result.auc_ci, baseline.auc_ci) if not score else ((0.0, 0.0), (0.0, 0.0))
    if score and pairing is None:  # only independent draws combine each side's own interval (difference_ci)
        ci_now, ci_then = (stats.bootstrap_ci(v, confidence=level, seed=seed) for v in (candidate, recorded))
    delta, ci = difference_ci(
        np.array([[now]]) if candidate is None else candidate,
        np.array([[then]]) if recorded is None else recorded,
        pairing=pairing,
        candidate_ci=ci_now,
        baseline_ci=ci_then,
        confidence=level,
        seed=seed,
        resample_groups=not score,  # as each quantity's own interval (stats.bootstrap_ci)
    )
    # the score's limit is a share of the baseline's (calibrated that way: one share fits every family)
    limit = max_drop * then if score else max_drop
    status = _side(ci, -limit)
    where = {PASS: "within", FAIL: "beyond", INCONCLUSIVE: "straddling"}[status]
    how = {"samples": "paired on the same samples", "classes": "paired by class"}.get(pairing or "", "independent draws")
    half = (ci[1] - ci[0]) / 2
    allowed = f"{key} {max_drop:.3f}" + (f" of the baseline's score = {limit:.3f}" if score else "")
    reason = (
        f"{what} {now:.3f} vs the baseline's {then:.3f}; change {delta:+.3f} ({_level(result)} {ci[0]:+.3f} to "
        f"{ci[1]:+.3f}, {how}); that is {where} {allowed}; it detects a fall of {limit + half:.3f} or more"
    )
    narrow = _NARROW_CHANGE if status == INCONCLUSIVE else ""
    return _Check(status, reason + narrow, delta + limit, then - limit, half, limit + half)


def _without_compared_ranks(result: CheckResult, baseline: CheckResult | None) -> str | None:
    """Why max_score_drop cannot compare ``result`` with ``baseline`` (no values at the compared ranks), or None."""
    if baseline is None:
        return None
    if not baseline.regression_samples:
        return (
            "the baseline keeps no score values at the ranks above the class count, which max_score_drop compares "
            "(an older pytest-memcheck saved it); record the baseline again"
        )
    if not result.regression_samples:
        return (
            "this result keeps no score values at the ranks above the class count, which max_score_drop compares "
            "(an older pytest-memcheck saved it); check the model again"
        )
    return None


def at_chance(fit: float, outputs: int | None, n: int) -> bool:
    """The model fits no more of ``n`` samples than guessing among ``outputs`` classes would (2 standard errors)."""
    if not outputs or not n:
        return False
    chance = 1 / outputs
    return fit <= chance + 2 * math.sqrt(chance * (1 - chance) / n)


def guard(result: CheckResult) -> tuple[Guard, str] | None:
    """Whether the check can judge this model at all: not when it is at chance or underfit."""
    fit, n = result.base_accuracy, result.checked_samples
    outputs = result.settings.get("outputs")
    if at_chance(fit, outputs, n):
        chance = 1 / outputs
        return Guard.CHANCE, (
            f"at chance: the model predicts {fit:.1%} of the {n} checked training samples right, no better "
            f"than guessing among its {outputs} outputs ({chance:.1%}); is it trained, and are these the "
            "labels it was trained on?"
        )
    if fit < calibrated.MIN_FIT:
        return Guard.UNDERFIT, (
            f"underfit: the model fits {fit:.1%} of the {n} checked training samples (as labelled); memorization "
            f"is judged on models that fit at least {calibrated.MIN_FIT:.1%} of theirs, so this one is not judged. "
            "Train it further, or check that these are the data and labels it was trained on"
        )
    return None


_OWN_THRESHOLDS = (
    "Judge it with thresholds set from models you accepted (min_score and max_score_drop, or min_auc and max_drop)"
)


def outside_calibration(result: CheckResult, thresholds: Thresholds) -> tuple[Guard, str] | None:
    """Why the calibrated default thresholds cannot judge this model, or None; explicit thresholds always judge.

    They were chosen on ten-class networks with at most seven activation
    layers. On two-, three- and five-class versions of the zoo's families they
    failed clean models and passed memorizing ones, and on deeper networks
    (a torchvision ResNet-18, a 12-layer MLP) they passed memorizing ones
    (docs/validation.md), so they do not judge there.
    """
    if not thresholds.default:
        return None
    classes = len(result.settings.get("classes") or result.per_class)
    if classes < calibrated.CLASSES:
        return Guard.FEW_CLASSES, (
            f"too few classes: the default score thresholds hold for models checked on at least "
            f"{calibrated.CLASSES} classes, and this one was checked on {classes}; on models with 2, 3 or 5 "
            f"classes they gave wrong verdicts both ways in our validation. {_OWN_THRESHOLDS}"
        )
    depth = result.settings.get("depth")  # unknown in results saved before this guard: judged as before
    if depth is not None and depth > calibrated.LAYERS:
        return Guard.TOO_DEEP, (
            f"too deep: the default score thresholds hold for networks with at most {calibrated.LAYERS} "
            f"activation layers on the main path, and this one has {depth}; on some deeper networks they passed "
            f"memorizing models and missed regressions in our validation. {_OWN_THRESHOLDS}"
        )
    return None


def saturation_reason(result: CheckResult) -> str:
    score = "" if result.score is None else f", while the score {result.score:.3f} does not show that it generalizes"
    return (
        f"saturated: the single-class AuC {result.auc:.3f} stays within {calibrated.SATURATION_TOL:g} of the "
        f"uncompressed accuracy {result.base_accuracy:.3f}{score}; the single-class check cannot see memorization "
        "in these layers: judge the score (the default thresholds) or compress earlier layers (layers=[...])"
    )


def decide(result: CheckResult, thresholds: Thresholds | None = None, baseline: CheckResult | None = None) -> Verdict:
    """Guards first, then every applicable threshold; the worst outcome wins (fail > inconclusive > pass)."""
    thresholds = Thresholds() if thresholds is None else thresholds
    invalid = guard(result)
    if invalid is not None:
        return Verdict(INCONCLUSIVE, [invalid[1]], guard=invalid[0])

    outside = outside_calibration(result, thresholds)
    if outside is not None:
        return Verdict(INCONCLUSIVE, [outside[1]], guard=outside[0])

    checks: list[_Check] = []
    on_score = thresholds.min_score is not None or thresholds.max_score_drop is not None
    if on_score and (result.score is None or result.score_ci is None):
        return Verdict(
            INCONCLUSIVE,
            [
                "no score was measured (a check with score=False, or a result saved by pytest-memcheck 0.1), and "
                "these thresholds judge the score; check with score=True, or set min_auc / max_drop"
            ],
        )
    uncompared = _without_compared_ranks(result, baseline) if thresholds.max_score_drop is not None else None
    if thresholds.min_score is not None:
        checks.append(_floor(result, "score", result.score, result.score_ci, thresholds.min_score, "min_score"))
    if thresholds.max_score_drop is not None and baseline is not None and uncompared is None:
        checks.append(_regression(result, baseline, "score", "max_score_drop", thresholds.max_score_drop, True))
    if thresholds.min_auc is not None:
        checks.append(_floor(result, f"{result.method} AuC", result.auc, result.auc_ci, thresholds.min_auc, "min_auc"))
    if thresholds.max_drop is not None and baseline is not None:
        checks.append(_regression(result, baseline, f"{result.method} AuC", "max_drop", thresholds.max_drop, False))
    if not checks:
        return Verdict(INCONCLUSIVE, [uncompared or "no threshold applies: max_drop and max_score_drop need a recorded baseline"])

    status = max((c.status for c in checks), key=lambda s: s.severity)
    reasons = [c.reason for c in checks]
    if uncompared is not None:  # the floor still fails a model below it; otherwise the comparison is owed
        status = max(status, INCONCLUSIVE, key=lambda s: s.severity)
        reasons.append(uncompared)
    nearest = min(checks, key=lambda c: c.margin)
    verdict = Verdict(status, reasons, margin=nearest.margin, threshold=nearest.threshold, detectable=nearest.detectable)
    on_auc = thresholds.min_auc is not None or thresholds.max_drop is not None
    if on_auc and result.saturated and status != FAIL:
        verdict.status, verdict.guard = INCONCLUSIVE, Guard.SATURATED
        verdict.reasons.insert(0, saturation_reason(result))
    elif status == INCONCLUSIVE and all(c.half_width > calibrated.MAX_HALF_WIDTH for c in checks if c.status == INCONCLUSIVE):
        compared = baseline is not None and thresholds.uses_baseline
        verdict.guard = Guard.UNDECIDABLE
        verdict.reasons.insert(
            0,
            f"undecidable: the {_level(result)} is +-{max(c.half_width for c in checks):.3f} wide, more than "
            f"+-{calibrated.MAX_HALF_WIDTH:g}, which cannot tell a typical model from the threshold with "
            f"{result.settings.get('samples_per_class')} samples per class; raise samples_per_class or repeats"
            + (" (and record the baseline again with them)" if compared else ""),
        )
    return verdict
