"""The batched NMF solver: its contract, and that its speed-ups keep the check's AuC."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_memcheck as mc
from pytest_memcheck import compress, factorize
from pytest_memcheck.factorize import nmf, rank_buckets, sketched_svd, start_svd, top_svd

#: The check's AuC may move this much when the solver changes: about 2 seed-to-seed
#: standard deviations of the digits CNN (0.003-0.016 here, 0.013-0.046 in findings.md).
AUC_NOISE = 0.03


def activations(b: int = 3, m: int = 60, q: int = 24, seed: int = 0) -> torch.Tensor:
    """ReLU-like non-negative matrices with exact zeros and a decaying spectrum."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, m, 6, generator=g) @ torch.randn(b, 6, q, generator=g) + 0.3).clamp_min(0)


def rel_error(A: torch.Tensor, U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    return (A - U @ V).norm(dim=(-2, -1)) / A.norm(dim=(-2, -1))


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_factors_are_non_negative_and_shaped(solver):
    A = activations()
    U, V = nmf(A, 5, solver=solver)
    assert U.shape == (3, 60, 5) and V.shape == (3, 5, 24)
    assert (U >= 0).all() and (V >= 0).all()
    assert torch.isfinite(U).all() and torch.isfinite(V).all()


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 4),
    m=st.integers(2, 40),
    q=st.integers(2, 40),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_any_shape_and_ranks_give_masked_non_negative_factors(b, m, q, seed, data):
    A = activations(b, m, q, seed)
    ks = data.draw(st.lists(st.integers(1, min(m, q)), min_size=b, max_size=b))
    U, V = nmf(A, ks, iterations=3)
    assert (U >= 0).all() and (V >= 0).all() and torch.isfinite(U @ V).all()
    for i, k in enumerate(ks):
        assert (U[i, :, k:] == 0).all() and (V[i, k:] == 0).all()


