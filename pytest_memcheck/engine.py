"""The memorization check: compress deep activations over a k grid, measure accuracy.

``check`` compresses the chosen layers together (paper eq. 4), once per k of
the grid, on every architecture at about the cost of one forward pass plus the
part of the network after the first compressed layer, once per k:

1. :meth:`_Probe.prepare` traces the forward on two samples (which calls run,
   which activations lie on the main path, what later code reads), then runs
   the draw once uncompressed, recording the prefix (every module call that
   returns before the first compressed layer starts, :mod:`prefix`) and the
   first compressed layer's output. That :class:`Prefix` is the draw's cache.
2. :meth:`_Probe.sweep` factorizes the first layer for every class *and* every
   rank in one batched call, then runs one pass per k in which the prefix is
   replayed, not recomputed, and every later chosen layer is factorized at that
   rank. It returns per-sample correctness, ``(K, groups, n)``.

Several sweeps can run over one prefix, each with its own :class:`Compressor`,
grid and grouping of the samples into batches (``order``): a multi-class
regrouping or a random-ablation sweep of the same samples costs its K passes
and its factorizations, not another uncompressed forward.
"""

from __future__ import annotations

import hashlib
import numbers
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence, Union

import numpy as np
import torch
from torch import nn

from . import score as score_mod
from . import stats
from .batches import Batches, draw
from .compress import Compressor, default_grid, effective_rank, validate_grid
from .errors import DataError, MemcheckError, MemcheckWarning, ModelError
from .factorize import DEFAULT_ITERATIONS
from .hooks import Calls, ensure_eval, inspection, to_matrices
from .layers import CallSite, Trace, _has_nan, defaults, forward_failed, resolve, trace, validate, with_stats
from .layers import stats as output_stats
from .prefix import Plan, keep, placeholder, plan, player
from .result import CheckResult

Output = Union[None, str, int, Callable[[Any], torch.Tensor]]
Layers = Union[None, str, Sequence[str]]

#: Samples the structure of the forward is traced on (the trace follows every operation in Python).
TRACE_SAMPLES = 2


def parse_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``; a name torch does not know is an error that shows the right form."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"device={device!r} is not a torch device ({exc}); use e.g. 'cpu', 'cuda' or 'cuda:1'") from exc


def _model_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """The device the check runs on: the model's own; ``device`` only asserts it.

    memcheck never moves a model (that would change the caller's object and
    cost memory), so a mismatch is an error that names the call fixing it.
    """
    if isinstance(model, torch.jit.ScriptModule):
        raise ModelError(
            "TorchScript models cannot be hooked, so their activations cannot be compressed; "
            "check the eager nn.Module (build it and load its state dict)"
        )
    if not isinstance(model, nn.Module):
        raise ModelError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    devices = {p.device for p in model.parameters()} | {b.device for b in model.buffers()}
    if len(devices) > 1:
        raise ModelError(
            f"the model's parameters are spread over {sorted(map(str, devices))}; "
            "memcheck needs a model on one device (call model.to(device) first)"
        )
    own = devices.pop() if devices else None
    if own is not None and own.type == "meta":
        raise ModelError(
            "the model's parameters are on the meta device and hold no values; materialize it first: "
            "model.to_empty(device='cpu') then model.load_state_dict(...)"
        )
    if device is None:
        return own or torch.device("cpu")
    wanted = parse_device(device)
    if wanted.type == "meta":
        raise ModelError(
            f"device='meta' holds no values, so nothing can be measured there; leave device unset to use "
            f"the model's own device ({own or 'cpu'})"
        )
    if own is not None and (
        own.type != wanted.type or (None not in (wanted.index, own.index) and own.index != wanted.index)
    ):
        raise ModelError(
            f"the model is on {own} but device={str(wanted)!r} was asked for; memcheck never moves "
            f"your model: call model.to({str(wanted)!r}) first, or leave device unset to use {own}"
        )
    if wanted.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device={str(wanted)!r} was asked for but CUDA is not available here; use device='cpu'")
    return own or wanted


def _unwrap(model: Any) -> tuple[Any, str, list[str]]:
    """The eager module inside ``torch.compile`` / ``DataParallel`` / DDP wrappers.

    Returns the module, the prefix the wrappers add to layer names
    (``"_orig_mod."``, ``"module."``) and the wrappers' names. The check runs
    the eager module: hooks see its calls, and compiling costs more than a check.
    """
    prefix, wrappers = "", []
    while True:
        if type(model).__name__ == "OptimizedModule" and isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model, prefix, wrappers = model._orig_mod, prefix + "_orig_mod.", wrappers + ["torch.compile"]
        elif isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            wrappers.append(type(model).__name__)
            model, prefix = model.module, prefix + "module."
        else:
            return model, prefix, wrappers


