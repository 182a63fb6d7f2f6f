"""Find the activations to compress: trace a forward pass, resolve layer names.

A *call site* is one call of a module during a forward pass, or one call of a
functional activation (``F.relu``, ``torch.relu``, ``x.relu()``, ``F.gelu`` ...)
made by some module's own ``forward``. Most modules run once, but a ReLU module
can be reused (torchvision's ResNet blocks call one ``relu`` twice); each call
is then its own site, named ``"name#i"``. A functional call is named after the
module whose ``forward`` makes it and the function: ``"relu()"`` in the model's
own forward (DenseNet's last ReLU), ``"block.relu()"`` in ``block.forward``.

The trace also follows the data: a torch function mode sees every operation, so
it knows which activations reach the logits on the *main path* rather than only
through a sigmoid gate (squeeze-excitation branches, which make poor default
layers), whether a layer's channels are its last axis (after ``nn.Linear`` or
``LayerNorm``, as in transformers and ConvNeXt), and which module outputs later
code reads (what :mod:`prefix` must keep to replay the network's prefix).
"""

from __future__ import annotations

import difflib
import fnmatch
import weakref
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from .errors import ActivationError, LayerError, MemcheckError, ModelError, warn

#: Activation modules: their outputs are what the check compresses by default.
ACTIVATION_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish, nn.Mish, nn.ELU, nn.CELU, nn.SELU,
    nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.Softplus, nn.Tanh, nn.Hardtanh,
)
#: Functional activations by function name (``F.relu``, ``torch.relu`` and ``x.relu()`` are all ``relu``).
ACTIVATION_FUNCTIONS = {
    "relu": "relu", "relu_": "relu", "relu6": "relu6", "silu": "silu", "gelu": "gelu", "hardswish": "hardswish",
    "mish": "mish", "elu": "elu", "elu_": "elu", "celu": "celu", "selu": "selu", "leaky_relu": "leaky_relu",
    "leaky_relu_": "leaky_relu", "softplus": "softplus", "tanh": "tanh", "tanh_": "tanh", "hardtanh": "hardtanh",
    "hardtanh_": "hardtanh",
}
#: Activation kinds whose outputs are non-negative by construction: the ones NMF can factorize.
NONNEGATIVE_KINDS = frozenset({"ReLU", "ReLU6", "Softplus", "relu()", "relu6()", "softplus()"})

#: Functions whose output gates another tensor when multiplied with it (squeeze-excitation, attention).
_GATES = frozenset({"sigmoid", "sigmoid_", "hardsigmoid", "softmax", "_softmax"})
_PRODUCTS = frozenset({"mul", "mul_", "__mul__", "__rmul__", "__imul__", "multiply"})
#: Operations that only reshape or copy: a gate stays a gate through them.
_RESHAPES = frozenset({
    "view", "reshape", "unsqueeze", "squeeze", "expand", "expand_as", "flatten", "contiguous", "to", "view_as",
    "reshape_as", "clone", "type_as", "float", "__getitem__", "permute", "transpose",
})
#: Producers of channels-last outputs (features on the last axis) and of channels-first ones.
_LAST_AXIS = frozenset({"linear", "layer_norm", "rms_norm", "bilinear"})
_FIRST_AXIS = frozenset({
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "batch_norm",
    "group_norm", "instance_norm", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool2d",
})

#: The paper compresses the final block: the last three activation layers.
DEFAULT_LAYER_COUNT = 3

#: The producer id of the model's input in :attr:`Trace.reads`.
INPUT = -1


def functional_name(owner: str, kind: str) -> str:
    """The site name of functional activation ``kind`` called in ``owner``'s forward (``""``: the model's)."""
    return f"{owner}.{kind}()" if owner else f"{kind}()"


def owned_functional(func: Callable, owner: nn.Module | None) -> str | None:
    """The activation kind of a torch function call, unless it implements an activation module's own forward."""
    kind = ACTIVATION_FUNCTIONS.get(getattr(func, "__name__", ""))
    return None if kind is None or isinstance(owner, ACTIVATION_MODULES) else kind