def test_error_decreases_with_rank():
    A = activations(b=1, m=80, q=32)[0]
    errors = [float(rel_error(A, *nmf(A, k))) for k in (1, 2, 4, 8, 16)]
    assert all(later <= earlier + 1e-3 for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.5 * errors[0]


def test_hals_reaches_the_reference_mu_error_in_fewer_iterations():
    # Per matrix the two solvers settle in different local optima (up to 2.4% apart
    # at 10 iterations here); on average HALS-10 fits as well as MU-50.
    A = activations(b=4, m=200, q=32)
    hals = rel_error(A, *nmf(A, 8))
    mu = rel_error(A, *nmf(A, 8, solver="mu", iterations=50))
    assert hals.mean() <= 1.01 * mu.mean() and (hals <= 1.03 * mu).all(), (hals, mu)


@pytest.mark.parametrize("group_ranks", [True, False])
def test_per_problem_ranks_equal_separate_calls(group_ranks):
    A = activations(b=4)
    ks = [2, 7, 3, 7]
    U, V = nmf(A, ks, group_ranks=group_ranks)
    for i, k in enumerate(ks):
        Ui, Vi = nmf(A[i], k)
        assert torch.allclose(U[i] @ V[i], Ui @ Vi, rtol=1e-4, atol=1e-4 * float(A[i].max()))


def test_a_given_svd_gives_the_same_factors_as_computing_it():
    A = activations()
    scale = A.amax(dim=(1, 2), keepdim=True)
    U1, V1 = nmf(A, [2, 4, 3], svd=top_svd(A, 4))
    U2, V2 = nmf(A, [2, 4, 3])
    assert torch.allclose(U1 @ V1, U2 @ V2, atol=1e-4 * float(scale.max()))


def wide_activations(b: int = 2, m: int = 300, q: int = 256, seed: int = 0) -> torch.Tensor:
    """Matrices wide enough on both sides that the solver sketches their start."""
    g = torch.Generator().manual_seed(seed)
    spectrum = torch.logspace(0, -2, 40)[:, None]
    return (torch.randn(b, m, 40, generator=g) @ (torch.randn(b, 40, q, generator=g) * spectrum)).clamp_min(0)


def test_sketched_svd_finds_the_leading_triplets():
    A = wide_activations()
    exact, sketch = top_svd(A, 8), sketched_svd(A, 8, torch.Generator().manual_seed(0))
    assert torch.allclose(sketch.S, exact.S, rtol=1e-2)
    assert ((sketch.Vh * exact.Vh).sum(-1).abs() > 0.99).all()  # same directions, up to sign
    assert ((sketch.U * exact.U).sum(1).abs() > 0.99).all()


def test_start_is_sketched_only_where_the_exact_one_is_slow():
    g = torch.Generator()
    small = activations(b=2, m=3200, q=64)
    assert all(torch.equal(a, b) for a, b in zip(start_svd(small, 16, g), top_svd(small, 16)))
    wide = wide_activations()
    assert not torch.equal(start_svd(wide, 16, g).U, top_svd(wide, 16).U)


def test_a_sketched_start_fits_as_well_as_the_exact_one(monkeypatch):
    A = wide_activations()
    sketched = rel_error(A, *nmf(A, [4, 16]))
    monkeypatch.setattr(factorize, "start_svd", lambda X, r, generator: top_svd(X, r))
    exact = rel_error(A, *nmf(A, [4, 16]))
    assert (sketched <= 1.01 * exact).all(), (sketched, exact)


def test_sweeping_in_cache_sized_blocks_changes_nothing(monkeypatch):
    A = activations(b=6, m=200, q=24)
    whole = nmf(A, [2, 4, 8, 2, 4, 8])
    for block in (1 << 12, 1 << 8):  # several problems per block, then part of one problem's columns
        monkeypatch.setattr(factorize, "CPU_BLOCK_BYTES", block)
        U, V = nmf(A, [2, 4, 8, 2, 4, 8])
        assert torch.allclose(U @ V, whole[0] @ whole[1], rtol=1e-5, atol=1e-5)


def test_a_shared_svd_repeats_per_rank_like_the_stack():
    A = activations()
    one = top_svd(A, 4)
    stacked = one.repeat(2)
    assert all(torch.equal(s, t.repeat(2, *([1] * (t.dim() - 1)))) for s, t in zip(stacked, one))
    U1, V1 = nmf(A.repeat(2, 1, 1), [2, 2, 2, 4, 4, 4], svd=stacked)
    U2, V2 = nmf(A.repeat(2, 1, 1), [2, 2, 2, 4, 4, 4])
    assert torch.allclose(U1 @ V1, U2 @ V2, atol=1e-4 * float(A.max()))


@pytest.mark.parametrize("init", ["nndsvda", "random"])
@pytest.mark.parametrize("shape", ["narrow", "wide"])
def test_same_input_same_bits(init, shape):
    A = activations() if shape == "narrow" else wide_activations()
    first = nmf(A, [1, 3, 5][: len(A)], init=init, seed=3)
    second = nmf(A.clone(), [1, 3, 5][: len(A)], init=init, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_a_float32_eigendecomposition_that_silently_gives_nan_is_redone_in_float64():
    # A layer's 64 x 64 Gram of rank 18 (a trained plain CNN, 800 rows), on which float32 eigh returned
    # NaN without an error on the project's CPU machines (torch 2.14.1); the check then blamed the model
    # for NaN logits. Another LAPACK may not fail on it: then this only checks that the result is right.
    gram = torch.from_numpy(np.load(Path(__file__).parent / "data" / "gram_nan_eigh.npy"))
    evals, evecs = factorize._eigh(torch.stack([torch.eye(64), gram]))
    assert bool(torch.isfinite(evals).all() and torch.isfinite(evecs).all()) and evals.dtype == torch.float32
    exact = torch.linalg.eigvalsh(gram.double())
    assert torch.allclose(evals[1].double(), exact, rtol=1e-4, atol=1e-3 * float(exact[-1]))
    assert torch.equal(evals[0], torch.ones(64))  # matrices that did not fail are kept as they were


def test_pca_redoes_only_the_matrices_whose_eigendecomposition_failed(monkeypatch):
    A = torch.rand(3, 40, 12, generator=torch.Generator().manual_seed(0))
    expected = factorize.low_rank(A, 4)
    eigh = torch.linalg.eigh

    def nan_in_the_second(gram):  # what float32 eigh did on a real layer, without raising
        evals, evecs = eigh(gram)
        if gram.dtype == torch.float32:
            evals, evecs = evals.clone(), evecs.clone()
            evals[1] = float("nan")
        return evals, evecs

    redone = []

    def spy(gram):
        if gram.dtype == torch.float64:
            redone.append(tuple(gram.shape))
        return nan_in_the_second(gram)

    monkeypatch.setattr(torch.linalg, "eigh", spy)
    got = factorize.low_rank(A, 4)
    assert torch.isfinite(got).all() and torch.allclose(got, expected, atol=1e-4)
    assert redone == [(1, 12, 12)]  # the one failed Gram, in float64


def test_matrix_in_matrix_out_and_dtype_kept():
    A = activations(b=1)[0].double()
    U, V = nmf(A, 3)
    assert U.shape == (60, 3) and V.shape == (3, 24) and U.dtype == V.dtype == torch.float64


def test_zero_matrix_gives_zero_factors():
    U, V = nmf(torch.zeros(10, 6), 2)
    assert torch.equal(U @ V, torch.zeros(10, 6))


def test_rank_buckets_group_by_power_of_two():
    ranks = [1, 2, 3, 4, 6, 8, 12, 16, 1]
    assert rank_buckets(ranks, group=True) == [[0, 1, 8], [2, 3], [4, 5], [6, 7]]
    assert rank_buckets(ranks, group=False) == [list(range(9))]


@pytest.mark.parametrize(
    "A, k, kwargs, message",
    [
        (-activations(), 2, {}, "non-negative"),
        (activations().index_put((torch.tensor(0), torch.tensor(0), torch.tensor(0)), torch.tensor(float("nan"))), 2, {}, "NaN or inf"),
        (activations() * float("inf"), 2, {}, "NaN or inf"),
        (torch.ones(4, 5, dtype=torch.long), 2, {}, "floating-point"),
        (torch.ones(5), 1, {}, "shape"),
        (torch.ones(2, 3, 4, 5), 1, {}, "shape"),
        (activations(), 0, {}, "between 1"),
        (activations(), 25, {}, "between 1"),
        (activations(), [1, 2], {}, "3 matrices"),
        (activations(), 2, {"solver": "als"}, "solver"),
        (activations(), 2, {"init": "svd"}, "init"),
        (activations(), 2, {"iterations": -1}, "iterations"),
        (activations(), 2, {"passes": 0}, "passes"),
        (activations(), 2, {"solver": "mu", "passes": 2}, "passes"),
    ],
    ids=["negative", "nan", "inf", "integer", "1-d", "4-d", "rank-0", "rank-too-big", "rank-count", "solver", "init",
         "iterations", "passes-0", "mu-passes"],
)
def test_bad_input_is_a_memcheck_error_that_says_what(A, k, kwargs, message):
    with pytest.raises(mc.MemcheckError, match=message):
        nmf(A, k, **kwargs)


def paper_solver_auc(monkeypatch, model, data) -> float:
    """AuC of a default check with the paper's solver: 50 MU iterations, every rank at the grid's maximum."""
    with monkeypatch.context() as patch:
        patch.setattr(compress, "nmf", functools.partial(nmf, solver="mu", group_ranks=False))
        return mc.check(model, data.train, iterations=50).auc


@pytest.mark.parametrize("fixture", ["clean_cnn", "memorizing_cnn"])
def test_fast_solver_keeps_the_check_auc_of_the_paper_solver(fixture, request, monkeypatch):
    model, data = request.getfixturevalue(fixture)
    fast = mc.check(model, data.train).auc
    reference = paper_solver_auc(monkeypatch, model, data)
    assert abs(fast - reference) <= AUC_NOISE, (fast, reference)


def test_the_check_keeps_its_own_passes_whatever_nmf_defaults_to(clean_cnn, monkeypatch):
    # Recorded baselines hold the check's settings; nmf's default may change, the check's fit may not.
    model, data = clean_cnn
    A = activations()
    before, default_fit = mc.check(model, data.train), nmf(A, 4)
    monkeypatch.setitem(factorize.SOLVER_PASSES, "hals", 3)
    assert not torch.equal(nmf(A, 4)[0], default_fit[0])  # the patch does reach nmf's default
    after = mc.check(model, data.train)
    assert after.auc == before.auc and after.curve == before.curve


def test_gpu_check_script_runs_on_cpu(capsys):
    path = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--quick", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "matmul peak" in out and "default" in out and "TFLOP/s" in out
