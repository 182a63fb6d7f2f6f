"""The demo: two digits CNNs, one fitted to clean labels and one memorizing noise.

Trains both in seconds on the CPU (real 8x8 handwritten digits from
scikit-learn), checks each with NMF, PCA and random ablation, and prints the
results. The memorizing model scores clearly lower.
"""

from __future__ import annotations

import time

from rich.console import Console

from . import zoo
from .engine import check
from .console import curve_table, results_table


def run(noise: float = 0.8, seed: int = 0, console: Console | None = None) -> dict:
    console = console or Console()
    results = {}
    for label, p in (("clean", 0.0), (f"{noise:.0%} random", noise)):
        t0 = time.perf_counter()
        model, data = zoo.trained("digits_cnn", p, seed=seed)
        console.print(
            f"trained digits CNN on {label} labels in {time.perf_counter() - t0:.1f}s: "
            f"train accuracy {zoo.accuracy(model, data.x, data.y):.3f}, "
            f"test accuracy {zoo.accuracy(model, data.x_test, data.y_test):.3f}"
        )
        for method in ("nmf", "pca", "random"):
            results[f"{label} {method}"] = check(model, data.train, method=method, seed=seed, score=method == "nmf")
    console.print(results_table(results, title="memcheck demo: digits CNN, 10 classes x 50 training samples"))
    nmf = {k.removesuffix(" nmf"): v for k, v in results.items() if k.endswith("nmf")}
    console.print(curve_table(nmf, title="NMF: accuracy at rank k"))
    return results
