"""End-to-end time of a default check on the example CNN and on torchvision's networks.

Prints the default check's time split into forward passes and solver (best of
a few runs), the same with the paper's solver (50 multiplicative-update
iterations, no rank grouping) for reference, then one table row per size
varied alone: classes, samples per class and layer width (the CNN's
``width``; random weights, timing does not depend on training). The cost
should be linear in classes x samples per class.

``--architectures`` instead checks torchvision's networks (random weights,
``num_classes=10``, 10 classes x 50 random 3x32x32 inputs, as a new user would)
and prints, for each, the default check's time over one plain forward pass of the
same inputs (measured in turn in the same run, best of a few), the same for the
paper's AuC alone (``score=False``), and where the default check's time goes: the trace (a few samples), the uncompressed pass that records the
prefix, the compressed passes (one per k) and the solver. Networks without ReLU
are checked with ``method="pca"``.

    .venv/bin/python benchmarks/bench_check.py [--threads N] [--quick]
    .venv/bin/python benchmarks/bench_check.py --architectures [resnet18,resnet50,...] --threads 2
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import digits_cnn  # noqa: E402

import pytest_memcheck as mc  # noqa: E402
from pytest_memcheck import compress, engine, factorize, zoo  # noqa: E402

#: The networks of issue 13, and the method each is checked with (NMF needs ReLU-family activations).
ARCHITECTURES = {
    "resnet18": "nmf", "resnet50": "nmf", "densenet121": "nmf", "mobilenet_v2": "nmf", "shufflenet_v2_x0_5": "nmf",
    "vgg11_bn": "nmf", "regnet_y_400mf": "nmf", "squeezenet1_0": "nmf", "mobilenet_v3_small": "pca",
    "efficientnet_b0": "pca", "convnext_tiny": "pca",
}


def timed_check(model, data, repeats: int, **kwargs: Any) -> dict[str, float]:
    """Best-of-``repeats`` timings of one check (after a warm-up), with its AuC."""
    mc.check(model, data, **kwargs)
    runs = [mc.check(model, data, **kwargs) for _ in range(repeats)]
    best = min(runs, key=lambda r: r.timings["total"])
    return {**best.timings, "auc": best.auc}


def reference_solver():
    """Context in which checks use the paper's solver (MU at the grid's largest rank; pass iterations=50)."""
    return _Patched(functools.partial(factorize.nmf, solver="mu", group_ranks=False))


class _Patched:
    def __init__(self, solver) -> None:
        self.solver = solver

    def __enter__(self) -> None:
        self.saved, compress.nmf = compress.nmf, self.solver

    def __exit__(self, *exc) -> None:
        compress.nmf = self.saved


def synthetic_data(classes: int, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(classes * per_class, 1, 8, 8, generator=g), torch.arange(classes * per_class) % classes


def scaling_rows(quick: bool) -> list[tuple[str, int, int, int]]:
    """(what varies, classes, samples per class, width): each size varied alone around 10 x 50 x 16."""
    rows = [("classes", c, 50, 16) for c in ((5, 10) if quick else (5, 10, 20, 40))]
    rows += [("samples", 10, n, 16) for n in ((25, 50) if quick else (25, 50, 100, 200))]
    rows += [("width", 10, 50, w) for w in ((8, 16) if quick else (8, 16, 32, 64))]
    return rows


class _TraceTimer:
    """Context in which the engine's traces are timed (they are part of the check's ``prefix`` time)."""

    def __enter__(self) -> "_TraceTimer":
        self.seconds, self.saved = 0.0, engine.trace

        def timed(*args: Any, **kwargs: Any):
            start = time.perf_counter()
            try:
                return self.saved(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        engine.trace = timed
        return self

    def __exit__(self, *exc) -> None:
        engine.trace = self.saved


def architecture_rows(names: list[str], repeats: int, per_class: int) -> None:
    """One row per torchvision network: check time over one plain forward, and the check's time split."""
    from torchvision import models

    g = torch.Generator().manual_seed(0)
    x = torch.rand(10 * per_class, 3, 32, 32, generator=g)
    y = torch.arange(10 * per_class) % 10
    print(f"torchvision networks, random weights, 10 classes x {per_class} inputs 3x32x32, "
          f"{torch.get_num_threads()} threads, best of {repeats}")
    print(f"{'network':20s} {'method':6s} {'forward s':>9s} {'check s':>8s} {'ratio':>6s} {'no score':>8s} | "
          f"{'trace':>6s} {'uncomp.':>7s} {'passes':>6s} {'solver':>6s} {'other':>6s} | layers")
    for name in names:
        torch.manual_seed(0)
        model = getattr(models, name)(weights=None, num_classes=10).eval()
        method = ARCHITECTURES.get(name, "nmf")
        forwards, checks, auc_only = [], [], []
        mc.check(model, (x, y), samples_per_class=per_class, method=method)  # warm-up
        for _ in range(repeats):  # in turn, so that all see the same machine
            with torch.no_grad():
                start = time.perf_counter()
                model(x)
                forwards.append(time.perf_counter() - start)
            with _TraceTimer() as traced:
                r = mc.check(model, (x, y), samples_per_class=per_class, method=method)
            checks.append((r.timings["total"], traced.seconds, r))
            auc_only.append(mc.check(model, (x, y), samples_per_class=per_class, method=method, score=False).timings["total"])
        fwd = min(forwards)
        total, traced, r = min(checks, key=lambda c: c[0])
        t = r.timings
        other = total - t.get("prefix", 0.0) - t["forward"] - t["solver"]
        print(f"{name:20s} {method:6s} {fwd:9.3f} {total:8.3f} {total / fwd:6.2f} {min(auc_only) / fwd:8.2f} | {traced / fwd:6.2f} "
              f"{(t.get('prefix', 0.0) - traced) / fwd:7.2f} {t['forward'] / fwd:6.2f} {t['solver'] / fwd:6.2f} "
              f"{other / fwd:6.2f} | {', '.join(r.layers)}", flush=True)
    print("(no score: the same check with score=False, the paper's AuC alone; trace ... other: the default check's")
    print(" time split, in plain forwards)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: reproducible on a shared machine)")
    parser.add_argument("--quick", action="store_true", help="fewer sizes, one timed run each")
    parser.add_argument("--architectures", nargs="?", const=",".join(ARCHITECTURES), default=None,
                        help="check torchvision networks instead (comma-separated; default: all of issue 13's)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else 3
    if args.architectures:
        architecture_rows(args.architectures.split(","), repeats, 10 if args.quick else 50)
        return

    model, data = digits_cnn(0.0)
    print(f"default check of the digits CNN (10 classes x 50, 3 layers, 8 ranks), {args.threads} threads, best of {repeats}")
    print(f"{'solver':28s} {'total s':>8s} {'forward s':>9s} {'solver s':>8s} {'AuC':>6s}")
    ours = timed_check(model, data.train, repeats)
    with reference_solver():
        ref = timed_check(model, data.train, repeats, iterations=50)
    for name, t in (("hals 10 it, rank groups", ours), ("mu 50 it, max rank (paper)", ref)):
        print(f"{name:28s} {t['total']:8.3f} {t['forward']:9.3f} {t['solver']:8.3f} {t['auc']:6.3f}")
    print(f"speedup total x{ref['total'] / ours['total']:.1f}, solver x{ref['solver'] / ours['solver']:.1f}")

    print(f"\n{'varied':8s} {'classes':>7s} {'per cls':>7s} {'width':>5s} {'total s':>8s} {'solver s':>8s} {'us/sample':>9s}")
    for what, classes, per_class, width in scaling_rows(args.quick):
        torch.manual_seed(0)
        net = zoo.digits_cnn(width)
        net[-1] = torch.nn.Linear(net[-1].in_features, classes)  # as many outputs as classes
        net.eval()
        t = timed_check(net, synthetic_data(classes, per_class), repeats, samples_per_class=per_class)
        per_sample = t["total"] / (classes * per_class) * 1e6
        print(f"{what:8s} {classes:7d} {per_class:7d} {width:5d} {t['total']:8.3f} {t['solver']:8.3f} {per_sample:9.0f}")


if __name__ == "__main__":
    main()
