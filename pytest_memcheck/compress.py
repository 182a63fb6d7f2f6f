"""Compression methods: what replaces an activation matrix during the check.

A method turns a stack of activation matrices ``(b, m, q)`` and one integer
"rank" per matrix into a stack of approximations of the same shape:

* ``nmf``    - rank-k non-negative factorization ``UV`` (the paper's method);
* ``pca``    - rank-k truncated SVD (the unconstrained baseline);
* ``random`` - random ablation: keep k randomly chosen units, zero the rest.

With ``residual=True`` the ablated directions are forwarded instead
(``A - approximation``, paper appendix 6.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import torch

from .errors import MemcheckError
from .factorize import DEFAULT_ITERATIONS, TopSVD, keep_columns, low_rank, nmf, start_svd, top_svd

METHODS = ("nmf", "pca", "random")

#: HALS row passes per iteration in a check. At the check's 10 iterations a second
#: pass cost 17% more time and moved no AuC (docs/performance.md); it pays when
#: converging further, which is why :func:`nmf` defaults to two.
CHECK_PASSES = 1

#: Default grids. NMF/PCA sweep ranks; random ablation sweeps the *fraction* of
#: units kept, since a kept count of k <= 16 units of a wide layer sits at chance.
DEFAULT_RANKS: tuple[float, ...] = (1, 2, 3, 4, 6, 8, 12, 16)
DEFAULT_FRACTIONS: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def default_grid(method: str) -> tuple[float, ...]:
    return DEFAULT_FRACTIONS if method == "random" else DEFAULT_RANKS


def validate_grid(method: str, grid: tuple[float, ...]) -> tuple[float, ...]:
    if method not in METHODS:
        raise MemcheckError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not grid:
        raise MemcheckError("the k grid is empty; pass ks=(1, 2, 4, 8) or leave ks unset for the default")
    for k in grid:
        if method == "random":
            if not (k > 0 and (k <= 1 or float(k).is_integer())):
                raise MemcheckError(
                    f"random ablation keeps a fraction in (0, 1] or a whole number (> 1) of units, got {k!r}"
                )
        elif not (float(k).is_integer() and k >= 1):
            raise MemcheckError(f"{method} ranks must be whole numbers >= 1, got {k!r}")
    if len(set(grid)) != len(grid):
        raise MemcheckError(f"the k grid has repeated values: {grid}")
    return tuple(sorted(grid))


def effective_rank(method: str, k: float, m: int, q: int) -> int:
    """The integer rank (or kept-unit count) grid value ``k`` means for an ``m x q`` matrix."""
    if method == "random":
        count = round(k * q) if k <= 1 else int(k)
        return min(max(count, 1), q)
    return min(int(k), m, q)


@dataclass
class Compressor:
    """Applies one method to stacks of activation matrices."""

    method: str
    residual: bool = False
    iterations: int = DEFAULT_ITERATIONS
    seed: int = 0
    _generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise MemcheckError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        self._generator = torch.Generator().manual_seed(self.seed)

    def __call__(
        self, A: torch.Tensor, ranks: torch.Tensor, svd: TopSVD | None = None, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Approximations of the ``(b, m, q)`` stack ``A`` at one rank per matrix.

        ``svd``: leading triplets of ``A`` computed beforehand (:meth:`shared_svd`);
        ``keep``: random ablation's ``(b, q)`` unit masks drawn beforehand (:meth:`keep_masks`).
        """
        approx = self._approximate(A, ranks, svd, keep)
        return A - approx if self.residual else approx

    def keep_masks(self, q: int, ranks: torch.Tensor) -> torch.Tensor:
        """Random ablation's 0/1 masks keeping ``ranks[i]`` of ``q`` units, drawn from the check's generator."""
        return keep_columns(len(ranks), q, ranks.cpu(), generator=self._generator)

    def shared_svd(self, A: torch.Tensor, r: int) -> TopSVD | None:
        """Leading triplets of matrices that every rank of the grid shares, computed once.

        Exact for PCA (they are its answer); for NMF only a start, sketched on
        wide layers; random ablation needs none.
        """
        if self.method == "pca":
            return top_svd(A, r)
        if self.method == "nmf":
            return start_svd(A, r, torch.Generator().manual_seed(self.seed))
        return None

    def _approximate(
        self, A: torch.Tensor, ranks: torch.Tensor, svd: TopSVD | None, keep: torch.Tensor | None
    ) -> torch.Tensor:
        if self.method == "nmf":
            U, V = nmf(A, ranks, iterations=self.iterations, passes=CHECK_PASSES, svd=svd, seed=self.seed)
            return U @ V
        if self.method == "pca":
            return low_rank(A, ranks, svd=svd)
        mask = self.keep_masks(A.shape[2], ranks) if keep is None else keep
        return A * mask.to(A.device, A.dtype)[:, None, :]

