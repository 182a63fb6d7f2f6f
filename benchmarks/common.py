"""Shared helpers of the benchmarks: pinned threads, best-of timing, real activation matrices."""

from __future__ import annotations

import time
from typing import Callable

import torch

from pytest_memcheck import zoo
from pytest_memcheck.batches import draw
from pytest_memcheck.hooks import inspection, to_matrices
from pytest_memcheck.layers import resolve, trace


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Smallest wall time of ``repeats`` calls after one warm-up: the least disturbed by other processes."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


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
        sites, _ = trace(model, lambda: model(batches.x))
        chosen = resolve(model, sites, None)
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
