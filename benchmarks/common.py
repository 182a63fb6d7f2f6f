"""Shared helpers of the benchmarks: the example model and its real activation matrices."""

from __future__ import annotations

import torch

from pytest_memcheck import zoo
from pytest_memcheck.batches import draw
from pytest_memcheck.hooks import inspection, to_matrices
from pytest_memcheck.layers import resolve, trace


def digits_cnn(p: float) -> tuple[torch.nn.Module, zoo.Split]:
    """The example CNN of the README, fitted to digits with label noise ``p`` (seconds on a CPU)."""
    return zoo.trained("digits_cnn", p, seed=0)


def class_activations(model: torch.nn.Module, data, samples_per_class: int = 50) -> dict[str, torch.Tensor]:
    """``{layer: (classes, n*h*w, channels)}`` at the check's default layers, one matrix per class.

    These are the matrices a check factorizes at its first compressed layer
    (later layers see activations of compressed inputs, of the same shapes).
    """
    batches = draw(data, samples_per_class=samples_per_class, seed=0)
    with inspection(model):
        chosen = resolve(model, trace(model, batches.x).sites, None)
        modules = dict(model.named_modules())
        captured: dict[str, torch.Tensor] = {}

        def keep(label: str):
            def hook(_module, _inputs, out) -> None:
                captured[label] = to_matrices(out, batches.groups)[0]

            return hook

        handles = [modules[s.name].register_forward_hook(keep(s.label)) for s in chosen]
        try:
            model(batches.x)
        finally:
            for h in handles:
                h.remove()
    return captured
