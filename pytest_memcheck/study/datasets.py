"""Data sets of the validation zoo: shipped or generated, never downloaded.

Each returns a :class:`~pytest_memcheck.zoo.Split` with a fixed train/test split
(the split does not depend on the model's seed, so that retrains with another
seed are checked on the same samples) and training labels randomized with
probability ``p`` by ``seed``. Test labels are always clean.

* ``digits``  - scikit-learn's 1797 real 8x8 handwritten digits (images);
* ``signals`` - generated 1-D signals, 10 classes by frequency (time series);
* ``shapes``  - generated 16x16 images of 10 shapes, shifted, scaled, rotated, noisy;
* ``tabular`` - scikit-learn's ``make_classification``: 10 classes in 32 features.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .. import zoo
from ..zoo import Split

TAU = 2 * math.pi


def _split(x: torch.Tensor, y: torch.Tensor, p: float, seed: int, test_fraction: float = 0.25) -> Split:
    """A fixed split (``zoo``'s split seed 0) with the training labels randomized by ``seed``."""
    g = torch.Generator().manual_seed(10_000)
    perm = torch.randperm(len(y), generator=g)
    n_test = int(len(y) * test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    y_train, noisy = zoo.randomize_labels(y[train], p, int(y.max()) + 1, seed)
    return Split(x[train], y_train, x[test], y[test], noisy)


def digits(p: float = 0.0, seed: int = 0) -> Split:
    """1797 real 8x8 digits, ``(n, 1, 8, 8)`` in [0, 1]: 1348 training, 449 test samples."""
    full = zoo.digits(0.0, seed=0, test_fraction=0.0)
    return _split(full.x, full.y, p, seed)


def signals(
    p: float = 0.0, seed: int = 0, n: int = 2000, length: int = 64, noise: float = 0.5, classes: int = 10
) -> Split:
    """Noisy sinusoids whose frequency gives the class (1.5 cycles apart from 1.5 on), ``(n, 1, length)``.

    Phase, amplitude and a 5% frequency jitter vary per sample: clean models
    reach about 90% test accuracy, so some training samples sit near a class
    boundary, as in real measurements. More ``classes`` reach higher
    frequencies: keep ``length`` above four times the highest (``classes * 6``).
    """
    g = torch.Generator().manual_seed(777)
    y = torch.arange(n) % classes
    t = torch.linspace(0, 1, length)
    freq = (1.5 + 1.5 * y).float() * (1 + 0.05 * torch.randn(n, generator=g))
    phase = torch.rand(n, generator=g) * TAU
    amp = 0.7 + 0.6 * torch.rand(n, generator=g)
    x = amp[:, None] * torch.sin(TAU * freq[:, None] * t + phase[:, None]) + noise * torch.randn(n, length, generator=g)
    return _split(x.unsqueeze(1), y, p, seed)


def shapes(p: float = 0.0, seed: int = 0, n: int = 2000, size: int = 16, noise: float = 0.2) -> Split:
    """Ten shapes (outlines, filled, bars, crosses, a ring with a dot) on ``size x size`` noisy images.

    Position (+-3 px), radius (3-5.5 px), rotation (+-17 degrees) and intensity
    vary per image, so a model must learn shape, not pixels.
    """
    g = torch.Generator().manual_seed(778)
    y = torch.arange(n) % 10
    grid = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    cx, cy = ((size - 1) / 2 + (torch.rand(n, generator=g) - 0.5) * 6 for _ in range(2))
    r = (3 + torch.rand(n, generator=g) * 2.5)[:, None, None]
    th = (torch.rand(n, generator=g) - 0.5) * 0.6
    intensity = 0.6 + 0.4 * torch.rand(n, generator=g)
    dx, dy = xx[None] - cx[:, None, None], yy[None] - cy[:, None, None]
    c, s = torch.cos(th)[:, None, None], torch.sin(th)[:, None, None]
    u, v = c * dx + s * dy, -s * dx + c * dy
    d = torch.sqrt(u**2 + v**2)
    box = torch.maximum(u.abs(), v.abs())
    w = 0.9
    masks = torch.stack(
        [
            (d - r).abs() < w,  # circle
            d < r,  # disk
            (box - r).abs() < w,  # square outline
            box < 0.85 * r,  # filled square
            (v < 0.7 * r) & (v > -r) & (u.abs() < (0.7 * r - v) * 0.6),  # triangle
            ((u.abs() < w) & (v.abs() < r)) | ((v.abs() < w) & (u.abs() < r)),  # plus
            (((u - v).abs() < 1.4 * w) | ((u + v).abs() < 1.4 * w)) & (d < r),  # X
            (v.abs() < w) & (u.abs() < r),  # horizontal bar
            (u.abs() < w) & (v.abs() < r),  # vertical bar
            ((d - r).abs() < w) | (d < 1.0),  # ring with a dot
        ],
        1,
    )
    img = masks[torch.arange(n), y].float() * intensity[:, None, None]
    img = img + noise * torch.randn(n, size, size, generator=g)
    return _split(img.unsqueeze(1), y, p, seed)


def tabular(
    p: float = 0.0, seed: int = 0, n: int = 2000, features: int = 32, classes: int = 10, separation: float = 2.5
) -> Split:
    """scikit-learn's ``make_classification``: ``classes`` classes, 2 clusters each, 16 informative of 32 features.

    A smaller ``separation`` (``class_sep``) makes the classes overlap: a harder task.
    """
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n, n_features=features, n_informative=16, n_redundant=8, n_classes=classes,
        n_clusters_per_class=2, class_sep=separation, flip_y=0.0, random_state=0,
    )
    x = (x - x.mean(0)) / x.std(0)
    return _split(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long), p, seed)


DATASETS: dict[str, Callable[..., Split]] = {"digits": digits, "signals": signals, "shapes": shapes, "tabular": tabular}


def subset(split: Split, per_class: int, seed: int = 0) -> Split:
    """The first ``per_class`` training samples of each (training) label, drawn with ``seed``: the size regime."""
    g = torch.Generator().manual_seed(20_000 + seed)
    keep = []
    for c in split.y.unique():
        idx = (split.y == c).nonzero().flatten()
        keep.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    index = torch.cat(keep).sort().values
    return Split(split.x[index], split.y[index], split.x_test, split.y_test, split.noisy[index])
