"""Batched low-rank approximations of non-negative matrices, in plain torch.

Everything here works on a stack of problems ``(b, m, q)`` at once, on the
tensor's own device, with one rank per problem: columns beyond a problem's rank
are held at exactly zero. That lets the check factorize every class *and* every
rank of its grid in a single call, which is what makes it fast on CPU and GPU.

Nothing here knows about models, hooks or pytest.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple, Sequence, Union

import torch

from .errors import MemcheckError

Ranks = Union[int, Sequence[int], torch.Tensor]

#: HALS iterations from an NNDSVDa start: the check's AuC matches 50 iterations
#: of multiplicative updates within its noise from about 8 on (docs/performance.md).
DEFAULT_ITERATIONS = 10


class TopSVD(NamedTuple):
    """Leading singular triplets of each problem, ``A ~= U diag(S) Vh``."""

    U: torch.Tensor  # (b, m, r)
    S: torch.Tensor  # (b, r)
    Vh: torch.Tensor  # (b, r, q)

    def repeat(self, times: int) -> TopSVD:
        """The triplets of a stack that holds these matrices ``times`` times over, as ``A.repeat(times, 1, 1)``.

        How a rank grid shares one decomposition per matrix instead of one per rank.
        """
        return TopSVD(*(t.repeat(times, *([1] * (t.dim() - 1))) for t in self))


def _as_batch(A: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A stack ``(b, m, q)`` of dense matrices, and whether ``A`` was one matrix; numpy arrays are taken too."""
    if not isinstance(A, torch.Tensor):
        try:
            A = torch.as_tensor(A)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise MemcheckError(f"expected a tensor or array of numbers, got {type(A).__name__} ({exc})") from exc
    if A.layout != torch.strided or A.is_nested:
        raise MemcheckError(f"expected a dense tensor, got a {A.layout} one; pass A.to_dense()")
    if A.dim() not in (2, 3):
        raise MemcheckError(
            f"expected a matrix (m, q) or a stack of matrices (b, m, q), got shape {tuple(A.shape)}; "
            "reshape conv activations to (n*h*w, channels) first"
        )
    if A.numel() == 0:
        raise MemcheckError(f"the matrix is empty (shape {tuple(A.shape)}); there is nothing to factorize")
    return (A.unsqueeze(0), True) if A.dim() == 2 else (A, False)


def _whole(value: object, name: str, minimum: int) -> int:
    """A count or seed given to the solver: a whole number >= ``minimum`` (numpy's too), not a bool."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise MemcheckError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _rank_vector(ranks: Ranks, b: int, limit: int, device: torch.device) -> torch.Tensor:
    given = torch.as_tensor(ranks).flatten()
    if given.dtype == torch.bool or (given.is_floating_point() and not bool((given == given.round()).all())):
        raise MemcheckError(f"ranks must be whole numbers, got {ranks!r}")
    r = given.to(device, torch.long)
    if r.numel() == 1:
        r = r.expand(b)
    if r.numel() != b:
        raise MemcheckError(f"got {r.numel()} ranks for {b} matrices; pass one rank or one per matrix")
    lo, hi = int(r.min()), int(r.max())
    if lo < 1 or hi > limit:
        raise MemcheckError(
            f"rank must be between 1 and min(m, q) = {limit}, got {lo if lo < 1 else hi}; "
            "lower k (memcheck.check clips it for you and says so in the result)"
        )
    return r


def rank_mask(ranks: torch.Tensor, r: int) -> torch.Tensor:
    """``(b, r)`` float mask whose row ``i`` keeps the first ``ranks[i]`` components."""
    return (torch.arange(r, device=ranks.device) < ranks[:, None]).float()


def _eigh(gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigendecomposition of Gram matrices, retried in float64 where float32 does not converge.

    float32 ``eigh`` fails on some rank-deficient Grams (layers with many dead
    units): with a LinAlgError, or silently, with NaN in its output (seen on the
    CPU for one 64 x 64 Gram of rank 18 in a stack of ten). The Grams are small,
    so the float64 retry is cheap; it redoes only the matrices that failed.
    """
    if gram.dtype == torch.float64:
        return torch.linalg.eigh(gram)
    try:
        evals, evecs = torch.linalg.eigh(gram)
    except torch.linalg.LinAlgError:
        evals, evecs = (t.to(gram.dtype) for t in torch.linalg.eigh(gram.double()))
        return evals, evecs
    failed = ~(torch.isfinite(evals).all(-1) & torch.isfinite(evecs).flatten(-2).all(-1))
    if bool(failed.any()):
        redo = torch.linalg.eigh(gram[failed].double())
        evals, evecs = evals.clone(), evecs.clone()
        evals[failed], evecs[failed] = redo[0].to(gram.dtype), redo[1].to(gram.dtype)
    return evals, evecs


