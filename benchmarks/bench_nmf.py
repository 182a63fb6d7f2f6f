"""The tool's NMF solver against scikit-learn and plain torch multiplicative updates.

A case is one layer's workload in a check: a stack of matrices (one per class)
each factorized at every rank of a grid (default: the check's 1-16), from the
same NNDSVDa start. As at the check's first compressed layer, the torch solvers
compute each matrix's start triplets once and share them across its ranks (in
the timing); scikit-learn computes them for every fit, as it must.
scikit-learn's coordinate descent (``solver="cd"``, its fastest, default
``tol``/``max_iter``) fits them one by one; the mean over the
fits of its relative error ``||A - UV||_F / ||A||_F`` is the target. The torch
solvers take the whole stack in one call and run the smallest iteration count
of a fixed ladder whose mean per-fit error ratio to scikit-learn is at most
1.01 (or their last rung), so times compare at matched error. One thread by
default (BLAS too), so the ratio measures the algorithm, not the core count.

    .venv/bin/python benchmarks/bench_nmf.py [--threads N] [--quick]

Last line: ``speedup_vs_sklearn=<geometric mean over cases> error_ratio=<worst case>``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from common import class_activations, digits_cnn  # noqa: E402

from pytest_memcheck.factorize import TopSVD, nmf, start_svd  # noqa: E402

#: Iteration counts tried for the torch solvers, cheapest first.
LADDER = (5, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200, 300, 400)
#: The check's default rank grid.
GRID = (1, 2, 3, 4, 6, 8, 12, 16)
#: How close to scikit-learn's error a torch solver has to come.
MATCH = 1.01
#: Timing rounds; each solver's best round counts.
ROUNDS = 3


@dataclass
class Case:
    name: str
    mats: torch.Tensor  # (b, m, q): one matrix per class
    A: torch.Tensor  # (b * len(ks), m, q): every matrix once per rank
    k: torch.Tensor  # (b * len(ks),) ranks

    def start(self) -> TopSVD:
        """Each matrix's start triplets, computed once and shared by its ranks (as the check does)."""
        one = start_svd(self.mats, int(self.k.max()), torch.Generator().manual_seed(0))
        return one.repeat(len(self.k) // len(self.mats))


def stacked(name: str, mats: torch.Tensor, ks: tuple[int, ...]) -> Case:
    """Every matrix of ``mats`` at every rank of ``ks``, rank-major as the check orders them."""
    ks = tuple(k for k in ks if k <= min(mats.shape[1:]))
    return Case(name, mats, mats.repeat(len(ks), 1, 1), torch.tensor(ks).repeat_interleave(mats.shape[0]))


def relative_errors(A: torch.Tensor, U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """``||A - UV||_F / ||A||_F`` of each matrix of the stack, computed in float64."""
    A, U, V = A.double(), U.double(), V.double()
    return (A - U @ V).norm(dim=(1, 2)) / A.norm(dim=(1, 2))


def synthetic(b: int, m: int, q: int, seed: int = 0) -> torch.Tensor:
    """Rectified low-rank-plus-noise matrices: ReLU-like activations with a decaying spectrum."""
    g = torch.Generator().manual_seed(seed)
    left = torch.randn(b, m, 32, generator=g)
    right = torch.randn(b, 32, q, generator=g) * torch.logspace(0, -1.5, 32)[:, None]
    return (left @ right + 0.1 * torch.randn(b, m, q, generator=g)).clamp_min(0)


def sklearn_fit(case: Case) -> tuple[float, torch.Tensor]:
    """Seconds and per-fit relative errors of scikit-learn's cd solver, one fit at a time, one BLAS thread."""
    errors = torch.empty(len(case.k), dtype=torch.float64)
    start = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, (a, k) in enumerate(zip(case.A, case.k.tolist())):
            model = NMF(n_components=k, solver="cd", init="nndsvda", random_state=0)
            W = model.fit_transform(a.numpy())
            errors[i] = float(np.linalg.norm(a.numpy() - W @ model.components_) / np.linalg.norm(a.numpy()))
    return time.perf_counter() - start, errors


def ours(case: Case, iterations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The tool's solver at its defaults on the case, its start shared across ranks as the check does."""
    return nmf(case.A, case.k, iterations=iterations, svd=case.start())


def plain_mu(case: Case, iterations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Textbook batched multiplicative updates in torch, from the same NNDSVDa start, no scaling or grouping."""
    A = case.A
    W, H = nmf(A, case.k, iterations=0, group_ranks=False, svd=case.start())
    eps = torch.finfo(A.dtype).eps
    for _ in range(iterations):
        H = H * (W.mT @ A) / (W.mT @ W @ H + eps)
        W = W * (A @ H.mT) / (W @ (H @ H.mT) + eps)
    return W, H


def matched(solve, A: torch.Tensor, target: torch.Tensor) -> tuple[int, float]:
    """The cheapest ladder iteration count whose mean per-fit error ratio to ``target`` is within :data:`MATCH`.

    Returns (iterations, mean error ratio); the last rung if none reaches it.
    """
    for it in LADDER:
        ratio = float((relative_errors(A, *solve(it)) / target).mean())
        if ratio <= MATCH or it == LADDER[-1]:
            return it, ratio
    raise AssertionError("unreachable")


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cases(quick: bool) -> list[Case]:
    """The digits CNN's three default layers (10 classes) and synthetic shapes, each over a rank grid."""
    model, data = digits_cnn(0.0)
    real = class_activations(model, data.train)
    out = [stacked(f"digits {name} {tuple(A.shape[1:])}", A, GRID) for name, A in real.items()]
    synthetic_cases = [((50, 512), 10, GRID), ((800, 512), 2, GRID), ((3200, 256), 2, GRID)]
    if not quick:
        synthetic_cases += [((800, 512), 2, (24, 32, 48, 64)), ((3200, 256), 1, (24, 32, 48, 64))]
    for (m, q), b, ks in synthetic_cases:
        out.append(stacked(f"synthetic {m}x{q} k{ks[0]}-{ks[-1]}", synthetic(1 if quick else b, m, q), ks))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer synthetic cases (a smoke run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    header = f"{'case':34s} {'fits':>4s} | {'sklearn s':>9s} {'err':>7s} | "
    header += f"{'ours it':>7s} {'s':>7s} {'x faster':>8s} {'err ratio':>9s} | {'MU it':>6s} {'x faster':>8s} {'err ratio':>9s}"
    print(header)
    speedups, ratios = [], []
    for case in cases(args.quick):
        A, k = case.A, case.k
        t_sk, e_sk = sklearn_fit(case)
        it, r_ours = matched(lambda n: ours(case, n), A, e_sk)
        it_mu, r_mu = matched(lambda n: plain_mu(case, n), A, e_sk)
        # This machine's speed drifts within minutes: time the three in turn, best of ROUNDS each.
        t_ours = t_mu = math.inf
        for round_ in range(ROUNDS):
            if round_:
                t_sk = min(t_sk, sklearn_fit(case)[0])
            t_ours = min(t_ours, seconds(lambda: ours(case, it)))
            t_mu = min(t_mu, seconds(lambda: plain_mu(case, it_mu)))
        speedups.append(t_sk / t_ours)
        ratios.append(r_ours)
        print(
            f"{case.name:34s} {len(k):4d} | {t_sk:9.3f} {float(e_sk.mean()):7.4f} | "
            f"{it:7d} {t_ours:7.4f} {t_sk / t_ours:8.1f} {r_ours:9.4f} | "
            f"{it_mu:6d} {t_sk / t_mu:8.1f} {r_mu:9.4f}",
            flush=True,
        )
    geo = math.exp(sum(map(math.log, speedups)) / len(speedups))
    print(f"speedup_vs_sklearn={geo:.1f} error_ratio={max(ratios):.4f}")


if __name__ == "__main__":
    main()
