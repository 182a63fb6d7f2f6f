"""The label-noise validation study (paper sections 4.1-4.2): train a zoo, check it, correlate.

A zoo is a grid of model families x label-noise levels p x seeds. Every model
is fitted to ~100% training accuracy on labels randomized with probability p,
so p controls how much it must memorize; its clean test error says how well it
generalizes. Each model is checked with single-class NMF, PCA and random
ablation, multi-class NMF, and NMF layer by layer. The study then asks whether
the AuC falls with p and rises with generalization, within a family and pooled
over families, and which normalization of the AuC ranks the pooled zoo best.

Records are plain dicts (JSON-ready), written one per line as models finish,
so that a long run can be analyzed or re-plotted without retraining.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from . import stats, zoo
from .engine import check, layerwise
from .result import CheckResult

Record = dict[str, Any]
#: The four checks run on every model: name -> check() keyword arguments.
CHECKS: dict[str, dict[str, str]] = {
    "nmf": {"method": "nmf"},
    "pca": {"method": "pca"},
    "random": {"method": "random"},
    "multi": {"method": "nmf", "batches": "multi"},
}


@dataclass(frozen=True)
class Family:
    """An architecture and its data set: how to get noisy data and a fresh model."""

    name: str
    data: Callable[[float, int], zoo.Split]
    build: Callable[[], nn.Module]
    fit_kwargs: dict[str, Any] = field(default_factory=dict)


FAMILIES: dict[str, Family] = {
    "digits_cnn": Family("digits_cnn", zoo.digits, zoo.digits_cnn),
    "digits_mlp": Family("digits_mlp", zoo.digits, zoo.mlp),
    "waves_cnn": Family("waves_cnn", zoo.waves, zoo.waves_cnn),
}


@dataclass(frozen=True)
class StudyConfig:
    """What to train and how to check it."""

    families: tuple[str, ...] = tuple(FAMILIES)
    ps: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    samples_per_class: int = 50
    ks: tuple[float, ...] | None = None  # None: each method's default grid
    layerwise: bool = True


FULL = StudyConfig()
#: Enough to see the trend on 2 cores in a few minutes: 3 families x 4 p x 1 seed.
QUICK = StudyConfig(ps=(0.0, 0.4, 0.8, 1.0), seeds=(0,))


# --------------------------------------------------------------------------- running


def train(family: Family, p: float, seed: int) -> tuple[nn.Module, zoo.Split, int]:
    """A model of ``family`` fitted (seeded) to labels randomized with ``p``."""
    split = family.data(p, seed)
    torch.manual_seed(seed)
    model = family.build()
    model, epochs = zoo.fit(model, split.x, split.y, seed=seed, **family.fit_kwargs)
    return model, split, epochs


def per_class_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[int, float]:
    """Clean test accuracy of each true class: what per-class AuC should predict (paper 6.3)."""
    with torch.no_grad():
        hit = (model(x).argmax(1) == y).float()
    return {int(c): float(hit[y == c].mean()) for c in y.unique()}


def summarize_check(result: CheckResult) -> Record:
    """The parts of a check the study keeps (not the per-sample outcomes)."""
    return {
        "auc": result.auc,
        "auc_ci": list(result.auc_ci),
        "saturated": result.saturated,
        "base_accuracy": result.base_accuracy,
        "curve": {f"{k:g}": v for k, v in result.curve.items()},
        "per_class": {str(c): v for c, v in result.per_class.items()},
    }


def _in_float64(run: Callable[..., Any], model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], **kwargs: Any) -> tuple[Any, bool]:
    """``run(model, data, **kwargs)``; again on a float64 copy if the solver fails in float32.

    The engine's Gram-matrix SVD (float32 ``eigh``) can fail to converge when a
    layer has many dead units (repeated zero eigenvalues); float64 does not, and
    one failure must not end a long study. Same samples, same method: only the
    precision differs, and the second value says it was needed.
    """
    try:
        return run(model, data, **kwargs), False
    except torch.linalg.LinAlgError:
        x, y = data
        return run(copy.deepcopy(model).double(), (x.double(), y), **kwargs), True


def measure(model: nn.Module, split: zoo.Split, config: StudyConfig, seed: int = 0) -> Record:
    """Every check of the study on one trained model."""
    common = {"samples_per_class": config.samples_per_class, "seed": seed}
    checks = {}
    for name, kwargs in CHECKS.items():
        ks = None if config.ks is None or kwargs["method"] == "random" else config.ks
        # score=False: the study computes the score from its own multi-class check
        result, wide = _in_float64(check, model, split.train, ks=ks, score=False, **kwargs, **common)
        checks[name] = {**summarize_check(result), "float64": wide}
    record: Record = {"checks": checks}
    if config.layerwise:
        layers, _ = _in_float64(layerwise, model, split.train, ks=config.ks, **common)
        record["layerwise"] = {label: r.auc for label, r in layers.items()}
    return record


def run_model(family: Family, p: float, seed: int, config: StudyConfig) -> Record:
    """Train one model of the zoo and measure it."""
    t0 = time.perf_counter()
    model, split, epochs = train(family, p, seed)
    trained_s = time.perf_counter() - t0
    record: Record = {
        "family": family.name,
        "p": p,
        "seed": seed,
        "epochs": epochs,
        "train_accuracy": zoo.accuracy(model, split.x, split.y),
        "test_error": 1.0 - zoo.accuracy(model, split.x_test, split.y_test),
        "test_accuracy_per_class": {str(c): a for c, a in per_class_accuracy(model, split.x_test, split.y_test).items()},
    }
    record.update(measure(model, split, config, seed=seed))
    record["seconds"] = {"train": trained_s, "total": time.perf_counter() - t0}
    return record


def run_zoo(
    config: StudyConfig,
    families: dict[str, Family] = FAMILIES,
    sink: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[Record]:
    """Train and measure every (family, p, seed) of ``config``; append each record to ``sink`` (JSON lines).

    Models already in ``sink`` are not trained again, so an interrupted run resumes.
    """
    done = {_key(r): r for r in load_records(sink)} if sink is not None and sink.exists() else {}
    records = []
    for name in config.families:
        for p in config.ps:
            for seed in config.seeds:
                if (name, p, seed) in done:
                    records.append(done[(name, p, seed)])
                    continue
                record = run_model(families[name], p, seed, config)
                records.append(record)
                log(_progress_line(record))
                if sink is not None:
                    with sink.open("a") as f:
                        f.write(json.dumps(record) + "\n")
    return records


def _key(r: Record) -> tuple[str, float, int]:
    return r["family"], r["p"], r["seed"]


def _progress_line(r: Record) -> str:
    aucs = " ".join(f"{m} {c['auc']:.3f}" for m, c in r["checks"].items())
    return (
        f"{r['family']:<10} p={r['p']:.1f} seed={r['seed']} epochs={r['epochs']:<3} "
        f"train={r['train_accuracy']:.3f} test_err={r['test_error']:.3f} | {aucs} | {r['seconds']['total']:.0f}s"
    )


def load_records(path: Path) -> list[Record]:
    """Records from a ``records.jsonl`` written by :func:`run_zoo`, or from a study folder.

    In a folder, ``records.jsonl`` (written as models finish, so a running or
    interrupted study can be looked at) is preferred over the final ``records.json``.
    """
    if path.is_dir():
        lines = path / "records.jsonl"
        return load_records(lines) if lines.exists() else json.loads((path / "records.json").read_text())
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- statistics


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson r; NaN when either side is constant (nothing to correlate)."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged, as Spearman's rho needs (no scipy dependency)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson r of the ranks."""
    return pearson(_ranks(np.asarray(x, float)), _ranks(np.asarray(y, float)))


