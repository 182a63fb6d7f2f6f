"""The study's tables as Markdown: what ``memcheck study`` prints and docs/validation.md shows.

Everything comes from the summary that :func:`calibrate.summarize` computes from
the records; held-out figures (each family judged by rules chosen without it)
come first.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from .analysis import group_by

VERDICTS = ("pass", "inconclusive", "fail", "underfit", "at chance")


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str], formats: dict[str, str] | None = None) -> str:
    formats = formats or {}

    def cell(row: dict[str, Any], c: str) -> str:
        v = row.get(c, "")
        if isinstance(v, float):
            return "-" if math.isnan(v) else format(v, formats.get(c, ".3f"))
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _group_label(m: dict[str, Any]) -> str | None:
    """The row of the regime table a model belongs to."""
    if m["regime"] == "noise":
        return "clean labels" if m["p"] == 0 else ("memorizing (p >= 0.4)" if m["p"] >= 0.4 else f"label noise p = {m['p']:g}")
    if m["regime"] == "size":
        return f"clean, {m['size']} training samples per class"
    if m["regime"] == "regularized":
        return f"{m['regularizer'].replace('_', ' ')}, p = {m['p']:g}"
    if m["epoch_tag"] == "overtrained":
        return f"overtrained (3x the epochs to fit), p = {m['p']:g}"
    return f"checkpoints before the fit, p = {m['p']:g}"


def regime_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Held-out verdicts of the default gate (no baseline), counted per regime."""
    rows = []
    for label, ms in group_by(summary["models_table"], _group_label).items():
        counts = {v: sum(m["held_out_verdict"] == v for m in ms) for v in VERDICTS}
        rows.append(
            {
                "models": label,
                "n": len(ms),
                "test error": _range([m["test_error"] for m in ms]),
                "fit": _range([m["fit"] for m in ms]),
                "score": _range([m["held_out_score"] for m in ms]),
                **{v: counts[v] for v in VERDICTS},
            }
        )
    return sorted(rows, key=lambda r: _ORDER(r["models"]))


def _ORDER(label: str) -> tuple:
    keys = ["clean labels", "label noise", "memorizing", "clean,", "weight", "dropout", "augment", "checkpoints", "overtrained"]
    return (next((i for i, k in enumerate(keys) if label.startswith(k)), len(keys)), label)


def _range(values: list[float]) -> str:
    v = [x for x in values if not math.isnan(x)]
    return f"{min(v):.2f}-{max(v):.2f}" if v else "-"


