"""PNG plots of gated models and of early stopping (matplotlib: the ``plot`` extra).

The validation study draws its own figures (:mod:`pytest_memcheck.study.plots`) with the helpers here.

matplotlib is imported inside the functions, so that the package works without
it; asking for a plot without it raises an ImportError that says what to install.
Figures are drawn small (low dpi) to keep committed images light.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from statistics import NormalDist
from typing import Any, Sequence

import numpy as np

from .baseline import atomic_write
from .errors import MemcheckError

Record = dict[str, Any]
DPI = 72
#: The PNG "Software" entry of every gate plot: a file there without it is the user's, never replaced.
MARK = b"Software\x00pytest-memcheck"


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'pytest-memcheck[plot]'") from exc
    return plt


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path


def early_stopping(history: list[Record], test_error: Sequence[float], path: Path, stopped: int | None, best_test: int) -> Path:
    """Monitor AuC (raw and smoothed) and test error per epoch, with the stop and the test-error minimum (paper fig. 6)."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(epochs, [h["auc"] for h in history], color="tab:green", alpha=0.4, label="NMF AuC")
    smoothed = [(h["epoch"], h["smoothed"]) for h in history if h["smoothed"] is not None]
    ax.plot(*zip(*smoothed), color="tab:green", label="NMF AuC, smoothed")
    ax.set_xlabel("epoch", fontsize=8)
    ax.set_ylabel("AuC", fontsize=8)
    err = ax.twinx()
    err.plot(epochs, test_error, color="tab:blue", label="test error")
    err.set_ylabel("test error", fontsize=8)
    err.axvline(best_test, color="tab:blue", ls="--", lw=1)
    if stopped is not None:
        ax.axvline(stopped, color="tab:green", ls="--", lw=1)
    lines = ax.get_legend_handles_labels()[0] + err.get_legend_handles_labels()[0]
    ax.legend(lines, [l.get_label() for l in lines], fontsize=7, loc="center right")
    return _save(fig, path)


