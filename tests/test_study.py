"""The validation study's pieces on a tiny zoo (seconds), and the real trend behind --run-slow."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
import torch

import pytest_memcheck as mc

from pytest_memcheck import study, zoo

TINY = study.StudyConfig(families=("tiny_mlp",), ps=(0.0, 0.5, 1.0), seeds=(0,), samples_per_class=6, ks=(1, 2, 4))


def _small_digits(p: float, seed: int) -> zoo.Split:
    """300 training samples: the tiny models need not fit the noise, only exercise the pipeline."""
    d = zoo.digits(p, seed)
    return dataclasses.replace(d, x=d.x[:300], y=d.y[:300], noisy=d.noisy[:300])


TINY_FAMILY = study.Family(
    "tiny_mlp", _small_digits, lambda: zoo.mlp(width=32, depth=2), {"max_epochs": 6, "lr": 1e-2, "target_accuracy": None}
)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    sink = tmp_path_factory.mktemp("study") / "records.jsonl"
    recs = study.run_zoo(TINY, families={"tiny_mlp": TINY_FAMILY}, sink=sink, log=lambda line: None)
    return recs, sink


def test_every_model_is_trained_and_checked(records):
    recs, sink = records
    assert [(r["family"], r["p"]) for r in recs] == [("tiny_mlp", p) for p in TINY.ps]
    for r in recs:
        assert set(r["checks"]) == {"nmf", "pca", "random", "multi"}
        assert not any(c["float64"] for c in r["checks"].values())
        assert 0 <= r["test_error"] <= 1 and 0 <= r["train_accuracy"] <= 1 and r["epochs"] == 6
        assert list(r["checks"]["nmf"]["curve"]) == ["1", "2", "4"]
        assert len(r["checks"]["nmf"]["per_class"]) == 10 == len(r["test_accuracy_per_class"])
        assert list(r["layerwise"]) == ["2", "4"]  # both ReLU modules of the MLP
    # the sink holds the same records, so a long run can be re-analyzed
    assert study.load_records(sink) == json.loads(json.dumps(recs))


def test_a_second_run_resumes_from_the_sink(records, monkeypatch):
    recs, sink = records
    monkeypatch.setattr(study, "run_model", lambda *a: pytest.fail("trained again"))
    assert study.run_zoo(TINY, families={"tiny_mlp": TINY_FAMILY}, sink=sink, log=lambda line: None) == study.load_records(sink)


def test_solver_failure_falls_back_to_float64(monkeypatch):
    def fragile(model, data, **kwargs):
        if data[0].dtype == torch.float32:
            raise torch.linalg.LinAlgError("eigh failed to converge")
        return model, data

    model, data = torch.nn.Linear(2, 2), (torch.rand(4, 2), torch.arange(4))
    (copy, (x, y)), wide = study._in_float64(fragile, model, data)
    assert wide and x.dtype == torch.float64 and copy is not model and torch.equal(y, data[1])
    assert model.weight.dtype == torch.float32  # the caller's model is untouched


def test_tables_cover_every_family_p_and_method(records):
    recs, _ = records
    summary = study.summarize(recs)
    assert [(r["family"], r["p"], r["n"]) for r in summary["auc_table"]] == [("tiny_mlp", p, 1) for p in TINY.ps]
    groups = {(r["group"], r["method"]) for r in summary["correlations"]}
    assert groups == {(g, m) for g in ("tiny_mlp", "pooled") for m in study.CHECKS}
    assert len(summary["per_class"]) == 3 and len(summary["layerwise"]) == 3
    assert {r["score"] for r in summary["scores"]} == set(study.SCORE_CANDIDATES)
    ranked = [r["pooled_spearman_test_error"] for r in summary["scores"]]
    finite = [x for x in ranked if not math.isnan(x)]
    assert finite == sorted(finite)  # best (most negative) first
    report = study.format_report(summary)
    assert "### AuC per family and p" in report and "tiny_mlp" in report


def test_written_files(records, tmp_path):
    recs, _ = records
    paths = study.write(tmp_path, recs, study.summarize(recs))
    assert {p.name for p in paths} == {"records.json", "summary.json", "report.md", "models.csv"}
    rows = list(csv.DictReader((tmp_path / "models.csv").open()))
    assert len(rows) == 3 and float(rows[0]["nmf_auc"]) == pytest.approx(recs[0]["checks"]["nmf"]["auc"])


def test_plots(records, tmp_path):
    pytest.importorskip("matplotlib")
    from pytest_memcheck import plots

    paths = plots.study_plots(records[0], tmp_path)
    assert [p.name for p in paths] == ["curves.png", "layerwise.png", "auc_vs_error.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_rank_correlations_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 30).astype(float), rng.standard_normal(30)  # x has ties
    assert study.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0])
    assert study.pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0])
    assert math.isnan(study.pearson([1, 1, 1], [1, 2, 3]))


def test_command_line_settings():
    import argparse

    parser = argparse.ArgumentParser()
    study.add_arguments(parser)
    assert study.config_from_args(parser.parse_args([])) == study.QUICK
    full = study.config_from_args(parser.parse_args(["--full", "--seeds", "4", "--families", "digits_cnn"]))
    assert full.seeds == (0, 1, 2, 3) and full.families == ("digits_cnn",) and full.ps == study.FULL.ps


@pytest.mark.slow
def test_quick_study_shows_the_trend_on_cnns():
    config = study.StudyConfig(families=("digits_cnn",), ps=(0.0, 1.0), seeds=(0,), layerwise=False)
    clean, noisy = study.run_zoo(config, log=lambda line: None)
    assert clean["test_error"] < 0.1 < 0.8 < noisy["test_error"]
    for method in ("nmf", "pca", "random", "multi"):
        assert clean["checks"][method]["auc"] > noisy["checks"][method]["auc"] + 0.1


def test_saturation_rule_on_an_mlp_like_and_a_cnn_like_curve():
    from pytest_memcheck import stats

    mlp_like = {1: 0.75, 2: 0.95, 4: 1.0, 8: 1.0}  # rank 1 dips, AuC 0.925: the check sees little
    cnn_like = {1: 0.1, 2: 0.5, 4: 0.9, 8: 1.0}
    assert stats.is_saturated(mlp_like, 1.0) and not stats.is_saturated(cnn_like, 1.0)


def test_score_is_the_multi_class_checks_normalized_auc(tiny_data):
    from pytest_memcheck.engine import check

    torch.manual_seed(0)
    model = zoo.mlp(inputs=64, width=16, depth=2, classes=4)
    kwargs = {"samples_per_class": 6, "ks": (1, 2)}
    multi = check(model, tiny_data, batches="multi", **kwargs)
    assert multi.score == pytest.approx(multi.auc / multi.base_accuracy)
    for method in ("nmf", "pca"):
        assert check(model, tiny_data, method=method, score=True, **kwargs).score == pytest.approx(multi.score)
    assert check(model, tiny_data, **kwargs).score is None  # not asked for: no second sweep