def regression_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Held-out verdicts of the default regression gate (clean baseline of the same seed), per comparison."""
    totals: dict[str, dict[str, int]] = {}
    for fold in summary["held_out"]["folds"]:
        for kind, counts in fold["regressions"].items():
            t = totals.setdefault(kind, {"pass": 0, "inconclusive": 0, "fail": 0})
            for k, v in counts.items():
                t[k] += v
    order = lambda k: (k != "retrain", float(k.split("=")[1]) if "=" in k else 0.0)  # noqa: E731
    return [
        {"candidate vs clean baseline": "retrain with another seed" if k == "retrain" else f"trained with {k}", **v}
        for k, v in sorted(totals.items(), key=lambda kv: order(kv[0]))
    ]


def _rank(choice: dict[str, Any]) -> str:
    """The lowest rank a baseline comparison reads ("all": every rank of the grid)."""
    return "all" if choice.get("drop_from_rank") is None else f"{choice['drop_from_rank']:g}"


def fold_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for f in summary["held_out"]["folds"]:
        fl, ch = f["floor"], f["choice"]
        p02 = f["regressions"].get("p=0.2", {})
        retrain = f["regressions"].get("retrain", {})
        rows.append(
            {
                "held-out family": f["family"],
                "score (chosen without it)": ch["formula"],
                "min_score": ch["min_score"],
                "min_fit": ch["min_fit"],
                "max_score_drop": ch["max_score_drop"],
                "fall read from rank": _rank(ch),
                "clean failed": f"{fl['clean_failed']}/{fl['clean']}",
                "p>=0.4 passed": f"{fl['memorizing_passed']}/{fl['memorizing']}",
                "decided": f"{fl['decided']}/{fl['clean'] + fl['memorizing']}",
                "p=0.2 caught": f"{p02.get('fail', 0)}/{sum(p02.values())}",
                "retrains passed": f"{retrain.get('pass', 0)}/{sum(retrain.values())}",
                "retrains failed": retrain.get("fail", 0),
                "innocent failed": f"{f['innocent_failed']}/{f['innocent']}",
            }
        )
    return rows


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's acceptance figures, held out."""
    ho = summary["held_out"]
    folds = ho["folds"]
    floor_errors = sum(f["floor"]["clean_failed"] + f["floor"]["memorizing_passed"] for f in folds)
    judged = sum(f["floor"]["clean"] + f["floor"]["memorizing"] for f in folds)
    decided = sum(f["floor"]["decided"] for f in folds)
    caught = [f["regressions"].get("p=0.2", {}) for f in folds]
    retrains = [f["regressions"].get("retrain", {}) for f in folds]
    retrain_total = sum(sum(r.values()) for r in retrains)
    retrain_pass = sum(r.get("pass", 0) for r in retrains)
    families_caught = sum(c.get("fail", 0) == sum(c.values()) > 0 for c in caught)
    rows = [
        ("Spearman(score, test error), label-noise models pooled", "<= -0.90", ho["spearman"]["noise"], ho["spearman"]["noise"] <= -0.9),
        ("Spearman(score, test error), every regime pooled", "<= -0.80", ho["spearman"]["all"], ho["spearman"]["all"] <= -0.8),
        ("default floor: clean failed + p >= 0.4 passed", "0", floor_errors, floor_errors == 0),
        ("default floor: decided (clean and p >= 0.4)", ">= 90%", decided / max(judged, 1), decided >= 0.9 * judged),
        ("regression gate: families where every p = 0.2 model failed", f"{len(folds)}/{len(folds)}", f"{families_caught}/{len(folds)}", families_caught == len(folds)),
        ("regression gate: retrains failed", "0", sum(r.get("fail", 0) for r in retrains), all(r.get("fail", 0) == 0 for r in retrains)),
        ("regression gate: retrains passed", ">= 90%", retrain_pass / max(retrain_total, 1), retrain_pass >= 0.9 * retrain_total),
        ("innocent models failed (clean, or fitting < half of their wrong labels)", "0", sum(f["innocent_failed"] for f in folds), all(f["innocent_failed"] == 0 for f in folds)),
    ]
    return [
        {"target": t, "needed": need, "held out": (f"{v:.3f}" if isinstance(v, float) else str(v)), "met": "yes" if ok else "**no**"}
        for t, need, v, ok in rows
    ]