def _mean_sd(values: Iterable[float]) -> tuple[float, float]:
    v = np.asarray(list(values), float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def _groups(records: list[Record]) -> dict[str, list[Record]]:
    """Records per family, plus all of them under ``"pooled"``."""
    out: dict[str, list[Record]] = {}
    for r in records:
        out.setdefault(r["family"], []).append(r)
    out["pooled"] = list(records)
    return out


def auc_table(records: list[Record]) -> list[Record]:
    """Mean and sd of each check's AuC (and the test error) per family and p."""
    rows = []
    cells: dict[tuple[str, float], list[Record]] = {}
    for r in records:
        cells.setdefault((r["family"], r["p"]), []).append(r)
    for (family, p), rs in sorted(cells.items()):
        row: Record = {"family": family, "p": p, "n": len(rs)}
        row["test_error"], row["test_error_sd"] = _mean_sd(r["test_error"] for r in rs)
        for m in CHECKS:
            row[m], row[f"{m}_sd"] = _mean_sd(r["checks"][m]["auc"] for r in rs)
        row["saturated"] = sum(_saturated(r["checks"]["nmf"]) for r in rs)
        rows.append(row)
    return rows


def _saturated(c: Record) -> bool:
    """The current saturation rule applied to a stored check (records may predate the rule)."""
    return stats.is_saturated(c["curve"], c["base_accuracy"])


def correlations(records: list[Record], value: Callable[[Record], float] | None = None) -> list[Record]:
    """Spearman(value, p) and Pearson(value, test error) per family and pooled, for each check's AuC.

    With ``value`` given, only that quantity is correlated (used to rank score candidates).
    """
    rows = []
    values = {"value": value} if value else {m: (lambda r, m=m: r["checks"][m]["auc"]) for m in CHECKS}
    for group, rs in _groups(records).items():
        for name, fn in values.items():
            v = [fn(r) for r in rs]
            rows.append(
                {
                    "group": group,
                    "method": name,
                    "spearman_p": spearman(v, [r["p"] for r in rs]),
                    "pearson_test_error": pearson(v, [r["test_error"] for r in rs]),
                    "spearman_test_error": spearman(v, [r["test_error"] for r in rs]),
                }
            )
    return rows


def per_class_table(records: list[Record], method: str = "nmf") -> list[Record]:
    """Within each model, Pearson r over classes of per-class AuC vs per-class test accuracy.

    Averaged per family and p. At p = 1 every class is at chance on the test set,
    so there is nothing to predict and r is noise.
    """
    cells: dict[tuple[str, float], list[float]] = {}
    for r in records:
        auc = r["checks"][method]["per_class"]
        acc = r["test_accuracy_per_class"]
        classes = sorted(set(auc) & set(acc), key=int)
        rho = pearson([auc[c] for c in classes], [acc[c] for c in classes])
        cells.setdefault((r["family"], r["p"]), []).append(rho)
    rows = []
    for (family, p), rs in sorted(cells.items()):
        finite = [x for x in rs if not math.isnan(x)]
        mean, sd = _mean_sd(finite) if finite else (math.nan, 0.0)
        rows.append({"family": family, "p": p, "r_mean": mean, "r_sd": sd, "positive": sum(x > 0 for x in finite), "n": len(rs)})
    return rows


# --------------------------------------------------------------------------- score candidates


def _chance(r: Record) -> float:
    return 1.0 / len(r["checks"]["nmf"]["per_class"])


def _ratio(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is not positive (a model at or below chance has no scale)."""
    return a / b if b > 0 else math.nan


#: Normalizations of the single-class NMF AuC studied for a cross-architecture score.
#: Each needs only what one model's checks measure (no reference model).
SCORE_CANDIDATES: dict[str, Callable[[Record], float]] = {
    "auc": lambda r: r["checks"]["nmf"]["auc"],
    "auc / base": lambda r: _ratio(r["checks"]["nmf"]["auc"], r["checks"]["nmf"]["base_accuracy"]),
    "above chance": lambda r: _ratio(r["checks"]["nmf"]["auc"] - _chance(r), r["checks"]["nmf"]["base_accuracy"] - _chance(r)),
    "multi auc": lambda r: r["checks"]["multi"]["auc"],
    "multi / base": lambda r: _ratio(r["checks"]["multi"]["auc"], r["checks"]["multi"]["base_accuracy"]),
    "auc - multi": lambda r: r["checks"]["nmf"]["auc"] - r["checks"]["multi"]["auc"],
    "multi / auc": lambda r: _ratio(r["checks"]["multi"]["auc"], r["checks"]["nmf"]["auc"]),
    "mean(auc, multi)": lambda r: (r["checks"]["nmf"]["auc"] + r["checks"]["multi"]["auc"]) / 2,
    "random auc": lambda r: r["checks"]["random"]["auc"],
}
#: The candidate shipped as ``CheckResult.score`` (:func:`stats.normalized_score` of the multi-class NMF check).
SHIPPED = "multi / base"


def rank_scores(records: list[Record], candidates: dict[str, Callable[[Record], float]] = SCORE_CANDIDATES) -> list[Record]:
    """How well each candidate ranks the pooled zoo, best first.

    Criteria: pooled Spearman with the test error (a gate thresholds one number
    across architectures, so ranks across families are what matter), pooled
    Spearman with p, and the worst within-family Spearman with p (the score must
    still order the models of one family).
    """
    rows = []
    for name, fn in candidates.items():
        table = {row["group"]: row for row in correlations(records, fn)}
        within = [row["spearman_p"] for g, row in table.items() if g != "pooled"]
        rows.append(
            {
                "score": name,
                "pooled_spearman_test_error": table["pooled"]["spearman_test_error"],
                "pooled_pearson_test_error": table["pooled"]["pearson_test_error"],
                "pooled_spearman_p": table["pooled"]["spearman_p"],
                "worst_family_spearman_p": max((x for x in within if not math.isnan(x)), default=math.nan),
            }
        )
    return sorted(rows, key=lambda row: _nan_last(row["pooled_spearman_test_error"]))


def _nan_last(x: float) -> float:
    return math.inf if math.isnan(x) else x


# --------------------------------------------------------------------------- report


def summarize(records: list[Record]) -> Record:
    """Everything the report shows, JSON-ready."""
    return {
        "models": len(records),
        "under_fitted": [
            f"{r['family']} p={r['p']} seed={r['seed']} ({r['train_accuracy']:.3f})" for r in records if r["train_accuracy"] < 0.99
        ],
        "auc_table": auc_table(records),
        "correlations": correlations(records),
        "per_class": per_class_table(records),
        "scores": rank_scores(records),
        "layerwise": layerwise_table(records),
    }


def layerwise_table(records: list[Record]) -> list[Record]:
    """Mean NMF AuC of each ReLU layer compressed alone, per family and p (paper fig. 2c)."""
    cells: dict[tuple[str, float], list[dict[str, float]]] = {}
    for r in records:
        if "layerwise" in r:
            cells.setdefault((r["family"], r["p"]), []).append(r["layerwise"])
    rows = []
    for (family, p), layers in sorted(cells.items()):
        rows.append({"family": family, "p": p, **{k: float(np.mean([l[k] for l in layers])) for k in layers[0]}})
    return rows


def _markdown(rows: list[Record], columns: list[str], fmt: dict[str, str] | None = None) -> str:
    fmt = fmt or {}

    def cell(row: Record, c: str) -> str:
        v = row.get(c, "")
        if isinstance(v, float):
            return format(v, fmt.get(c, ".3f"))
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _auc_rows(table: list[Record]) -> list[Record]:
    """``mean ± sd`` cells for the AuC table."""
    return [
        {
            "family": r["family"],
            "p": f"{r['p']:.1f}",
            "n": r["n"],
            "test err": f"{r['test_error']:.3f}",
            **{m: f"{r[m]:.3f} ± {r[f'{m}_sd']:.3f}" for m in CHECKS},
            "saturated (nmf)": f"{r['saturated']}/{r['n']}",
        }
        for r in table
    ]


def format_report(summary: Record) -> str:
    """The study's tables as Markdown (printed, and pasted into docs/validation.md)."""
    parts = [f"{summary['models']} models."]
    if summary["under_fitted"]:
        parts.append("Below 99% training accuracy: " + ", ".join(summary["under_fitted"]))
    parts += [
        "### AuC per family and p (mean ± sd over seeds)",
        _markdown(_auc_rows(summary["auc_table"]), ["family", "p", "n", "test err", *CHECKS, "saturated (nmf)"]),
        "### Correlations: Spearman(AuC, p), Pearson and Spearman(AuC, test error)",
        _markdown(summary["correlations"], ["group", "method", "spearman_p", "pearson_test_error", "spearman_test_error"]),
        "### Per-class: Pearson r over classes of per-class NMF AuC vs per-class test accuracy",
        _markdown(summary["per_class"], ["family", "p", "r_mean", "r_sd", "positive", "n"], {"p": ".1f"}),
        "### Layer by layer: NMF AuC of each ReLU layer compressed alone",
        *_layerwise_markdown(summary["layerwise"]),
        "### Score candidates, ranked by pooled Spearman with test error (more negative = better)",
        _markdown(
            summary["scores"],
            ["score", "pooled_spearman_test_error", "pooled_pearson_test_error", "pooled_spearman_p", "worst_family_spearman_p"],
        ),
    ]
    return "\n\n".join(parts) + "\n"


def _layerwise_markdown(rows: list[Record]) -> list[str]:
    """One table per family: its layers differ."""
    out = []
    for family in dict.fromkeys(r["family"] for r in rows):
        rs = [r for r in rows if r["family"] == family]
        layers = [k for k in rs[0] if k not in ("family", "p")]
        out.append(f"{family} (columns: ReLU module names)\n\n" + _markdown(rs, ["p", *layers], {"p": ".1f"}))
    return out


def write(out: Path, records: list[Record], summary: Record) -> list[Path]:
    """``records.json``, ``summary.json``, ``models.csv``, ``report.md`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "records.json": json.dumps(records, indent=1),
        "summary.json": json.dumps(summary, indent=1),
        "report.md": format_report(summary),
    }
    for name, text in files.items():
        (out / name).write_text(text)
    _write_csv(out / "models.csv", records)
    return [out / name for name in (*files, "models.csv")]


def _write_csv(path: Path, records: list[Record]) -> None:
    """One row per model: the numbers a spreadsheet needs."""
    columns = ["family", "p", "seed", "epochs", "train_accuracy", "test_error"]
    fields = ("auc", "base_accuracy", "saturated")
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns + [f"{m}_{k}" for m in CHECKS for k in fields] + ["score"])
        for r in records:
            checks = [r["checks"][m][k] for m in CHECKS for k in fields]
            w.writerow([r[c] for c in columns] + checks + [SCORE_CANDIDATES[SHIPPED](r)])


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's options, shared by ``memcheck study`` and ``examples/label_noise_study.py``."""
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="3 families x p in {0,.4,.8,1} x 1 seed (default)")
    size.add_argument("--full", action="store_true", help="3 families x 6 p x 3 seeds")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (overrides the setting)")
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=None)
    parser.add_argument("--out", type=Path, default=Path("study-out"), help="folder for JSON/CSV/report/plots")
    parser.add_argument("--resume", action="store_true", help="keep the models already in OUT/records.jsonl")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs (no matplotlib needed)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def config_from_args(args: argparse.Namespace) -> StudyConfig:
    config = FULL if args.full else QUICK
    if args.seeds:
        config = replace(config, seeds=tuple(range(args.seeds)))
    if args.families:
        config = replace(config, families=tuple(args.families))
    return config


def main(args: argparse.Namespace) -> int:
    """Run the study, print the report, write the files (and plots unless ``--no-plots``)."""
    torch.set_num_threads(args.threads)
    config = config_from_args(args)
    args.out.mkdir(parents=True, exist_ok=True)
    sink = args.out / "records.jsonl"
    if not args.resume:
        sink.unlink(missing_ok=True)
    records = run_zoo(config, sink=sink)
    return report(records, args.out, plots=not args.no_plots)


def report(records: list[Record], out: Path, plots: bool = True) -> int:
    """Summarize ``records``, print the report, write files and plots into ``out``."""
    summary = summarize(records)
    print(format_report(summary))
    written = write(out, records, summary)
    if plots:
        from .plots import study_plots

        written += study_plots(records, out)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