def band(group_curves: Sequence[Sequence[float]], samples_per_group: int, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Each k's accuracy interval, stratified like the gate's own interval (classes fixed, samples drawn).

    ``group_curves[g][k]`` is group ``g``'s accuracy at k over ``samples_per_group``
    samples; the mean's variance is the sum of the groups' binomial variances.
    """
    acc = np.asarray(group_curves, dtype=float)  # (groups, K)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    mean = acc.mean(axis=0)
    half = z * np.sqrt((acc * (1 - acc)).sum(axis=0) / max(samples_per_group, 1)) / acc.shape[0]
    return np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1)


def _panel(ax, curve: Record, groups: Sequence[Sequence[float]], per_group: int, confidence: float, label: str,
           baseline: Record | None, floor: float | None, floor_label: str) -> None:
    ks = np.array([float(k) for k in curve])
    accuracy = np.array([float(v) for v in curve.values()])
    if groups:
        ax.fill_between(ks, *band(groups, per_group, confidence), color="tab:blue", alpha=0.2, label=f"{100 * confidence:g}% interval")
    ax.plot(ks, accuracy, marker="o", color="tab:blue", label=label)
    if baseline:
        ax.plot([float(k) for k in baseline], list(baseline.values()), marker=".", ls="--", color="tab:gray", label="baseline")
    if floor is not None:
        ax.axhline(floor, color="tab:red", ls="-.", lw=1, label=floor_label)
    ax.set_xscale("log")
    ax.set_xticks(ks, [f"{k:g}" for k in ks])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="lower right")


def check_plot_path(path: Path, option: str) -> None:
    """Refuse a gate plot path that is not a .png, or where something memcheck did not draw lives."""
    from .files import RefusedFile, open_regular

    if path.suffix.lower() != ".png":
        raise MemcheckError(f"{option} {path} must end in .png: the curves are drawn as PNG images")
    if not os.path.lexists(path):
        return
    refuse = f"{option} {path} would replace a file that is not a memcheck plot"
    try:
        with open_regular(path, limit=64 * 2**20) as fh:
            head = fh.read(4096)  # the mark sits before the image data
    except (RefusedFile, OSError) as exc:
        raise MemcheckError(f"{refuse} ({exc}); choose another path") from exc
    if MARK not in head:
        raise MemcheckError(f"{refuse}; choose another path, or delete it")


def gate_curve(outcome: Record, path: Path, baseline: Record | None = None) -> Path:
    """One gate's curves: the paper's single-class check and, when measured, the score's mixed batches.

    Each panel has its interval band (per k, stratified like the gate's
    interval), the baseline's curve and the floor that applies to the mean over
    k. ``outcome`` is an outcome's dictionary (``Outcome.to_dict()``, as in the
    JSON report) and ``baseline`` a result's (``CheckResult.to_dict()``).
    """
    plt = _pyplot()
    result = outcome["result"]
    confidence = float(result["settings"].get("confidence", 0.95))
    per_group = int(result["settings"].get("samples_per_class") or 1)
    panels = 2 if result.get("score_curve") else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels + 1, 3.8), squeeze=False)
    lo, hi = result["auc_ci"]
    left = axes[0][0]
    _panel(left, result["curve"], result.get("group_curves") or [], per_group, confidence,
           f"AuC {result['auc']:.3f} ({lo:.3f}-{hi:.3f})", (baseline or {}).get("curve"), outcome.get("min_auc"), "min_auc")
    left.axhline(result["base_accuracy"], color="black", ls=":", lw=1)
    left.set_xlabel("kept fraction of units" if result["method"] == "random" else "rank k", fontsize=9)
    left.set_ylabel("accuracy on the check's batches", fontsize=9)
    left.set_title(f"single-class batches ({result['method']})", fontsize=9)
    if panels == 2:
        right = axes[0][1]
        slo, shi = result["score_ci"]
        _panel(right, result["score_curve"], result.get("score_group_curves") or [], per_group, confidence,
               f"score {result['score']:.3f} ({slo:.3f}-{shi:.3f})", (baseline or {}).get("score_curve"),
               outcome.get("min_score"), "min_score")
        right.set_xlabel("rank k (mixed batches)", fontsize=9)
        right.set_title("mixed batches (the score)", fontsize=9)
    fig.suptitle(f"{outcome['name']}: {outcome['status'].upper()}", fontsize=10)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=DPI, metadata={"Software": "pytest-memcheck"})
    plt.close(fig)
    atomic_write(path, png.getvalue())  # a reader of the folder never sees half an image
    return path


#: Baseline states in which the baseline file holds another result than the outcome's own.
_OTHER_BASELINE = ("compared", "mismatch", "kept")


def recorded_baseline(outcome: Record) -> Record | None:
    """The result stored in the outcome's baseline file, when it holds another result than the outcome's own."""
    from .baseline import BaselineStore
    from .errors import MemcheckError

    base = outcome["baseline"]
    if base["state"] not in _OTHER_BASELINE or not base["path"]:
        return None
    recorded = Path(base["path"])
    try:
        stored = BaselineStore(recorded.parent).load(recorded.stem)
    except MemcheckError:
        return None  # the gate already reported the unreadable file
    return None if stored is None else stored.result.to_dict()


def gate_curves(outcomes: Sequence[Record], folder: Path) -> list[str]:
    """``folder/<name>.png`` for every checked gate; returns the problems (unwritable folder, ...)."""
    from .baseline import BaselineStore

    problems = []
    for outcome in outcomes:
        if not outcome.get("result"):
            continue  # nothing was measured: no curve to draw
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = BaselineStore(folder).path(outcome["name"]).with_suffix(".png")
            check_plot_path(path, "--memcheck-plots")
            gate_curve(outcome, path, recorded_baseline(outcome))
        except MemcheckError as exc:
            problems.append(f"the curve of {outcome['name']!r} was not drawn: {exc}")
        except OSError as exc:
            reason = "it is not a folder" if folder.exists() and not folder.is_dir() else exc.strerror or exc
            problems.append(f"could not write the curve of {outcome['name']!r} into {folder}: {reason}")
    return problems