def _own_names(layers: Layers, prefix: str) -> Layers:
    """Layer names as the eager module knows them: a wrapper's prefix, if written, is dropped."""
    if not prefix or layers is None:
        return layers
    strip = lambda p: p[len(prefix):] if isinstance(p, str) and p.startswith(prefix) else p  # noqa: E731
    return strip(layers) if isinstance(layers, str) else [strip(p) for p in layers]


def _parts(out: Any) -> str:
    """What a structured forward output offers to ``output=``, for error messages."""
    if isinstance(out, dict):
        return f" with keys {', '.join(map(repr, out))}"
    if isinstance(out, (tuple, list)):
        return f" of length {len(out)} (indices 0..{len(out) - 1})"
    tensors = _tensor_attributes(out)
    return f" with tensor attributes {', '.join(map(repr, tensors))}" if tensors else ""


def _tensor_attributes(out: Any) -> list[str]:
    """The tensor-valued attributes of an object (a HuggingFace-style output with ``.logits``)."""
    try:
        return [k for k, v in vars(out).items() if isinstance(v, torch.Tensor)]
    except TypeError:
        return []


def _logits_fn(output: Output) -> Callable[[Any], torch.Tensor]:
    """Get ``(batch, classes)`` logits from whatever the model's forward returns.

    Applied to every forward, the compressed ones included, so that NaN logits
    are reported rather than silently counted as wrong predictions (argmax of
    a NaN row is an arbitrary class). Infinite logits are accepted: argmax is
    well defined, and -inf is a common mask for impossible classes.
    """

    def select(out: Any) -> Any:
        if callable(output):
            try:
                return output(out)
            except MemcheckError:
                raise
            except Exception as exc:
                raise ModelError(
                    f"output={getattr(output, '__name__', output)!r} raised {type(exc).__name__}: {exc}; "
                    "it must turn the model's output into (batch, classes) logits"
                ) from exc
        if output is None:
            return out
        if isinstance(out, torch.Tensor):
            raise ModelError(
                f"output={output!r} selects a part of a tuple, dict or object, but the model's forward returned "
                "a logits tensor already; leave output unset"
            )
        try:
            return out[output]
        except (KeyError, IndexError, TypeError) as exc:
            if isinstance(output, str) and isinstance(getattr(out, output, None), torch.Tensor):
                return getattr(out, output)
            raise ModelError(
                f"output={output!r} could not select the logits from the model's {type(out).__name__}"
                f"{_parts(out)}; pass one of those, or output=callable"
            ) from exc

    def pick(out: Any) -> torch.Tensor:
        out = select(out)
        if not isinstance(out, torch.Tensor):
            attrs = _tensor_attributes(out)
            example = f"output={attrs[0]!r} for this object" if attrs else "output='logits' for a dict or an object"
            raise ModelError(
                f"the model's forward returned a {type(out).__name__}{_parts(out)}, not a logits tensor; "
                f"tell memcheck which part holds the logits, e.g. output=0 for a tuple, {example}, "
                "or output=callable"
            )
        if out.dim() != 2:
            raise ModelError(
                f"expected logits of shape (batch, classes), got {tuple(out.shape)}; "
                "pass output=callable to turn the model's output into logits"
            )
        if out.is_complex():
            raise ModelError(
                f"the model's logits are complex ({out.dtype}), so they do not rank classes; pass "
                "output=callable that returns real logits (e.g. output=lambda out: out.abs())"
            )
        if out.is_floating_point() and bool(out.isnan().any()):
            raise ModelError(
                "the model's logits contain NaN on the check's batches, so its predictions mean nothing; "
                "check the model on these inputs (weights, input scaling, a layer that overflows)"
            )
        return out.detach()

    return pick


