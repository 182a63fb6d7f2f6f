"""``memcheck`` command line: ``memcheck demo``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memcheck", description="Detect memorizing ReLU classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a clean and a memorizing digits CNN and check both")
    demo.add_argument("--noise", type=float, default=0.8, help="fraction of randomized labels (default 0.8)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.command == "demo":
        from .demo import run

        run(noise=args.noise, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
