"""Several sweeps over one cached prefix: what a calibrated score builds on.

One draw is traced and run uncompressed once (:meth:`_Probe.prepare`); every
sweep over it (another method, another grouping of the same samples) runs only
its compressed passes and gives what a separate check of that kind gives.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pytest_memcheck as mc
from pytest_memcheck.batches import draw
from pytest_memcheck.compress import Compressor
from pytest_memcheck.engine import _setup
from pytest_memcheck.hooks import inspection

SETTINGS = {"samples_per_class": 10, "ks": (1, 2, 4)}


class Counted(torch.nn.Module):
    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(x)


def probe_and_prefix(model, data, seed: int = 0):
    probe = _setup(model, "nmf", SETTINGS["ks"], False, 10, seed, None, None, 0.95)
    bt = draw(data, samples_per_class=SETTINGS["samples_per_class"], seed=seed)
    return probe, bt


def test_extra_sweeps_reuse_the_prefix_and_match_separate_checks(clean_cnn):
    model, split = clean_cnn
    counted = Counted(model).eval()
    probe, bt = probe_and_prefix(counted, split.train)
    with inspection(counted):
        prefix = probe.prepare(bt)
        assert counted.calls == 2  # the trace (two samples) and the uncompressed pass
        single = probe.sweep(prefix)
        mixed = probe.sweep(prefix, order=bt.mixed)
        ablated = probe.sweep(prefix, compressor=Compressor("random", seed=0), grid=(0.1, 0.5))
    assert counted.calls == 2 + 3 + 3 + 2  # one pass per k and sweep, and no other forward
    samples = lambda correct: np.round(correct.mean(axis=0), 6).tolist()  # noqa: E731
    assert samples(single) == mc.check(model, split.train, **SETTINGS).samples
    assert samples(mixed) == mc.check(model, split.train, batches="multi", **SETTINGS).samples
    random = mc.check(model, split.train, method="random", samples_per_class=10, ks=(0.1, 0.5))
    assert samples(ablated) == random.samples


def test_order_must_arrange_every_sample_once(clean_cnn):
    model, split = clean_cnn
    probe, bt = probe_and_prefix(model, split.train)
    with inspection(model):
        prefix = probe.prepare(bt)
        with pytest.raises(mc.MemcheckError, match=r"order must be a \(groups, n\) arrangement of the draw's 100"):
            probe.sweep(prefix, order=np.zeros((10, 10), dtype=int))


def test_an_nmf_sweep_over_a_gelu_prefix_is_refused(tiny_data):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))
    probe = _setup(model.eval(), "pca", (1, 2), False, 10, 0, None, None, 0.95)
    bt = draw(tiny_data, samples_per_class=6, seed=0)
    with inspection(model):
        prefix = probe.prepare(bt)
        assert probe.sweep(prefix).shape == (2, 4, 6)
        with pytest.raises(mc.LayerError, match=r"it is a GELU, and NMF factorizes non-negative activations"):
            probe.sweep(prefix, compressor=Compressor("nmf"))


def test_a_default_check_runs_the_draw_uncompressed_once_for_the_auc_and_the_score(clean_cnn):
    model, split = clean_cnn
    counted = Counted(model).eval()
    result = mc.check(counted, split.train, **SETTINGS)
    passes = len(SETTINGS["ks"]) + len(result.score_curve)
    assert counted.calls == 2 + passes  # the trace, one uncompressed pass, one pass per k of each sweep
    assert result.score == mc.check(model, split.train, **SETTINGS).score


def test_the_score_compresses_a_gelu_that_nmf_could_not(tiny_data):
    # The AuC's NMF layers are the last ReLUs; the score compresses every main-path activation with PCA,
    # including a GELU before them, which NMF's validation must not refuse.
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.GELU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4),
    ).eval()
    refused = r"main path include GELU \(2\), .* with layers=\[\.\.\.\] \(the last ones: 4, 6\)"
    with pytest.raises(mc.LayerError, match=refused):
        mc.check(model, tiny_data, samples_per_class=6, ks=(1, 2))
    result = mc.check(model, tiny_data, layers=["4", "6"], samples_per_class=6, ks=(1, 2))
    assert result.layers == ["4", "6"]
    assert 0.0 <= result.score <= 1.0 and len(result.score_curve) > 0
