"""One gated model: its result, the baseline state, the verdict and how to explain it.

Shared by the configured gates, the ``memcheck`` fixture and the plain
assertion helpers, so that all of them decide and word failures the same way.
Every gate ends in exactly one :class:`Outcome`, also a gate that could not run
(its model, data or baseline could not be loaded, or the check refused its
input): that one has the status ``error`` and a :class:`Failure` saying where
it stopped, so that every report lists every gate.

The vocabularies are fixed (:class:`Status`, :class:`BaselineState`,
:class:`Stage`); reports render them generically, and the JSON report keeps
their string values.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from .baseline import BaselineStore, fingerprint, modules
from .escape import log_text
from .gate import FAIL, INCONCLUSIVE, PASS, Guard, Status, TextEnum, Thresholds, Verdict, decide, guard, outside_calibration
from .result import CheckResult

UPDATE_HINT = "pytest --memcheck --memcheck-update"


class BaselineState(TextEnum):
    """What happened to the gate's baseline file."""

    NOT_USED = "not used"  # no max_drop / max_score_drop, or a model they cannot judge: no baseline is read
    MISSING = "missing"  # none recorded yet
    COMPARED = "compared"
    MISMATCH = "mismatch"  # recorded for another architecture or other settings: not compared
    RECORDED = "recorded"  # --memcheck-update wrote the first one
    REPLACED = "replaced"  # --memcheck-update replaced an older one
    KEPT = "kept"  # an update refused because the model fails its floor
    UNUSABLE = "unusable"  # the file could not be read, validated or written: the gate is an error


class Stage(TextEnum):
    """Where a gate that could not run stopped."""

    MODEL = "model"
    DATA = "data"
    CHECK = "check"
    BASELINE = "baseline"

    @property
    def headline(self) -> str:
        return {
            "model": "could not load its model",
            "data": "could not load its data",
            "check": "could not be checked",
            "baseline": "has an unusable baseline",
        }[self.value]


@dataclass(frozen=True)
class Failure:
    """Why a gate could not run: the stage, the error's type and its message."""

    stage: Stage
    type: str
    message: str