@dataclass
class Prefix:
    """One draw, traced and run once uncompressed: what every sweep over it reuses.

    Holds the compressed layers (with their statistics on the whole draw), the
    uncompressed correctness, the first compressed layer's uncompressed output
    and the recordings that the compressed passes replay (:mod:`prefix`).
    """

    batches: Batches
    sites: list[CallSite]
    selected: list[CallSite]
    base: np.ndarray  # (groups, n): uncompressed prediction correct
    plan: Plan
    first: torch.Tensor
    replay: dict[str, dict[int, Callable[[], Any]]]
    input: Callable[[], torch.Tensor]
    classes: int  # the model's number of outputs
    #: calls per forward of every module or function a pass watches: a pass that differs took another path
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Probe:
    """One model, one device, one compression method: prepares draws and sweeps them."""

    model: nn.Module
    device: torch.device
    logits: Callable[[Any], torch.Tensor]
    compressor: Compressor
    grid: tuple[float, ...]
    notes: list[str] = field(default_factory=list)
    ranks: dict[str, list[int]] = field(default_factory=dict)
    prefix_seconds: float = 0.0
    solver_seconds: float = 0.0
    sweep_seconds: float = 0.0

    def trace(self, x: torch.Tensor) -> Trace:
        """The forward's structure, traced on a few samples (the trace follows every operation in Python)."""
        return trace(self.model, x[:TRACE_SAMPLES].clone(), self.logits)

    def prepare(
        self, batches: Batches, layers: Layers = None, structure: Trace | None = None, method: str | None = None
    ) -> Prefix:
        """Trace, choose the layers, and run the draw once uncompressed: the cache every sweep reuses.

        ``layers`` as in :func:`check`; ``structure`` reuses a trace of the same
        model; ``method`` (default: the probe's) is the one that will compress them.
        """
        return self.prepare_all(batches, [(layers, method)], structure)[0]

    def prepare_all(
        self, batches: Batches, wanted: Sequence[tuple[Layers, str | None]], structure: Trace | None = None
    ) -> list[Prefix]:
        """:meth:`prepare` for several ``(layers, method)`` choices on one draw, from one uncompressed pass."""
        start = time.perf_counter()
        x = batches.x.to(self.device)
        structure = structure or self.trace(x)
        methods = [method or self.compressor.method for _, method in wanted]
        selections = [self._select(structure, layers, method) for (layers, _), method in zip(wanted, methods)]
        try:
            prefixes = self._capture(batches, x, structure, selections, methods)
        except _PathChanged:
            structure = trace(self.model, x.clone(), self.logits)  # the few samples took another path
            selections = [
                [s for s in structure.sites if s.label in {t.label for t in selected}] for selected in selections
            ]
            prefixes = self._capture(batches, x, structure, selections, methods)
        self.prefix_seconds += time.perf_counter() - start
        return prefixes

    def _select(self, structure: Trace, layers: Layers, method: str) -> list[CallSite]:
        if layers is None:
            selected, notes = defaults(structure.sites, method)
            self.notes.extend(notes)
            return selected
        return resolve(self.model, structure.sites, layers, method)

    def _capture(
        self, batches: Batches, x: torch.Tensor, structure: Trace, selections: list[list[CallSite]], methods: list[str]
    ) -> list[Prefix]:
        """Run the draw uncompressed, recording what the compressed passes of every selection will replay."""
        routes = [plan(structure, selected[0]) for selected in selections]
        recorded: list[dict[str, dict[int, Any]]] = [{} for _ in selections]
        measured: dict[CallSite, tuple | None] = {}
        firsts = {selected[0] for selected in selections}
        first_outputs: dict[CallSite, torch.Tensor] = {}

        def record(store: dict[str, dict[int, Any]], name: str, index: int, read: bool) -> Callable[[Any], None]:
            def fn(out: Any) -> None:
                store.setdefault(name, {})[index] = keep(out) if read else placeholder(out)
            return fn

        def measure(site: CallSite) -> Callable[[Any], None]:
            def fn(out: Any) -> None:
                measured[site] = output_stats(out)
                if site in firsts and isinstance(out, torch.Tensor):
                    first_outputs[site] = keep(out)
            return fn

        by_name = {(s.name, s.index): s for s in structure.sites}
        watchers = {s: [measure(s)] for selected in selections for s in selected}
        watched: list[set[CallSite]] = []
        for selected, route, store in zip(selections, routes, recorded):
            own = set(selected)
            for name, calls in route.replayed.items():
                for index, read in calls.items():
                    site = by_name[name, index]
                    own.add(site)
                    watchers.setdefault(site, []).append(record(store, name, index, read))
            watched.append(own)
        observe = {site: _all_of(fns) for site, fns in watchers.items()}
        counts = {s.name: s.calls for s in observe}
        with Calls.sites(self.model, observe) as calls:
            try:
                out = self.model(x.clone())
            except (MemcheckError, torch.OutOfMemoryError):
                raise
            except Exception as exc:
                raise forward_failed(exc) from exc
        ensure_eval(self.model)
        if {n: calls.counted(n) for n in counts} != counts:
            raise _PathChanged
        try:
            logits = self.logits(out)
        except ModelError:
            if _has_nan(out):
                trace(self.model, x.clone())  # names the first layer that breaks, if one does
            raise
        classes = logits.shape[1]
        top = int(batches.y.max())
        if top >= classes:
            raise DataError(
                f"label {top} is out of range for a model with {classes} outputs; labels must be 0..{classes - 1}"
            )
        correct = (logits.argmax(1).cpu() == batches.y.flatten()).reshape(batches.y.shape).numpy()
        prefixes = []
        for selected, method, route, store, own in zip(selections, methods, routes, recorded, watched):
            head = selected[0]
            selected = [with_stats(s, measured.get(s)) for s in selected]
            if not all(s.finite for s in selected):
                validate(selected, trace(self.model, x.clone()).sites, method)
            validate(selected, structure.sites, method)  # before reading the first layer's output: it may have none
            first = first_outputs[head]
            replay = {
                name: {i: player(value, route.replayed[name][i]) for i, value in calls.items()}
                for name, calls in store.items()
            }
            fresh = player(x, True) if route.input_read else player(placeholder(x), False)
            prefixes.append(Prefix(
                batches, structure.sites, selected, correct, route, first, replay, fresh, classes,
                {s.name: s.calls for s in own},
            ))
        return prefixes

    def sweep(
        self,
        prefix: Prefix,
        compressor: Compressor | None = None,
        grid: Sequence[float] | None = None,
        order: Any = None,
    ) -> np.ndarray:
        """``(K, groups, n)`` correctness with the prefix's layers compressed at every k of ``grid``.

        ``compressor`` and ``grid`` default to the check's; another compressor
        without a grid gets its method's default grid. ``order`` regroups the
        draw: a ``(groups, n)`` array of sample indices (into the draw's
        samples, class by class: ``batches.y.flatten()``), each sample at least once (a repeat pads a short batch);
        batches are then factorized group by group, and the result follows
        ``order``'s layout. Default: the draw's own groups.

        Cost: one factorization of every class and rank at the first layer, then
        K passes that replay the prefix and recompute the rest of the network
        (one factorization per later layer and pass).
        """
        start = time.perf_counter()
        compressor = compressor or self.compressor
        own = compressor is self.compressor
        grid = (self.grid if own else _grid(compressor.method, None)) if grid is None else _grid(compressor.method, grid)
        bt = prefix.batches
        index = _grouping(order, bt)
        groups = index.shape[0]
        flat = None if order is None else index.flatten().to(self.device)
        y = bt.y.flatten()[index]
        validate(prefix.selected, prefix.sites, compressor.method)
        K = len(grid)
        first, *later = prefix.selected

        # The first layer sees the same input at every k: all ranks at once, sharing one decomposition.
        t0 = time.perf_counter()
        a = prefix.first
        mats, back = to_matrices(a, groups, first.channels_last, flat)
        ranks = self._ranks(first, mats.shape[1], mats.shape[2], compressor, grid, own)
        one = compressor.shared_svd(mats, max(ranks))
        approx = compressor(
            mats.repeat(K, 1, 1), torch.tensor(ranks, device=a.device).repeat_interleave(groups),
            None if one is None else one.repeat(K),
        )
        firsts = [back(approx[i * groups:(i + 1) * groups]).to(a.dtype) for i in range(K)]
        del approx
        self._synced(t0, a)

        masks: dict[CallSite, torch.Tensor] = {}

        def compress(site: CallSite, i: int) -> Callable[[torch.Tensor], torch.Tensor]:
            def fn(out: torch.Tensor) -> torch.Tensor:
                t = time.perf_counter()
                a = out.detach()
                mats, back = to_matrices(a, groups, site.channels_last, flat)
                r = self._ranks(site, mats.shape[1], mats.shape[2], compressor, grid, own)
                if compressor.method == "random" and site not in masks:  # drawn for all k, as the first layer's
                    masks[site] = compressor.keep_masks(mats.shape[2], torch.tensor(r).repeat_interleave(groups))
                keep = masks[site][i * groups:(i + 1) * groups] if site in masks else None
                ranks = torch.full((groups,), r[i], device=a.device)
                new = back(compressor(mats, ranks, None, keep)).to(a.dtype)
                self._synced(t, new)
                return new
            return fn

        preds = []
        for i in range(K):
            observe = {s: compress(s, i) for s in later}
            replay = dict(prefix.replay)
            if first.functional:
                observe[first] = lambda _out, i=i: firsts[i]
            else:
                replay[first.name] = {**replay.get(first.name, {}), first.index: lambda i=i: firsts[i]}
            with Calls.sites(self.model, observe, replay=replay) as calls:
                try:
                    out = self.model(prefix.input())
                except (MemcheckError, torch.OutOfMemoryError, torch.linalg.LinAlgError):
                    raise
                except Exception as exc:
                    raise ModelError(
                        f"the model's forward failed in a compressed pass (k={grid[i]:g}) with "
                        f"{type(exc).__name__}: {exc}; it ran uncompressed on the same inputs just before"
                    ) from exc
            ensure_eval(self.model)
            if {n: calls.counted(n) for n in prefix.counts} != prefix.counts:
                raise ModelError(
                    "the model's forward called other layers in a compressed pass than in the uncompressed one; "
                    "memcheck needs a forward whose layer calls do not depend on the activations' values"
                )
            preds.append(self.logits(out).argmax(1).cpu())
        self.sweep_seconds += time.perf_counter() - start
        predicted = torch.stack(preds)[:, index.flatten()].reshape(K, *index.shape)
        return (predicted == y[None]).numpy()

    def _synced(self, t0: float, t: torch.Tensor) -> None:
        if t.is_cuda:
            torch.cuda.synchronize(t.device)
        self.solver_seconds += time.perf_counter() - t0

    def _ranks(
        self, site: CallSite, m: int, q: int, compressor: Compressor, grid: tuple[float, ...], own: bool
    ) -> list[int]:
        method = compressor.method
        ranks = [effective_rank(method, k, m, q) for k in grid]
        if own and site.label not in self.ranks:
            self.ranks[site.label] = ranks
            self.notes.extend(_clipping(method, grid, ranks, site.label, m, q))
        return ranks


