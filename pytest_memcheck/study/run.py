"""Train the zoo's runs and measure them, appending one record per measured model.

Runs are independent, so ``workers`` processes (one torch thread each) share
the list; each appends to its own ``records-<i>.jsonl``. Records already in the
folder are not measured again, so an interrupted study resumes.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Callable

import torch

from .. import zoo
from ..errors import MemcheckError
from . import records
from .datasets import subset
from .families import FAMILIES, Family
from .measure import clean_accuracy, measure, summary_line
from .regimes import CHECKPOINT_EPOCHS, DROPOUT, OVERTRAIN_FACTOR, WEIGHT_DECAY, ModelSpec

#: Checks draw this many training samples per class (fewer where a class has fewer).
SAMPLES_PER_CLASS = 50
MAX_EPOCHS = 200


def _fit_kwargs(family: Family, spec: ModelSpec) -> dict:
    kwargs = {"seed": spec.seed, "max_epochs": MAX_EPOCHS, **family.fit_kwargs}
    if spec.regularizer == "weight_decay":
        kwargs["weight_decay"] = WEIGHT_DECAY
    if spec.regularizer == "augment":
        kwargs["augment"] = family.augment
    return kwargs


def run_spec(
    spec: ModelSpec, done: set[str], sink: Path | None, weights: Path | None = None, log: Callable[[str], None] = print
) -> list[records.Record]:
    """Train ``spec`` and measure it (at its checkpoints too); skip measurements already in ``done``.

    With ``weights`` (a folder), every measured model's state dict is saved there,
    so that a new candidate check can be measured later without retraining.
    """
    family = FAMILIES[spec.family]
    split = family.data(spec.p, spec.seed)
    if spec.size is not None:
        split = subset(split, spec.size, spec.seed)
    per_class = min(SAMPLES_PER_CLASS, int(torch.bincount(split.y).min()))
    torch.manual_seed(spec.seed)
    model = family.model(dropout=DROPOUT if spec.regularizer == "dropout" else 0.0)
    out: list[records.Record] = []
    started = time.perf_counter()

    def record(tag: str, epoch: int) -> None:
        if f"{spec.key}@{tag}" in done:
            return
        t0 = time.perf_counter()
        try:
            checks = measure(model, split, per_class, seed=0, activation=family.activation)
        except MemcheckError as exc:  # e.g. a run that diverged to NaN: counted, not measured
            log(f"# {spec.key}@{tag}: not measured: {exc}")
            if sink is not None:
                records.append(sink.with_name("unmeasured.jsonl"), {"run": spec.key, "epoch_tag": tag, "error": str(exc)})
            return
        test_acc, per_class_acc = clean_accuracy(model, split.x_test, split.y_test)
        r = {
            "run": spec.key,
            "family": spec.family,
            "dataset": family.dataset,
            "kind": family.kind,
            "activation": family.activation,
            "regime": "checkpoint" if tag != "final" else spec.regime,
            "p": spec.p,
            "seed": spec.seed,
            "size": spec.size,
            "regularizer": spec.regularizer,
            "epoch_tag": tag,
            "epoch": epoch,
            "train_accuracy": zoo.accuracy(model, split.x, split.y),
            "noisy_fraction": float(split.noisy.float().mean()),
            "test_error": 1.0 - test_acc,
            "test_accuracy_per_class": per_class_acc,
            **checks,
        }
        r["seconds"] = time.perf_counter() - t0
        if weights is not None:
            path = weights / f"{spec.key.replace('/', '_')}@{tag}.pt"
            torch.save(model.state_dict(), path)
            r["weights"] = path.name
        out.append(r)
        log(summary_line(r))
        if sink is not None:
            records.append(sink, r)

    on_epoch = None
    if spec.checkpoints:
        def on_epoch(epoch: int, m) -> bool:
            if epoch in CHECKPOINT_EPOCHS and zoo.accuracy(m, split.x, split.y) < 0.999:
                record(f"e{epoch}", epoch)
            return False

    kwargs = _fit_kwargs(family, spec)
    _, epochs = zoo.fit(model, split.x, split.y, on_epoch=on_epoch, **kwargs)
    record("final", epochs)
    if spec.checkpoints:
        more = {**kwargs, "max_epochs": (OVERTRAIN_FACTOR - 1) * epochs, "target_accuracy": None, "seed": spec.seed + 1}
        zoo.fit(model, split.x, split.y, **more)
        record("overtrained", OVERTRAIN_FACTOR * epochs)
    log(f"# {spec.key}: {epochs} epochs, {time.perf_counter() - started:.0f}s")
    return out


def _worker(args: tuple[list[ModelSpec], set[str], Path, int]) -> int:
    specs, done, out, index = args
    torch.set_num_threads(1)
    sink = out / f"records-{index}.jsonl"
    weights = out / "weights"
    weights.mkdir(exist_ok=True)
    for spec in specs:
        run_spec(spec, done, sink, weights)
    return len(specs)


def run(specs: list[ModelSpec], out: Path, workers: int = 1, log: Callable[[str], None] = print) -> list[records.Record]:
    """Measure every run of ``specs`` into ``out`` (resuming), with ``workers`` processes; returns all records."""
    out.mkdir(parents=True, exist_ok=True)
    existing = records.load(out)
    done = {records.record_key(r) for r in existing}
    finished = {r["run"] for r in existing if r["epoch_tag"] in ("final",)}
    todo = [s for s in specs if s.key not in finished or (s.checkpoints and f"{s.key}@overtrained" not in done)]
    log(f"# {len(specs) - len(todo)} runs already measured, {len(todo)} to go, {workers} worker(s)")
    if workers <= 1:
        _worker((todo, done, out, 0))
    else:
        # Interleave so that every worker gets a mix of slow and fast families.
        shares = [(todo[i::workers], done, out, i) for i in range(workers)]
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.map(_worker, shares)
    return records.load(out)