@dataclass(frozen=True)
class Outcome:
    name: str
    result: CheckResult | None
    verdict: Verdict | None
    thresholds: Thresholds
    baseline_state: BaselineState = BaselineState.NOT_USED
    baseline_path: str | None = None
    baseline_auc: float | None = None
    baseline_score: float | None = None
    #: How to record a baseline where this outcome comes from (the plain helpers take ``update=True``; "" for none).
    update_hint: str = UPDATE_HINT
    failure: Failure | None = None
    #: The check failed or errored, yet the test that made it passed (it caught the AssertionError or error on
    #: purpose, e.g. to show that a memorizing model is caught): the status is what was measured, but it does not
    #: count against the run.
    expected: bool = False
    #: The baseline's score at the ranks max_score_drop compares (:attr:`CheckResult.regression_score`).
    baseline_regression_score: float | None = None

    @classmethod
    def failed(
        cls, name: str, stage: Stage, error: BaseException, thresholds: Thresholds, baseline_path: str | None = None
    ) -> Outcome:
        """The outcome of a gate that stopped at ``stage`` with ``error``."""
        state = BaselineState.UNUSABLE if stage is Stage.BASELINE else BaselineState.NOT_USED
        failure = Failure(stage, type(error).__name__, str(error) or type(error).__name__)
        return cls(name, None, None, thresholds, state, baseline_path, failure=failure)

    @property
    def status(self) -> Status:
        return Status.ERROR if self.verdict is None else Status(self.verdict.status)

    @property
    def expected_failure(self) -> bool:
        """A failed or errored check that its test expected: it does not count against the run."""
        return self.expected and self.status != Status.PASS

    @property
    def counts_against_the_run(self) -> bool:
        """Whether this outcome makes the run's status worse than a pass."""
        return self.status != Status.PASS and not self.expected_failure

    @property
    def reasons(self) -> list[str]:
        return [self.failure.message] if self.failure is not None else list(self.verdict.reasons)  # type: ignore[union-attr]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: flat verdict and threshold fields, the baseline, the result (null for an error)."""
        verdict = {f.name: getattr(self.verdict, f.name, None) for f in dataclasses.fields(Verdict)}
        return {
            "name": self.name,
            **verdict,
            "status": self.status.value,
            "reasons": self.reasons,
            **self.thresholds.to_dict(),
            "guard": None if self.verdict is None or self.verdict.guard is None else self.verdict.guard.value,
            "baseline": {
                "state": self.baseline_state.value, "path": self.baseline_path, "auc": self.baseline_auc,
                "score": self.baseline_score, "regression_score": self.baseline_regression_score,
            },
            "result": None if self.result is None else self.result.to_dict(),
            "error": None if self.failure is None else {**dataclasses.asdict(self.failure), "stage": self.failure.stage.value},
            "update_hint": self.update_hint,
            "expected": self.expected,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        """The inverse of :meth:`to_dict` (outcomes travel from pytest-xdist workers as dictionaries)."""
        failure = None if not d.get("error") else Failure(**{**d["error"], "stage": Stage(d["error"]["stage"])})
        verdict = None if failure else Verdict(**{f.name: d[f.name] for f in dataclasses.fields(Verdict) if f.name in d})
        base = d["baseline"]
        return cls(
            name=d["name"],
            result=None if d.get("result") is None else CheckResult.from_dict(d["result"]),
            verdict=verdict,
            thresholds=Thresholds.restored(d, d.get("default_thresholds", False)),
            baseline_state=BaselineState(base["state"]),
            baseline_path=base["path"],
            baseline_auc=base["auc"],
            baseline_score=base.get("score"),
            baseline_regression_score=base.get("regression_score"),
            update_hint=d.get("update_hint", UPDATE_HINT),
            expected=bool(d.get("expected", False)),
            failure=failure,
        )

    @property
    def below_floor(self) -> bool:
        """A whole interval is below its floor: no baseline can make this model acceptable."""
        r, t = self.result, self.thresholds
        if r is None or (self.verdict is not None and self.verdict.guard is not None):
            return False
        auc = t.min_auc is not None and r.auc_ci[1] < t.min_auc
        score = t.min_score is not None and r.score_ci is not None and r.score_ci[1] < t.min_score
        return auc or score

    @property
    def recordable(self) -> bool:
        """An update would record this model: the check can judge it and it is not below its floor."""
        return self.result is not None and refusal(self.result, self.thresholds) is None

    @property
    def headline(self) -> str:
        if self.failure is not None:
            return self.failure.stage.headline
        guard = None if self.verdict is None else self.verdict.guard
        if guard is not None:
            return {
                Guard.CHANCE: "is at chance",
                Guard.UNDERFIT: "is underfit: not judged",
                Guard.SATURATED: "cannot be judged by its AuC",
                Guard.UNDECIDABLE: "had too few samples to decide",
                Guard.FEW_CLASSES: "has too few classes for the default gate",
                Guard.TOO_DEEP: "is too deep for the default gate",
            }[guard]
        if self.status == Status.INCONCLUSIVE:
            return "could not be judged"
        if self.status != Status.FAIL:
            return "passed"
        if not self.below_floor and self.baseline_state == BaselineState.MISSING:
            return "has no baseline to compare with"
        if not self.below_floor and self.baseline_state == BaselineState.MISMATCH:
            return "cannot be compared with its baseline"
        return "looks memorizing"

    def explain(self) -> str:
        """A failure message that is enough to act on from a CI log (and cannot act on the log itself)."""
        status = "" if self.status == Status.PASS else f" ({self.status.value})"  # not "passed (pass)"
        lines = [f"memcheck: {self.name!r} {self.headline}{status}"]
        lines += [f"  {reason}" for reason in self.reasons]
        r = self.result
        if r is not None:
            classes = r.settings.get("classes") or list(r.per_class)
            if r.score is not None and r.score_ci is not None:
                lines.append(f"  score {r.score:.3f} ({r.score_ci[0]:.3f}-{r.score_ci[1]:.3f}); AuC {r.auc:.3f} ({r.auc_ci[0]:.3f}-{r.auc_ci[1]:.3f})")
            lines.append(
                f"  {r.method} over k={', '.join(f'{k:g}' for k in r.curve)}; layers {', '.join(r.layers)}; "
                f"{len(classes)} classes x {r.settings.get('samples_per_class')} samples; seed {r.settings.get('seed')}; "
                f"uncompressed accuracy {r.base_accuracy:.3f}"
            )
            per_class = "; ".join(f"{c}: {v:.2f}" for c, v in sorted(r.per_class.items()))
            lines.append(f"  per-class AuC: {per_class}")
            lines += [f"  note: {note}" for note in r.notes]
        if self.baseline_path:
            values = [f"score {self.baseline_score:.3f}"] if self.baseline_score is not None else []
            values += [f"AuC {self.baseline_auc:.3f}"] if self.baseline_auc is not None else []
            recorded = f" ({', '.join(values)})" if values else ""
            lines.append(f"  baseline [{self.baseline_state.value}]: {self.baseline_path}{recorded}")
        # recording helps only where a baseline is used, and only where the update would not be refused
        if (
            self.status in (Status.FAIL, Status.INCONCLUSIVE)
            and self.thresholds.uses_baseline
            and self.baseline_state in (BaselineState.MISSING, BaselineState.MISMATCH, BaselineState.COMPARED)
            and self.recordable
            and self.update_hint
        ):
            lines += ["  if this model is the one to accept, record it as the baseline with", f"    {self.update_hint}"]
        return log_text("\n".join(_fold(line) for line in lines))


def _fold(text: str, width: int = 80) -> str:
    """``text`` for an 80-column log: each line broken after its clauses ("; "), never inside one or inside a
    quoted name, so a command or a path stays whole to copy; continuations indented two more spaces."""
    out = []
    for line in text.split("\n"):
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        first, *rest = _clauses(line)
        rows = [first]
        for clause in rest:
            if len(rows[-1]) + 1 + len(clause) > width:
                rows.append(indent + clause)
            else:
                rows[-1] += " " + clause
        out += rows
    return "\n".join(out)


def _clauses(line: str) -> list[str]:
    """``line`` cut after each "; " that is not inside single quotes (a quoted name may hold one).

    An apostrophe between two letters (the baseline's) opens or closes nothing.
    """
    pieces, start, quoted = [], 0, False
    for i, c in enumerate(line):
        if c == "'" and not (0 < i < len(line) - 1 and line[i - 1].isalpha() and line[i + 1].isalpha()):
            quoted = not quoted
        elif not quoted and line.startswith("; ", i):
            pieces.append(line[start:i + 1])
            start = i + 2
    return [*pieces, line[start:]]


def judged(result: CheckResult, thresholds: Thresholds) -> str:
    """The number the thresholds judge, as a reason words it: "score 0.912" or "AuC 0.801"."""
    on_score = thresholds.min_score is not None or thresholds.max_score_drop is not None
    return f"score {result.score:.3f}" if on_score and result.score is not None else f"AuC {result.auc:.3f}"


def _floor_verdict(result: CheckResult, thresholds: Thresholds, otherwise: Status) -> Verdict:
    """The floors' verdict where no baseline is compared (``otherwise`` when there is no floor)."""
    floors = thresholds.floors()
    return decide(result, floors) if floors is not None else Verdict(otherwise, [])


def refusal(result: CheckResult, thresholds: Thresholds) -> str | None:
    """Why an update would not record ``result`` (a model the check cannot judge, or one below its floor), or None."""
    invalid = guard(result)
    if invalid is not None:
        return f"the check cannot judge the model ({invalid[0].value})"
    floors = thresholds.floors()
    return "the model fails its floor" if floors is not None and decide(result, floors).status == FAIL else None


def _failed_without_baseline(result: CheckResult, thresholds: Thresholds, reason: str, first: bool) -> Verdict:
    """A fail that still reports the floors (a real comparison), with ``reason`` first or last."""
    floor = _floor_verdict(result, thresholds, FAIL)
    reasons = [reason, *floor.reasons] if first else [*floor.reasons, reason]
    return dataclasses.replace(floor, status=FAIL, reasons=reasons)


def missing_score(recorded: CheckResult, thresholds: Thresholds, version: str = "0.1") -> str | None:
    """Why a recorded result cannot be compared on the score, or None."""
    if thresholds.max_score_drop is None or (recorded.score is not None and recorded.score_samples and recorded.regression_samples):
        return None
    if recorded.score is None or not recorded.score_samples:
        return (
            f"the baseline was measured by pytest-memcheck {version} without the score that max_score_drop compares "
            "(the default since 0.2); re-record it"
        )
    return (
        "the baseline was measured by an earlier build of pytest-memcheck 0.2, which kept no score values at the "
        "ranks above the class count, where max_score_drop compares (below them a retrain with another seed can move "
        "the score); re-record it"
    )


def _uncomparable(baseline: Any, result: CheckResult, thresholds: Thresholds, model: Any) -> str | None:
    """Why ``result`` cannot be compared with ``baseline`` under ``thresholds``, or None."""
    return baseline.mismatch(result, fingerprint(model), modules(model)) or missing_score(
        baseline.result, thresholds, baseline.tool_version
    )


def evaluate(
    name: str,
    model: Any,
    result: CheckResult,
    thresholds: Thresholds,
    store: BaselineStore | None,
    *,
    update: bool = False,
    update_hint: str = UPDATE_HINT,
) -> Outcome:
    """Decide on ``result``; with ``update``, record it as the baseline unless it fails the floor.

    Never writes a baseline without ``update``; a baseline that cannot be read
    raises :class:`~pytest_memcheck.errors.BaselineError` (nothing is written).
    """

    def outcome(verdict: Verdict, state: BaselineState = BaselineState.NOT_USED, recorded: CheckResult | None = None) -> Outcome:
        path = None if state == BaselineState.NOT_USED else str(store.path(name))  # type: ignore[union-attr]
        auc, score = (None, None) if recorded is None else (recorded.auc, recorded.score)
        upper = None if recorded is None else recorded.regression_score
        return Outcome(name, result, verdict, thresholds, state, path, auc, score, update_hint, baseline_regression_score=upper)

    if store is None:
        return outcome(decide(result, thresholds))
    path = store.path(name)
    if update:
        invalid = guard(result)  # a model the check cannot judge is never recorded, with a floor or without one
        verdict = _floor_verdict(result, thresholds, PASS) if invalid is None else Verdict(
            INCONCLUSIVE, [invalid[1]], guard=invalid[0]
        )
        existed = os.path.lexists(path)
        refused = refusal(result, thresholds)
        if refused is not None:
            reason = f"the baseline {path} was NOT {'updated' if existed else 'recorded'}: {refused}" + (
                "; the recorded baseline is kept as it was" if existed else ""
            )
            kept = dataclasses.replace(verdict, reasons=[*verdict.reasons, reason])
            return outcome(kept, BaselineState.KEPT if existed else BaselineState.MISSING)
        store.save(name, result, fingerprint(model), modules(model))
        state = BaselineState.REPLACED if existed else BaselineState.RECORDED
        done = f"baseline {state.value}: {path} ({judged(result, thresholds)})"
        return outcome(dataclasses.replace(verdict, reasons=[*verdict.reasons, done]), state, result)

    if not thresholds.uses_baseline or outside_calibration(result, thresholds) is not None:
        # only a floor, or thresholds that cannot judge this model with any baseline (too few classes, too deep):
        # a baseline plays no part, so a missing, stale or broken file must not decide the gate
        return outcome(decide(result, thresholds))

    baseline = store.load(name)
    if baseline is None:
        reason = f"no baseline recorded yet at {path}" + (
            f"; record one with {update_hint}" if refusal(result, thresholds) is None else ""
        )
        return outcome(_failed_without_baseline(result, thresholds, reason, first=False), BaselineState.MISSING)
    problem = _uncomparable(baseline, result, thresholds, model)
    if problem is not None:
        verdict = _failed_without_baseline(result, thresholds, f"{problem}, so it is not compared", first=True)
        return outcome(verdict, BaselineState.MISMATCH, baseline.result)
    return outcome(decide(result, thresholds, baseline.result), BaselineState.COMPARED, baseline.result)
