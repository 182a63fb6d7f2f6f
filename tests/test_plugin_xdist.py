"""pytest -n 2: baselines written by workers stay intact and the controller writes one report."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("xdist")


def test_update_and_compare_under_xdist(project):
    tables = [
        project.model_table(f"m{i}", weights="clean", extra="min_auc = 0.4\nmax_drop = 0.1\n") for i in range(4)
    ]
    project.configure(*tables)
    report = project.path / "report.json"
    update = project.pytester.runpytest_subprocess("-n", "2", "--memcheck", "--memcheck-update", f"--memcheck-report={report}")
    update.assert_outcomes(passed=4)
    update.stdout.fnmatch_lines(["*4 gates: 4 passed*"])  # collected by every worker and the controller alike
    for i in range(4):
        stored = json.loads((project.path / "tests" / "memcheck" / f"m{i}.json").read_text())
        assert stored["name"] == f"m{i}"
    assert sorted(m["name"] for m in json.loads(report.read_text())["models"]) == ["m0", "m1", "m2", "m3"]

    compare = project.pytester.runpytest_subprocess("-n", "2", "--memcheck", f"--memcheck-report={report}")
    compare.assert_outcomes(passed=4)
    data = json.loads(report.read_text())
    assert data["summary"] == {"pass": 4, "fail": 0, "inconclusive": 0, "error": 0, "expected": 0}
    assert all(m["baseline"]["state"] == "compared" for m in data["models"])
    # one summary table, printed by the controller only
    assert compare.stdout.str().count("memcheck: memorization gates") == 1
