"""Measure the gate's flake rate: each model of pyproject.toml gated with many seeds.

    python flake_rate.py [--seeds 20]

The accepted model must never fail and the memorizing candidate never pass,
whatever the seed (each seed draws other training samples).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import torch

from pytest_memcheck import config as memcheck_config
from pytest_memcheck.assertions import gated
from pytest_memcheck.baseline import BaselineStore
from pytest_memcheck.loading import load_data, load_model

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> dict[str, Counter]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = memcheck_config.load(ROOT)
    store = BaselineStore(cfg.baseline_dir)
    tally: dict[str, Counter] = {}
    for name, spec in cfg.models.items():
        model = load_model(spec.model, ROOT, architecture=spec.architecture)
        data = load_data(spec.data, ROOT)
        tally[name] = Counter()
        scores = []
        for seed in range(args.seeds):
            outcome = gated(model, data, name=name, thresholds=spec.thresholds(), store=store, seed=seed, **spec.check)
            tally[name][outcome.status.value] += 1
            scores.append(outcome.result.score)
        print(
            f"{name:10s} {dict(tally[name])}  score over seeds: min {min(scores):.3f} "
            f"mean {sum(scores) / len(scores):.3f} max {max(scores):.3f}"
        )
    return tally


if __name__ == "__main__":
    main()
