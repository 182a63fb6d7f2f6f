"""The memorization check: compress deep activations over a k grid, measure accuracy.

``check`` compresses the chosen layers together in one forward pass (paper
eq. 4) for every k of the grid at once: the batch is replicated once per k
*after* the uncompressed prefix of the network (the activations entering the
first compressed layer are computed once), and every layer's factorizations for
all classes and ranks are solved in one batched call.
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
from .hooks import inspection, install, to_matrices
from .layers import CallSite, resolve, trace, validate
from .result import CheckResult

Output = Union[None, str, int, Callable[[Any], torch.Tensor]]
Layers = Union[None, str, Sequence[str]]


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
    try:
        wanted = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"device={device!r} is not a torch device ({exc}); use e.g. 'cpu', 'cuda' or 'cuda:1'") from exc
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


def _parts(out: Any) -> str:
    """What a structured forward output offers to ``output=``, for error messages."""
    if isinstance(out, dict):
        return f" with keys {', '.join(map(repr, out))}"
    if isinstance(out, (tuple, list)):
        return f" of length {len(out)} (indices 0..{len(out) - 1})"
    return ""


def _logits_fn(output: Output) -> Callable[[Any], torch.Tensor]:
    """Get ``(batch, classes)`` logits from whatever the model's forward returns.

    Applied to every forward, the compressed ones included, so that NaN logits
    are reported rather than silently counted as wrong predictions (argmax of
    a NaN row is an arbitrary class). Infinite logits are accepted: argmax is
    well defined, and -inf is a common mask for impossible classes.
    """

    def pick(out: Any) -> torch.Tensor:
        if callable(output):
            out = output(out)
        elif output is not None:
            try:
                out = out[output]
            except (KeyError, IndexError, TypeError) as exc:
                raise ModelError(
                    f"output={output!r} could not select the logits from the model's {type(out).__name__}"
                    f"{_parts(out)}; pass one of those, or output=callable"
                ) from exc
        if not isinstance(out, torch.Tensor):
            raise ModelError(
                f"the model's forward returned a {type(out).__name__}{_parts(out)}, not a logits tensor; "
                "tell memcheck which part holds the logits, e.g. output=0 for a tuple, output='logits' for a dict, "
                "or output=callable"
            )
        if out.dim() != 2:
            raise ModelError(
                f"expected logits of shape (batch, classes), got {tuple(out.shape)}; "
                "pass output=callable to turn the model's output into logits"
            )
        if out.is_floating_point() and bool(out.isnan().any()):
            raise ModelError(
                "the model's logits contain NaN on the check's batches, so its predictions mean nothing; "
                "check the model on these inputs (weights, input scaling, a layer that overflows)"
            )
        return out

    return pick


@dataclass
class _Probe:
    """One model, one device, one compression method: runs draws and sweeps."""

    model: nn.Module
    device: torch.device
    logits: Callable[[Any], torch.Tensor]
    compressor: Compressor
    grid: tuple[float, ...]
    notes: list[str] = field(default_factory=list)
    ranks: dict[str, list[int]] = field(default_factory=dict)
    solver_seconds: float = 0.0
    sweep_seconds: float = 0.0
    outputs: int | None = None  # the model's number of logits (classes), seen in prepare

    def prepare(self, batches: Batches, handles) -> tuple[list[CallSite], np.ndarray]:
        """Trace the uncompressed forward; return its call sites and per-sample correctness."""
        x = batches.x.to(self.device)
        sites, out = trace(self.model, lambda: self.model(x))
        logits = self.logits(out)
        classes = self.outputs = logits.shape[1]
        top = int(batches.y.max())
        if top >= classes:
            raise DataError(
                f"label {top} is out of range for a model with {classes} outputs; labels must be 0..{classes - 1}"
            )
        correct = (logits.argmax(1).cpu() == batches.y.flatten()).reshape(batches.y.shape)
        return sites, correct.numpy()

    def sweep(self, batches: Batches, selected: list[CallSite], handles) -> np.ndarray:
        """``(K, groups, n)`` correctness with ``selected`` compressed at every k of the grid."""
        start = time.perf_counter()
        x = batches.x.to(self.device)
        try:
            logits = self._forward(x, batches, selected, handles, share_prefix=True)
        except (torch.OutOfMemoryError, torch.linalg.LinAlgError):
            raise  # the solver's failures are not the model's: no retry without the prefix cache
        except RuntimeError as exc:
            self.notes.append(f"prefix cache off (the forward pass cannot change batch size mid-way: {exc})")
            logits = None
        if logits is None:
            logits = self._forward(x, batches, selected, handles, share_prefix=False)
        K, (G, n) = len(self.grid), batches.y.shape
        preds = logits.argmax(1).cpu().reshape(K, G, n)
        self.sweep_seconds += time.perf_counter() - start
        return (preds == batches.y[None]).numpy()

    def _forward(self, x, batches: Batches, selected, handles, share_prefix: bool) -> torch.Tensor | None:
        K, G = len(self.grid), batches.groups
        first = selected[0]

        def replace(site: CallSite, a: torch.Tensor) -> torch.Tensor:
            t0 = time.perf_counter()
            svd = None
            if share_prefix and site is first:
                # Identical input for every k: factor-independent work once, then replicate.
                mats, _ = to_matrices(a, G)
                r = max(self._ranks(site, mats.shape[1], mats.shape[2]))
                one = self.compressor.shared_svd(mats, r)
                svd = None if one is None else one.repeat(K)
                a = a.unsqueeze(0).expand(K, *a.shape).reshape(K * a.shape[0], *a.shape[1:])
            mats, back = to_matrices(a, K * G)
            ranks = torch.tensor(self._ranks(site, mats.shape[1], mats.shape[2]), device=a.device)
            out = back(self.compressor(mats, ranks.repeat_interleave(G), svd).to(a.dtype))
            if out.is_cuda:
                torch.cuda.synchronize(out.device)
            self.solver_seconds += time.perf_counter() - t0
            return out

        before = len(handles)
        install(self.model, selected, replace, handles)
        try:
            feed = x if share_prefix else x.repeat(K, *([1] * (x.dim() - 1)))
            logits = self.logits(self.model(feed))
        finally:
            for h in handles[before:]:
                h.remove()
            del handles[before:]
        if logits.shape[0] != K * x.shape[0]:
            if share_prefix:
                self.notes.append("prefix cache off (the model's output did not follow the replicated batch)")
                return None
            raise MemcheckError(f"the model returned {logits.shape[0]} outputs for {K * x.shape[0]} inputs")
        return logits

    def _ranks(self, site: CallSite, m: int, q: int) -> list[int]:
        method = self.compressor.method
        ranks = [effective_rank(method, k, m, q) for k in self.grid]
        if site.label not in self.ranks:
            self.ranks[site.label] = ranks
            clipped = [k for k, r in zip(self.grid, ranks) if method != "random" and r < k]
            if clipped:
                self.notes.append(
                    f"k={', '.join(f'{k:g}' for k in clipped)} exceed{'s' if len(clipped) == 1 else ''} "
                    f"the rank limit min(m, q) = {min(m, q)} of layer {site.label!r} ({m} x {q}); clipped to it"
                )
        return ranks


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
    ci = stats.bootstrap_ci(sample_auc, confidence=confidence, seed=seed)
    score = score_ci = None
    score_samples: list[list[float | None]] = []
    score_curve: dict[float, float] = {}
    score_groups: list[list[float]] = []
    if scored:
        ranks = scored[0][0]
        outcome = np.concatenate([c for _, c in scored], axis=1).astype(float)  # (K, classes x repeats, n)
        values = outcome.mean(axis=0)
        score, score_ci = stats.mean(values), stats.bootstrap_ci(values, confidence=confidence, seed=seed)
        score_samples = [[None if np.isnan(v) else round(float(v), 6) for v in row] for row in values]
        score_curve = {float(k): float(outcome[i].mean()) for i, k in enumerate(ranks)}
        score_groups = np.round(outcome.mean(axis=2).T, 6).tolist()
    total = time.perf_counter() - started
    settings = {**settings, "outputs": probe.outputs, "draw": _draw_fingerprint([bt for bt, _, _ in runs])}
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
            "solver": probe.solver_seconds,
            "forward": max(probe.sweep_seconds - probe.solver_seconds, 0.0),
        },
        notes=list(dict.fromkeys(probe.notes)),
        ranks={k: v for k, v in probe.ranks.items() if k in labels},
        samples=np.round(sample_auc, 6).tolist(),
        group_curves=np.round(correct.mean(axis=2).T, 6).tolist(),
        score_ci=score_ci,
        score_samples=score_samples,
        score_curve=score_curve,
        score_group_curves=score_groups,
    )


def _score_sweep(probe: _Probe, single: Batches, labels: list[str], handles) -> tuple[tuple[float, ...], np.ndarray]:
    """The score's sweep on the draw ``single``: its mixed batches compressed with :data:`score.METHOD`.

    Returns the ranks and the outcome ``(K, classes, n)`` in the single-class layout.
    """
    mixed = score_mod.mix(single)
    compressor = Compressor(score_mod.METHOD, iterations=probe.compressor.iterations, seed=probe.compressor.seed)
    sp = _Probe(probe.model, probe.device, probe.logits, compressor, mixed.ranks())
    sites, _ = sp.prepare(mixed.batches, handles)
    selected = [s for s in sites if s.label in labels]
    return sp.grid, score_mod.in_single_order(mixed, sp.sweep(mixed.batches, selected, handles))


def _draw_fingerprint(draws: list[Batches]) -> str:
    """Identifies the drawn samples, so that two results on the same draw can be compared pairwise."""
    h = hashlib.sha256()
    for bt in draws:
        h.update(bt.x.detach().cpu().contiguous().numpy().tobytes())
        h.update(bt.y.numpy().tobytes())
    return h.hexdigest()[:16]


def _require_whole(value: Any, name: str, minimum: int, why: str = "") -> None:
    """Reject a count or seed that is not a whole number >= ``minimum`` before any work is done."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise MemcheckError(f"{name} must be a whole number >= {minimum}, got {value!r}{why}")


