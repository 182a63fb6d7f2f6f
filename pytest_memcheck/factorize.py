"""Batched low-rank approximations of non-negative matrices, in plain torch.

Everything here works on a stack of problems ``(b, m, q)`` at once, on the
tensor's own device, with one rank per problem: columns beyond a problem's rank
are held at exactly zero. That lets the check factorize every class *and* every
rank of its grid in a single call, which is what makes it fast on CPU and GPU.

Nothing here knows about models, hooks or pytest.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence, Union

import torch

from .errors import MemcheckError

Ranks = Union[int, Sequence[int], torch.Tensor]

#: Multiplicative-update iterations from an NNDSVDa start. The check's AuC stops
#: moving at about 25-40 (see benchmarks/bench_iterations.py); 50 leaves margin.
DEFAULT_ITERATIONS = 50


class TopSVD(NamedTuple):
    """Leading singular triplets of each problem, ``A ~= U diag(S) Vh``."""

    U: torch.Tensor  # (b, m, r)
    S: torch.Tensor  # (b, r)
    Vh: torch.Tensor  # (b, r, q)


def _as_batch(A: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if A.dim() == 2:
        return A.unsqueeze(0), True
    if A.dim() == 3:
        return A, False
    raise MemcheckError(
        f"expected a matrix (m, q) or a stack of matrices (b, m, q), got shape {tuple(A.shape)}; "
        "reshape conv activations to (n*h*w, channels) first"
    )


def _rank_vector(ranks: Ranks, b: int, limit: int, device: torch.device) -> torch.Tensor:
    r = torch.as_tensor(ranks, dtype=torch.long).flatten().to(device)
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
        evals, evecs = torch.linalg.eigh(work.mT @ work)
        S = evals.flip(-1)[:, :r].clamp_min(0).sqrt()
        V = evecs.flip(-1)[:, :, :r]
        U = (work @ V) / S.clamp_min(tiny)[:, None, :]
        Vh = V.mT
    else:
        evals, evecs = torch.linalg.eigh(work @ work.mT)
        S = evals.flip(-1)[:, :r].clamp_min(0).sqrt()
        U = evecs.flip(-1)[:, :, :r]
        Vh = (U.mT @ work) / S.clamp_min(tiny)[:, :, None]
    return TopSVD(U.to(A.dtype), S.to(A.dtype), Vh.to(A.dtype))


def nndsvda(A: torch.Tensor, svd: TopSVD, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NNDSVD initialisation (Boutsidis & Gallopoulos 2008), zeros filled with A's mean.

    Deterministic, so the same activations always give the same factors.
    """
    U, S, Vh = svd
    up, un = U.clamp_min(0), (-U).clamp_min(0)
    vp, vn = Vh.clamp_min(0), (-Vh).clamp_min(0)
    nup, nun = up.norm(dim=1), un.norm(dim=1)  # (b, r)
    nvp, nvn = vp.norm(dim=2), vn.norm(dim=2)
    pos = nup * nvp >= nun * nvn
    sigma = torch.where(pos, nup * nvp, nun * nvn)
    u = torch.where(pos[:, None, :], up / nup.clamp_min(1e-30)[:, None, :], un / nun.clamp_min(1e-30)[:, None, :])
    v = torch.where(pos[:, :, None], vp / nvp.clamp_min(1e-30)[:, :, None], vn / nvn.clamp_min(1e-30)[:, :, None])
    scale = (S * sigma).sqrt()
    # The leading singular pair of a non-negative matrix is non-negative up to sign.
    scale[:, 0] = S[:, 0].sqrt()
    u[:, :, 0] = U[:, :, 0].abs()
    v[:, 0, :] = Vh[:, 0, :].abs()
    W = u * scale[:, None, :]
    H = v * scale[:, :, None]
    fill = A.mean(dim=(1, 2), keepdim=True)
    W = torch.where(W == 0, fill, W) * mask[:, None, :]
    H = torch.where(H == 0, fill, H) * mask[:, :, None]
    return W, H


def nmf(
    A: torch.Tensor,
    k: Ranks,
    *,
    seed: int = 0,
    iterations: int = DEFAULT_ITERATIONS,
    init: str = "nndsvda",
    svd: TopSVD | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank-``k`` non-negative factorization ``A ~= U @ V`` under the Frobenius loss.

    ``A`` is ``(m, q)`` or a stack ``(b, m, q)`` of non-negative matrices; ``k`` is
    one rank or one per matrix. Returns ``U`` of shape ``(..., m, r)`` and ``V`` of
    shape ``(..., r, q)`` with ``r = max(k)``; a matrix of smaller rank gets zero
    columns/rows beyond its rank, so ``U @ V`` is its rank-``k`` approximation.

    Solved by multiplicative updates (Lee & Seung) from an NNDSVDa start on A's
    device, with a fixed iteration count: no host synchronisation in the loop
    and bit-identical results for the same input on the same device. ``seed``
    only matters for ``init="random"``. ``svd`` lets a caller reuse leading
    singular triplets it already computed for the same matrices.
    """
    A3, squeeze = _as_batch(A)
    if not torch.is_floating_point(A3):
        raise MemcheckError(f"NMF needs a floating-point matrix, got {A3.dtype}")
    if not torch.isfinite(A3).all():
        raise MemcheckError("NMF input has NaN or inf entries; check the model and its inputs")
    if (A3 < 0).any():
        raise MemcheckError(
            f"NMF needs a non-negative matrix, got a minimum of {float(A3.min()):.3g}; "
            "factorize the output of a ReLU"
        )
    b, m, q = A3.shape
    ranks = _rank_vector(k, b, min(m, q), A3.device)
    r = int(ranks.max())
    mask = rank_mask(ranks, r).to(A3.dtype)

    # Scale every problem to unit maximum so that one epsilon fits all of them.
    scale = A3.amax(dim=(1, 2), keepdim=True).clamp_min(torch.finfo(A3.dtype).tiny)
    X = A3 / scale
    if init == "nndsvda":
        if svd is None:
            svd = top_svd(X, r)
        else:
            svd = TopSVD(svd.U[..., :r], svd.S[..., :r] / scale[:, 0], svd.Vh[:, :r, :])
        W, H = nndsvda(X, svd, mask)
    elif init == "random":
        g = torch.Generator().manual_seed(seed)
        avg = (X.mean(dim=(1, 2), keepdim=True) / r).sqrt()
        W = torch.rand((b, m, r), generator=g, dtype=X.dtype).to(X.device) * avg * mask[:, None, :]
        H = torch.rand((b, r, q), generator=g, dtype=X.dtype).to(X.device) * avg * mask[:, :, None]
    else:
        raise MemcheckError(f"unknown NMF init {init!r}; use 'nndsvda' or 'random'")

    eps = torch.finfo(X.dtype).eps
    Xt = X.mT
    for _ in range(iterations):
        H = H * (W.mT @ X) / ((W.mT @ W) @ H + eps)
        W = W * (H @ Xt).mT / (W @ (H @ H.mT) + eps)
    U = W * scale
    if squeeze:
        return U[0], H[0]
    return U, H


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
