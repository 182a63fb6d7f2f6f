"""Choose the shipped score, floor, regression limit and validity guards, one family held out.

Every rule is chosen on all families but one and judged on the one left out
(leave-one-family-out): a rule that only fits the models it was tuned on shows
it there. What the docs report are the held-out figures.

* **Score formula** - per-sample accuracy averaged over one or two candidate
  checks (and a k range), either over all checked samples (``raw``) or over
  the samples the model fits (``fitted``); ranked by how well it orders the
  training families' models by test error and separates clean from memorizing
  models with one threshold.
* **Floor** - the score below which a model fails, decided on the 95% interval:
  no clean (p = 0) model of a training family may fail, no memorizing (p >= 0.4)
  one pass; among such floors, the one deciding the most, in the middle of its
  plateau.
* **Regression limit** - the largest accepted fall of the score below the
  baseline's: retrains with another seed must pass, p = 0.2 regressions fail.
* **Fit guard** - below this fraction of fitted training samples a model is
  *underfit*, judged by nothing: no clean model that fits more may fail.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from .. import gate, stats
from .analysis import group_by, spearman
from .models import Measured

#: Label noise at or above which a model has memorized (p = 0.4: 36% of its labels are wrong).
MEMORIZING_P = 0.4
#: A regression the gate must catch.
REGRESSION_P = 0.2
#: Formulas are ranked on models that fit at least this much of their checked samples.
RANKING_FIT = 0.9
#: The mixed checks' rank grid in the zoo (ten classes: :meth:`pytest_memcheck.score.Mixed.ranks`).
MIXED_RANKS = (6.0, 8.0, 12.0, 16.0, 24.0, 32.0)


# --------------------------------------------------------------------------- formulas


@dataclass(frozen=True)
class Formula:
    """A score: the per-sample accuracy of ``parts`` (check, ks) averaged, over all or only fitted samples."""

    parts: tuple[tuple[str, tuple[float, ...] | None], ...]
    normalize: str  # "raw" or "fitted"

    @property
    def name(self) -> str:
        parts = " + ".join(c + ("" if ks is None else f"[k>={min(ks):g}]") for c, ks in self.parts)
        return f"{parts} ({self.normalize})"


    def available(self, m: Measured) -> bool:
        return all(m.has(c) for c, _ in self.parts)

    def values(self, m: Measured) -> np.ndarray:
        """Per-sample values ``(classes, n)``; NaN for samples left out (not fitted)."""
        v = np.mean([m.correct(c, ks) for c, ks in self.parts], axis=0)
        if self.normalize == "fitted":
            v = np.where(m.base() > 0, v, np.nan)
        return v

    def score(self, m: Measured) -> float:
        return stats.mean(self.values(m))


def formulas(ms: Sequence[Measured]) -> list[Formula]:
    """The candidates: each check alone, and each mixed-batch check with each random ablation."""
    checks = sorted({c for m in ms for c in m.record["checks"]})
    parts: list[tuple[tuple[str, tuple[float, ...] | None], ...]] = [((c, None),) for c in checks]
    mixed = [c for c in checks if c.startswith("mixed")]
    ablation = [c for c in checks if c.startswith("random")]
    parts += [((a, None), (b, None)) for a, b in itertools.product(mixed, ablation)]
    return [Formula(p, norm) for p in parts for norm in ("raw", "fitted")]


# --------------------------------------------------------------------------- model sets


def noise_final(ms: Iterable[Measured]) -> list[Measured]:
    """The paper's experiment: full training set, no regularizer, trained to fit, any p and seed."""
    return [m for m in ms if m.regime == "noise"]


def fitted(ms: Iterable[Measured], level: float = RANKING_FIT) -> list[Measured]:
    return [m for m in ms if m.fit >= level]


#: A model fitting less than this share of its randomized labels has not memorized them (yet).
MEMORIZED = 0.5


def clean(m: Measured) -> bool:
    """Trained on clean labels and not starved of data: a model the gate must never fail."""
    return m.p == 0 and m.regime != "size"