def _grid(method: str, ks: Iterable[float] | None) -> tuple[float, ...]:
    """The k grid as a tuple of numbers, validated for ``method``."""
    if ks is None:
        return validate_grid(method, default_grid(method))
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise MemcheckError(f"ks must be a sequence of numbers such as ks=(1, 2, 4, 8), got {ks!r}")
    grid = tuple(ks)
    wrong = [k for k in grid if not isinstance(k, numbers.Real) or isinstance(k, bool)]
    if wrong:
        raise MemcheckError(f"ks must hold numbers, got {wrong[0]!r} in {grid!r}; e.g. ks=(1, 2, 4, 8)")
    return validate_grid(method, grid)


def _setup(model, method, ks, residual, iterations, seed, device, output, confidence) -> _Probe:
    """Validate every setting before any work, and build the probe that runs the check."""
    dev = _model_device(model, device)
    grid = _grid(method, ks)
    _require_whole(iterations, "iterations", 1, "; the NNDSVDa start alone is a poor fit")
    _require_whole(seed, "seed", 0)
    if not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise MemcheckError(f"confidence must be a number in (0, 1) such as 0.95, got {confidence!r}")
    compressor = Compressor(method, residual=residual, iterations=iterations, seed=seed)
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
) -> CheckResult:
    """Measure how well ``model`` survives compression of its deep activations.

    Draws ``samples_per_class`` training samples of every class with ``seed``
    (``batches="single"``: one batch per class; ``"multi"``: mixed batches of the
    same size), replaces the activations of ``layers`` (default: the last three
    ReLU layers) by their rank-k approximation for every k in ``ks``, all layers
    in one forward pass, and records the accuracy: ``result.auc``, the paper's
    quantity. ``repeats`` > 1 draws more batches (seeds ``seed``, ``seed + 1``,
    ...) and narrows the interval.

    ``ks`` defaults to ranks (1, 2, 3, 4, 6, 8, 12, 16) for ``"nmf"``/``"pca"`` and
    to kept fractions (0.02 ... 0.9) for ``"random"``. The model is left exactly
    as found: hooks removed, train/eval flags restored, no gradients, no writes.

    ``result.score`` (with ``score_ci``) is what the default gate judges: the
    share of predictions kept when the same samples, regrouped into batches
    that mix the classes, are compressed at the same layers
    (:mod:`pytest_memcheck.score`); one scale for every architecture
    (docs/validation.md). ``score=False`` skips it (one sweep less).
    """
    started = time.perf_counter()
    _require_whole(repeats, "repeats", 1)
    probe = _setup(model, method, ks, residual, iterations, seed, device, output, confidence)
    runs = []
    scored: list[np.ndarray] = []
    labels: list[str] = []
    with inspection(model) as handles:
        for r in range(repeats):
            bt = draw(data, samples_per_class=samples_per_class, seed=seed + r, classes=classes, mode=batches)
            sites, base = probe.prepare(bt, handles)
            selected = resolve(model, sites, layers) if r == 0 else [s for s in sites if s.label in labels]
            validate(selected, sites)
            labels = [s.label for s in selected]
            runs.append((bt, probe.sweep(bt, selected, handles), base))
            if score:
                single = bt if batches == "single" else draw(
                    data, samples_per_class=samples_per_class, seed=seed + r, classes=classes, mode="single"
                )
                scored.append(_score_sweep(probe, single, labels, handles))
    settings = _settings(
        probe,
        layers=None if layers is None else ([layers] if isinstance(layers, str) else list(layers)),
        samples_per_class=samples_per_class,
        batches=batches,
        seed=seed,
        repeats=repeats,
        confidence=confidence,
        classes=runs[0][0].classes,
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
) -> dict[str, CheckResult]:
    """Compress each layer *alone* and return one result per layer (paper fig. 2c).

    ``layers`` defaults to every ReLU call of the model, in execution order. All
    layers are measured on the same drawn batches.
    """
    started = time.perf_counter()
    probe = _setup(model, method, ks, residual, iterations, seed, device, output, confidence)
    out: dict[str, CheckResult] = {}
    with inspection(model) as handles:
        bt = draw(data, samples_per_class=samples_per_class, seed=seed, classes=classes, mode=batches)
        sites, base = probe.prepare(bt, handles)
        if layers is None:
            chosen = [s for s in sites if s.is_relu]
            if not chosen:
                resolve(model, sites, None)  # raises the explanatory error
        else:
            chosen = resolve(model, sites, layers)
        validate(chosen, sites)
        for site in chosen:
            probe.solver_seconds = probe.sweep_seconds = 0.0
            t0 = time.perf_counter()
            correct = probe.sweep(bt, [site], handles)
            settings = _settings(
                probe,
                layers=[site.label],
                samples_per_class=samples_per_class,
                batches=batches,
                seed=seed,
                repeats=1,
                confidence=confidence,
                classes=bt.classes,
            )
            out[site.label] = _summarize(probe, [(bt, correct, base)], [site.label], settings, t0)
    if not out:
        warnings.warn("layerwise found no layers to compress", MemcheckWarning, stacklevel=2)
    return out
