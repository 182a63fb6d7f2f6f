"""``memcheck`` command line: ``memcheck demo``, ``memcheck study``, ``memcheck plot``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memcheck", description="Detect memorizing ReLU classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a clean and a memorizing digits CNN and check both")
    demo.add_argument("--noise", type=float, default=0.8, help="fraction of randomized labels (default 0.8)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    from . import study

    study_cmd = sub.add_parser("study", help="label-noise validation study: train a zoo, check, correlate, plot")
    study.add_arguments(study_cmd)
    plot = sub.add_parser("plot", help="redo the report and PNGs of a study from its records")
    plot.add_argument("folder", type=Path, help="a study's --out folder")
    args = parser.parse_args(argv)

    import torch

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if args.command == "demo":
        from .demo import run

        run(noise=args.noise, seed=args.seed)
    elif args.command == "study":
        return study.main(args)
    elif args.command == "plot":
        return study.report(study.load_records(args.folder), args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
