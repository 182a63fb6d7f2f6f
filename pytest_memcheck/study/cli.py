"""``memcheck study``: train and measure the zoo, calibrate, write the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import calibrate, intervals, records, regimes, report, run
from .families import FAMILIES
from .models import decode

#: The slice for a few minutes: one CNN, one residual CNN and one MLP family.
QUICK_FAMILIES = ("digits_cnn", "digits_resnet", "tabular_mlp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK_FAMILIES)}: p in {{0, .4, 1}} and a retrain (default)")
    size.add_argument("--full", action="store_true", help="every family and regime (docs/validation.md; hours on 2 cores)")
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=None, help="only these families")
    parser.add_argument("--out", type=Path, default=Path("study-out"), help="folder for records, weights, summary, report, plots")
    parser.add_argument("--workers", type=int, default=1, help="training processes, one torch thread each (default 1)")
    parser.add_argument("--report-only", action="store_true", help="recalibrate and report from the records in --out")
    parser.add_argument(
        "--intervals", action="store_true",
        help="also check the seed-0 models at p = 0, 0.2, 0.4 with 8 draw seeds: do the intervals cover the spread?",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs (no matplotlib needed)")


def specs_from_args(args: argparse.Namespace) -> list[regimes.ModelSpec]:
    if args.full:
        return regimes.grid(tuple(args.families or FAMILIES))
    return regimes.quick(tuple(args.families or QUICK_FAMILIES))


def main(args: argparse.Namespace) -> int:
    """Train and measure what is missing in ``--out``, then calibrate and report."""
    if not args.report_only:
        run.run(specs_from_args(args), args.out, workers=args.workers)
    if args.intervals:
        rows = intervals.measure(args.out)
        (args.out / "intervals.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return write_report(args.out, plots=not args.no_plots)


def write_report(out: Path, plots: bool = True) -> int:
    """Calibrate on the records in ``out``; write ``summary.json`` and ``report.md`` (and PNGs); print the report."""
    ms = decode(records.load(out))
    if not ms:
        raise SystemExit(f"no records in {out}: run memcheck study --out {out} first")
    summary = calibrate.summarize(ms)
    spread = out / "intervals.json"
    if spread.exists():
        summary["intervals"] = json.loads(spread.read_text(encoding="utf-8"))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    text = report.markdown(summary)
    (out / "report.md").write_text(text, encoding="utf-8")
    print(text)
    if plots:
        from .plots import study_plots

        for path in study_plots(summary, out):
            print(f"wrote {path}")
    return 0
