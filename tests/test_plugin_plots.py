"""--memcheck-plots: a PNG of each gate's curve, with its band and the baseline's curve, where CI shows it."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from pytest_memcheck import plots


def _png_size(path) -> tuple[int, int]:
    from matplotlib.image import imread

    height, width = imread(path).shape[:2]
    return width, height


def test_plots_per_gate_with_the_baseline_and_the_step_summary(project, monkeypatch, tmp_path):
    project.configure(
        project.model_table("clean", extra="min_auc = 0.4\nmax_drop = 0.1\n"), project.model_table("memorizing")
    )
    project.run("--memcheck", "--memcheck-update").assert_outcomes(passed=1, failed=1)
    plots = importlib.import_module("pytest_memcheck.plots")  # sys.modules' own: pytester may have dropped an older import
    drawn = {}
    original = plots.gate_curve

    def spy(outcome, path, baseline=None):
        drawn[outcome["name"]] = baseline
        return original(outcome, path, baseline)

    monkeypatch.setattr(plots, "gate_curve", spy)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.run("--memcheck", "--memcheck-plots", "out/curves")
    result.assert_outcomes(passed=1, failed=1)
    folder = project.path / "out" / "curves"
    assert sorted(p.name for p in folder.iterdir()) == ["clean.png", "memorizing.png"]
    assert _png_size(folder / "clean.png") == (460, 288)
    # the clean gate compared with its baseline, whose curve is drawn; the other has none
    recorded = (project.path / "tests" / "memcheck" / "clean.json").read_text()
    assert drawn["clean"] is not None and f'"auc": {drawn["clean"]["auc"]}' in recorded
    assert drawn["memorizing"] is None
    assert "k-vs-accuracy curves: one PNG per model in `out/curves/`" in summary.read_text()


def test_without_matplotlib_the_option_says_what_to_install(project, monkeypatch):
    project.configure(project.model_table("clean"))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = project.run("--memcheck", "--memcheck-plots", "out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--memcheck-plots needs matplotlib: pip install 'pytest-memcheck[[]plot[]]'*"])


def _result(samples: np.ndarray, ci: tuple[float, float]) -> dict:
    return {"samples": samples.tolist(), "auc_ci": ci, "settings": {"confidence": 0.95}}


def test_band_is_wilsons_interval_on_the_samples_the_gates_interval_is_worth():
    """Independent samples: Wilson's interval on all 200; clustered 10x wider in variance: on 20."""
    from scipy.stats import binomtest

    rng = np.random.default_rng(0)
    samples = rng.uniform(0, 1, size=(10, 20))
    half = NormalDist().inv_cdf(0.975) * samples.std(ddof=1) / np.sqrt(samples.size)
    mean = samples.mean()
    for inflation, n in ((1.0, 200), (np.sqrt(10), 20)):
        lo, hi = plots._interval(_result(samples, (mean - inflation * half, mean + inflation * half)), np.array([0.5]))
        wilson = binomtest(n // 2, n).proportion_ci(0.95, method="wilson")
        assert (lo[0], hi[0]) == pytest.approx((wilson.low, wilson.high), abs=1e-9)
    # an interval narrower than independent samples would give is not taken at its word
    lo, hi = plots._interval(_result(samples, (mean - half / 2, mean + half / 2)), np.array([0.5]))
    wilson = binomtest(100, 200).proportion_ci(0.95, method="wilson")
    assert (lo[0], hi[0]) == pytest.approx((wilson.low, wilson.high), abs=1e-9)


def test_the_shipped_workflow_writes_and_uploads_the_curves():
    workflow = (Path(__file__).resolve().parent.parent / "examples" / "github-actions" / "memcheck.yml").read_text()
    gate = next(line for line in workflow.splitlines() if "pytest --memcheck" in line)
    folder = re.search(r"--memcheck-plots=(\S+)", gate).group(1)
    upload = workflow[workflow.index("actions/upload-artifact"):]
    assert f"{folder}/" in upload and "memcheck-report.json" in upload
    assert '"pytest-memcheck[plot]"' in workflow  # matplotlib is installed for the option


def test_option_is_in_the_help(pytester: pytest.Pytester):
    pytester.runpytest("--help").stdout.fnmatch_lines(["*--memcheck-plots=DIR*"])