def reference_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The score's ranking beside the memorized labels' own, counted (only the study knows them)."""
    ho = summary["held_out"]
    return [
        {"models": label, "score (held out)": ho["spearman"][key], "memorized share": ho["memorized_share_spearman"][key]}
        for label, key in (("label-noise models pooled", "noise"), ("every regime pooled", "all"))
    ]


def _by_family_p(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``mean ± sd`` cells, one row per family and a column per p."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        family, p = r["key"]
        out.setdefault(family, {"family": family})[f"p={p:g}"] = f"{r['mean']:.2f} ± {r['sd']:.2f}"
    return list(out.values())


def markdown(summary: dict[str, Any]) -> str:
    final = summary["final"]
    ps = sorted({r["key"][1] for r in summary["score_by_family_p"]})
    p_cols = [f"p={p:g}" for p in ps]
    parts = [
        f"{summary['models']} measured models, {len(summary['families'])} families.",
        "### Acceptance figures, each family judged by rules chosen without it",
        table(targets(summary), ["target", "needed", "held out", "met"]),
        "### Spearman with test error: the score beside the memorized labels counted",
        "The memorized share is the share of the checked samples that carry a randomized label and that the model fits:"
        " memorization counted, which only the study knows.",
        table(reference_rows(summary), ["models", "score (held out)", "memorized share"]),
        "### The default gate by regime (held out; no baseline)",
        table(regime_rows(summary), ["models", "n", "test error", "fit", "score", *VERDICTS]),
        "### The default regression gate (held out; baseline: the clean model of the same seed)",
        table(regression_rows(summary), ["candidate vs clean baseline", "pass", "inconclusive", "fail"]),
        "### Leave one family out: what was chosen without each family, and how it did on it",
        table(fold_rows(summary), list(fold_rows(summary)[0]) if summary["held_out"]["folds"] else []),
        "### Shipped: chosen on every family",
        table([{**final, "drop_from_rank": _rank(final)}], list(final)),
        "### Score (held out) per family and label noise p, mean ± sd over seeds",
        table(_by_family_p(summary["score_by_family_p"]), ["family", *p_cols]),
        "### Test error per family and p",
        table(_by_family_p(summary["test_error_by_family_p"]), ["family", *p_cols]),
        "### The paper's single-class NMF AuC per family and p (PCA for non-ReLU families)",
        table(_by_family_p(summary["auc_by_family_p"]), ["family", *p_cols]),
        "### The paper's single-class checks: Spearman of their AuC with p, per family",
        table(summary["paper_checks"], ["family", "nmf", "pca", "random"]),
        "### Score candidates on every family (in-sample), best first",
        table(summary["ranking"], ["formula", "spearman_noise", "spearman_all", "separation"]),
        "### Samples per class: interval half-width and smallest detectable fall (subsampled draws)",
        table(summary["sensitivity"], ["samples_per_class", "score_half_width", "retrain_change_half_width", "detectable_drop"]),
        "### Families",
        table(
            [{"family": k, **v} for k, v in summary["families"].items()],
            ["family", "dataset", "kind", "activation", "models", "clean_test_error"],
        ),
    ]
    if "intervals" in summary:
        parts += ["### Do the intervals cover the spread between draws? (8 draw seeds per model)", table(interval_rows(summary), ["family", "models", "score sd", "score half-width", "score: other draws inside", "AuC sd", "AuC half-width", "AuC: other draws inside"], {"score sd": ".4f", "AuC sd": ".4f", "score half-width": ".4f", "AuC half-width": ".4f", "score: other draws inside": ".2f", "AuC: other draws inside": ".2f"})]
    if "other_activations" in summary:
        parts += ["### Non-ReLU families (never used for calibration)", *_other(summary["other_activations"])]
    return "\n\n".join(parts) + "\n"


def interval_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per family: the spread of each quantity over draws, its interval's half-width, and how often another draw falls inside."""
    rows = []
    for family, ms in sorted(group_by(summary["intervals"], lambda r: r["family"]).items()):
        row: dict[str, Any] = {"family": family, "models": len(ms)}
        for key, word in (("score", "score"), ("auc", "AuC")):
            got = [m[key] for m in ms if key in m]
            if got:
                row[f"{word} sd"] = float(np.median([g["sd"] for g in got]))
                row[f"{word} half-width"] = float(np.median([g["half_width"] for g in got]))
                row[f"{word}: other draws inside"] = float(np.mean([g["other_draws_inside"] for g in got]))
        rows.append(row)
    return rows


def _other(o: dict[str, Any]) -> list[str]:
    rows = []
    for family, f in o["families"].items():
        fl = f["floor"]
        rows.append(
            {
                "family": family,
                "Spearman(PCA AuC, p)": f["spearman_pca_auc_p"],
                "Spearman(score, test error)": f["spearman_score_test_error"],
                "clean failed": f"{fl['clean_failed']}/{fl['clean']}",
                "p>=0.4 passed": f"{fl['memorizing_passed']}/{fl['memorizing']}",
                "p=0.2 caught": f"{f['regressions'].get('p=0.2', {}).get('fail', 0)}/{sum(f['regressions'].get('p=0.2', {}).values())}",
                "retrains failed": f["regressions"].get("retrain", {}).get("fail", 0),
            }
        )
    return [f"Rules: {o['choice']['formula']}, min_score {o['choice']['min_score']:.3f}.", table(rows, list(rows[0]))]