def top_svd(A: torch.Tensor, r: int) -> TopSVD:
    """The ``r`` leading singular triplets of each matrix of a ``(b, m, q)`` stack.

    Uses the eigendecomposition of the Gram matrix of the smaller side, which is
    far cheaper than a full SVD for the tall or wide matrices activations make.
    Precision of the small singular values is lost; the leading ones, which are
    all the callers need, are accurate.
    """
    b, m, q = A.shape
    work = A if A.dtype == torch.float64 else A.float()
    tiny = torch.finfo(work.dtype).eps
    if q <= m:
        evals, evecs = _eigh(work.mT @ work)
        S = evals.flip(-1)[:, :r].clamp_min(0).sqrt()
        V = evecs.flip(-1)[:, :, :r]
        U = (work @ V) / S.clamp_min(tiny)[:, None, :]
        Vh = V.mT
    else:
        evals, evecs = _eigh(work @ work.mT)
        S = evals.flip(-1)[:, :r].clamp_min(0).sqrt()
        U = evecs.flip(-1)[:, :, :r]
        Vh = (U.mT @ work) / S.clamp_min(tiny)[:, :, None]
    return TopSVD(U.to(A.dtype), S.to(A.dtype), Vh.to(A.dtype))


#: Extra sketch columns and power iterations of :func:`sketched_svd` (Halko et al. 2011).
SKETCH_OVERSAMPLE, SKETCH_POWER = 8, 3
#: Smallest side from which :func:`start_svd` sketches instead of decomposing exactly.
SKETCH_MIN_SIDE = 192


def sketched_svd(A: torch.Tensor, r: int, generator: torch.Generator) -> TopSVD:
    """Approximate ``r`` leading singular triplets by randomized subspace iteration.

    Costs ``O(m q (r + 8))`` per power iteration instead of the ``O(min(m, q)^3)``
    eigendecomposition of :func:`top_svd`, which dominates an NMF of a wide
    layer (800 x 512: 160 ms against 22 ms for ten matrices). The leading
    singular values come out within about 0.3% of the exact ones: plenty for a
    solver's starting point, which is all it is used for (as scikit-learn's
    ``nndsvda`` does). The test matrix is drawn on the CPU from ``generator``,
    so a seed gives the same start on every device.
    """
    b, m, q = A.shape
    work = A if A.dtype == torch.float64 else A.float()
    width = min(r + SKETCH_OVERSAMPLE, m, q)
    Y = work @ torch.randn((b, q, width), generator=generator, dtype=work.dtype).to(A.device)
    for _ in range(SKETCH_POWER):
        Y = work @ torch.linalg.qr(work.mT @ torch.linalg.qr(Y).Q).Q
    basis = torch.linalg.qr(Y).Q  # (b, m, width)
    small = top_svd(basis.mT @ work, r)  # (b, width, q): cheap exact SVD
    return TopSVD((basis @ small.U).to(A.dtype), small.S.to(A.dtype), small.Vh.to(A.dtype))


def start_svd(A: torch.Tensor, r: int, generator: torch.Generator) -> TopSVD:
    """The triplets an NNDSVDa start needs: exact where that is cheap, sketched where it is not.

    The exact Gram eigendecomposition wins while the smaller side is below a
    few hundred (measured: equal at 3200 x 256, 3-8x slower at 800 x 256 and 800 x 512).
    """
    small_side = min(A.shape[1:])
    if small_side >= max(SKETCH_MIN_SIDE, 8 * (r + SKETCH_OVERSAMPLE)):
        return sketched_svd(A, r, generator)
    return top_svd(A, r)