@dataclass(frozen=True)
class CallSite:
    """One call of a named module, or of a functional activation, during a traced forward pass."""

    name: str
    index: int  # which call of this module (or of this function in this owner), counting from 0
    calls: int  # how many such calls per forward
    order: int  # position among all calls of the forward, by completion
    kind: str  # the module's class name, or "relu()" for a functional call
    shape: tuple[int, ...] | None  # output shape without the batch dim; None if not a floating tensor
    minimum: float
    finite: bool
    nonzero: float  # fraction of non-zero outputs
    activation: bool = False
    functional: bool = False
    channels_last: bool = False  # channels on the last axis (after nn.Linear / LayerNorm)
    main: bool = True  # reaches the logits other than only through a sigmoid gate
    call: int = 0  # identity of the call: its position by start
    parent: int = -1  # the call of the enclosing module; -1: the model's own forward
    start: int = 0  # clock of the trace when the call began
    end: int = 0  # ... and when it returned

    @property
    def label(self) -> str:
        return f"{self.name}#{self.index}" if self.calls > 1 else self.name

    @property
    def is_relu(self) -> bool:
        """Non-negative by construction (ReLU, ReLU6, Softplus and their functional forms)."""
        return self.kind in NONNEGATIVE_KINDS


@dataclass
class Trace:
    """What one traced forward pass showed."""

    sites: list[CallSite]
    output: Any
    #: producer call (or :data:`INPUT`) -> every read of what it returned: (clock, calls under way, the calls
    #: that returned the same tensor after it, by then: an inplace ReLU, a container returning its last child's)
    reads: dict[int, list[tuple[int, frozenset[int], tuple[int, ...]]]] = field(default_factory=dict)


def stats(output: Any) -> tuple[tuple[int, ...], float, bool, float] | None:
    """(shape without batch, finite minimum, all finite, non-zero fraction) of a floating-point output."""
    if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.dim() < 1:
        return None
    out = output.detach()
    finite = bool(torch.isfinite(out).all())
    valid = out if finite else out[torch.isfinite(out)]
    minimum = float(valid.min()) if valid.numel() else float("nan")
    nonzero = float((out != 0).float().mean()) if out.numel() else 0.0
    return tuple(out.shape[1:]), minimum, finite, nonzero


@dataclass
class _Flow:
    """What the tracer knows of one tensor: who returned it, which activations it depends on, its layout."""

    ref: weakref.ref
    producers: list[int] = field(default_factory=list)
    ungated: frozenset[int] = frozenset()  # activation sites it depends on directly
    gated: frozenset[int] = frozenset()  # ... and only through a gate
    gate: bool = False  # it is a gate (a sigmoid's output, maybe reshaped)
    layout: str | None = None  # "last" (channels last), "first" (channels at dim 1), or unknown


@dataclass
class _Call:
    name: str
    module: nn.Module | None
    call: int
    parent: int
    start: int
    kind: str
    functional: bool = False
    index: int = 0
    end: int = 0
    order: int = -1
    stats: tuple | None = None
    layout: str | None = None


