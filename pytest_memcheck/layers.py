"""Find the activations to compress: trace a forward pass, resolve layer names.

A *call site* is one call of a module during a forward pass. Most modules run
once, but a ReLU module can be reused (torchvision's ResNet blocks call one
``relu`` twice); each call is then its own site, named ``"name#i"``.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from .errors import ActivationError, LayerError, MemcheckError, ModelError, warn

#: Module types whose outputs are non-negative activations by construction.
RELU_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6)

#: The paper compresses the final block: the last three ReLU layers.
DEFAULT_LAYER_COUNT = 3


@dataclass(frozen=True)
class CallSite:
    """One call of a named module during a traced forward pass."""

    name: str
    index: int  # which call of this module, counting from 0
    calls: int  # how many times the module runs per forward
    order: int  # position among all module calls of the forward
    is_relu: bool
    shape: tuple[int, ...] | None  # output shape without the batch dim; None if not a tensor
    minimum: float
    finite: bool
    nonzero: float  # fraction of non-zero outputs

    @property
    def label(self) -> str:
        return f"{self.name}#{self.index}" if self.calls > 1 else self.name


def trace(model: nn.Module, run: Callable[[], Any]) -> tuple[list[CallSite], Any]:
    """Run ``run()`` (a forward pass of ``model``) with every submodule observed.

    Returns the call sites in execution order and whatever ``run`` returned.
    Hooks are removed before returning, also on error. This is the first time
    the model sees the check's inputs, so a forward that fails here (wrong
    input shape or dtype, a device mismatch inside the model) is reported as
    a :class:`ModelError` that says so, with the original error chained.
    """
    names = {module: name for name, module in model.named_modules() if name}
    records: list[tuple[str, nn.Module, tuple | None]] = []

    def hook(module: nn.Module, _inputs, output) -> None:
        # Summarise at once rather than keep every activation of the pass alive.
        stats = None
        if isinstance(output, torch.Tensor) and output.is_floating_point():
            out = output.detach()
            finite = bool(torch.isfinite(out).all())
            valid = out if finite else out[torch.isfinite(out)]
            minimum = float(valid.min()) if valid.numel() else float("nan")
            nonzero = float((out != 0).float().mean()) if out.numel() else 0.0
            stats = (tuple(out.shape[1:]), minimum, finite, nonzero)
        records.append((names[module], module, stats))

    handles = [m.register_forward_hook(hook) for m in names]
    try:
        result = run()
    except (MemcheckError, torch.OutOfMemoryError):
        raise
    except Exception as exc:
        raise ModelError(
            f"the model's forward pass failed on the check's inputs with {type(exc).__name__}: {exc}; "
            "memcheck feeds the drawn training inputs unchanged, so make the data give what the model takes "
            "(shape, dtype, device; a transform the training loop applied must be part of the dataset)"
        ) from exc
    finally:
        for h in handles:
            h.remove()

    broken = next((name for name, _, stats in records if stats is not None and not stats[2]), None)
    if broken is not None and _has_nan(result):
        raise ActivationError(
            f"the model's output contains NaN and layer {broken!r} is the first to produce NaN or inf on the "
            "check's batches; the model is numerically broken for these inputs (check the weights and the "
            "input scaling)"
        )
    totals: dict[str, int] = {}
    for name, _, _ in records:
        totals[name] = totals.get(name, 0) + 1
    seen: dict[str, int] = {}
    sites = []
    for order, (name, module, stats) in enumerate(records):
        index = seen.get(name, 0)
        seen[name] = index + 1
        shape, minimum, finite, nonzero = stats or (None, float("nan"), True, 0.0)
        sites.append(
            CallSite(name, index, totals[name], order, isinstance(module, RELU_TYPES), shape, minimum, finite, nonzero)
        )
    return sites, result


def _has_nan(output: Any) -> bool:
    """Whether a forward's output (a tensor, or a tuple/list/dict of them) holds a NaN."""
    parts = output.values() if isinstance(output, dict) else output if isinstance(output, (tuple, list)) else [output]
    return any(isinstance(t, torch.Tensor) and t.is_floating_point() and bool(t.isnan().any()) for t in parts)


