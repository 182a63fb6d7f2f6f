"""How cheap can the default check on ResNet-18 be while the score stays the validated one?

In plain forwards of the same 500 inputs (10 classes x 50, 3x32x32, random
weights): whatever the solver, a default check runs the network once
uncompressed, the AuC's eight ranks from the output of its first layer
(``layer4.0``'s second ReLU) on, and the score's six ranks from the output of
its first layer (``layer3.0``'s first ReLU, the eighth-last ReLU call) on;
what comes before a first layer, the shortcut included, is computed once.
This times those network pieces alone (no hooks, no factorization), the six
score passes also as one batch six times larger, and the exact PCA's Gram
eigendecompositions at the score's sizes against scipy's top-k-only LAPACK
driver (the named peer), to show where a faster exact PCA could come from.

    .venv/bin/python benchmarks/bench_score_bound.py [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from torch import nn

#: The score's ranks (``score.RANK_FRACTIONS`` of 10 classes) and the AuC's default grid.
SCORE_RANKS, AUC_RANKS = 6, 8


def best(fn: Callable[[], object], repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def network_bound() -> None:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    m = resnet18(weights=None, num_classes=10).eval()
    x = torch.rand(500, 3, 32, 32, generator=torch.Generator().manual_seed(0))

    def head(z: torch.Tensor) -> torch.Tensor:
        return m.fc(torch.flatten(m.avgpool(z), 1))

    def after_first_relu(block: nn.Module, a: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        """A BasicBlock from the output of its first ReLU, its shortcut given."""
        return block.relu(block.bn2(block.conv2(a)) + shortcut)

    with torch.no_grad():
        forward = best(lambda: m(x))
        h2 = m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x))))))
        b30 = m.layer3[0]
        a30, s30 = b30.relu(b30.bn1(b30.conv1(h2))), b30.downsample(h2)  # before the score's first layer: cached
        b40 = m.layer4[0]
        h3 = m.layer3(h2)
        h40 = b40.relu(b40.bn2(b40.conv2(b40.relu(b40.bn1(b40.conv1(h3))))) + b40.downsample(h3))  # the AuC's first

        def score_pass(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            return head(m.layer4(m.layer3[1](after_first_relu(b30, a, s))))

        score_tail = best(lambda: score_pass(a30, s30))
        auc_tail = best(lambda: head(m.layer4[1](h40)))
        a30k, s30k = a30.repeat(SCORE_RANKS, 1, 1, 1), s30.repeat(SCORE_RANKS, 1, 1, 1)
        stacked = best(lambda: score_pass(a30k, s30k))
    score, auc = SCORE_RANKS * score_tail / forward, AUC_RANKS * auc_tail / forward
    print(f"resnet18, 500 inputs 3x32x32, {torch.get_num_threads()} threads: one forward {forward:.3f} s")
    print(f"  uncompressed pass                    1.00 forwards")
    print(f"  AuC passes   ({AUC_RANKS} x from layer4.0 relu#1)  {auc:.2f}")
    print(f"  score passes ({SCORE_RANKS} x from layer3.0 relu#0)  {score:.2f}  (as one batch of {SCORE_RANKS}x: "
          f"{stacked / forward:.2f})")
    print(f"  bound without any factorization     {1 + auc + score:.2f} forwards (target: 3)")


def eigh_peers() -> None:
    import scipy.linalg

    print("Gram eigendecompositions, 10 matrices (the score's layer3 and layer4 sizes), top 32 wanted:")
    for side in (50, 200, 256):
        a = torch.rand(10, side, side + 7, generator=torch.Generator().manual_seed(side))
        gram = a @ a.mT
        ours = best(lambda: torch.linalg.eigh(gram))
        grams = gram.numpy()
        peer = best(lambda: [scipy.linalg.eigh(g, subset_by_index=[side - 32, side - 1], driver="evr") for g in grams])
        print(f"  {side:3d} x {side:<3d}: torch.linalg.eigh (all) {ours * 1e3:6.1f} ms, "
              f"scipy evr (top 32 only) {peer * 1e3:6.1f} ms, ratio {peer / ours:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    network_bound()
    eigh_peers()


if __name__ == "__main__":
    main()