class _Tracer(TorchFunctionMode):
    """Records every module call and follows every tensor of one forward pass."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.names = {module: name for name, module in model.named_modules() if name}
        self.clock = 0
        self.calls: list[_Call] = []
        self.stack: list[int] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.flows: dict[int, _Flow] = {}
        self.reads: dict[int, list[tuple[int, frozenset[int], tuple[int, ...]]]] = defaultdict(list)
        self.completed = 0

    # -- tensors ------------------------------------------------------------------------------
    def flow(self, t: torch.Tensor) -> _Flow | None:
        f = self.flows.get(id(t))
        return f if f is not None and f.ref() is t else None

    def mark(self, t: torch.Tensor) -> _Flow:
        f = self.flow(t)
        if f is None:
            f = self.flows[id(t)] = _Flow(weakref.ref(t))
        return f

    # -- module calls -------------------------------------------------------------------------
    def enter(self, module: nn.Module, _inputs) -> None:
        self.clock += 1
        name = self.names[module]
        call = _Call(name, module, len(self.calls), self.stack[-1] if self.stack else -1, self.clock,
                     type(module).__name__, index=self.counts[name])
        self.counts[name] += 1
        self.calls.append(call)
        self.stack.append(call.call)

    def leave(self, module: nn.Module, _inputs, output) -> None:
        self.clock += 1
        call = self.calls[self.stack.pop()]
        call.end, call.order = self.clock, self.completed
        self.completed += 1
        with torch._C.DisableTorchFunction():  # the tracer's own work is not the model's
            call.stats = stats(output)
        for t in tree_leaves(output):
            if isinstance(t, torch.Tensor):
                f = self.mark(t)
                f.producers.append(call.call)
                call.layout = call.layout or f.layout
        if isinstance(module, ACTIVATION_MODULES) and isinstance(output, torch.Tensor):
            f = self.mark(output)
            f.ungated, f.gated = f.ungated | {call.call}, f.gated - {call.call}

    # -- operations ---------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.clock += 1
        name = getattr(func, "__name__", "")
        inputs = [(t, self.flow(t)) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        stack = None
        for _, f in inputs:
            if f is not None and f.producers:
                stack = frozenset(self.stack) if stack is None else stack
                for i, p in enumerate(f.producers):
                    self.reads[p].append((self.clock, stack, tuple(f.producers[i + 1:])))
        out = func(*args, **kwargs)
        outputs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        if not outputs or not inputs:
            return out
        ungated: frozenset[int] = frozenset()
        gated: frozenset[int] = frozenset()
        for _, f in inputs:
            if f is None:
                continue
            if name in _PRODUCTS and f.gate:
                gated |= f.ungated | f.gated
            else:
                ungated, gated = ungated | f.ungated, gated | f.gated
        first = inputs[0][1]
        gate = name in _GATES or (name in _RESHAPES and first is not None and first.gate)
        if name in _LAST_AXIS:
            layout = "last"
        elif name in _FIRST_AXIS:
            layout = "first"
        elif first is not None and outputs[0].shape == inputs[0][0].shape:
            layout = first.layout
        else:
            layout = None
        for t in outputs:
            f = self.mark(t)
            f.ungated, f.gated, f.gate, f.layout = ungated, gated - ungated, gate, layout
        owner = self.calls[self.stack[-1]] if self.stack else None
        kind = owned_functional(func, owner.module if owner else None)
        if kind is not None and isinstance(out, torch.Tensor):
            self.functional(kind, owner, out)
        return out

    def functional(self, kind: str, owner: _Call | None, out: torch.Tensor) -> None:
        """Record a functional activation call as a site of its own."""
        self.clock += 1
        name = functional_name(owner.name if owner else "", kind)
        call = _Call(name, None, len(self.calls), owner.call if owner else -1, self.clock, f"{kind}()",
                     functional=True, index=self.counts[name], end=self.clock, order=self.completed)
        self.counts[name] += 1
        self.completed += 1
        self.calls.append(call)
        with torch._C.DisableTorchFunction():
            call.stats = stats(out)
        f = self.mark(out)
        call.layout = f.layout
        f.producers.append(call.call)
        f.ungated, f.gated = f.ungated | {call.call}, f.gated - {call.call}


def trace(
    model: nn.Module, x: torch.Tensor, logits: Callable[[Any], torch.Tensor] | None = None
) -> Trace:
    """Run ``model(x)`` with every module call and every operation observed.

    Returns the call sites in execution order (by completion) and the forward's
    output. ``logits`` (the check's output picker) is applied inside the trace,
    so that it can tell which activations the logits depend on (when it fails,
    every activation counts as on the main path). Hooks are
    removed before returning, also on error. A forward that fails here (wrong
    input shape or dtype, a device mismatch inside the model) is reported as a
    :class:`ModelError` that says so, with the original error chained.
    """
    tracer = _Tracer(model)
    handles = []
    for module in tracer.names:
        handles.append(module.register_forward_pre_hook(tracer.enter))
        handles.append(module.register_forward_hook(tracer.leave))
    try:
        with tracer:
            tracer.mark(x).producers.append(INPUT)
            try:
                result = model(x)
            except (MemcheckError, torch.OutOfMemoryError):
                raise
            except Exception as exc:
                raise forward_failed(exc) from exc
            broken = next((c.name for c in sorted(tracer.calls, key=lambda c: c.order)
                           if c.stats is not None and not c.stats[2]), None)
            if broken is not None and _has_nan(result):
                raise ActivationError(
                    f"the model's output contains NaN and layer {broken!r} is the first to produce NaN or inf on "
                    "the check's batches; the model is numerically broken for these inputs (check the weights and "
                    "the input scaling)"
                )
            try:
                picked = logits(result) if logits is not None else result
            except MemcheckError:  # reported by the check's own pass over all samples, in its terms
                picked = None
            main = tracer.flow(picked) if isinstance(picked, torch.Tensor) else None
    finally:
        for h in handles:
            h.remove()
    totals: dict[str, int] = defaultdict(int)
    for c in tracer.calls:
        totals[c.name] += 1
    sites = []
    for c in sorted(tracer.calls, key=lambda c: c.order):
        shape, minimum, finite, nonzero = c.stats or (None, float("nan"), True, 0.0)
        activation = c.functional or isinstance(c.module, ACTIVATION_MODULES)
        sites.append(CallSite(
            c.name, c.index, totals[c.name], c.order, c.kind, shape, minimum, finite, nonzero,
            activation=activation, functional=c.functional,
            channels_last=c.layout == "last" and shape is not None and len(shape) >= 2,
            main=main is None or not main.ungated or c.call in main.ungated,
            call=c.call, parent=c.parent, start=c.start, end=c.end,
        ))
    return Trace(sites, result, dict(tracer.reads))


def forward_failed(exc: Exception) -> ModelError:
    """The error for a forward pass that raised on the check's inputs."""
    return ModelError(
        f"the model's forward pass failed on the check's inputs with {type(exc).__name__}: {_first_lines(exc)}; "
        "memcheck feeds the drawn training inputs unchanged, so make the data give what the model takes "
        "(shape, dtype, device; a transform the training loop applied must be part of the dataset)"
    )


def _first_lines(exc: BaseException, limit: int = 400) -> str:
    """An exception's message, cut to a length that fits a CI log (torch's dispatch errors run to pages)."""
    text = str(exc).strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " ..."


def _has_nan(output: Any) -> bool:
    """Whether a forward's output (a tensor, or a tuple/list/dict of them) holds a NaN."""
    parts = output.values() if isinstance(output, dict) else output if isinstance(output, (tuple, list)) else [output]
    return any(isinstance(t, torch.Tensor) and t.is_floating_point() and bool(t.isnan().any()) for t in parts)


def _suggest(pattern: str, model: nn.Module, sites: list[CallSite]) -> str:
    acts = [s.label for s in sites if s.activation and s.main]
    names = [n for n, _ in model.named_modules() if n] + sorted({s.name for s in sites if s.functional})
    close = difflib.get_close_matches(pattern, names, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(acts[-8:]) if acts else "none"
    what = "ReLU layers" if all(s.is_relu for s in sites if s.label in acts) else "Activation layers"
    return f"{hint} {what} of this model, in execution order: {listing}."


def defaults(sites: list[CallSite], method: str) -> tuple[list[CallSite], list[str]]:
    """The last :data:`DEFAULT_LAYER_COUNT` activations on the main path, and notes on the choice.

    Activations in gating side branches (squeeze-excitation) reach the logits
    only through a sigmoid that scales the main path: compressing them says
    little about the main path's representation, so they are passed over. So
    are dead ones (all zeros on the traced samples, as the score's layers):
    compressing zeros measures nothing, and a network that collapsed in
    training (a dead last layer, one prediction for every sample) then gets the
    gate's *at chance* verdict instead of an error. NMF needs non-negative
    activations: if the last ones are not (SiLU, GELU, Hardswish), the error
    names them and the methods that work.
    """
    acts = [s for s in sites if s.activation]
    main = [s for s in acts if s.main]
    if not main:
        raise LayerError(
            "the model has no activation layers (nn.ReLU, F.relu / torch.relu in forward, SiLU, GELU, ...) "
            "on its path to the logits; pass layers=[...] with the names of the modules to compress"
        )
    live = [s for s in main if s.nonzero > 0]
    chosen = (live or main)[-DEFAULT_LAYER_COUNT:]  # every one dead: the validation names the dead layer
    if method == "nmf" and not all(s.is_relu for s in chosen):
        others = [s for s in chosen if not s.is_relu]
        kinds = ", ".join(dict.fromkeys(s.kind for s in others))
        relus = [s.label for s in main if s.is_relu][-DEFAULT_LAYER_COUNT:]
        pick = f" (the last ones: {', '.join(relus)})" if relus else ""
        which = "are" if len(others) == len(chosen) else "include"
        raise LayerError(
            f"the last activations on the model's main path {which} {kinds} ({', '.join(s.label for s in others)}), "
            "which output negative values, and NMF factorizes non-negative activations (ReLU); use "
            f"method='pca' or method='random', which compress any activation, or name ReLU layers with "
            f"layers=[...]{pick}"
        )
    notes = []
    dead = [s.label for s in main if s.nonzero == 0 and s.order > chosen[0].order]
    if dead and live:
        notes.append(
            f"{', '.join(dead)} {'outputs' if len(dead) == 1 else 'output'} only zeros (a dead layer), so the "
            f"default layers are the last live ones: {', '.join(s.label for s in chosen)}"
        )
    skipped = [s.label for s in acts if not s.main and s.order > chosen[0].order]
    if skipped:
        notes.append(
            f"default layers {', '.join(s.label for s in chosen)} are the last activations on the main path; "
            f"{', '.join(skipped[:4])}{' ...' if len(skipped) > 4 else ''} "
            f"{'sits' if len(skipped) == 1 else 'sit'} in gating side branches (squeeze-excitation) that only "
            "scale the main path through a sigmoid, so they were passed over"
        )
    for s in chosen:
        if s.functional:
            owner = s.name[: -len(s.kind) - 1] or "the model's own forward"
            notes.append(f"layer {s.label!r} is a functional {s.kind} call in {owner} (not a module)")
    return chosen, notes


def resolve(
    model: nn.Module, sites: list[CallSite], layers: str | Sequence[str] | None, method: str = "nmf"
) -> list[CallSite]:
    """The call sites that ``layers`` names, in execution order.

    ``None`` means the defaults (:func:`defaults`). A name may be a glob
    (``"features.*"``) and may end in ``#i`` to pick one call of a reused
    module; without it, every call of the module is compressed. Functional
    activations are named as :func:`functional_name` says (``"relu()"``).
    """
    if layers is None:
        return defaults(sites, method)[0]
    patterns = [layers] if isinstance(layers, str) else list(layers)
    wrong = [p for p in patterns if not isinstance(p, str)]
    if wrong:
        raise LayerError(
            f"layers must be module names (strings), got {wrong[0]!r}; write layers=[{str(wrong[0])!r}] "
            "(the names of model.named_modules())"
        )
    if not patterns:
        raise LayerError("layers=[] selects nothing; leave layers unset for the last three activation layers")
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


def with_stats(site: CallSite, measured: tuple | None) -> CallSite:
    """``site`` with the statistics of its output measured on all the check's samples."""
    shape, minimum, finite, nonzero = measured or (None, float("nan"), True, 0.0)
    return replace(site, shape=shape, minimum=minimum, finite=finite, nonzero=nonzero)


def validate(sites: list[CallSite], all_sites: list[CallSite], method: str = "nmf") -> None:
    """Check that the chosen sites output finite, non-dead activations that ``method`` can compress.

    NMF needs non-negative activations; PCA and random ablation take any. A
    non-finite chosen site is blamed on the first non-finite call at or before
    it in execution order, where the problem starts. Non-finite values in
    layers the chosen ones do not depend on (after the last one) are left to
    the logits check.
    """
    for chosen in sites:
        if not chosen.finite:
            origin = next((s for s in all_sites if not s.finite and s.order <= chosen.order), chosen)
            where = "" if origin.label == chosen.label else f" (first seen at layer {origin.label!r})"
            raise ActivationError(
                f"layer {chosen.label!r} produced NaN or inf activations on the check's batches{where}; "
                "the model is numerically broken for these inputs (check the weights and the input scaling)"
            )
    for s in sites:
        if s.shape is None:
            raise LayerError(f"layer {s.label!r} does not return a floating-point tensor; pick an activation layer")
        if len(s.shape) < 1:
            raise LayerError(f"layer {s.label!r} outputs one number per sample; pick a layer with units/channels")
        if method == "nmf" and s.minimum < 0:
            what = f"it is a {s.kind}" if s.activation else f"it is a {s.kind}, not an activation"
            raise LayerError(
                f"layer {s.label!r} outputs negative values (minimum {s.minimum:.3g}): {what}, and NMF "
                "factorizes non-negative activations; pick the ReLU that follows it, or use method='pca' "
                "or method='random', which compress any activation"
            )
        if s.nonzero == 0:
            raise ActivationError(
                f"layer {s.label!r} outputs only zeros on the check's batches (a dead layer), so compressing "
                "it measures nothing; pick another layer or check the model's training"
            )
