"""Run a network's uncompressed prefix once per draw, and replay it in every compressed pass.

A compressed pass only needs to recompute what compression can change: the
calls from the first compressed layer on. Every module call that returns before
that layer starts (the *prefix*) returns the same thing in every pass, so one
uncompressed forward records it and the compressed passes replay it: for that
call only, the module's forward is swapped for a function that returns the
recording (:class:`hooks.Calls`). This holds on any architecture (skip
connections, dense concatenation, functional code between modules), because
every pass runs the model's own forward at the draw's batch size: nothing is
replicated, so nothing can disagree in size.

Only recordings that later code reads outside replayed calls are kept (the
trace shows which, :attr:`layers.Trace.reads`), each pass getting its own copy
(a forward may change them in place). The rest are replayed as meta tensors of
the right shape: they hold no memory, and fail loudly if read after all. The
model's input is treated the same way, so a forward that changes its input in
place gets a fresh one every pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.utils._pytree import tree_map

from .layers import INPUT, CallSite, Trace


@dataclass
class Plan:
    """Which calls a compressed pass replays, given its first compressed layer."""

    first: CallSite
    #: module name -> call index -> whether later code reads the output (kept) or not (a placeholder)
    replayed: dict[str, dict[int, bool]] = field(default_factory=dict)
    input_read: bool = True

    @property
    def calls(self) -> int:
        return sum(len(v) for v in self.replayed.values())


def plan(trace: Trace, first: CallSite) -> Plan:
    """The largest module calls that return before ``first`` starts, and which of their outputs are read.

    A call is replayed if it returns before the first compressed layer starts
    and its enclosing call does not (that one is replayed whole). Its output is
    *read* if some operation outside the replayed calls uses it after it returned,
    unless another replayed call returned the same tensor in between (an inplace
    ReLU after a BatchNorm): code then holds that call's output.
    """
    calls = {s.call: s for s in trace.sites}
    before = {s.call for s in trace.sites if not s.functional and s.end < first.start}
    replayed = {c for c in before if calls[c].parent not in before}
    if not first.functional:
        replayed.add(first.call)  # the first layer returns its compressed output without running

    def read(producer: int, after: int) -> bool:
        return any(
            t > after and not (stack & replayed) and not replayed.intersection(later)
            for t, stack, later in trace.reads.get(producer, ())
        )

    out = Plan(first)
    for c in sorted(replayed):
        if c != first.call:
            s = calls[c]
            out.replayed.setdefault(s.name, {})[s.index] = read(c, s.end)
    out.input_read = read(INPUT, 0)
    return out


def keep(value: Any) -> Any:
    """A recording of a call's output: detached copies of its tensors (later code may change the originals)."""
    return tree_map(lambda t: t.detach().clone() if isinstance(t, torch.Tensor) else t, value)


def placeholder(value: Any) -> Any:
    """Meta tensors of the same shapes: a recording that nobody reads costs no memory."""
    return tree_map(lambda t: torch.empty_like(t, device="meta") if isinstance(t, torch.Tensor) else t, value)


def player(value: Any, read: bool) -> Callable[[], Any]:
    """What a replayed call returns in each pass: a fresh copy of a read recording, else the placeholder."""
    return (lambda: keep(value)) if read else (lambda: value)