def innocent(m: Measured) -> bool:
    """A model the gate must never fail: clean, or trained on noisy labels without fitting most of them."""
    return clean(m) or (m.p > 0 and m.memorized < MEMORIZED)


def memorizing(m: Measured) -> bool:
    """Trained on labels of which at least 36% are wrong and fitting them all: a model the gate must never pass."""
    return m.p >= MEMORIZING_P and m.regime != "size" and m.fit >= 0.99


# --------------------------------------------------------------------------- ranking formulas


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive scores above a negative): how well one threshold can separate them."""
    if not positive or not negative:
        return math.nan
    p, n = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


@dataclass(frozen=True)
class Quality:
    spearman_noise: float  # Spearman(score, test error) over the label-noise models
    spearman_all: float  # ... over every regime's models that fit >= RANKING_FIT
    separation: float  # AUROC of clean vs memorizing (p >= 0.4) models, pooled over families

    @property
    def objective(self) -> float:
        """Lower is better: both correlations negative, separation near 1."""
        return self.spearman_noise + self.spearman_all - 2 * self.separation


def quality(score: Callable[[Measured], float], ms: Sequence[Measured]) -> Quality:
    noise, good = noise_final(ms), fitted(ms)
    return Quality(
        spearman([score(m) for m in noise], [m.test_error for m in noise]),
        spearman([score(m) for m in good], [m.test_error for m in good]),
        auroc([score(m) for m in noise if clean(m)], [score(m) for m in noise if memorizing(m)]),
    )


def rank_formulas(ms: Sequence[Measured], fs: Sequence[Formula]) -> list[tuple[Formula, Quality]]:
    """Formulas available on every model of ``ms``, best first."""
    usable = [f for f in fs if all(f.available(m) for m in ms)]
    rows = [(f, quality(f.score, ms)) for f in usable]
    return sorted(rows, key=lambda row: _nan_last(row[1].objective))


def _nan_last(x: float) -> float:
    return math.inf if math.isnan(x) else x


def families(ms: Iterable[Measured]) -> list[str]:
    return sorted({m.family for m in ms})


def leave_one_out(ms: Sequence[Measured]) -> Iterable[tuple[str, list[Measured], list[Measured]]]:
    """(held-out family, its models, every other family's models)."""
    for family in families(ms):
        yield family, [m for m in ms if m.family == family], [m for m in ms if m.family != family]


# --------------------------------------------------------------------------- intervals and decisions


@dataclass(frozen=True)
class Scored:
    """A model's score with its 95% interval and the per-sample values it came from."""

    model: Measured
    values: np.ndarray
    score: float
    ci: tuple[float, float]


def scored(f: Formula, ms: Sequence[Measured], confidence: float = 0.95) -> list[Scored]:
    out = []
    for m in ms:
        v = f.values(m)
        out.append(Scored(m, v, stats.mean(v), stats.bootstrap_ci(v, confidence=confidence, seed=0)))
    return out


def side(ci: tuple[float, float], limit: float) -> str:
    """"pass" when the whole interval is at or above ``limit``, "fail" when below, else "inconclusive"."""
    if ci[0] >= limit:
        return "pass"
    if ci[1] < limit:
        return "fail"
    return "inconclusive"


def _plateau_middle(values: np.ndarray, goodness: np.ndarray) -> float:
    """The middle of the widest stretch of candidate values where ``goodness`` is at its best."""
    best = goodness.max()
    runs, start = [], None
    for i, good in enumerate(goodness == best):
        if good and start is None:
            start = i
        if (not good or i == len(goodness) - 1) and start is not None:
            end = i if good else i - 1
            runs.append((values[end] - values[start], start, end))
            start = None
    _, start, end = max(runs)
    return float((values[start] + values[end]) / 2)


def choose_floor(rows: Sequence[Scored]) -> float:
    """The middle of the floors that fail no clean model and pass no memorizing one (the widest margin to both).

    A clean model fails when its whole interval is below the floor, a memorizing
    one passes when its whole interval is at or above it: every floor between the
    highest lower bound of the memorizing models and the lowest upper bound of
    the clean ones makes no error. Its middle leaves the most room to a family
    not seen here, on either side. Without such a floor: the fewest errors.
    Chosen on the label-noise models (trained to fit); the fit guard comes after it.
    """
    noise = [r for r in rows if r.model.regime == "noise"]
    clean_hi = min((r.ci[1] for r in noise if clean(r.model)), default=1.0)
    memorizing_lo = max((r.ci[0] for r in noise if memorizing(r.model)), default=0.0)
    if memorizing_lo < clean_hi:
        return float((memorizing_lo + clean_hi) / 2)
    grid = np.round(np.arange(0.0, 1.0005, 0.0025), 4)
    goodness = np.array([_floor_goodness(noise, t) for t in grid])
    return _plateau_middle(grid, goodness)


def _goodness(judged: Iterable[tuple[str, str]]) -> float:
    """Right decisions minus 1000 per wrong one, over (verdict, the verdict it should be) pairs."""
    right = wrong = 0
    for verdict, expected in judged:
        right += verdict == expected
        wrong += verdict == {"pass": "fail", "fail": "pass"}[expected]
    return right - 1000 * wrong


def _floor_goodness(rows: Sequence[Scored], floor: float) -> float:
    return _goodness(
        (side(r.ci, floor), "pass" if clean(r.model) else "fail") for r in rows if clean(r.model) or memorizing(r.model)
    )


@dataclass(frozen=True)
class FloorResult:
    family: str
    floor: float
    clean_failed: int
    clean: int
    memorizing_passed: int
    memorizing: int
    decided: int  # clean passed + memorizing failed
    guarded: int  # models not judged: they fit less than the fit guard


def judge_floor(family: str, rows: Sequence[Scored], floor: float, fit_guard: float) -> FloorResult:
    cl = [r for r in rows if clean(r.model) and r.model.regime == "noise"]
    mem = [r for r in rows if memorizing(r.model) and r.model.regime == "noise"]

    def verdict(r: Scored) -> str:
        return "underfit" if r.model.fit < fit_guard else side(r.ci, floor)

    return FloorResult(
        family,
        floor,
        sum(verdict(r) == "fail" for r in cl),
        len(cl),
        sum(verdict(r) == "pass" for r in mem),
        len(mem),
        sum(verdict(r) == "pass" for r in cl) + sum(verdict(r) == "fail" for r in mem),
        sum(r.model.fit < fit_guard for r in rows),
    )


def choose_fit_guard(rows: Sequence[Scored], floor: float) -> float:
    """The fit below which a model is 'underfit' (not judged): the middle of the fits that would make no error.

    An innocent model that fails the floor must be below the guard (not judged),
    a memorizing one (it fits its training samples) must be above it (judged):
    the middle of the highest fit of a failing innocent model and the lowest fit
    of a memorizing one, as for the floor. At least 0.5: a model that fits
    fewer than half of its training samples has not learned them.
    """
    failing = [r.model.fit for r in rows if innocent(r.model) and side(r.ci, floor) == "fail"]
    fitting = [r.model.fit for r in rows if memorizing(r.model)]
    low, high = max(failing, default=0.0), min(fitting, default=1.0)
    return float(max(0.5, (low + high) / 2 if low < high else min(1.0, low + 0.01)))


# --------------------------------------------------------------------------- regressions


@dataclass(frozen=True)
class Pair:
    """A baseline (clean, seed s) and a candidate of the same family: a retrain or a noisier training set."""

    baseline: Scored
    candidate: Scored
    kind: str  # "retrain" or "p=0.05", "p=0.1", ...

    @property
    def pairing(self) -> str:
        b, c = self.baseline.model, self.candidate.model
        same = b.p == c.p == 0 and np.array_equal(b.index, c.index)
        return "samples" if same else "classes"

    def change(self, confidence: float = 0.95) -> tuple[float, tuple[float, float]]:
        return stats.difference_ci(
            self.candidate.values, self.baseline.values, pairing=self.pairing,
            candidate_ci=self.candidate.ci, baseline_ci=self.baseline.ci, confidence=confidence,
        )


def pairs(rows: Sequence[Scored]) -> list[Pair]:
    """Per family and seed s: clean s vs clean s' (retrain), clean s vs p > 0 at seed s (regression)."""
    out = []
    noise = [r for r in rows if r.model.regime == "noise"]
    for _, rs in group_by(noise, lambda r: r.model.family).items():
        baselines = {r.model.seed: r for r in rs if r.model.p == 0}
        for seed, base in baselines.items():
            out += [Pair(base, other, "retrain") for s, other in baselines.items() if s != seed]
            out += [Pair(base, r, f"p={r.model.p:g}") for r in rs if r.model.p > 0 and r.model.seed == seed]
    return out


def tolerated_fall(pair: Pair, max_drop: float) -> float:
    """The fall a comparison tolerates: ``max_drop`` is a share of the baseline's score, as ``max_score_drop`` is."""
    return max_drop * pair.baseline.score


def _drop_goodness(changes, max_drop: float) -> float:
    return _goodness(
        (side(ci, -tolerated_fall(p, max_drop)), "pass" if p.kind == "retrain" else "fail")
        for p, ci in changes
        if p.kind == "retrain" or p.candidate.model.p >= REGRESSION_P
    )


# --------------------------------------------------------------------------- the whole calibration


@dataclass(frozen=True)
class Choice:
    """Everything chosen on one set of families."""

    formula: Formula
    floor: float
    fit_guard: float
    #: A share of the baseline's score at the compared ranks.
    max_drop: float
    #: Half-width beyond which an interval cannot tell a typical clean model from the floor.
    max_half_width: float
    #: The lowest rank of the mixed checks that a baseline comparison reads.
    drop_from: float | None = None

    @property
    def regression(self) -> Formula:
        """What a baseline comparison compares: the score at ranks from :attr:`drop_from` on."""
        return from_rank(self.formula, self.drop_from)

    def to_dict(self) -> dict:
        return {
            "formula": self.formula.name, "min_score": self.floor, "min_fit": self.fit_guard,
            "max_score_drop": self.max_drop, "max_half_width": self.max_half_width,
            "drop_from_rank": self.drop_from,
        }


def from_rank(formula: Formula, lowest: float | None) -> Formula:
    """``formula`` with its mixed-batch checks read at ranks ``>= lowest`` only (all ranks: None)."""
    if lowest is None:
        return formula
    parts = tuple(
        (check, tuple(k for k in MIXED_RANKS if k >= lowest)) if check.startswith("mixed") else (check, ks)
        for check, ks in formula.parts
    )
    return Formula(parts, formula.normalize)


class Calibration:
    """Bootstraps are the slow part: each (formula, model) is scored once, each pair compared once."""

    def __init__(self, ms: Sequence[Measured]) -> None:
        self.models = list(ms)
        self.formulas = formulas(self.models)
        self._scored: dict = {}
        self._changes: dict = {}

    def rows(self, formula: Formula, ms: Sequence[Measured]) -> list[Scored]:
        out = []
        for m in ms:
            key = (formula, m.key)
            if key not in self._scored:
                self._scored[key] = scored(formula, [m])[0]
            out.append(self._scored[key])
        return out

    def changes(self, formula: Formula, ps: Sequence[Pair]) -> list[tuple[Pair, tuple[float, float]]]:
        out = []
        for p in ps:
            key = (formula, p.baseline.model.key, p.candidate.model.key)
            if key not in self._changes:
                self._changes[key] = p.change()[1]
            out.append((p, self._changes[key]))
        return out

    def choose(self, ms: Sequence[Measured]) -> Choice:
        """Formula, floor, fit guard and regression limit, each chosen on ``ms`` only."""
        return self.choose_among(ms, self.formulas)

    def choose_among(self, ms: Sequence[Measured], fs: Sequence[Formula]) -> Choice:
        formula = rank_formulas(ms, fs)[0][0]
        rows = self.rows(formula, ms)
        floor = choose_floor(rows)
        fit_guard = choose_fit_guard(rows, floor)
        drop_from, max_drop = self.choose_regression(formula, ms)
        clean_scores = [r.score for r in rows if r.model.regime == "noise" and clean(r.model)]
        typical = float(np.median(clean_scores)) if clean_scores else math.nan  # no clean model: no typical one
        return Choice(formula, floor, fit_guard, max_drop, typical - floor, drop_from)

    def choose_regression(self, formula: Formula, ms: Sequence[Measured]) -> tuple[float | None, float]:
        """The ranks a baseline comparison reads, and its limit (a share of the baseline's score).

        Each lowest rank of the mixed grid is tried: the one whose limit
        (:func:`_choose_drop`) decides the most retrains and p >= 0.2 regressions
        right with none wrong, then leaves the widest margin, then reads more ranks.
        The limit stays a share of the baseline's score, the form ``max_score_drop``
        has always had (a limit in score units decided the held-out families alike).
        """
        lowest: list[float | None] = [None]
        if any(check.startswith("mixed") for check, _ in formula.parts):
            lowest = [None, *MIXED_RANKS[1:-1]]
        best = None
        for low in lowest:
            changes = self.changes(from_rank(formula, low), pairs(self.rows(from_rank(formula, low), ms)))
            max_drop, margin = _choose_drop(changes)
            key = (_drop_goodness(changes, max_drop), margin, -(low or 0.0))
            if best is None or key > best[0]:
                best = (key, low, max_drop)
        return best[1], best[2]


def _choose_drop(changes) -> tuple[float, float]:
    """The middle of the limits that pass no retrain's certain fall and catch every p >= 0.2 regression.

    A comparison fails when its whole interval of change is below ``-limit``: the
    limit must exceed every retrain's certain fall (minus its upper bound) and
    stay below every regression's. Returns the limit and its relative margin
    (the room on either side over the limit); without room, the fewest errors.
    """
    def fall(p, ci):  # the certain fall: minus the upper bound of the change, relative to the baseline's score
        return -ci[1] / p.baseline.score

    retrains = [fall(p, ci) for p, ci in changes if p.kind == "retrain"]
    regressions = [fall(p, ci) for p, ci in changes if p.kind != "retrain" and p.candidate.model.p >= REGRESSION_P]
    low, high = max(retrains, default=0.0), min(regressions, default=1.0)
    if low < high:
        middle = (low + high) / 2
        return float(middle), float((high - low) / 2 / middle) if middle > 0 else 0.0
    grid = np.round(np.arange(0.0025, 0.6, 0.0025), 4)
    goodness = np.array([_drop_goodness(changes, d) for d in grid])
    return _plateau_middle(grid, goodness), 0.0


# --------------------------------------------------------------------------- held-out judgement


def verdict(row: Scored, floor: float, fit_guard: float) -> str:
    """What the default gate (no baseline) says about one model: a guard or the floor's verdict."""
    m = row.model
    outputs, n = len(m.record["test_accuracy_per_class"]), row.values.size
    if gate.at_chance(m.fit, outputs, n):
        return "at chance"
    if m.fit < fit_guard:
        return "underfit"
    return side(row.ci, floor)


def judge_regressions(changes, choice: Choice) -> dict[str, dict[str, int]]:
    """Verdict counts per comparison kind ("retrain", "p=0.2", ...)."""
    out: dict[str, dict[str, int]] = {}
    for p, ci in changes:
        counts = out.setdefault(p.kind, {"pass": 0, "inconclusive": 0, "fail": 0})
        counts[side(ci, -tolerated_fall(p, choice.max_drop))] += 1
    return out


def held_out(cal: Calibration) -> dict:
    """Every rule chosen without a family and judged on it; pooled where a figure pools families."""
    folds, scores = [], {}
    for family, test, train in leave_one_out(cal.models):
        choice = cal.choose(train)
        rows = cal.rows(choice.formula, test)
        verdicts = {r.model.key: verdict(r, choice.floor, choice.fit_guard) for r in rows}
        for r in rows:
            scores[r.model.key] = r.score
        folds.append(
            {
                "family": family,
                "choice": choice.to_dict(),
                "floor": judge_floor(family, rows, choice.floor, choice.fit_guard).__dict__,
                "regressions": judge_regressions(cal.changes(choice.regression, pairs(cal.rows(choice.regression, test))), choice),
                "verdicts": verdicts,
                # clean models, and noisy ones that fit fewer than half of their wrong labels: never to fail
                "innocent_failed": sum(verdicts[r.model.key] == "fail" for r in rows if innocent(r.model)),
                "innocent": sum(innocent(r.model) for r in rows),
            }
        )
    ms = cal.models
    by_key = {m.key: m for m in ms}

    def rho(group: list[Measured]) -> float:
        return spearman([scores[m.key] for m in group], [m.test_error for m in group])

    def counted(group: list[Measured]) -> float:  # the reference: how the memorized labels themselves rank
        return spearman([m.memorized_share for m in group], [m.test_error for m in group])

    return {
        "folds": folds,
        "spearman": {
            "noise": rho(noise_final(ms)),
            "fitted": rho(fitted(ms)),
            "all": rho(list(ms)),
            "by_family": {f: rho(noise_final(g)) for f, g in group_by(ms, lambda m: m.family).items()},
        },
        "memorized_share_spearman": {"noise": counted(noise_final(ms)), "all": counted(list(ms))},
        "scores": scores,
        "models": len(by_key),
    }


# --------------------------------------------------------------------------- summary for the report


def _table_by(ms: Sequence[Measured], key: Callable[[Measured], tuple], value: Callable[[Measured], float]) -> list[dict]:
    rows = []
    for k, group in sorted(group_by(ms, key).items()):
        v = np.array([value(m) for m in group])
        rows.append({"key": list(k), "n": len(group), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0})
    return rows


def sensitivity(cal: Calibration, choice: Choice, sizes: Sequence[int] = (10, 20, 30, 50)) -> list[dict]:
    """How the interval and the detectable changes shrink with samples_per_class (subsampled draws)."""
    rows = cal.rows(choice.formula, noise_final(cal.models))
    compared = cal.rows(choice.regression, noise_final(cal.models))
    out = []
    for n in sizes:
        halves, drops = [], []
        for r in rows:
            v = r.values[:, :n]
            lo, hi = stats.bootstrap_ci(v, seed=0)
            halves.append((hi - lo) / 2)
        for p in pairs(compared):
            if p.kind != "retrain":
                continue
            b, c = p.baseline.values[:, :n], p.candidate.values[:, :n]
            _, (lo, hi) = stats.difference_ci(c, b, pairing=p.pairing, candidate_ci=(0, 0), baseline_ci=(0, 0))
            drops.append(((hi - lo) / 2, tolerated_fall(p, choice.max_drop) + (hi - lo) / 2))
        out.append({
            "samples_per_class": n,
            "score_half_width": float(np.median(halves)),
            "retrain_change_half_width": float(np.median([d[0] for d in drops])) if drops else math.nan,
            "detectable_drop": float(np.median([d[1] for d in drops])) if drops else math.nan,
        })
    return out


def summarize(ms: Sequence[Measured]) -> dict:
    """Everything docs/validation.md shows, computed from the records: held-out first."""
    relu = [m for m in ms if m.activation == "relu"]
    other = [m for m in ms if m.activation != "relu"]
    cal = Calibration(relu)
    final = cal.choose(relu)
    ho = held_out(cal)
    ranking = rank_formulas(relu, cal.formulas)
    final_rows = {r.model.key: r for r in cal.rows(final.formula, relu)}
    summary = {
        "models": len(ms),
        "families": {
            f: {
                "dataset": g[0].dataset, "kind": g[0].kind, "activation": g[0].activation, "models": len(g),
                "clean_test_error": float(np.mean([m.test_error for m in g if m.regime == "noise" and m.p == 0] or [math.nan])),
            }
            for f, g in sorted(group_by(ms, lambda m: m.family).items())
        },
        "final": final.to_dict(),
        "held_out": {k: v for k, v in ho.items() if k != "scores"},
        "ranking": [
            {"formula": f.name, "spearman_noise": q.spearman_noise, "spearman_all": q.spearman_all, "separation": q.separation}
            for f, q in ranking[:12]
        ],
        "score_by_family_p": _table_by(noise_final(relu), lambda m: (m.family, m.p), lambda m: ho["scores"][m.key]),
        "auc_by_family_p": _table_by(noise_final(ms), lambda m: (m.family, m.p), lambda m: m.record["checks"].get("nmf", m.record["checks"]["pca"])["auc"]),
        "test_error_by_family_p": _table_by(noise_final(ms), lambda m: (m.family, m.p), lambda m: m.test_error),
        "sensitivity": sensitivity(cal, final),
        "paper_checks": paper_checks(ms),
        "models_table": [
            {
                "key": m.key, "family": m.family, "regime": m.regime, "p": m.p, "seed": m.seed, "size": m.size,
                "regularizer": m.regularizer, "epoch": m.epoch, "epoch_tag": m.epoch_tag, "fit": m.fit,
                "memorized": m.memorized, "test_error": m.test_error, "auc": m.record["checks"]["nmf"]["auc"],
                "held_out_score": ho["scores"][m.key], "score": final_rows[m.key].score, "score_ci": list(final_rows[m.key].ci),
                "held_out_verdict": next(f["verdicts"][m.key] for f in ho["folds"] if f["family"] == m.family),
            }
            for m in relu
        ],
    }
    if other:
        summary["other_activations"] = non_relu(other, cal, final)
    return summary


def paper_checks(ms: Sequence[Measured]) -> list[dict]:
    """Per family: Spearman of the paper's single-class AuCs (NMF, PCA, random ablation) with p, label-noise models."""
    rows = []
    for family, g in sorted(group_by(noise_final(ms), lambda m: m.family).items()):
        row = {"family": family}
        for check in ("nmf", "pca", "random"):
            if all(m.has(check) for m in g):
                row[check] = spearman([m.record["checks"][check]["auc"] for m in g], [m.p for m in g])
        rows.append(row)
    return rows


def non_relu(ms: Sequence[Measured], cal: Calibration, final: Choice) -> dict:
    """GELU families, never used for calibration: does PCA track label noise, and do the ReLU rules hold?"""
    pca_only = [f for f in cal.formulas if all(not c.startswith("nmf") and "nmf" not in c for c, _ in f.parts)]
    choice = final if final.formula in pca_only else cal.choose_among(cal.models, pca_only)
    rows = scored(choice.formula, ms)
    compared = group_by(scored(choice.regression, ms), lambda r: r.model.family)
    out = {"choice": choice.to_dict(), "families": {}}
    for family, g in group_by(rows, lambda r: r.model.family).items():
        noise = [r for r in g if r.model.regime == "noise"]
        out["families"][family] = {
            "spearman_pca_auc_p": spearman([r.model.record["checks"]["pca"]["auc"] for r in noise], [r.model.p for r in noise]),
            "spearman_score_test_error": spearman([r.score for r in noise], [r.model.test_error for r in noise]),
            "floor": judge_floor(family, g, choice.floor, choice.fit_guard).__dict__,
            "regressions": judge_regressions([(p, p.change()[1]) for p in pairs(compared[family])], choice),
            "score_by_p": _table_by([r.model for r in noise], lambda m: (m.p,), lambda m: choice.formula.score(m)),
        }
    return out