def nndsvda(A: torch.Tensor, svd: TopSVD, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NNDSVD initialisation (Boutsidis & Gallopoulos 2008), zeros filled with A's mean.

    Deterministic, so the same activations always give the same factors. Each
    component keeps the sign side of its singular pair with the larger norm
    product; written with few full-size passes because at the check's short
    iteration counts the start costs as much as a few sweeps.
    """
    U, S, Vh = svd
    up, vp = U.clamp_min(0), Vh.clamp_min(0)
    nup, nun = up.norm(dim=1), U.clamp_max(0).norm(dim=1)  # (b, r)
    nvp, nvn = vp.norm(dim=2), Vh.clamp_max(0).norm(dim=2)
    pos = nup * nvp >= nun * nvn
    sign = torch.where(pos, 1.0, -1.0).to(U.dtype)
    sigma = torch.where(pos, nup * nvp, nun * nvn)
    scale = (S * sigma).sqrt()
    u_norm, v_norm = torch.where(pos, nup, nun), torch.where(pos, nvp, nvn)
    # The leading singular pair of a non-negative matrix is non-negative up to sign.
    sign[:, 0], scale[:, 0], u_norm[:, 0], v_norm[:, 0] = 1.0, S[:, 0].sqrt(), 1.0, 1.0
    u = (U * sign[:, None, :]).clamp_min_(0)
    v = (Vh * sign[:, :, None]).clamp_min_(0)
    u[:, :, 0], v[:, 0, :] = U[:, :, 0].abs(), Vh[:, 0, :].abs()
    fill = A.mean(dim=(1, 2), keepdim=True) * mask[:, None, :]  # (b, 1, r)
    u_step = (scale / u_norm.clamp_min(1e-30) * mask)[:, None, :]
    v_step = (scale / v_norm.clamp_min(1e-30) * mask)[:, :, None]
    W = torch.where(u > 0, u.mul_(u_step), fill)
    H = torch.where(v > 0, v.mul_(v_step), fill.mT)
    return W, H


#: Bytes of a factor that one CPU sweep works on at a time: the rows of a block
#: then stay in a core's L2 cache between row updates. Measured on 2 MiB-L2
#: cores: a 16 x 3200 factor of 20 problems sweeps 2.4x faster in 1 MiB blocks.
CPU_BLOCK_BYTES = 1 << 20


def _blocks(b: int, r: int, n: int, itemsize: int, device: torch.device) -> list[tuple[slice, slice]]:
    """(problems, columns) blocks of a ``(b, r, n)`` factor that each fit :data:`CPU_BLOCK_BYTES`.

    Column ``i`` of a HALS row update reads column ``i`` of the factor only, so
    problems and columns can be swept block by block. GPUs take the whole
    factor at once (they are bound by kernel launches, not cache).
    """
    if device.type != "cpu":
        return [(slice(0, b), slice(0, n))]
    per_problem = r * n * itemsize
    if per_problem <= CPU_BLOCK_BYTES:
        step = max(1, CPU_BLOCK_BYTES // per_problem)
        return [(slice(i, min(i + step, b)), slice(0, n)) for i in range(0, b, step)]
    width = max(1, CPU_BLOCK_BYTES // (r * itemsize))
    return [(slice(i, i + 1), slice(j, min(j + width, n))) for i in range(b) for j in range(0, n, width)]


#: Row passes over a factor per HALS iteration. A second pass reuses the
#: product ``G X`` that fed the first (accelerated HALS, Gillis & Glineur 2012):
#: it costs ``r^2 n`` against that product's ``r m q``, and cut the time to
#: scikit-learn's error by 1.1-1.4x on the check's layers (docs/performance.md).
HALS_PASSES = 2


class _HalsFactor:
    """One HALS factor ``F`` (``(b, r, n)``, updated in place) with its work buffers.

    The buffers and their row views are made once per solve: on small layers,
    creating views and temporaries every sweep cost a third of the solver's time.
    ``P`` is filled by the caller with ``G X`` (``G`` the other factor) before
    each :meth:`sweep`.
    """

    def __init__(self, F: torch.Tensor, mask: torch.Tensor, passes: int) -> None:
        b, r, n = F.shape
        self.mask, self.passes = mask, passes
        self.P, self.R = F.new_empty((b, r, n)), F.new_empty((b, r, r))
        self.blocks = []
        for problems, columns in _blocks(b, r, n, F.element_size(), F.device):
            block, P, R = F[problems, :, columns], self.P[problems, :, columns], self.R[problems]
            rows = list(zip(P.split(1, dim=1), R.split(1, dim=1), block.split(1, dim=1)))
            self.blocks.append((block, F.new_empty((block.shape[0], 1, block.shape[2])), rows))
        self.eps = torch.finfo(F.dtype).eps

    def sweep(self, Q: torch.Tensor) -> None:
        """``passes`` passes over the rows, ``Q = G G^T``.

        Row ``j`` is the exact non-negative minimiser with the other rows fixed:
        ``F_j <- max(0, F_j + (P_j - Q_j F) / Q_jj)``, written as
        ``max(0, Ps_j - R_j F)`` with the scaled ``Ps = P / Q_jj`` and
        ``R = Q / Q_jj - I`` so that a row costs two kernels. Rows beyond a
        problem's rank have a zero step and zero ``R`` row, so they stay exactly zero.
        """
        step = (self.mask / (Q.diagonal(dim1=1, dim2=2) + self.eps))[:, :, None]  # (b, r, 1)
        self.P.mul_(step)
        torch.mul(Q, step, out=self.R).diagonal(dim1=1, dim2=2).sub_(self.mask)
        for _ in range(self.passes):
            for block, row, rows in self.blocks:
                for p, q, out in rows:
                    torch.clamp_min(torch.baddbmm(p, q, block, alpha=-1, out=row), 0, out=out)


def _hals(X: torch.Tensor, W: torch.Tensor, H: torch.Tensor, mask: torch.Tensor, iterations: int, passes: int):
    """Hierarchical alternating least squares (Cichocki & Phan 2009).

    Per iteration the same matrix products as multiplicative updates, but each
    row update is exact, so about 10 iterations reach what 50 MU iterations do
    (docs/performance.md). ``W`` is kept transposed so that its rows are contiguous.
    """
    Wt, H = W.mT.contiguous(), H.contiguous()
    Xt = X.mT.contiguous()  # H @ X^T from a transposed view runs at 0.6x the speed on CPU
    h, w = _HalsFactor(H, mask, passes), _HalsFactor(Wt, mask, passes)
    for _ in range(iterations):
        torch.matmul(Wt, X, out=h.P)
        h.sweep(Wt @ Wt.mT)
        torch.matmul(H, Xt, out=w.P)
        w.sweep(H @ H.mT)
    return Wt.mT, H


def _mu(X: torch.Tensor, W: torch.Tensor, H: torch.Tensor, mask: torch.Tensor, iterations: int, passes: int):
    """Multiplicative updates (Lee & Seung 2001): the paper's solver, kept as the reference (one pass only)."""
    eps = torch.finfo(X.dtype).eps
    Xt = X.mT
    for _ in range(iterations):
        H = H * (W.mT @ X) / ((W.mT @ W) @ H + eps)
        W = W * (H @ Xt).mT / (W @ (H @ H.mT) + eps)
    return W, H


_SOLVERS = {"hals": _hals, "mu": _mu}
#: Iterations each solver needs for the check's AuC to stop moving (docs/performance.md).
SOLVER_ITERATIONS = {"hals": DEFAULT_ITERATIONS, "mu": 50}
#: Row passes per iteration; multiplicative updates have no inner passes.
SOLVER_PASSES = {"hals": HALS_PASSES, "mu": 1}


def rank_buckets(ranks: Sequence[int], group: bool) -> list[list[int]]:
    """Indices of the problems solved together, grouped by rank.

    A solve costs in proportion to its largest rank, so solving every rank at
    the grid's maximum wastes work (2.5x for the default grid). Ranks are
    grouped by power of two (1-2, 3-4, 5-8, 9-16, ...): at most 2x padding, and
    few enough groups that the per-call overhead stays small. ``group=False``
    solves everything in one call, best where kernel launches, not arithmetic,
    bound the time (GPUs at these sizes).
    """
    if not group:
        return [list(range(len(ranks)))]
    buckets: dict[int, list[int]] = {}
    for i, k in enumerate(ranks):
        buckets.setdefault(max((int(k) - 1).bit_length(), 1), []).append(i)
    return [buckets[key] for key in sorted(buckets)]


def _start(
    X: torch.Tensor, ranks: torch.Tensor, r: int, init: str, svd: TopSVD | None, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Initial factors of rank ``r`` (masked to each problem's rank) and the mask."""
    b, m, q = X.shape
    mask = rank_mask(ranks, r).to(X.dtype)
    if init == "nndsvda":
        return (*nndsvda(X, start_svd(X, r, generator) if svd is None else svd, mask), mask)
    avg = (X.mean(dim=(1, 2), keepdim=True) / r).sqrt()
    W = torch.rand((b, m, r), generator=generator, dtype=X.dtype).to(X.device) * avg * mask[:, None, :]
    H = torch.rand((b, r, q), generator=generator, dtype=X.dtype).to(X.device) * avg * mask[:, :, None]
    return W, H, mask


def _unit_scale(A: torch.Tensor) -> torch.Tensor:
    """Each problem's maximum, ``(b, 1, 1)`` in the compute dtype, after validating ``A``.

    Problems are divided by it so that one epsilon fits all of them. Two fast
    reductions (NaN propagates through both) and one host synchronisation,
    before the solver loop: ``isfinite`` and ``< 0`` masks, or ``aminmax``, cost
    a quarter of a whole check on CPU.
    """
    if not torch.is_floating_point(A):
        raise MemcheckError(f"NMF needs a floating-point matrix, got {A.dtype}")
    work = torch.float64 if A.dtype == torch.float64 else torch.float32
    hi = A.flatten(1).amax(dim=1).to(work)
    nan, inf, low = torch.stack([hi.isnan().any(), hi.isinf().any(), A.amin().to(work)]).tolist()
    if nan or inf or low != low or low == float("-inf"):
        raise MemcheckError("NMF input has NaN or inf entries; check the model and its inputs")
    if low < 0:
        raise MemcheckError(
            f"NMF needs a non-negative matrix, got a minimum of {low:.3g}; factorize the output of a ReLU"
        )
    return hi.clamp_min(torch.finfo(work).tiny)[:, None, None]


#: Scales above which the factors share the scale (its square root each) instead of ``U`` taking it all:
#: at float32's largest values, ``W * scale`` overflows although ``W @ H * scale`` does not.
_SPLIT_ABOVE = 1e18


def _bucket_svd(svd: TopSVD, idx: torch.Tensor, r: int, scale: torch.Tensor) -> TopSVD:
    """A caller's triplets for the problems ``idx``, cut to rank ``r`` and rescaled like ``X``."""
    dtype = scale.dtype
    return TopSVD(svd.U[idx, :, :r].to(dtype), svd.S[idx, :r].to(dtype) / scale[:, 0], svd.Vh[idx, :r].to(dtype))


def nmf(
    A: torch.Tensor,
    k: Ranks,
    *,
    seed: int = 0,
    iterations: int | None = None,
    init: str = "nndsvda",
    svd: TopSVD | None = None,
    solver: str = "hals",
    passes: int | None = None,
    group_ranks: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank-``k`` non-negative factorization ``A ~= U @ V`` under the Frobenius loss.

    ``A`` is ``(m, q)`` or a stack ``(b, m, q)`` of non-negative matrices; ``k`` is
    one rank or one per matrix. Returns ``U`` of shape ``(..., m, r)`` and ``V`` of
    shape ``(..., r, q)`` with ``r = max(k)``; a matrix of smaller rank gets zero
    columns/rows beyond its rank, so ``U @ V`` is its rank-``k`` approximation.

    Solved on A's device from an NNDSVDa start by ``solver`` (``"hals"``, or
    ``"mu"`` for the paper's multiplicative updates) with a fixed iteration
    count (default: :data:`SOLVER_ITERATIONS`): no host synchronisation in the
    loop and bit-identical results for the same input on the same device.
    Computed in float32 or float64 (half inputs are promoted, results returned
    in A's dtype). ``seed`` draws what the start needs at random: the factors
    of ``init="random"``, or the sketch of a wide matrix's singular vectors
    (:func:`start_svd`). ``svd`` lets a
    caller reuse leading singular triplets it already computed for the same
    matrices. ``passes`` (HALS only, default :data:`HALS_PASSES`) sweeps each
    factor that many times per iteration. ``group_ranks`` (default: on CPU only)
    solves problems of similar rank together instead of all at the largest
    rank; see :func:`rank_buckets`.
    """
    if solver not in _SOLVERS:
        raise MemcheckError(f"unknown NMF solver {solver!r}; use 'hals' or 'mu'")
    if init not in ("nndsvda", "random"):
        raise MemcheckError(f"unknown NMF init {init!r}; use 'nndsvda' or 'random'")
    iterations = _whole(SOLVER_ITERATIONS[solver] if iterations is None else iterations, "iterations", 0)
    passes = _whole(SOLVER_PASSES[solver] if passes is None else passes, "passes", 1)
    if solver == "mu" and passes != 1:
        raise MemcheckError(f"passes must be >= 1 for HALS and 1 for multiplicative updates, got {passes}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise MemcheckError(f"seed must be a whole number from 0 to 2**63 - 1 (torch.Generator's range), got {seed!r}")
    A3, squeeze = _as_batch(A)
    scale = _unit_scale(A3)
    b, m, q = A3.shape
    ranks = _rank_vector(k, b, min(m, q), A3.device)
    rank_list = ranks.tolist()
    generator = torch.Generator().manual_seed(seed)
    group = A3.device.type == "cpu" if group_ranks is None else group_ranks
    split = float(scale.max()) > _SPLIT_ABOVE  # W * scale could overflow: each factor takes the scale's root
    root = scale.sqrt() if split else scale
    U, V = scale.new_zeros((b, m, max(rank_list))), scale.new_zeros((b, max(rank_list), q))
    for members in rank_buckets(rank_list, group):
        idx = torch.tensor(members, device=A3.device)
        r = max(rank_list[i] for i in members)
        X = A3.index_select(0, idx).to(scale.dtype).div_(scale[idx])
        part = None if svd is None else _bucket_svd(svd, idx, r, scale[idx])
        W, H, mask = _start(X, ranks[idx], r, init, part, generator)
        W, H = _SOLVERS[solver](X, W, H, mask, iterations, passes)
        if split:
            U[idx, :, :r], V[idx, :r] = W * root[idx], H * root[idx]
        else:
            U[idx, :, :r], V[idx, :r] = W * scale[idx], H
    U, V = U.to(A3.dtype), V.to(A3.dtype)
    return (U[0], V[0]) if squeeze else (U, V)


def low_rank(A: torch.Tensor, k: Ranks, *, svd: TopSVD | None = None) -> torch.Tensor:
    """Best rank-``k`` approximation of each matrix (truncated SVD, i.e. uncentred PCA)."""
    A3, squeeze = _as_batch(A)
    b, m, q = A3.shape
    ranks = _rank_vector(k, b, min(m, q), A3.device)
    r = int(ranks.max())
    if svd is None:
        svd = top_svd(A3, r)
    mask = rank_mask(ranks, r).to(A3.dtype)
    out = (svd.U[..., :r] * (svd.S[:, :r] * mask)[:, None, :]) @ svd.Vh[:, :r, :]
    return out[0] if squeeze else out


def keep_columns(b: int, q: int, keep: Ranks, *, generator: torch.Generator) -> torch.Tensor:
    """``(b, q)`` 0/1 masks keeping ``keep[i]`` columns of matrix ``i`` chosen at random.

    Drawn on the CPU from ``generator`` so the same seed picks the same units on
    every device (random ablation, Morcos et al. 2018).
    """
    keep_t = _rank_vector(keep, b, q, torch.device("cpu"))
    order = torch.rand((b, q), generator=generator).argsort(dim=1).argsort(dim=1)
    return (order < keep_t[:, None]).float()
