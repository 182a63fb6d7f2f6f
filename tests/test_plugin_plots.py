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
    assert _png_size(folder / "clean.png") == (676, 273)  # two panels: the single-class curve and the score's
    # the clean gate compared with its baseline, whose curve is drawn; the other has none
    recorded = (project.path / "tests" / "memcheck" / "clean.json").read_text()
    assert drawn["clean"] is not None and f'"auc": {drawn["clean"]["auc"]}' in recorded
    assert drawn["memorizing"] is None
    assert "k-vs-accuracy curves: one PNG per gate in <code>out/curves/</code>" in summary.read_text()


def test_without_matplotlib_the_option_says_what_to_install(project, monkeypatch):
    project.configure(project.model_table("clean"))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = project.run("--memcheck", "--memcheck-plots", "out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--memcheck-plots needs matplotlib: pip install 'pytest-memcheck[[]plot[]]'*"])


def test_band_is_the_stratified_interval_of_each_k():
    """Per k, the band is the normal interval of a stratified bootstrap of the samples (classes fixed)."""
    from pytest_memcheck import stats

    rng = np.random.default_rng(0)
    correct = rng.random((3, 10, 20)) < np.linspace(0.2, 0.95, 10)[None, :, None]  # (K, classes, samples)
    groups = correct.mean(axis=2).T  # (classes, K)
    lo, hi = plots.band(groups, 20, 0.95)
    for k in range(3):
        boot_lo, boot_hi = stats.bootstrap_ci(correct[k].astype(float), n_boot=20000, seed=1)
        assert (lo[k], hi[k]) == pytest.approx((boot_lo, boot_hi), abs=0.01)
    assert np.all(plots.band(np.ones((10, 3)), 20, 0.95)[0] == 1)  # every sample right: no spread


def test_the_shipped_workflow_writes_and_uploads_the_curves():
    workflow = (Path(__file__).resolve().parent.parent / "examples" / "github-actions" / "memcheck.yml").read_text()
    gate = next(line for line in workflow.splitlines() if "pytest --memcheck" in line)
    folder = re.search(r"--memcheck-plots=(\S+)", gate).group(1)
    upload = workflow[workflow.index("actions/upload-artifact"):]
    assert f"{folder}/" in upload and "memcheck-report.json" in upload
    assert '"pytest-memcheck[plot]"' in workflow  # matplotlib is installed for the option


def test_option_is_in_the_help(pytester: pytest.Pytester):
    pytester.runpytest("--help").stdout.fnmatch_lines(["*--memcheck-plots=DIR*"])


def _outcome(name: str = "m") -> dict:
    curve = {1.0: 0.5, 2.0: 0.7}
    result = {"curve": curve, "auc": 0.6, "auc_ci": [0.5, 0.7], "base_accuracy": 1.0, "method": "nmf",
              "settings": {"samples_per_class": 4, "confidence": 0.95}, "group_curves": [[0.5, 0.7], [0.5, 0.7]]}
    return {"name": name, "status": "pass", "result": result, "min_auc": 0.4, "baseline": {"state": "not used", "path": None}}


def test_a_plot_replaces_only_a_plot_memcheck_drew(tmp_path):
    mine, theirs = tmp_path / "m.png", tmp_path / "theirs.png"
    plots.check_plot_path(mine, "--plot")  # nothing there yet
    plots.gate_curve(_outcome(), mine)
    plots.check_plot_path(mine, "--plot")  # memcheck's own: may be drawn again
    assert plots.MARK in mine.read_bytes()[:4096]
    theirs.write_bytes(b"\x89PNG\r\n\x1a\n not ours")
    with pytest.raises(plots.MemcheckError, match=r"--plot .*theirs.png would replace a file that is not a memcheck plot"):
        plots.check_plot_path(theirs, "--plot")
    with pytest.raises(plots.MemcheckError, match=r"must end in \.png"):
        plots.check_plot_path(tmp_path / "curve.txt", "--plot")


def test_the_plugin_leaves_a_users_file_in_the_plots_folder_alone(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "m.png").write_text("my own figure")
    problems = plots.gate_curves([_outcome("m"), _outcome("n")], folder)
    assert problems == [f"the curve of 'm' was not drawn: --memcheck-plots {folder / 'm.png'} would replace a file "
                        "that is not a memcheck plot; choose another path, or delete it"]
    assert (folder / "m.png").read_text() == "my own figure" and (folder / "n.png").is_file()
    assert plots.gate_curves([_outcome("m")], folder / "n.png")[0].endswith("into " + str(folder / "n.png") + ": it is not a folder")
