"""Forward hooks that compress chosen activations, and a guard that restores the model.

The guard is the only place that touches model state: it switches every module
to eval mode, disables autograd, and on exit (also on error) removes all hooks
and restores each module's own train/eval flag. Weights are never written.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from .layers import CallSite


@contextmanager
def inspection(model: nn.Module) -> Iterator[list[RemovableHandle]]:
    """Eval mode and no autograd for the duration; yields a list to register hook handles in."""
    modes = [(m, m.training) for m in model.modules()]
    handles: list[RemovableHandle] = []
    try:
        model.eval()
        with torch.no_grad():
            yield handles
    finally:
        for h in handles:
            h.remove()
        for m, training in modes:
            m.training = training


#: (site, activation) -> replacement activation of the same shape
Replace = Callable[[CallSite, torch.Tensor], torch.Tensor]


def install(model: nn.Module, sites: list[CallSite], replace: Replace, handles: list[RemovableHandle]) -> None:
    """Hook ``model`` so that the outputs of ``sites`` pass through ``replace``.

    Call sites are counted per forward pass (a pre-hook on the root resets the
    counters), so a reused module is compressed only at the calls asked for.
    """
    by_module: dict[str, dict[int, CallSite]] = {}
    for s in sites:
        by_module.setdefault(s.name, {})[s.index] = s
    modules = dict(model.named_modules())
    counters = {name: 0 for name in by_module}

    def reset(_module, _inputs) -> None:
        for name in counters:
            counters[name] = 0

    def make_hook(name: str):
        wanted = by_module[name]

        def hook(_module, _inputs, output):
            index = counters[name]
            counters[name] = index + 1
            site = wanted.get(index)
            return None if site is None else replace(site, output)

        return hook

    handles.append(model.register_forward_pre_hook(reset))
    for name in by_module:
        handles.append(modules[name].register_forward_hook(make_hook(name)))


def to_matrices(a: torch.Tensor, groups: int) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """``(groups * n, q, *spatial)`` -> ``(groups, n * prod(spatial), q)`` and the inverse map.

    Conv maps ``n x q x h x w`` become ``(n*h*w) x q`` matrices (paper section 3.3).
    """
    shape = a.shape
    q = shape[1]
    n = shape[0] // groups
    flat = a.reshape(groups, n, q, -1)  # (g, n, q, L)
    spatial = flat.shape[-1]
    mats = flat.permute(0, 1, 3, 2).reshape(groups, n * spatial, q)

    def back(m: torch.Tensor) -> torch.Tensor:
        return m.reshape(groups, n, spatial, q).permute(0, 1, 3, 2).reshape(shape)

    return mats, back