def _clipping(method: str, grid: Sequence[float], ranks: list[int], label: str, m: int, q: int) -> list[str]:
    """Notes on grid values that a layer cannot take as they are: ranks above its limit, unit counts out of range."""
    ks = lambda values: ", ".join(f"{k:g}" for k in values)  # noqa: E731
    if method != "random":
        clipped = [k for k, r in zip(grid, ranks) if r < k]
        if not clipped:
            return []
        return [f"k={ks(clipped)} exceed{'s' if len(clipped) == 1 else ''} the rank limit min(m, q) = {min(m, q)} "
                f"of layer {label!r} ({m} x {q}); clipped to it"]
    notes = []
    raised = [k for k in grid if k <= 1 and round(k * q) < 1]
    if raised:
        notes.append(f"k={ks(raised)} keep{'s' if len(raised) == 1 else ''} less than one of the {q} units of "
                     f"layer {label!r}; raised to one unit")
    clipped = [k for k in grid if k > q]
    if clipped:
        notes.append(f"k={ks(clipped)} exceed{'s' if len(clipped) == 1 else ''} the {q} units of layer {label!r}; "
                     "clipped to all of them")
    return notes


def _all_of(watchers: list[Callable[[Any], None]]) -> Callable[[Any], None]:
    """One observer that hands a call's output to each of ``watchers``."""
    if len(watchers) == 1:
        return watchers[0]

    def fn(out: Any) -> None:
        for watch in watchers:
            watch(out)
    return fn


