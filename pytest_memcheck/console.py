"""Rich rendering of check results: tables for terminals, kept apart from the maths."""

from __future__ import annotations

from typing import Mapping

from rich.table import Table

from .result import CheckResult


def results_table(results: Mapping[str, CheckResult], title: str = "memcheck") -> Table:
    """One row per named result: AuC with its interval, score, base accuracy, flags."""
    table = Table(title=title, title_justify="left")
    for name, justify in (("model", "left"), ("method", "left"), ("AuC", "right"), ("95% CI", "right"),
                          ("score", "right"), ("base acc.", "right"), ("time", "right"), ("notes", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    layers = set()
    for name, r in results.items():
        layers.add(", ".join(r.layers))
        lo, hi = r.auc_ci
        table.add_row(
            name,
            r.method if r.settings.get("batches", "single") == "single" else f"{r.method} (multi)",
            f"{r.auc:.3f}",
            f"{lo:.2f}-{hi:.2f}",
            "-" if r.score is None else f"{r.score:.3f}",
            f"{r.base_accuracy:.3f}",
            f"{r.timings.get('total', 0.0):.2f}s",
            "saturated" if r.saturated else "",
        )
    if len(layers) == 1:
        table.caption = f"compressed layers: {layers.pop()}"
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
