"""Time a default check of the paper's CIFAR-10 network on an accelerator (also runs on CPU).

Builds the network of the paper's appendix table 1 (ten 3x3 ReLU convolutions
64-64-128-128-128-256-256-256-512-512, a last 512 convolution and a linear
classifier; random weights, timing does not depend on training), draws
10 classes x 50 random 3x32x32 inputs, and times a default check end to end
after a warm-up, synchronising the device. The solver's achieved FLOP/s is
its arithmetic (counted from the shapes it solved) over its measured time,
set against the device's matmul peak measured by a large matmul in the same
run. Also reports the check with TF32 matmuls and with ranks not grouped, so
one run says whether those help on this device.

    python benchmarks/gpu_check.py            # on the GPU, < 5 minutes
    python benchmarks/gpu_check.py --quick    # CPU smoke run: 2 classes x 10 samples
"""

from __future__ import annotations

import argparse
import functools
import time

import torch
from torch import nn

import pytest_memcheck as mc
from pytest_memcheck import compress, factorize

#: (out channels, stride) of the paper's CIFAR-10 convolutions; each but the last is followed by a ReLU.
CIFAR_CONVS = ((64, 1), (64, 1), (128, 2), (128, 1), (128, 1), (256, 2), (256, 1), (256, 1), (512, 2), (512, 1))


def cifar_net() -> nn.Sequential:
    """The paper's CIFAR-10 CNN (appendix table 1)."""
    layers: list[nn.Module] = []
    channels = 3
    for out, stride in CIFAR_CONVS:
        layers += [nn.Conv2d(channels, out, 3, padding=1, stride=stride), nn.ReLU()]
        channels = out
    layers += [nn.Conv2d(512, 512, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, n: int, dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of a large square matmul on ``device`` (best of 5)."""
    a = torch.rand(n, n, device=device, dtype=dtype)
    b = torch.rand(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


class FlopCounter:
    """Wraps the solver to count the arithmetic of every NMF it runs (``iterations`` HALS sweeps).

    Per iteration and problem of rank ``r`` (padded to its group's rank) on an
    ``m x q`` matrix: the four products ``W^T X``, ``W^T W``, ``X H^T``, ``H H^T``
    (``2 r (m q + m r + m q + q r)``) and two sweeps (``2 r^2 (q + m)``).
    """

    def __init__(self) -> None:
        self.flops = 0.0

    def __call__(self, A: torch.Tensor, k: torch.Tensor, **kwargs):
        b, m, q = A.shape
        iterations = kwargs.get("iterations") or factorize.DEFAULT_ITERATIONS
        group = kwargs.get("group_ranks")
        group = A.device.type == "cpu" if group is None else group
        ranks = k.tolist()
        for members in factorize.rank_buckets(ranks, group):
            r = max(ranks[i] for i in members)
            per = 2 * r * (2 * m * q + m * r + q * r) + 2 * r * r * (q + m)
            self.flops += len(members) * per * iterations
        return factorize.nmf(A, k, **kwargs)


def per_class(data: tuple[torch.Tensor, torch.Tensor]) -> int:
    return int(torch.bincount(data[1]).min())


def timed(model, data, device, repeats: int, solver=None, tf32: bool = False) -> tuple[float, float, float, float]:
    """(best total s, its solver s, solver FLOP/s, AuC) of a default check, after a warm-up."""
    saved_solver, saved_tf32 = compress.nmf, torch.backends.cuda.matmul.allow_tf32
    counter = FlopCounter()
    compress.nmf = functools.partial(counter, **({} if solver is None else solver))
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        mc.check(model, data, samples_per_class=per_class(data))
        best = None
        for _ in range(repeats):
            counter.flops = 0.0
            sync(device)
            result = mc.check(model, data, samples_per_class=per_class(data))
            sync(device)
            if best is None or result.timings["total"] < best[0]:
                best = (result.timings["total"], result.timings["solver"], counter.flops, result.auc)
    finally:
        compress.nmf, torch.backends.cuda.matmul.allow_tf32 = saved_solver, saved_tf32
    total, solver_s, flops, auc = best
    return total, solver_s, flops / solver_s, auc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small CPU smoke run (2 classes x 10 samples)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    classes, per_class = (2, 10) if args.quick else (10, 50)
    repeats = 1 if args.quick else 5

    torch.manual_seed(0)
    model = cifar_net().to(device).eval()
    # Inputs start on the host, as a user's data set does: the timing includes the copy.
    data = (torch.rand(classes * per_class, 3, 32, 32), torch.arange(classes * per_class) % classes)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = matmul_peak(device, 1024 if args.quick else 8192)
    print(f"device {name}, torch {torch.__version__}, fp32 matmul peak {peak / 1e12:.2f} TFLOP/s")
    print(f"paper's CIFAR-10 CNN, random weights, {classes} classes x {per_class} samples, default check")
    print(f"{'variant':28s} {'total s':>8s} {'solver s':>8s} {'solver TFLOP/s':>14s} {'% of peak':>9s} {'AuC':>6s}")
    variants = [("default", None, False), ("ranks not grouped", {"group_ranks": False}, False),
                ("ranks grouped", {"group_ranks": True}, False)]
    if device.type == "cuda":
        variants.append(("default + TF32 matmuls", None, True))
    for label, solver, tf32 in variants:
        total, solver_s, rate, auc = timed(model, data, device, repeats, solver, tf32)
        print(f"{label:28s} {total:8.3f} {solver_s:8.3f} {rate / 1e12:14.3f} {100 * rate / peak:9.1f} {auc:6.3f}")


if __name__ == "__main__":
    main()
