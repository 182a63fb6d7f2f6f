"""Architectures of the validation zoo: plain and residual CNNs (1-D and 2-D), MLPs.

Every builder takes the activation (``nn.ReLU`` by default, ``nn.GELU`` or
``nn.SiLU`` for the non-ReLU families) and a ``dropout`` rate for the
regularization regime (dropout sits before the classifier layers, inactive in
the check's eval mode). Each activation is its own module, so the check's
default layers (the last three activations) are the network's final block.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

Activation = Callable[[], nn.Module]


def _drop(rate: float) -> list[nn.Module]:
    return [nn.Dropout(rate)] if rate else []


def cnn(dims: int, size: int, width: int = 16, act: Activation = nn.ReLU, dropout: float = 0.0, pool_first: bool = True) -> nn.Sequential:
    """Three conv layers (``dims`` = 1 or 2) and a 128-unit fully connected layer.

    ``pool_first`` pools after the first conv as well (for 16x16 images and
    64-sample signals, to keep training in seconds); 8x8 digits pool once.
    """
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    pool = nn.MaxPool1d if dims == 1 else nn.MaxPool2d
    k = 5 if dims == 1 else 3
    layers: list[nn.Module] = [conv(1, width, k, padding=k // 2), act()]
    side = size
    if pool_first:
        layers.append(pool(2))
        side //= 2
    layers += [conv(width, 2 * width, k, padding=k // 2), act(), pool(2), conv(2 * width, 4 * width, k, padding=k // 2), act()]
    side //= 2
    flat = 4 * width * side**dims
    return nn.Sequential(*layers, nn.Flatten(), *_drop(dropout), nn.Linear(flat, 128), act(), *_drop(dropout), nn.Linear(128, 10))


def deep_cnn(size: int, width: int = 16, act: Activation = nn.ReLU, dropout: float = 0.0, convs: int = 2) -> nn.Sequential:
    """A VGG-like stack: three stages of ``convs`` convs (width, 2x, 4x) with pooling between, then two linear layers."""
    layers: list[nn.Module] = []
    cin, side = 1, size
    for stage, cout in enumerate((width, 2 * width, 4 * width)):
        for i in range(convs):
            layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1), act()]
        if stage < 2:
            layers.append(nn.MaxPool2d(2))
            side //= 2
        cin = cout
    flat = cin * side * side
    return nn.Sequential(*layers, nn.Flatten(), *_drop(dropout), nn.Linear(flat, 128), act(), *_drop(dropout), nn.Linear(128, 10))


class Block(nn.Module):
    """A basic residual block: two convs with batch norm, a shortcut, an activation after the sum."""

    def __init__(self, dims: int, cin: int, cout: int, stride: int, act: Activation) -> None:
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        self.conv1, self.bn1, self.act1 = conv(cin, cout, 3, stride, 1, bias=False), norm(cout), act()
        self.conv2, self.bn2 = conv(cout, cout, 3, 1, 1, bias=False), norm(cout)
        self.shortcut = (
            nn.Sequential(conv(cin, cout, 1, stride, bias=False), norm(cout)) if stride != 1 or cin != cout else nn.Identity()
        )
        self.act2 = act()

    def forward(self, x):
        out = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """A small ResNet: a stem, three stages of ``blocks`` residual blocks (the last two downsample), pooling, a linear head."""

    def __init__(self, dims: int, width: int = 16, act: Activation = nn.ReLU, dropout: float = 0.0, blocks: int = 1) -> None:
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        self.stem = nn.Sequential(conv(1, width, 3, 1, 1, bias=False), norm(width), act())

        def stage(cin: int, cout: int, stride: int) -> nn.Module:
            first = Block(dims, cin, cout, stride, act)
            return first if blocks == 1 else nn.Sequential(first, *(Block(dims, cout, cout, 1, act) for _ in range(blocks - 1)))

        self.layer1 = stage(width, width, 1)
        self.layer2 = stage(width, 2 * width, 2)
        self.layer3 = stage(2 * width, 4 * width, 2)
        self.pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), *_drop(dropout), nn.Linear(4 * width, 10))

    def forward(self, x):
        return self.head(self.pool(self.layer3(self.layer2(self.layer1(self.stem(x))))))


def mlp(inputs: int, width: int = 256, depth: int = 3, act: Activation = nn.ReLU, dropout: float = 0.0) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units on flattened inputs."""
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        layers += [*(_drop(dropout) if i else []), nn.Linear(inputs if i == 0 else width, width), act()]
    return nn.Sequential(*layers, *_drop(dropout), nn.Linear(width, 10))
