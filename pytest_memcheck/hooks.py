"""What the check does to a model while it runs, and the guard that undoes it.

The guard (:func:`inspection`) is the only place that touches model state: it
switches every module to eval mode and disables autograd, and on exit (also on
error) removes all hooks, restores each module's own train/eval flag and puts
back every buffer as it was (a forward that updates a buffer, e.g. a BatchNorm
switched to training mode by the forward itself, leaves no trace). Weights are
never written; a forward that writes them is an error.

Every pass of a check goes through :class:`Calls`: forward hooks that see or
replace chosen calls' outputs, module calls replayed from a recording instead
of run (:mod:`prefix`), and functional activations (``F.relu`` in a forward),
which only a torch function mode can see. The mode is active in every pass,
traced or not, so that torch's fast paths (taken only without one) are never
taken: every pass computes the same way.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from .errors import ModelError
from .layers import CallSite, functional_name, owned_functional


@contextmanager
def inspection(model: nn.Module) -> Iterator[list[RemovableHandle]]:
    """Eval mode and no autograd for the duration; yields a list to register hook handles in.

    On exit every hook is removed, every module's train/eval flag restored, and
    every buffer put back (the same tensor object, with its values); a forward
    that wrote to a parameter is reported.
    """
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(m, name, b, b._version, b.detach().clone()) for m in model.modules()
               for name, b in m._buffers.items() if b is not None]
    params = [(m, name, p, p._version) for m in model.modules() for name, p in m._parameters.items()
              if p is not None]
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
        with torch.no_grad():
            for m, name, b, version, saved in buffers:
                m._buffers[name] = b
                if b._version != version or not torch.equal(b, saved):  # kernels (BatchNorm's) may not count
                    b.copy_(saved)
        for m, name, p, _ in params:
            m._parameters[name] = p
    written = [name for m, name, p, version in params if p._version != version]
    if written:
        raise ModelError(
            f"the model's forward wrote to its parameter(s) {', '.join(written[:3])} during the check; "
            "memcheck cannot undo that: keep the forward free of writes to weights"
        )


def ensure_eval(model: nn.Module) -> None:
    """Raise if a forward pass switched modules back to training mode (a ``self.train()`` inside forward)."""
    training = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    if training:
        raise ModelError(
            f"the model's forward put {', '.join(training[:3])}{' ...' if len(training) > 3 else ''} in training "
            "mode (a self.train() call inside forward?); memcheck measures eval-mode predictions and has put "
            "back every buffer it changed: remove the call from forward"
        )


#: (output of one call) -> replacement, or None to keep it
OnCall = Callable[[Any], Any]


class Calls(TorchFunctionMode):
    """One forward pass with chosen calls observed, replaced or replayed.

    ``observe[name][i]`` sees (and may replace) the output of call ``i`` of the
    module or functional activation ``name``; ``replay[name][i]`` returns the
    output of module call ``i`` without running the module. Calls are counted
    per forward pass (a pre-hook on the model resets the counters), so a reused
    module is handled only at the calls asked for. Use as a context manager
    around exactly one ``model(x)``; :meth:`counted` says which calls ran.
    """

    def __init__(
        self,
        model: nn.Module,
        observe: dict[str, dict[int, OnCall]] | None = None,
        replay: dict[str, dict[int, Callable[[], Any]]] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.observe = observe or {}
        self.replay = replay or {}
        self.counts: dict[str, int] = defaultdict(int)
        self.stack: list[nn.Module] = []
        self.handles: list[RemovableHandle] = []
        self.patched: list[tuple[nn.Module, Any]] = []

    @classmethod
    def sites(cls, model: nn.Module, observe: dict[CallSite, OnCall], **kw: Any) -> Calls:
        """Observe the given sites' outputs (a functional site by its name and call index)."""
        table: dict[str, dict[int, OnCall]] = defaultdict(dict)
        for site, fn in observe.items():
            table[site.name][site.index] = fn
        return cls(model, dict(table), **kw)

    def __enter__(self) -> Calls:
        modules = dict(self.model.named_modules())
        self.names = {m: n for n, m in modules.items()}
        self.handles.append(self.model.register_forward_pre_hook(lambda *_: self.counts.clear()))
        functional = any(name not in modules for name in self.observe)
        for name, module in modules.items():
            if not name:
                continue
            if functional:
                self.handles.append(module.register_forward_pre_hook(self._enter))
            if name in self.observe or name in self.replay or functional:
                self.handles.append(module.register_forward_hook(self._leave))
            if name in self.replay:
                self._patch(module, name)
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        for h in self.handles:
            h.remove()
        for module, saved in self.patched:
            if saved is None:
                del module.forward
            else:
                module.forward = saved

    def counted(self, name: str) -> int:
        return self.counts.get(name, 0)

    def _patch(self, module: nn.Module, name: str) -> None:
        saved = module.__dict__.get("forward")
        original = module.forward
        recorded = self.replay[name]

        def forward(*args: Any, **kwargs: Any) -> Any:
            value = recorded.get(self.counts[name])  # the counter moves in _leave, after the call
            return value() if value is not None else original(*args, **kwargs)

        self.patched.append((module, saved))
        module.forward = forward

    def _enter(self, module: nn.Module, _inputs) -> None:
        self.stack.append(module)

    def _leave(self, module: nn.Module, _inputs, output: Any) -> Any:
        if self.stack and self.stack[-1] is module:
            self.stack.pop()
        name = self.names[module]
        index = self.counts[name]
        self.counts[name] = index + 1
        fn = self.observe.get(name, {}).get(index)
        return None if fn is None else self._call(fn, output)

    def _call(self, fn: OnCall, output: Any) -> Any:
        with torch._C.DisableTorchFunction():  # the observer's own work (a factorization) is not the model's
            return fn(output)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not isinstance(out, torch.Tensor):
            return out
        owner = self.stack[-1] if self.stack else None
        kind = owned_functional(func, owner)
        if kind is None:
            return out
        name = functional_name(self.names.get(owner, "") if owner is not None else "", kind)
        index = self.counts[name]
        self.counts[name] = index + 1
        fn = self.observe.get(name, {}).get(index)
        if fn is None:
            return out
        new = self._call(fn, out)
        if new is None:
            return out
        if any(a is out for a in args):  # an in-place call: the caller may keep using its own tensor
            with torch._C.DisableTorchFunction():
                return out.copy_(new)
        return new


