"""One gated model: its result, the baseline state, the verdict and how to explain it.

Shared by the configured gates, the ``memcheck`` fixture and the plain
assertion helpers, so that all of them decide and word failures the same way.
The three baseline states are explicit: ``missing`` (none recorded yet),
``compared`` (checked against it), ``updated`` (written by ``--memcheck-update``);
besides them ``mismatch`` (recorded for another model or settings), ``kept``
(an update refused because the model fails its floor) and ``not used`` (no
``max_drop``, so no baseline is read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .baseline import BaselineStore, fingerprint
from .gate import FAIL, INCONCLUSIVE, Thresholds, Verdict, decide
from .result import CheckResult

UPDATE_HINT = "pytest --memcheck --memcheck-update"


@dataclass
class Outcome:
    name: str
    result: CheckResult
    verdict: Verdict
    thresholds: Thresholds
    baseline_state: str = "not used"  # "missing", "compared", "updated", "mismatch", "kept", "not used"
    baseline_path: str | None = None
    baseline_auc: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: How to record a baseline where this outcome comes from (the plain helpers take ``update=True``).
    update_hint: str = UPDATE_HINT

    @property
    def status(self) -> str:
        return self.verdict.status

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reasons": self.verdict.reasons,
            "margin": self.verdict.margin,
            "threshold": self.verdict.threshold,
            "min_auc": self.thresholds.min_auc,
            "max_drop": self.thresholds.max_drop,
            "baseline": {"state": self.baseline_state, "path": self.baseline_path, "auc": self.baseline_auc},
            "result": self.result.to_dict(),
        }

    @property
    def below_floor(self) -> bool:
        """The whole interval is below ``min_auc``: no baseline can make this model acceptable."""
        return self.thresholds.min_auc is not None and self.result.auc_ci[1] < self.thresholds.min_auc

    @property
    def headline(self) -> str:
        if self.status == INCONCLUSIVE:
            return "could not be judged"
        if self.status != FAIL:
            return "passed"
        below_floor = self.below_floor
        if not below_floor and self.baseline_state == "missing":
            return "has no baseline to compare with"
        if not below_floor and self.baseline_state == "mismatch":
            return "cannot be compared with its baseline"
        return "looks memorizing"

    def explain(self) -> str:
        """A failure message that is enough to act on from a CI log."""
        r = self.result
        lines = [f"memcheck: {self.name!r} {self.headline} ({self.status})"]
        lines += [f"  {reason}" for reason in self.verdict.reasons]
        classes = r.settings.get("classes") or list(r.per_class)
        lines.append(
            f"  {r.method} over k={', '.join(f'{k:g}' for k in r.curve)}; layers {', '.join(r.layers)}; "
            f"{len(classes)} classes x {r.settings.get('samples_per_class')} samples; seed {r.settings.get('seed')}; "
            f"uncompressed accuracy {r.base_accuracy:.3f}"
        )
        lines.append("  per-class AuC: " + "  ".join(f"{c}: {v:.2f}" for c, v in sorted(r.per_class.items())))
        if self.baseline_path:
            recorded = f" (AuC {self.baseline_auc:.3f})" if self.baseline_auc is not None else ""
            lines.append(f"  baseline [{self.baseline_state}]: {self.baseline_path}{recorded}")
        # recording helps only where a baseline is used, and --memcheck-update refuses a model below its floor
        if (
            self.status != "pass"
            and self.thresholds.max_drop is not None
            and self.baseline_state in ("missing", "mismatch", "compared")
            and not self.below_floor
            and self.update_hint
        ):
            lines.append(f"  if this model is the one to accept, record it as the baseline: {self.update_hint}")
        return "\n".join(lines)


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
    outcome = _evaluate(name, model, result, thresholds, store, update, update_hint)
    outcome.update_hint = update_hint
    return outcome


def _evaluate(
    name: str,
    model: Any,
    result: CheckResult,
    thresholds: Thresholds,
    store: BaselineStore | None,
    update: bool,
    update_hint: str,
) -> Outcome:
    floor_only = Thresholds(min_auc=thresholds.min_auc)
    if store is None:
        return Outcome(name, result, decide(result, thresholds), thresholds)
    path = store.path(name)
    fp = fingerprint(model)
    if update:
        verdict = decide(result, floor_only) if thresholds.min_auc is not None else Verdict("pass", [])
        if verdict.status == FAIL:
            kept = path.exists()
            verdict.reasons.append(
                f"the baseline {path} was NOT updated: the model fails its floor"
                + ("; the recorded baseline is kept as it was" if kept else "")
            )
            return Outcome(name, result, verdict, thresholds, "kept" if kept else "missing", str(path))
        store.save(name, result, fp)
        verdict.reasons.append(f"baseline recorded: {path} (AuC {result.auc:.3f})")
        return Outcome(name, result, verdict, thresholds, "updated", str(path), result.auc)

    if thresholds.max_drop is None:
        # only a floor: a baseline plays no part, so a stale or broken file must not decide the gate
        return Outcome(name, result, decide(result, thresholds), thresholds, "not used")

    baseline = store.load(name)
    if baseline is None:
        verdict = decide(result, floor_only) if thresholds.min_auc is not None else Verdict(FAIL, [])
        verdict.status = FAIL
        verdict.reasons.append(f"no baseline recorded yet at {path}; record one with {update_hint}")
        return Outcome(name, result, verdict, thresholds, "missing", str(path))

    problem = baseline.mismatch(result, fp)
    if problem is not None:
        verdict = decide(result, floor_only) if thresholds.min_auc is not None else Verdict(FAIL, [])
        verdict.status = FAIL
        verdict.reasons.insert(0, f"{problem}, so it is not compared")
        return Outcome(name, result, verdict, thresholds, "mismatch", str(path), baseline.result.auc)
    verdict = decide(result, thresholds, baseline.result)
    return Outcome(name, result, verdict, thresholds, "compared", str(path), baseline.result.auc)