def _suggest(pattern: str, model: nn.Module, sites: list[CallSite]) -> str:
    relus = [s.label for s in sites if s.is_relu]
    close = difflib.get_close_matches(pattern, [n for n, _ in model.named_modules() if n], n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(relus[-8:]) if relus else "none"
    return f"{hint} ReLU layers of this model, in execution order: {listing}."


def resolve(
    model: nn.Module, sites: list[CallSite], layers: str | Sequence[str] | None
) -> list[CallSite]:
    """The call sites that ``layers`` names, in execution order.

    ``None`` means the last :data:`DEFAULT_LAYER_COUNT` ReLU calls. A name may be
    a glob (``"features.*"``) and may end in ``#i`` to pick one call of a reused
    module; without it, every call of the module is compressed.
    """
    if layers is None:
        relus = [s for s in sites if s.is_relu]
        if not relus:
            raise LayerError(
                "the model has no nn.ReLU modules to compress (it may call torch.relu or F.relu "
                "inside forward, which hooks cannot see); pass layers=[...] with the names of "
                "modules whose outputs are non-negative, or use nn.ReLU modules"
            )
        return relus[-DEFAULT_LAYER_COUNT:]

    patterns = [layers] if isinstance(layers, str) else list(layers)
    wrong = [p for p in patterns if not isinstance(p, str)]
    if wrong:
        raise LayerError(
            f"layers must be module names (strings), got {wrong[0]!r}; write layers=[{str(wrong[0])!r}] "
            "(the names of model.named_modules())"
        )
    if not patterns:
        raise LayerError("layers=[] selects nothing; leave layers unset for the last three ReLU layers")
    module_names = [n for n, _ in model.named_modules() if n]
    chosen: dict[int, CallSite] = {}
    for pattern in patterns:
        base, _, index = pattern.partition("#")
        if index and not index.isdigit():
            raise LayerError(f"layer {pattern!r}: the part after '#' must be a call index such as '#0'")
        matched = [
            s for s in sites if fnmatch.fnmatchcase(s.name, base) and (not index or s.index == int(index))
        ]
        if not matched:
            if any(fnmatch.fnmatchcase(n, base) for n in module_names):
                detail = (
                    f"call #{index} does not happen in a forward pass"
                    if index
                    else "it never runs in the model's forward pass"
                )
                raise LayerError(f"layer {pattern!r} was found but {detail}; pick a module that runs.")
            raise LayerError(f"no module named {pattern!r} in {type(model).__name__}.{_suggest(base, model, sites)}")
        reused = sorted({s.name for s in matched if s.calls > 1 and not index})
        if reused:
            warn(
                f"module(s) {', '.join(reused)} run more than once per forward pass; every call is "
                f"compressed. Name one call with '#i' (e.g. '{reused[0]}#0') to compress only that one."
            )
        for s in matched:
            chosen[s.order] = s
    return [chosen[o] for o in sorted(chosen)]


def validate(sites: list[CallSite], all_sites: list[CallSite]) -> None:
    """Check that the chosen sites output finite, non-negative, non-dead activations.

    A non-finite chosen site is blamed on the first non-finite call at or
    before it in execution order, where the problem starts. Non-finite values
    in layers the chosen ones do not depend on (after the last one) are left
    to the logits check.
    """
    for chosen in sites:
        if not chosen.finite:
            origin = next(s for s in all_sites if not s.finite and s.order <= chosen.order)
            where = "" if origin is chosen else f" (first seen at layer {origin.label!r})"
            raise ActivationError(
                f"layer {chosen.label!r} produced NaN or inf activations on the check's batches{where}; "
                "the model is numerically broken for these inputs (check the weights and the input scaling)"
            )
    for s in sites:
        if s.shape is None:
            raise LayerError(f"layer {s.label!r} does not return a floating-point tensor; pick a ReLU module")
        if len(s.shape) < 1:
            raise LayerError(f"layer {s.label!r} outputs one number per sample; pick a layer with units/channels")
        if s.minimum < 0:
            raise LayerError(
                f"layer {s.label!r} outputs negative values (minimum {s.minimum:.3g}), but NMF compresses "
                "non-negative activations; pick the ReLU that follows it"
            )
        if s.nonzero == 0:
            raise ActivationError(
                f"layer {s.label!r} outputs only zeros on the check's batches (a dead layer), so compressing "
                "it measures nothing; pick another layer or check the model's training"
            )