def to_matrices(
    a: torch.Tensor, groups: int, channels_last: bool = False, order: torch.Tensor | None = None
) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """``(groups * n, q, *spatial)`` -> ``(groups, n * prod(spatial), q)`` and the inverse map.

    Conv maps ``n x q x h x w`` become ``(n*h*w) x q`` matrices (paper section 3.3);
    ``channels_last`` activations ``(batch, *positions, q)`` (transformer tokens,
    ConvNeXt's MLP) are read the same way. ``order`` (a permutation of the batch)
    puts samples ``order[g*n:(g+1)*n]`` in group ``g``; the inverse map returns
    them to their places.
    """
    if channels_last:
        a = a.movedim(-1, 1)
    if order is not None:
        a = a.index_select(0, order)
    shape = a.shape
    q = shape[1]
    n = shape[0] // groups
    flat = a.reshape(groups, n, q, -1)  # (g, n, q, L)
    spatial = flat.shape[-1]
    mats = flat.permute(0, 1, 3, 2).reshape(groups, n * spatial, q)

    def back(m: torch.Tensor) -> torch.Tensor:
        out = m.reshape(groups, n, spatial, q).permute(0, 1, 3, 2).reshape(shape)
        if order is not None:
            out = torch.empty_like(out).index_copy_(0, order, out)
        return out.movedim(1, -1) if channels_last else out

    return mats, back
