"""The study's figures, drawn from its summary (held-out scores): docs/validation.md shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..plots import _pyplot, _save
from .analysis import group_by


def _finish(fig, ax, path: Path, xlabel: str, ylabel: str, columns: int = 2) -> Path:
    """Label the axes and the legend in the study's sizes, and save the figure."""
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=6, ncol=columns)
    return _save(fig, path)


def score_vs_error(summary: dict[str, Any], path: Path) -> Path:
    """Held-out score against clean test error: label-noise models by family, other regimes in grey."""
    plt = _pyplot()
    models = summary["models_table"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    others = [m for m in models if m["regime"] != "noise"]
    ax.scatter([m["test_error"] for m in others], [m["held_out_score"] for m in others], s=6, color="lightgray",
               label="size, regularization, checkpoints")
    for family, ms in sorted(group_by([m for m in models if m["regime"] == "noise"], lambda m: m["family"]).items()):
        ax.scatter([m["test_error"] for m in ms], [m["held_out_score"] for m in ms], s=12, label=family)
    ax.axhline(summary["final"]["min_score"], color="tab:red", ls="-.", lw=1, label="min_score (shipped)")
    return _finish(fig, ax, path, "clean test error", "score, rules chosen without the family")


def score_by_p(summary: dict[str, Any], path: Path) -> Path:
    """Held-out score against label noise p, one line per family (mean over seeds), and the shipped floor."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for family, rows in sorted(group_by(summary["score_by_family_p"], lambda r: r["key"][0]).items()):
        rows = sorted(rows, key=lambda r: r["key"][1])
        ax.errorbar([r["key"][1] for r in rows], [r["mean"] for r in rows], yerr=[r["sd"] for r in rows],
                    marker="o", ms=3, lw=1, capsize=2, label=family)
    ax.axhline(summary["final"]["min_score"], color="tab:red", ls="-.", lw=1, label="min_score")
    ax.set_xscale("symlog", linthresh=0.05)
    ax.set_xticks([0, 0.05, 0.1, 0.2, 0.4, 1], ["0", ".05", ".1", ".2", ".4", "1"])
    return _finish(fig, ax, path, "label noise p", "score (held out)")


def checkpoints(summary: dict[str, Any], path: Path) -> Path:
    """Score against the fitted share of the checked samples along training (p = 0 and p = 0.4 runs)."""
    plt = _pyplot()
    models = [m for m in summary["models_table"] if m["regime"] == "checkpoint" or (m["regime"] == "noise" and m["seed"] == 0 and m["p"] in (0.0, 0.4))]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for p, marker, color in ((0.0, "o", "tab:green"), (0.4, "x", "tab:red")):
        ms = [m for m in models if m["p"] == p]
        ax.scatter([m["fit"] for m in ms], [m["held_out_score"] for m in ms], s=14, marker=marker, color=color,
                   label=f"p = {p:g}, from epoch 1 to 3x the epochs to fit")
    ax.axvline(summary["final"]["min_fit"], color="black", ls=":", lw=1, label="min_fit: below, 'underfit'")
    ax.axhline(summary["final"]["min_score"], color="tab:red", ls="-.", lw=1, label="min_score")
    return _finish(fig, ax, path, "fraction of the checked training samples the model fits", "score (held out)", columns=1)


def study_plots(summary: dict[str, Any], out: Path) -> list[Path]:
    return [
        score_vs_error(summary, out / "score_vs_error.png"),
        score_by_p(summary, out / "score_by_p.png"),
        checkpoints(summary, out / "checkpoints.png"),
    ]