class _PathChanged(Exception):
    """The uncompressed pass over all samples called other layers than the trace of a few."""


def _grouping(order: Any, bt: Batches) -> torch.Tensor:
    """``order`` as a ``(groups, n)`` long tensor of sample indices; default: the draw's groups.

    Every sample must appear; one may repeat to pad a short batch to the others' size.
    """
    total = bt.y.numel()
    if order is None:
        return torch.arange(total).reshape(bt.y.shape)
    index = torch.as_tensor(np.asarray(order), dtype=torch.long)
    if index.dim() != 2 or not torch.equal(index.flatten().unique(), torch.arange(total)):
        raise MemcheckError(f"order must be a (groups, n) arrangement of the draw's {total} sample indices, each at least once")
    return index


def _summarize(
    probe: _Probe,
    runs: list[tuple[Batches, np.ndarray, np.ndarray]],
    labels: list[str],
    settings: dict[str, Any],
    started: float,
    scored: list[tuple[tuple[float, ...], np.ndarray]] | None = None,
) -> CheckResult:
    """The result of the sweeps in ``runs`` (one per draw) and of the score's sweeps ``scored`` (ranks, outcome)."""
    correct = np.concatenate([c for _, c, _ in runs], axis=1)  # (K, groups, n)
    base = np.concatenate([b for _, _, b in runs], axis=0)  # (groups, n)
    y = np.concatenate([bt.y.numpy() for bt, _, _ in runs], axis=0)
    curve = {float(k): float(correct[i].mean()) for i, k in enumerate(probe.grid)}
    sample_auc = correct.mean(axis=0)
    per_class = {int(c): float(sample_auc[y == c].mean()) for c in np.unique(y)}
    auc = float(sample_auc.mean())
    base_accuracy = float(base.mean())
    confidence, seed = settings["confidence"], settings["seed"]
    ci = stats.bootstrap_ci(sample_auc, confidence=confidence, seed=seed, resample_groups=True)
    score = score_ci = None
    score_samples: list[list[float | None]] = []
    regression_samples: list[list[float | None]] = []
    score_curve: dict[float, float] = {}
    score_groups: list[list[float]] = []
    if scored:
        ranks = scored[0][0]
        outcome = np.concatenate([c for _, c in scored], axis=1).astype(float)  # (K, classes x repeats, n)
        values = outcome.mean(axis=0)
        score, score_ci = stats.mean(values), stats.bootstrap_ci(values, confidence=confidence, seed=seed)
        score_samples = _stored(values)
        upper = set(score_mod.mix(scored[0][1].shape[1:]).regression_ranks())  # one draw's (classes, n)
        regression_samples = _stored(outcome[[i for i, k in enumerate(ranks) if k in upper]].mean(axis=0))
        score_curve = {float(k): float(outcome[i].mean()) for i, k in enumerate(ranks)}
        score_groups = np.round(outcome.mean(axis=2).T, 6).tolist()
    total = time.perf_counter() - started
    settings = {**settings, "draw": _draw_fingerprint([bt for bt, _, _ in runs])}
    return CheckResult(
        auc=auc,
        auc_ci=ci,
        score=score,
        saturated=stats.is_saturated(auc, base_accuracy, score_ci),
        curve=curve,
        per_class=per_class,
        base_accuracy=base_accuracy,
        layers=labels,
        method=probe.compressor.method,
        settings=settings,
        timings={
            "total": total,
            "prefix": probe.prefix_seconds,
            "solver": probe.solver_seconds,
            "forward": max(probe.sweep_seconds - probe.solver_seconds, 0.0),
        },
        notes=list(dict.fromkeys(probe.notes)),
        ranks={k: v for k, v in probe.ranks.items() if k in labels},
        samples=np.round(sample_auc, 6).tolist(),
        group_curves=np.round(correct.mean(axis=2).T, 6).tolist(),
        score_ci=score_ci,
        score_samples=score_samples,
        regression_samples=regression_samples,
        score_curve=score_curve,
        score_group_curves=score_groups,
    )


