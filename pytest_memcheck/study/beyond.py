"""Beyond the zoo: do the default verdicts hold on networks unlike the ones the calibration saw?

Every zoo family has ten classes, at most seven activation layers (all of
which the score compresses), the same widths (256-unit MLPs, 16-32-64-channel
CNNs), Adam, hard targets and a task it can generalize on. Users' networks
are often deeper (torchvision's ResNet-18 has seventeen ReLU calls; the score
compresses the last eight), have more classes (mixed batches then hold ten
classes each) or other widths, are trained with SGD or label smoothing, and
learn harder tasks. This probe trains seventeen families the calibration
never saw (four deeper, two with twenty classes, four narrower or wider, two
trained with SGD, two with label smoothing, three on tasks whose classes
overlap), at label noise p in {0, 0.2, 0.4, 1} with two seeds, and judges
every model with the default gate: alone (the floor) and against its seed's
clean model (the regression limit; the clean seed-1 model against seed 0 is
a retrain), with and without the *too deep* guard that keeps the default
gate to the depths it was validated on. Nothing here is tuned. Each model's
result is kept in ``--out``, so the table can be made again
(``--report-only``) without training.

    python -m pytest_memcheck.study.beyond --out out/beyond [--families shapes_resnet18 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .. import zoo
from ..engine import check
from ..errors import MemcheckError
from ..gate import Status, decide
from ..result import CheckResult
from ..zoo import Split
from . import architectures as arch
from .classes import with_outputs
from .datasets import digits, shapes, signals, tabular
from .run import MAX_EPOCHS

NOISE = (0.0, 0.2, 0.4, 1.0)
SEEDS = (0, 1)


def resnet18(classes: int) -> nn.Module:
    """torchvision's ResNet-18 as users adapt it to one-channel images: only the stem's input channels change."""
    from torchvision.models import resnet18 as tv_resnet18

    model = tv_resnet18(weights=None, num_classes=classes)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


@dataclass(frozen=True)
class Probe:
    """A family the calibration never saw: its data (p, seed), a fresh model, and how it goes beyond the zoo."""

    data: Callable[[float, int], Split]
    model: Callable[[], nn.Module]
    layers: int  # activation layers on the main path (the zoo's have at most 7)
    classes: int = 10
    training: Mapping[str, Any] = field(default_factory=dict)  # zoo.fit's options where they differ from the zoo's


#: zoo.fit's options for the probes trained otherwise than the zoo (Adam, hard targets); read-only, shared.
_SGD = MappingProxyType({"optimizer": "sgd"})
_SMOOTHED = MappingProxyType({"label_smoothing": 0.1})

PROBES = {
    "shapes_resnet18": Probe(lambda p, s: shapes(p, s), lambda: resnet18(10), 17),
    "signals_resnet13": Probe(lambda p, s: signals(p, s), lambda: arch.ResNet(1, blocks=2), 13),
    "shapes_vgg10": Probe(lambda p, s: shapes(p, s), lambda: arch.deep_cnn(16, convs=3), 10),
    "tabular_mlp12": Probe(lambda p, s: tabular(p, s), lambda: arch.mlp(32, 128, 12), 12),
    "signals_cnn_20": Probe(
        lambda p, s: signals(p, s, n=4000, length=128, classes=20), lambda: with_outputs(arch.cnn(1, 128), 20), 4, 20
    ),
    "tabular_mlp_20": Probe(lambda p, s: tabular(p, s, n=4000, classes=20), lambda: with_outputs(arch.mlp(32), 20), 3, 20),
    # the zoo's depths, other widths: its MLPs have 256 units, its CNNs 16-32-64 channels
    "digits_mlp_w64": Probe(lambda p, s: digits(p, s), lambda: arch.mlp(64, 64), 3),
    "tabular_mlp_w1024": Probe(lambda p, s: tabular(p, s), lambda: arch.mlp(32, 1024), 3),
    "shapes_cnn_w8": Probe(lambda p, s: shapes(p, s), lambda: arch.cnn(2, 16, width=8), 4),
    "signals_cnn_w64": Probe(lambda p, s: signals(p, s), lambda: arch.cnn(1, 64, width=64), 4),
    # the zoo's architectures trained with SGD and momentum instead of Adam
    "digits_cnn_sgd": Probe(lambda p, s: digits(p, s), lambda: arch.cnn(2, 8, pool_first=False), 4, training=_SGD),
    "signals_mlp_sgd": Probe(lambda p, s: signals(p, s), lambda: arch.mlp(64), 3, training=_SGD),
    # ... and with label smoothing 0.1, as in torchvision's recipes
    "shapes_cnn_ls": Probe(lambda p, s: shapes(p, s), lambda: arch.cnn(2, 16), 4, training=_SMOOTHED),
    "tabular_mlp_ls": Probe(lambda p, s: tabular(p, s), lambda: arch.mlp(32), 3, training=_SMOOTHED),
    # harder tasks: classes that overlap (the zoo's clean test errors are 0.01-0.14)
    "tabular_mlp_mid": Probe(lambda p, s: tabular(p, s, separation=1.5), lambda: arch.mlp(32), 3),
    "tabular_mlp_hard": Probe(lambda p, s: tabular(p, s, separation=1.0), lambda: arch.mlp(32), 3),
    "signals_cnn_noisy": Probe(lambda p, s: signals(p, s, noise=1.0), lambda: arch.cnn(1, 64), 4),
}


def train(name: str, p: float, seed: int) -> tuple[nn.Module, Split]:
    probe = PROBES[name]
    split = probe.data(p, seed)
    torch.manual_seed(seed)
    model, _ = zoo.fit(probe.model(), split.x, split.y, seed=seed, max_epochs=MAX_EPOCHS, **probe.training)
    return model, split


def measure(name: str, out: Path) -> None:
    """Train and check every (p, seed) model of one probe family that ``out`` does not hold yet."""
    for seed in SEEDS:
        for p in NOISE:
            path = out / f"{name}_p{p:g}_s{seed}.json"
            if path.exists():
                continue
            model, split = train(name, p, seed)
            error = 1.0 - zoo.accuracy(model, split.x_test, split.y_test)
            record = {"family": name, "p": p, "seed": seed, "test_error": error}
            try:
                record["result"] = check(model, split.train).to_dict()
            except MemcheckError as exc:  # the gate's "error" verdict: kept, with what the check said and the fit
                record.update(error=str(exc), fit=zoo.accuracy(model, split.x, split.y))
            path.write_text(json.dumps(record) + "\n", encoding="utf-8")
            print(f"{name} p={p:g} seed={seed}: test error {error:.2f}, "
                  f"{record.get('error') or 'score %.3f' % record['result']['score']}", file=sys.stderr, flush=True)


def _unguarded(result: CheckResult) -> CheckResult:
    """The same result as the default gate would judge it from a network of the zoo's depth."""
    return replace(result, settings={**result.settings, "depth": None})


