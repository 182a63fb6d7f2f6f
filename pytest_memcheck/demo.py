"""The demo: two digits CNNs, one fitted to clean labels and one memorizing noise.

Trains both in seconds on the CPU (real 8x8 handwritten digits from
scikit-learn), checks each with NMF, PCA and random ablation, and prints the
paper's AuC of each, the score and the default gate's verdict: the
memorizing model scores clearly lower and fails.
"""

from __future__ import annotations

import time

from rich.console import Console

from . import zoo
from .console import curve_table, verdicts_table
from .engine import check
from .gate import decide


def run(noise: float = 0.8, seed: int = 0, console: Console | None = None) -> dict:
    console = console or Console()
    models = {}
    for label, p in (("clean", 0.0), (f"{noise:.0%} random", noise)):
        t0 = time.perf_counter()
        model, data = zoo.trained("digits_cnn", p, seed=seed)
        console.print(
            f"trained digits CNN on {label} labels in {time.perf_counter() - t0:.1f}s: "
            f"train accuracy {zoo.accuracy(model, data.x, data.y):.3f}, "
            f"test accuracy {zoo.accuracy(model, data.x_test, data.y_test):.3f}"
        )
        results = {m: check(model, data.train, method=m, seed=seed, score=m == "nmf") for m in ("nmf", "pca", "random")}
        models[label] = (results, decide(results["nmf"]))
    console.print(verdicts_table(models, title="memcheck demo: digits CNN, 10 classes x 50 training samples"))
    for label, (results, verdict) in models.items():
        console.print(f"{label} labels: {verdict.status.label}: {verdict.reasons[0]}")
    console.print(curve_table({label: rs["nmf"] for label, (rs, _) in models.items()}, title="NMF: accuracy at rank k"))
    return models
