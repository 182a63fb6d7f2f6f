"""The validation study's pieces on a tiny zoo (seconds); the real trend behind --run-slow."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from pytest_memcheck.result import CheckResult
from pytest_memcheck.study import analysis, calibrate, datasets, families, records, regimes, report, run
from pytest_memcheck.study.cli import QUICK_FAMILIES, specs_from_args
from pytest_memcheck.study.measure import CANDIDATES
from pytest_memcheck.study.models import Measured, decode


def _small_digits(p: float, seed: int):
    d = datasets.digits(p, seed)
    return dataclasses.replace(d, x=d.x[:400], y=d.y[:400], noisy=d.noisy[:400])


@pytest.fixture(scope="module")
def tiny_family():
    from pytest_memcheck.study import architectures

    fam = families.Family("tiny_mlp", "digits", "mlp", lambda **k: architectures.mlp(64, 32, 2, **k), fit_kwargs={"lr": 1e-2})
    fam = dataclasses.replace(fam)
    families.FAMILIES["tiny_mlp"] = fam
    original = datasets.DATASETS["digits"]
    datasets.DATASETS["digits"] = _small_digits
    yield fam
    datasets.DATASETS["digits"] = original
    del families.FAMILIES["tiny_mlp"]


@pytest.fixture(scope="module")
def zoo(tiny_family, tmp_path_factory):
    """Four runs of the tiny family: clean (with checkpoints), p = 0.4, p = 1 and a clean retrain."""
    out = tmp_path_factory.mktemp("zoo")
    specs = [
        regimes.ModelSpec("tiny_mlp", 0.0, 0, checkpoints=True),
        regimes.ModelSpec("tiny_mlp", 0.4, 0),
        regimes.ModelSpec("tiny_mlp", 1.0, 0),
        regimes.ModelSpec("tiny_mlp", 0.0, 1),
    ]
    saved = run.MAX_EPOCHS, run.SAMPLES_PER_CLASS, regimes.CHECKPOINT_EPOCHS
    run.MAX_EPOCHS, run.SAMPLES_PER_CLASS = 30, 10
    try:
        rs = run.run(specs, out, log=lambda line: None)
    finally:
        run.MAX_EPOCHS, run.SAMPLES_PER_CLASS, _ = saved
    return out, specs, rs


# ------------------------------------------------------------------------------------------ the zoo's grid


def test_grid_covers_every_regime():
    specs = regimes.grid(("digits_cnn",))
    by = analysis.group_by(specs, lambda s: s.regime)
    assert len(by["noise"]) == len(regimes.NOISE_LEVELS) * len(regimes.SEEDS)
    assert {s.size for s in by["size"]} == set(regimes.SIZES) and all(s.p == 0 for s in by["size"])
    assert {(s.regularizer, s.p) for s in by["regularized"]} == {(r, p) for r in regimes.REGULARIZERS for p in (0.0, 0.4)}
    assert [(s.p, s.seed) for s in specs if s.checkpoints] == [(0.0, 0), (0.4, 0)]
    assert len({s.key for s in specs}) == len(specs)


def test_every_family_builds_a_model_for_its_data():
    for name, fam in families.FAMILIES.items():
        split = fam.data(0.0, 0)
        with torch.no_grad():
            assert fam.model(dropout=0.3)(split.x[:3]).shape == (3, 10), name
    assert len(families.RELU_FAMILIES) >= 10 and len({families.FAMILIES[f].dataset for f in families.RELU_FAMILIES}) >= 3


def test_generated_data_is_fixed_and_labels_noisy_only_in_training():
    a, b = datasets.shapes(0.4, 1), datasets.shapes(0.4, 1)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    clean = datasets.shapes(0.0, 1)
    assert torch.equal(a.x, clean.x) and torch.equal(a.y_test, clean.y_test)  # the split does not depend on p or seed
    assert 0.3 < a.noisy.float().mean() < 0.5 and not clean.noisy.any()
    small = datasets.subset(clean, 7, seed=0)
    assert torch.bincount(small.y).tolist() == [7] * 10


# --------------------------------------------------------------------------------------------- a tiny run


def test_runs_are_measured_with_every_candidate_and_their_weights(zoo):
    out, specs, rs = zoo
    tags = [r["epoch_tag"] for r in rs if r["run"] == specs[0].key]
    assert tags[-2:] == ["final", "overtrained"] and all(t.startswith("e") for t in tags[:-2])
    for r in rs:
        assert set(r["checks"]) == {c.name for c in CANDIDATES}
        assert (out / "weights" / r["weights"]).is_file()
        assert 0 <= r["test_error"] <= 1 and r["samples_per_class"] == 10
    assert records.load(out) == rs  # what is on disk is what was measured


def test_a_second_run_resumes(zoo, monkeypatch):
    out, specs, rs = zoo
    monkeypatch.setattr(run, "run_spec", lambda *a, **k: pytest.fail("trained again"))
    assert run.run(specs, out, log=lambda line: None) == rs


def test_decoded_models_align_every_check_on_the_same_samples(zoo):
    _, _, rs = zoo
    m = Measured(rs[-1])
    assert m.index.shape == (10, 10)
    # the uncompressed outcome is the same sample by sample, whatever grouping a check used
    base = m.base("nmf")
    for c in CANDIDATES:
        assert np.array_equal(m.base(c.name), base), c.name
    assert m.correct("mixed_pca").shape == (10, 10)
    assert m.correct("mixed_pca", (6,)).shape == (10, 10)


def test_packed_arrays_round_trip():
    rng = np.random.default_rng(0)
    bits = rng.random((3, 7, 11)) > 0.5
    assert np.array_equal(records.unpack_bits(records.pack_bits(bits)), bits)
    ints = rng.integers(-5, 1000, size=(4, 9))
    assert np.array_equal(records.unpack_ints(records.pack_ints(ints)), ints)


# ------------------------------------------------------------------------------------------- calibration


def _fake(
    family: str, p: float, seed: int, score: float, fit: float = 1.0, n: int = 40, low: float | None = None
) -> Measured:
    """A measured model whose mixed-batch check keeps ``score`` of its samples (deterministic pattern).

    ``low``: what it keeps at the two lowest ranks (6 and 8) instead.
    """
    classes = 10

    def keeps(share: float) -> np.ndarray:
        return np.arange(classes * n).reshape(1, classes, n) % 100 < round(share * 100)

    correct = keeps(score).repeat(6, axis=0)
    if low is not None:
        correct[:2] = keeps(low)[0]
    base = np.arange(classes * n).reshape(classes, n) % 100 < round(fit * 100)
    index = np.arange(classes * n) + (0 if p == 0 else 10_000 * int(p * 100))
    check = {"ks": [6, 8, 12, 16, 24, 32], "correct": records.pack_bits(correct), "base": records.pack_bits(base), "auc": score}
    record = {
        "run": f"{family}/p{p:g}/s{seed}", "family": family, "dataset": "d", "kind": "k", "activation": "relu",
        "regime": "noise", "p": p, "seed": seed, "size": None, "regularizer": None, "epoch_tag": "final", "epoch": 10,
        "train_accuracy": fit, "test_error": 0.05 + p * 0.8, "test_accuracy_per_class": {str(c): 0.9 for c in range(classes)},
        "draws": {
            "single": {"index": records.pack_ints(index), "noisy": records.pack_bits(np.zeros(classes * n, bool) | (p > 0))},
            "multi": {"index": records.pack_ints(index), "noisy": records.pack_bits(np.zeros(classes * n, bool))},
        },
        "checks": {"nmf": check, "mixed_pca": {**check, "grouping": "single"}},
    }
    return Measured(record)


def _fake_zoo(offsets=(0.0, 0.03, -0.03)) -> list[Measured]:
    """Three families whose clean models keep 90% (+ offset) and memorizing ones 40-60%."""
    ms = []
    for f, off in zip(("a", "b", "c"), offsets):
        for seed in (0, 1, 2):
            for p, s in ((0.0, 0.9), (0.2, 0.7), (0.4, 0.55), (1.0, 0.4)):
                ms.append(_fake(f, p, seed, s + off + 0.01 * seed))
    return ms


def test_floor_lies_between_clean_and_memorizing_models_in_the_middle_of_its_plateau():
    ms = _fake_zoo()
    f = calibrate.Formula((("mixed_pca", None),), "raw")
    rows = calibrate.scored(f, ms)
    floor = calibrate.choose_floor(rows)
    clean = min(r.ci[0] for r in rows if r.model.p == 0)
    memorizing = max(r.ci[1] for r in rows if r.model.p >= 0.4)
    assert memorizing < floor < clean
    assert floor == pytest.approx((memorizing + clean) / 2, abs=0.01)


def test_held_out_judgement_uses_rules_chosen_without_the_family():
    cal = calibrate.Calibration(_fake_zoo())
    ho = calibrate.held_out(cal)
    assert [f["family"] for f in ho["folds"]] == ["a", "b", "c"]
    for fold in ho["folds"]:
        assert fold["floor"]["clean_failed"] == 0 and fold["floor"]["memorizing_passed"] == 0
        assert fold["regressions"]["retrain"]["fail"] == 0
        assert fold["regressions"]["p=0.2"]["fail"] == 3  # 0.9 -> 0.7 on the same classes
    assert ho["spearman"]["noise"] < -0.9


def test_the_regression_reads_the_ranks_where_retrains_agree():
    # clean seeds keep 90% at ranks 12-32 but 30-90% below them; label noise lowers every rank
    ms = []
    for family in ("a", "b", "c"):
        for seed, low in ((0, 0.9), (1, 0.3), (2, 0.6)):
            ms.append(_fake(family, 0.0, seed, 0.9, low=low))
            ms += [_fake(family, p, seed, s, low=low - 0.1) for p, s in ((0.2, 0.7), (0.4, 0.55), (1.0, 0.4))]
    cal = calibrate.Calibration(ms)
    for fold in calibrate.held_out(cal)["folds"]:  # chosen without the family, judged on it
        assert fold["choice"]["drop_from_rank"] == 12
        assert fold["regressions"]["retrain"]["fail"] == 0 and fold["regressions"]["p=0.2"]["fail"] == 3
    # over every rank no limit separates them: a seed-1 retrain falls further than seed 1's p = 0.2 model
    every = calibrate.Formula((("mixed_pca", None),), "raw")
    changes = cal.changes(every, calibrate.pairs(cal.rows(every, ms)))
    retrain = max(-ci[1] / p.baseline.score for p, ci in changes if p.kind == "retrain")
    regression = min(-ci[1] / p.baseline.score for p, ci in changes if p.kind == "p=0.2")
    assert retrain > regression


def test_a_family_on_another_scale_shows_up_held_out():
    # family "c" scores everything 0.35 lower: a floor chosen on a and b passes none of its clean models
    ho = calibrate.held_out(calibrate.Calibration(_fake_zoo(offsets=(0.0, 0.02, -0.35))))
    fold = next(f for f in ho["folds"] if f["family"] == "c")
    assert fold["floor"]["clean_failed"] == 3


def test_the_reference_ranking_counts_the_randomized_labels_a_model_fits():
    assert _fake("a", 0.4, 0, 0.5, fit=0.5).memorized_share == pytest.approx(0.5)  # every label randomized, half fit
    assert _fake("a", 0.0, 0, 0.9).memorized_share == 0.0
    noise = _fake_zoo()
    # checkpoints before the fit: no label memorized yet, and the most test errors
    early = [Measured({**m.record, "regime": "checkpoint", "epoch_tag": "e1", "test_error": 0.9}) for m in noise if m.p == 0]
    ho = calibrate.held_out(calibrate.Calibration(noise + early))
    for group, key in ((noise, "noise"), (noise + early, "all")):
        counted, errors = [m.memorized_share for m in group], [m.test_error for m in group]
        assert ho["memorized_share_spearman"][key] == pytest.approx(analysis.spearman(counted, errors))
    assert ho["memorized_share_spearman"]["noise"] > 0.5 > ho["memorized_share_spearman"]["all"]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a fold without clean models is a NaN, not numpy's warning
def test_summary_and_report_from_tiny_records(zoo):
    _, _, rs = zoo
    summary = calibrate.summarize(decode(rs))
    text = report.markdown(summary)
    assert "### Acceptance figures" in text and "tiny_mlp" in text
    assert "| every regime pooled |" in text  # the score beside the memorized labels counted
    json.dumps(summary)  # what `memcheck study` writes


def test_rank_correlations_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 30).astype(float), rng.standard_normal(30)  # x has ties
    assert analysis.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0])
    assert analysis.pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0])
    assert math.isnan(analysis.pearson([1, 1, 1], [1, 2, 3]))


def test_command_line_choices():
    import argparse

    from pytest_memcheck.study.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    quick = specs_from_args(parser.parse_args([]))
    assert {s.family for s in quick} == set(QUICK_FAMILIES)
    full = specs_from_args(parser.parse_args(["--full", "--families", "digits_cnn"]))
    assert full == regimes.grid(("digits_cnn",))


@pytest.mark.slow
def test_quick_study_separates_clean_from_memorizing(tmp_path):
    specs = [regimes.ModelSpec("digits_cnn", p, 0) for p in (0.0, 1.0)]
    clean, noisy = run.run(specs, tmp_path, log=lambda line: None)
    assert clean["test_error"] < 0.1 < 0.8 < noisy["test_error"]
    for name in ("nmf", "mixed_nmf", "mixed_pca"):
        assert clean["checks"][name]["auc"] > noisy["checks"][name]["auc"] + 0.2


def test_the_class_count_probe_cuts_data_and_heads_to_the_first_classes():
    from pytest_memcheck.study import classes, families

    split = classes.cut(families.FAMILIES["tabular_mlp"].data(0.0, 0), 3, p=1.0, seed=0)
    assert set(split.y.tolist()) <= {0, 1, 2} and set(split.y_test.tolist()) == {0, 1, 2}
    assert bool(split.noisy.all())  # p = 1: every training label redrawn among the three classes
    model = classes.with_outputs(families.FAMILIES["tabular_mlp"].model(), 3)
    assert model(split.x[:4]).shape == (4, 3)
    rows = [{"family": "f", "classes": 3, "p": 0.0, "seed": s, "error": 0.01, "score": 0.5, "without_guard": "fail",
             "verdict": "inconclusive"} for s in (0, 1)]
    assert classes.table(rows).splitlines()[2] == "| f | 3 | 0 | 0.01, 0.01 | 0.50, 0.50 | fail, fail | inconclusive, inconclusive |"


def test_the_probe_families_go_beyond_the_zoo_as_their_table_says():
    from pytest_memcheck.study import beyond
    from pytest_memcheck.study.measure import activation_labels

    for name, probe in beyond.PROBES.items():
        split = probe.data(0.0, 0)
        model = probe.model().eval()
        assert len(activation_labels(model, split.x)) == probe.layers, name
        assert model(split.x[:2]).shape == (2, probe.classes) and int(split.y.max()) + 1 == probe.classes, name


def test_fit_trains_as_asked_and_refuses_other_optimizers():
    from pytest_memcheck import zoo

    x, y = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0)), torch.arange(40) % 4
    weights = {}
    runs = (("adam", 2e-3, 0.0), ("sgd", 0.05, 0.0), ("sgd", 0.01, 0.0), ("adam", 2e-3, 0.1), ("sgd", None, 0.0))
    for optimizer, lr, smoothing in runs:
        torch.manual_seed(0)
        model, epochs = zoo.fit(
            zoo.mlp(classes=4), x, y, max_epochs=2, target_accuracy=None, optimizer=optimizer, lr=lr,
            label_smoothing=smoothing,
        )
        assert epochs == 2
        weights[optimizer, lr, smoothing] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert not torch.equal(weights["adam", 2e-3, 0.0], weights["sgd", 0.05, 0.0])  # the optimizer is used...
    assert not torch.equal(weights["sgd", 0.05, 0.0], weights["sgd", 0.01, 0.0])  # ... with the learning rate given
    assert not torch.equal(weights["adam", 2e-3, 0.0], weights["adam", 2e-3, 0.1])  # and the smoothing
    assert torch.equal(weights["sgd", None, 0.0], weights["sgd", 0.05, 0.0])  # SGD's own default rate
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd', got 'rmsprop'"):
        zoo.fit(zoo.mlp(classes=4), x, y, optimizer="rmsprop")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.5"):
        zoo.fit(zoo.mlp(classes=4), x, y, label_smoothing=1.5)


def _kept(folder, family, p, seed, score, depth):
    """A probe model's kept record: 10 classes x 50 samples, every sample's score equal to ``score``."""
    samples = [[score] * 50 for _ in range(10)]
    r = CheckResult(
        auc=0.8, auc_ci=(0.75, 0.85), score=score, score_ci=(score - 0.02, score + 0.02), score_samples=samples,
        regression_samples=samples,
        saturated=False, curve={1.0: 0.8}, per_class={c: 0.8 for c in range(10)}, base_accuracy=1.0, layers=["a"],
        method="nmf", samples=[[0.8] * 50 for _ in range(10)],
        settings={"seed": 0, "draw": "d", "confidence": 0.95, "classes": list(range(10)), "outputs": 10, "depth": depth},
    )
    record = {"family": family, "p": p, "seed": seed, "test_error": 0.1 + p / 2, "result": r.to_dict()}
    (folder / f"{family}_p{p:g}_s{seed}.json").write_text(json.dumps(record), encoding="utf-8")


def test_the_probe_judges_kept_results_with_and_without_the_guards(tmp_path):
    from pytest_memcheck.study import beyond

    # a deep family on the score's usual scale is misjudged only without the guard: p = 0.4 passes alone
    for p, seed, score in ((0.0, 0, 0.9), (0.0, 1, 0.88), (0.4, 0, 0.75)):
        _kept(tmp_path, "tabular_mlp12", p, seed, score, depth=12)
    rows = {(r["p"], r["seed"]): r for r in beyond.judge(tmp_path)}
    assert rows[0.0, 1]["against"] == "retrain" and rows[0.0, 1]["vs_baseline"] == "pass"
    assert rows[0.4, 0]["alone"] == "pass" and rows[0.4, 0]["vs_baseline"] == "fail"
    assert {r["default"] for r in rows.values()} == {"inconclusive"}  # too deep for the default gate
    # a model the check refused is kept with the refusal: the gate's "error"
    failed = {"family": "tabular_mlp12", "p": 1.0, "seed": 0, "test_error": 0.9, "fit": 0.1, "error": "a dead layer"}
    (tmp_path / "tabular_mlp12_p1_s0.json").write_text(json.dumps(failed), encoding="utf-8")
    lines = beyond.table(beyond.judge(tmp_path)).splitlines()
    assert lines[2] == "| tabular_mlp12 | 12 | 10 | 0 | 0 | 0.10 | 1.000 | 0.900 | pass | - | inconclusive |"
    assert lines[3] == (
        "| tabular_mlp12 | 12 | 10 | 0.4 | 0 | 0.30 | 1.000 | 0.750 | **pass** | fail (clean) | "
        "inconclusive, inconclusive |"
    )
    assert lines[4] == "| tabular_mlp12 | 12 | 10 | 1 | 0 | 0.90 | 0.100 | - | error | error (clean) | error, error |"
    assert lines[-1] == "Error of tabular_mlp12 p = 1 seed 0: a dead layer"
    assert beyond.summary(beyond.judge(tmp_path)).splitlines()[2] == (
        "| tabular_mlp12 | 12 | 10 | 2 pass | 1 error, 1 pass | - | 1 pass |"
    )
