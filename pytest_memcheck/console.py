"""Rich rendering of check results: tables for terminals, kept apart from the maths."""

from __future__ import annotations

from typing import Mapping

from rich.table import Table

from .gate import Verdict
from .result import CheckResult


def _ci(value: float, ci: tuple[float, float] | None) -> str:
    return f"{value:.3f}" if ci is None else f"{value:.3f} ({ci[0]:.2f}-{ci[1]:.2f})"


def verdicts_table(models: Mapping[str, tuple[Mapping[str, CheckResult], Verdict]], title: str = "memcheck") -> Table:
    """One row per model: the paper's AuC for each method, the score and the default verdict (fits 80 columns)."""
    table = Table(title=title, title_justify="left")
    methods = list(next(iter(models.values()))[0]) if models else []
    table.add_column("model")
    for method in methods:
        table.add_column(f"{method} AuC", justify="right")
    table.add_column("score (95% CI)", justify="right")
    table.add_column("verdict")
    for name, (results, verdict) in models.items():
        scored = next((r for r in results.values() if r.score is not None), None)
        score = "-" if scored is None else _ci(scored.score, scored.score_ci)
        table.add_row(name, *(f"{results[m].auc:.3f}" for m in methods), score, verdict.status.label)
    return table


def curve_table(results: Mapping[str, CheckResult], title: str = "accuracy at each k") -> Table:
    """The k-vs-accuracy curves side by side."""
    names = list(results)
    table = Table(title=title, title_justify="left")
    table.add_column("k", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    ks = sorted({k for r in results.values() for k in r.curve})
    for k in ks:
        table.add_row(f"{k:g}", *(f"{results[n].curve[k]:.3f}" if k in results[n].curve else "" for n in names))
    return table