def _stored(values: np.ndarray) -> list[list[float | None]]:
    """Per-sample values as a result keeps them: 6 decimals, None for a sample left out (NaN)."""
    return [[None if np.isnan(v) else round(float(v), 6) for v in row] for row in values]


def _score_sweep(probe: _Probe, prefix: Prefix) -> tuple[tuple[float, ...], np.ndarray]:
    """The score's sweep of a single-class draw: its mixed batches, at the score's layers, with :data:`score.METHOD`.

    ``prefix``: the draw prepared at :func:`score.layers` for :data:`score.METHOD`.
    Returns the ranks and the outcome ``(K, classes, n)`` in the draw's single-class layout.
    """
    mixed = score_mod.mix(tuple(prefix.batches.y.shape))
    compressor = Compressor(score_mod.METHOD, iterations=probe.compressor.iterations, seed=probe.compressor.seed)
    ranks = mixed.ranks()
    outcome = probe.sweep(prefix, compressor=compressor, grid=ranks, order=mixed.order)
    return ranks, mixed.to_single(outcome)


def _draw_fingerprint(draws: list[Batches]) -> str:
    """Identifies the drawn samples, so that two results on the same draw can be compared pairwise.

    Hashes the bytes of the inputs, whatever their dtype (bfloat16 has no numpy twin).
    """
    h = hashlib.sha256()
    for bt in draws:
        h.update(bt.x.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        h.update(bt.y.numpy().tobytes())
    return h.hexdigest()[:16]


#: Seeds seed torch.Generator, which takes 64-bit signed values (and repeats add to the seed).
MAX_SEED = 2**63 - 1


def require_whole(value: Any, name: str, minimum: int, why: str = "") -> int:
    """A count or seed as a Python int: a whole number >= ``minimum`` (numpy's too), checked before any work."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value < minimum:
        raise MemcheckError(f"{name} must be a whole number >= {minimum}, got {value!r}{why}")
    return int(value)


def _grid(method: str, ks: Iterable[float] | None) -> tuple[float, ...]:
    """The k grid as a tuple of Python numbers, validated for ``method``."""
    if ks is None:
        return validate_grid(method, default_grid(method))
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise MemcheckError(f"ks must be a sequence of numbers such as ks=(1, 2, 4, 8), got {ks!r}")
    grid = tuple(ks)
    wrong = [k for k in grid if not isinstance(k, numbers.Real) or isinstance(k, (bool, np.bool_))]
    if wrong:
        raise MemcheckError(f"ks must hold numbers, got {wrong[0]!r} in {grid!r}; e.g. ks=(1, 2, 4, 8)")
    return validate_grid(method, tuple(int(k) if isinstance(k, numbers.Integral) else float(k) for k in grid))


def _setup(model, method, ks, residual, iterations, seed, device, output, confidence, repeats=1) -> _Probe:
    """Validate every setting before any work, and build the probe that runs the check."""
    dev = _model_device(model, device)
    grid = _grid(method, ks)
    iterations = require_whole(iterations, "iterations", 1, "; the NNDSVDa start alone is a poor fit")
    seed = require_whole(seed, "seed", 0)
    if seed + repeats - 1 > MAX_SEED:
        raise MemcheckError(
            f"seed must be at most 2**63 - 1 (torch.Generator's range; repeats use seed, seed + 1, ...), got {seed}"
        )
    if not isinstance(residual, (bool, np.bool_)):
        raise MemcheckError(f"residual must be True or False, got {residual!r}")
    if not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise MemcheckError(f"confidence must be a number in (0, 1) such as 0.95, got {confidence!r}")
    compressor = Compressor(method, residual=bool(residual), iterations=iterations, seed=seed)
    probe = _Probe(model, dev, _logits_fn(output), compressor, grid)
    if any(m.training for m in model.modules()):
        probe.notes.append("the model (or some of its modules) was in training mode; it was checked in eval mode and restored")
    return probe


def _settings(probe: _Probe, **kw: Any) -> dict[str, Any]:
    return {
        "method": probe.compressor.method,
        "ks": list(probe.grid),
        "residual": probe.compressor.residual,
        "iterations": probe.compressor.iterations,
        "device": str(probe.device),
        "torch": torch.__version__.split("+")[0],
        **kw,
    }


def _missing_classes(prefix: Prefix) -> str | None:
    """A note for the model's classes that the data has no samples of (they cannot be checked)."""
    missing = sorted(set(range(prefix.classes)) - set(prefix.batches.classes))
    if not missing:
        return None
    shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
    return (
        f"{len(missing)} of the model's {prefix.classes} classes ({shown}) have no samples in the data "
        "and were not checked"
    )


def _wrapped(model: Any, layers: Layers) -> tuple[nn.Module, Layers, list[str]]:
    """The module to check, the layer names in its own terms, and a note on any wrapper seen through."""
    inner, prefix, wrappers = _unwrap(model)
    notes = []
    if wrappers:
        notes.append(
            f"checked the eager module inside {' and '.join(wrappers)}; layer names are the module's own "
            f"(without {prefix!r})"
        )
    return inner, _own_names(layers, prefix), notes


def check(
    model: nn.Module,
    data: Any,
    *,
    layers: Layers = None,
    method: str = "nmf",
    ks: Sequence[float] | None = None,
    samples_per_class: int = 50,
    batches: str = "single",
    seed: int = 0,
    device: str | torch.device | None = None,
    residual: bool = False,
    classes: Sequence[int] | None = None,
    output: Output = None,
    iterations: int = DEFAULT_ITERATIONS,
    repeats: int = 1,
    confidence: float = 0.95,
    score: bool = True,
    keys: Sequence[str] | None = None,
) -> CheckResult:
    """Measure how well ``model`` survives compression of its deep activations.

    Draws ``samples_per_class`` training samples of every class with ``seed``
    (``batches="single"``: one batch per class; ``"multi"``: mixed batches of the
    same size), replaces the activations of ``layers`` (default: the last three
    activation layers on the main path) by their rank-k approximation for every
    k in ``ks``, all layers in one forward pass, and records the accuracy.
    ``repeats`` > 1 draws more batches (seeds ``seed``, ``seed + 1``, ...) and
    narrows the interval. ``keys`` names the (input, label) keys of a dataset
    whose items are dicts.

    ``ks`` defaults to ranks (1, 2, 3, 4, 6, 8, 12, 16) for ``"nmf"``/``"pca"`` and
    to kept fractions (0.02 ... 0.9) for ``"random"``. The model is left exactly
    as found: hooks removed, train/eval flags and buffers restored, no gradients,
    no writes. A ``torch.compile``, ``DataParallel`` or DDP wrapper is seen
    through: the eager module inside is checked, under its own layer names.

    ``result.auc`` is the paper's quantity. ``result.score`` (with
    ``score_ci``) is what the default gate judges: the share of predictions
    kept when the same drawn samples, regrouped into batches that mix the
    classes, are compressed at the same layers (:mod:`pytest_memcheck.score`);
    one scale for every architecture (docs/validation.md). It costs one more
    sweep over the same cached prefix; ``score=False`` skips it.
    """
    started = time.perf_counter()
    repeats = require_whole(repeats, "repeats", 1)
    inner, own_layers, wrapper_notes = _wrapped(model, layers)
    probe = _setup(inner, method, ks, residual, iterations, seed, device, output, confidence, repeats)
    probe.notes.extend(wrapper_notes)
    seed = int(seed)
    runs = []
    scored: list[tuple[tuple[float, ...], np.ndarray]] = []
    labels: list[str] = []
    with inspection(inner):
        for r in range(repeats):
            bt = draw(data, samples_per_class=samples_per_class, seed=seed + r, classes=classes, mode=batches, keys=keys)
            structure = probe.trace(bt.x.to(probe.device))
            wanted: list[tuple[Layers, str | None]] = [(own_layers if r == 0 else labels, None)]
            scoring = (score_mod.layers(structure.sites), score_mod.METHOD)
            if score and batches == "single":  # the score regroups this very draw: one uncompressed pass for both
                wanted.append(scoring)
            prefix, *more = probe.prepare_all(bt, wanted, structure)
            labels = [s.label for s in prefix.selected]
            runs.append((bt, probe.sweep(prefix), prefix.base))
            missing = _missing_classes(prefix) if classes is None else None
            if missing:
                probe.notes.append(missing)
            if score:  # the score regroups a single-class draw of the same samples
                if not more:
                    single = draw(data, samples_per_class=samples_per_class, seed=seed + r, classes=classes, keys=keys)
                    more = [probe.prepare(single, scoring[0], structure, scoring[1])]
                scored.append(_score_sweep(probe, more[0]))
    settings = _settings(
        probe,
        layers=None if own_layers is None else ([own_layers] if isinstance(own_layers, str) else list(own_layers)),
        samples_per_class=int(samples_per_class),
        batches=batches,
        seed=seed,
        repeats=repeats,
        confidence=float(confidence),
        classes=runs[0][0].classes,
        outputs=prefix.classes,
        depth=score_mod.depth(structure.sites),  # the architecture's: the same on every draw
    )
    return _summarize(probe, runs, labels, settings, started, scored)


def layerwise(
    model: nn.Module,
    data: Any,
    *,
    layers: Layers = None,
    method: str = "nmf",
    ks: Sequence[float] | None = None,
    samples_per_class: int = 50,
    batches: str = "single",
    seed: int = 0,
    device: str | torch.device | None = None,
    residual: bool = False,
    classes: Sequence[int] | None = None,
    output: Output = None,
    iterations: int = DEFAULT_ITERATIONS,
    confidence: float = 0.95,
    keys: Sequence[str] | None = None,
) -> dict[str, CheckResult]:
    """Compress each layer *alone* and return one result per layer (paper fig. 2c).

    ``layers`` defaults to every activation on the model's main path that
    ``method`` can compress (for NMF: the ReLU family), in execution order. All
    layers are measured on the same drawn batches.
    """
    started = time.perf_counter()
    model, layers, wrapper_notes = _wrapped(model, layers)
    probe = _setup(model, method, ks, residual, iterations, seed, device, output, confidence)
    probe.notes.extend(wrapper_notes)
    out: dict[str, CheckResult] = {}
    with inspection(model):
        bt = draw(data, samples_per_class=samples_per_class, seed=seed, classes=classes, mode=batches, keys=keys)
        structure = probe.trace(bt.x.to(probe.device))
        if layers is None:
            chosen = [s for s in structure.sites if s.activation and s.main and (method != "nmf" or s.is_relu)]
            if not chosen:
                defaults(structure.sites, method)  # raises the explanatory error
        else:
            chosen = resolve(model, structure.sites, layers, method)
        for site in chosen:
            probe.solver_seconds = probe.sweep_seconds = probe.prefix_seconds = 0.0
            t0 = time.perf_counter()
            prefix = probe.prepare(bt, [site.label], structure)
            correct = probe.sweep(prefix)
            settings = _settings(
                probe,
                layers=[site.label],
                samples_per_class=int(samples_per_class),
                batches=batches,
                seed=int(seed),
                repeats=1,
                confidence=float(confidence),
                classes=bt.classes,
            )
            out[site.label] = _summarize(probe, [(bt, correct, prefix.base)], [site.label], settings, t0)
    if not out:
        warnings.warn("layerwise found no layers to compress", MemcheckWarning, stacklevel=2)
    return out
