"""PNG plots of gated models, of the validation study and of early stopping (matplotlib: the ``plot`` extra).

matplotlib is imported inside the functions, so that the package works without
it; asking for a plot without it raises an ImportError that says what to install.
Figures are drawn small (low dpi) to keep committed images light.
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist
from typing import Any, Sequence

import numpy as np

Record = dict[str, Any]
DPI = 72


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'pytest-memcheck[plot]'") from exc
    return plt


def _p_colors(ps: Sequence[float]) -> dict[float, Any]:
    """One colour per noise level, dark (clean) to light (random labels)."""
    plt = _pyplot()
    cmap = plt.get_cmap("viridis")
    return {p: cmap(i / max(len(ps) - 1, 1)) for i, p in enumerate(ps)}


def _by(records: list[Record], key: str) -> dict[Any, list[Record]]:
    out: dict[Any, list[Record]] = {}
    for r in records:
        out.setdefault(r[key], []).append(r)
    return dict(sorted(out.items()))


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path


def curves(records: list[Record], path: Path, checks: Sequence[str] = ("nmf", "pca", "random", "multi")) -> Path:
    """k-vs-accuracy curves (mean over seeds) per p: a row per family, a column per check (paper fig. 3)."""
    plt = _pyplot()
    families = _by(records, "family")
    colors = _p_colors(sorted({r["p"] for r in records}))
    fig, axes = plt.subplots(len(families), len(checks), figsize=(2.6 * len(checks), 2.2 * len(families)), squeeze=False)
    for row, (family, rs) in zip(axes, families.items()):
        for ax, name in zip(row, checks):
            for p, group in _by(rs, "p").items():
                ks = list(group[0]["checks"][name]["curve"])
                acc = np.mean([[g["checks"][name]["curve"][k] for k in ks] for g in group], axis=0)
                ax.plot([float(k) for k in ks], acc, marker=".", color=colors[p], label=f"p={p:g}")
            ax.set_xscale("log")
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{family}: {name}", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=6)
    for ax in axes[-1]:
        ax.set_xlabel("k (random: kept fraction)", fontsize=7)
    return _save(fig, path)


def layer_aucs(records: list[Record], path: Path) -> Path:
    """NMF AuC of each ReLU layer compressed alone, mean over seeds, a line per p (paper fig. 2c)."""
    plt = _pyplot()
    families = {f: [r for r in rs if "layerwise" in r] for f, rs in _by(records, "family").items()}
    families = {f: rs for f, rs in families.items() if rs}
    colors = _p_colors(sorted({r["p"] for r in records}))
    fig, axes = plt.subplots(1, len(families), figsize=(3 * len(families), 2.6), squeeze=False)
    for ax, (family, rs) in zip(axes[0], families.items()):
        for p, group in _by(rs, "p").items():
            layers = list(group[0]["layerwise"])
            ax.plot(range(len(layers)), np.mean([[g["layerwise"][k] for k in layers] for g in group], axis=0),
                    marker="o", color=colors[p], label=f"p={p:g}")
            ax.set_xticks(range(len(layers)), layers, fontsize=7)
        ax.set_ylim(0, 1.02)
        ax.set_title(family, fontsize=8)
        ax.set_xlabel("ReLU module (input -> output)", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("NMF AuC, layer alone", fontsize=7)
    axes[0][0].legend(fontsize=6)
    return _save(fig, path)


def scatter(records: list[Record], path: Path, values: dict[str, Any]) -> Path:
    """Each of ``values`` (name -> record -> number) against test error, coloured by family (paper fig. 5)."""
    plt = _pyplot()
    families = _by(records, "family")
    fig, axes = plt.subplots(1, len(values), figsize=(2.6 * len(values), 2.5), squeeze=False)
    for ax, (name, fn) in zip(axes[0], values.items()):
        for family, rs in families.items():
            ax.scatter([r["test_error"] for r in rs], [fn(r) for r in rs], s=10, label=family)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("test error", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=6)
    return _save(fig, path)


def study_plots(records: list[Record], out: Path) -> list[Path]:
    """All study figures into ``out``: curves.png, layerwise.png, auc_vs_error.png."""
    from .study import CHECKS, SCORE_CANDIDATES, SHIPPED

    values = {m: (lambda r, m=m: r["checks"][m]["auc"]) for m in CHECKS}
    values[f"score ({SHIPPED})"] = SCORE_CANDIDATES[SHIPPED]
    return [
        curves(records, out / "curves.png"),
        layer_aucs(records, out / "layerwise.png"),
        scatter(records, out / "auc_vs_error.png", values),
    ]


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


def _interval(result: Record, accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each k's accuracy interval: Wilson's score interval on the effective number of samples.

    A result keeps each sample's accuracy averaged over the k grid, not per k, so
    a per-k bootstrap cannot be redone from it. Samples of one class batch are
    not independent, so their count is discounted by the design effect that the
    AuC's own two-level bootstrap interval shows next to an independent-samples
    interval of the same per-sample values: the band is as honest about classes
    as the gate's interval is.
    """
    samples = np.asarray(result["samples"], dtype=float)
    z = NormalDist().inv_cdf(0.5 + float(result["settings"].get("confidence", 0.95)) / 2)
    n = samples.size
    independent = z * samples.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0
    lo, hi = result["auc_ci"]
    design_effect = max(1.0, ((hi - lo) / 2 / independent) ** 2) if independent > 0 else 1.0
    n_eff = n / design_effect
    centre = (accuracy + z**2 / (2 * n_eff)) / (1 + z**2 / n_eff)
    half = z * np.sqrt(accuracy * (1 - accuracy) / n_eff + z**2 / (4 * n_eff**2)) / (1 + z**2 / n_eff)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def gate_curve(outcome: Record, path: Path, baseline: Record | None = None) -> Path:
    """One gate's k-vs-accuracy curve with its interval band, the baseline's curve and the floor.

    ``outcome`` is an outcome's dictionary (``Outcome.to_dict()``, as in the JSON
    report) and ``baseline`` a result's (``CheckResult.to_dict()``).
    """
    plt = _pyplot()
    result = outcome["result"]
    ks = np.array([float(k) for k in result["curve"]])
    accuracy = np.array([float(v) for v in result["curve"].values()])
    level = 100 * float(result["settings"].get("confidence", 0.95))
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.fill_between(ks, *_interval(result, accuracy), color="tab:blue", alpha=0.2, label=f"{level:g}% interval")
    ax.plot(ks, accuracy, marker="o", color="tab:blue", label=f"this model (AuC {result['auc']:.3f})")
    if baseline is not None:
        ax.plot([float(k) for k in baseline["curve"]], list(baseline["curve"].values()), marker=".", ls="--",
                color="tab:gray", label=f"baseline (AuC {baseline['auc']:.3f})")
    ax.axhline(result["base_accuracy"], color="black", ls=":", lw=1, label="uncompressed accuracy")
    if outcome.get("min_auc") is not None:
        ax.axhline(outcome["min_auc"], color="tab:red", ls="-.", lw=1, label="min_auc (floor of the mean over k)")
    ax.set_xscale("log")
    ax.set_xticks(ks, [f"{k:g}" for k in ks])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("kept fraction of units" if result["method"] == "random" else "rank k", fontsize=9)
    ax.set_ylabel("accuracy on the check's batches", fontsize=9)
    lo, hi = result["auc_ci"]
    ax.set_title(f"{outcome['name']}: {outcome['status'].upper()}, {result['method']} AuC {result['auc']:.3f} "
                 f"({lo:.3f}-{hi:.3f})", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


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
            gate_curve(outcome, path, recorded_baseline(outcome))
        except OSError as exc:
            problems.append(f"could not write the curve of {outcome['name']!r} into {folder}: {exc.strerror or exc}")
    return problems
