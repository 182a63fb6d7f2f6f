"""Small reference models and data that need no download.

Used by the demo, the examples, the validation study and the tests: real 8x8
handwritten digits from scikit-learn (shipped inside the package), a generated
1-D signal data set, their classifiers, and a seeded training loop that fits
them (noisy labels included) to ~100% training accuracy in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch import nn


@dataclass
class Split:
    """Training inputs/labels (labels possibly randomized) and clean test data."""

    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    noisy: torch.Tensor  # bool mask of the training labels that were randomized

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x, self.y


def randomize_labels(y: torch.Tensor, p: float, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace each label with probability ``p`` by a uniformly drawn class (Zhang et al. 2017)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(len(y), generator=g) < p
    out = y.clone()
    out[mask] = torch.randint(0, classes, (int(mask.sum()),), generator=g)
    return out, mask


def _split(x: torch.Tensor, y: torch.Tensor, p: float, seed: int, test_fraction: float) -> Split:
    g = torch.Generator().manual_seed(10_000 + seed)
    perm = torch.randperm(len(y), generator=g)
    n_test = int(len(y) * test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    classes = int(y.max()) + 1
    y_train, noisy = randomize_labels(y[train], p, classes, seed)
    return Split(x[train], y_train, x[test], y[test], noisy)


def digits(p: float = 0.0, seed: int = 0, test_fraction: float = 0.25) -> Split:
    """scikit-learn's 1797 real 8x8 digits as ``(n, 1, 8, 8)`` floats in [0, 1]; labels randomized with ``p``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the digits data needs scikit-learn: pip install 'pytest-memcheck[test]'") from exc
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return _split(x, torch.tensor(d.target, dtype=torch.long), p, seed, test_fraction)


def waves(p: float = 0.0, seed: int = 0, n: int = 2000, length: int = 64, test_fraction: float = 0.25) -> Split:
    """A generated 1-D data set: 10 classes of noisy sums of two sinusoids, ``(n, 1, length)``.

    Each class has its own pair of frequencies; phases, amplitudes and noise
    vary per sample, so the classes overlap a little, like real signals.
    """
    g = torch.Generator().manual_seed(777)
    classes = 10
    freqs = torch.rand(classes, 2, generator=g) * 6 + 1
    y = torch.arange(n) % classes
    t = torch.linspace(0, 1, length)
    phase = torch.rand(n, 2, generator=g) * 6.2832
    amp = 0.6 + 0.8 * torch.rand(n, 2, generator=g)
    f = freqs[y] * (1 + 0.08 * torch.randn(n, 2, generator=g))
    signal = (amp[:, :, None] * torch.sin(6.2832 * f[:, :, None] * t + phase[:, :, None])).sum(1)
    x = (signal + 0.6 * torch.randn(n, length, generator=g)).unsqueeze(1)
    return _split(x, y, p, seed, test_fraction)


def digits_cnn(width: int = 16) -> nn.Sequential:
    """Three conv layers and a 128-unit fully connected layer for 8x8 digits."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2 * width, 4 * width, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * width * 16, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def mlp(inputs: int = 64, width: int = 256, depth: int = 3, classes: int = 10) -> nn.Sequential:
    """``depth`` hidden ReLU layers of ``width`` units on flattened inputs."""
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        layers += [nn.Linear(inputs if i == 0 else width, width), nn.ReLU()]
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def waves_cnn(length: int = 64, width: int = 16) -> nn.Sequential:
    """A 1-D CNN for :func:`waves`: three conv layers and a fully connected layer."""
    return nn.Sequential(
        nn.Conv1d(1, width, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(width, 2 * width, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(2 * width, 4 * width, 5, padding=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * width * (length // 4), 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


#: The learning rate each optimizer trains with unless one is given.
LEARNING_RATES = {"adam": 2e-3, "sgd": 0.05}


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    seed: int = 0,
    lr: float | None = None,
    batch_size: int = 128,
    max_epochs: int = 400,
    target_accuracy: float | None = 0.999,
    weight_decay: float = 0.0,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    on_epoch=None,
    optimizer: Literal["adam", "sgd"] = "adam",
    label_smoothing: float = 0.0,
) -> tuple[nn.Module, int]:
    """Train with Adam, or SGD with momentum 0.9, until training accuracy reaches ``target_accuracy``.

    Adam (AdamW with ``weight_decay``, decoupled) is how the validation zoo
    trains; SGD, whose ``weight_decay`` is its L2 penalty, and
    ``label_smoothing`` (of the cross-entropy's targets, as in torchvision's
    recipes) are how many real classifiers are trained, for the probes beyond
    the zoo. ``lr`` defaults to :data:`LEARNING_RATES` of the optimizer.
    ``augment(x_batch, generator)`` transforms each training batch (seeded).
    Returns the model (in eval mode) and the number of epochs run.
    ``on_epoch(epoch, model)`` is called after every epoch; returning True
    stops training.
    """
    if optimizer not in LEARNING_RATES:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    lr = LEARNING_RATES[optimizer] if lr is None else lr
    g = torch.Generator().manual_seed(seed)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    elif weight_decay:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            batch = x[idx] if augment is None else augment(x[idx], g)
            nn.functional.cross_entropy(model(batch), y[idx], label_smoothing=label_smoothing).backward()
            opt.step()
        model.eval()
        stop = on_epoch(epoch, model) if on_epoch is not None else False
        if stop or (target_accuracy is not None and accuracy(model, x, y) >= target_accuracy):
            break
    model.eval()
    return model, epoch


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def trained(arch: str, p: float, seed: int = 0, **fit_kwargs) -> tuple[nn.Module, Split]:
    """A model of ``arch`` ("digits_cnn", "digits_mlp", "waves_cnn") fitted to data with noise ``p``."""
    data = waves(p, seed) if arch.startswith("waves") else digits(p, seed)
    torch.manual_seed(seed)
    model = {"digits_cnn": digits_cnn, "digits_mlp": mlp, "waves_cnn": waves_cnn}[arch]()
    fit(model, data.x, data.y, seed=seed, **fit_kwargs)
    return model, data
