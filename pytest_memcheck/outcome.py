"""One gated model: its result, the baseline state, the verdict and how to explain it.

Shared by the configured gates, the ``memcheck`` fixture and the plain
assertion helpers, so that all of them decide and word failures the same way.
The three baseline states are explicit: ``missing`` (none recorded yet),
``compared`` (checked against it), ``updated`` (written by ``--memcheck-update``).
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
    baseline_state: str = "not used"  # "missing", "compared", "updated", "mismatch", "not used"
    baseline_path: str | None = None
    baseline_auc: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

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
    def headline(self) -> str:
        if self.status == INCONCLUSIVE:
            return "could not be judged"
        if self.status != FAIL:
            return "passed"
        below_floor = self.thresholds.min_auc is not None and self.result.auc_ci[1] < self.thresholds.min_auc
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
        if self.status != "pass" and self.baseline_state in ("missing", "mismatch", "compared"):
            lines.append(f"  if this model is the one to accept, record it as the baseline: {UPDATE_HINT}")
        return "\n".join(lines)


def evaluate(
    name: str,
    model: Any,
    result: CheckResult,
    thresholds: Thresholds,
    store: BaselineStore | None,
    *,
    update: bool = False,
) -> Outcome:
    """Decide on ``result``; with ``update``, record it as the baseline unless it fails the floor.

    Never writes a baseline without ``update``; a baseline that cannot be read
    raises :class:`~pytest_memcheck.errors.BaselineError` (nothing is written).
    """
    floor_only = Thresholds(min_auc=thresholds.min_auc)
    if store is None:
        return Outcome(name, result, decide(result, thresholds), thresholds)
    path = store.path(name)
    fp = fingerprint(model)
    if update:
        verdict = decide(result, floor_only) if thresholds.min_auc is not None else Verdict("pass", [])
        if verdict.status == FAIL:
            verdict.reasons.append(f"the baseline {path} was NOT updated: the model fails its floor")
            return Outcome(name, result, verdict, thresholds, "missing", str(path))
        store.save(name, result, fp)
        verdict.reasons.append(f"baseline recorded: {path} (AuC {result.auc:.3f})")
        return Outcome(name, result, verdict, thresholds, "updated", str(path), result.auc)

    baseline = store.load(name)
    if baseline is None:
        if thresholds.max_drop is None:
            return Outcome(name, result, decide(result, thresholds), thresholds, "missing", str(path))
        verdict = decide(result, floor_only) if thresholds.min_auc is not None else Verdict(FAIL, [])
        verdict.status = FAIL
        verdict.reasons.append(f"no baseline recorded yet at {path}; record one with {UPDATE_HINT}")
        return Outcome(name, result, verdict, thresholds, "missing", str(path))

    problem = baseline.mismatch(result, fp)
    if problem is not None:
        verdict = Verdict(FAIL, [f"{problem}, so it is not compared"])
        return Outcome(name, result, verdict, thresholds, "mismatch", str(path), baseline.result.auc)
    verdict = decide(result, thresholds, baseline.result)
    return Outcome(name, result, verdict, thresholds, "compared", str(path), baseline.result.auc)