def judge(out: Path) -> list[dict]:
    """One row per kept model: its verdicts alone and against its seed's clean model, with and without the depth guard."""
    kept = {}
    for path in sorted(out.glob("*.json")):
        r = json.loads(path.read_text(encoding="utf-8"))
        kept[r["family"], r["p"], r["seed"]] = (r, CheckResult.from_dict(r["result"]) if "result" in r else None)
    rows = []
    for (family, p, seed), (record, result) in kept.items():
        against = "retrain" if p == 0 and seed > 0 else None if p == 0 else "clean"
        base = kept.get((family, 0.0, 0 if against == "retrain" else seed)) if against else None
        base_result = None if base is None else base[1]

        def verdicts(guarded: bool, baseline: CheckResult | None) -> str:
            if result is None:
                return Status.ERROR.value
            seen = result if guarded else _unguarded(result)
            return decide(seen, baseline=baseline).status.value

        rows.append({
            "family": family, "p": p, "seed": seed, "error": record["test_error"],
            "fit": record["fit"] if result is None else result.base_accuracy,  # of the checked samples, where checked
            "classes": PROBES[family].classes,
            "score": None if result is None else result.score, "check_error": record.get("error"),
            "against": against if base_result is not None else None,
            "alone": verdicts(False, None), "default": verdicts(True, None),
            "vs_baseline": None if base_result is None else verdicts(False, base_result),
            "default_vs_baseline": None if base_result is None else verdicts(True, base_result),
        })
    order = {name: i for i, name in enumerate(PROBES)}
    return sorted(rows, key=lambda r: (order.get(r["family"], len(order)), r["seed"], r["p"]))


def expected(row: dict) -> tuple[str | None, str | None]:
    """What a right gate says, alone and against the baseline (None: either is acceptable)."""
    alone = "pass" if row["p"] == 0 else "fail" if row["p"] >= 0.4 else None
    return alone, {"retrain": "pass", "clean": "fail", None: None}[row["against"]]


def table(rows: list[dict]) -> str:
    """Markdown, one row per model; a pass or fail that a right gate would not give is in bold.

    Inconclusive verdicts and errors (a check that refused the model) are not wrong, only not judgements.
    """
    def shown(verdict: str | None, want: str | None) -> str:
        if verdict is None:
            return "-"
        return f"**{verdict}**" if want is not None and verdict in ("pass", "fail") and verdict != want else verdict

    out = [
        "| family | layers | classes | p | seed | test error | fit | score | alone | vs baseline | default gate |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        alone, against = expected(r)
        base = "-" if r["against"] is None else f"{shown(r['vs_baseline'], against)} ({r['against']})"
        default = r["default"] if r["default_vs_baseline"] is None else f"{r['default']}, {r['default_vs_baseline']}"
        score = "-" if r["score"] is None else f"{r['score']:.3f}"
        out.append(
            f"| {r['family']} | {PROBES[r['family']].layers} | {r['classes']} | {r['p']:g} | {r['seed']} | "
            f"{r['error']:.2f} | {r['fit']:.3f} | {score} | {shown(r['alone'], alone)} | {base} | {default} |"
        )
    errors = [r for r in rows if r["check_error"]]
    out += [f"\nError of {r['family']} p = {r['p']:g} seed {r['seed']}: {r['check_error']}" for r in errors]
    return "\n".join(out)


#: The summary's columns: which models, and which of their verdicts (without the depth guard).
COLUMNS = {
    "clean (alone)": (lambda r: r["p"] == 0, "alone"),
    "p >= 0.4 (alone)": (lambda r: r["p"] >= 0.4, "alone"),
    "p = 0.2 vs clean": (lambda r: r["p"] == 0.2 and r["against"] == "clean", "vs_baseline"),
    "retrain": (lambda r: r["against"] == "retrain", "vs_baseline"),
}


def summary(rows: list[dict]) -> str:
    """Markdown, one row per family: how many models got each verdict without the depth guard."""
    out = ["| family | layers | classes | " + " | ".join(COLUMNS) + " |", "|---" * (3 + len(COLUMNS)) + "|"]
    for family in dict.fromkeys(r["family"] for r in rows):
        cells = []
        for which, key in COLUMNS.values():
            verdicts = [r[key] for r in rows if r["family"] == family and which(r)]
            cells.append(", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(sorted(verdicts))) or "-")
        probe = PROBES[family]
        out.append(f"| {family} | {probe.layers} | {probe.classes} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=list(PROBES), default=list(PROBES))
    parser.add_argument("--out", type=Path, default=Path("beyond-out"), help="folder for one result per model (resumes)")
    parser.add_argument("--report-only", action="store_true", help="judge the results in --out again, train nothing")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for name in args.families:
            measure(name, args.out)
    rows = judge(args.out)
    print(summary(rows) + "\n\n" + table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
