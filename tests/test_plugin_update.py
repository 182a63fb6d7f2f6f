"""--memcheck-update and the baseline lifecycle: missing -> update -> compare -> regression."""

from __future__ import annotations

import json

import pytest


def _regression_table(project, name="model", weights="clean", data=None, max_drop=0.1):
    return project.model_table(name, weights=weights, data=data, extra=f"max_drop = {max_drop}\n")


def test_whole_lifecycle(project):
    project.configure(_regression_table(project))
    baseline = project.path / "tests" / "memcheck" / "model.json"

    missing = project.run("--memcheck")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*has no baseline to compare with*", "*pytest --memcheck --memcheck-update*"])
    assert not baseline.exists()

    update = project.run("--memcheck", "--memcheck-update")
    update.assert_outcomes(passed=1)
    # issue 10, finding 3: an update run says what it wrote, per gate
    update.stdout.fnmatch_lines(["model*PASS*recorded*", "  baseline recorded: tests/memcheck/model.json (AuC 0.*)"])
    stored = json.loads(baseline.read_text())
    assert stored["format"] == "pytest-memcheck-baseline" and stored["name"] == "model"
    assert stored["result"]["settings"]["samples_per_class"] == 20

    compare = project.run("--memcheck")
    compare.assert_outcomes(passed=1)
    assert baseline.read_text() == json.dumps(stored, indent=2) + "\n"  # comparing never rewrites
    assert "baseline recorded" not in compare.stdout.str() and "baseline replaced" not in compare.stdout.str()

    again = project.run("--memcheck", "--memcheck-update")
    again.stdout.fnmatch_lines(["  baseline replaced: tests/memcheck/model.json (AuC 0.*)"])
    stored = json.loads(baseline.read_text())

    # The same gate now points at a model that memorized: it is caught against the baseline.
    (project.path / "clean.pt").write_bytes((project.path / "memorizing.pt").read_bytes())
    (project.path / "mydata.py").write_text(
        (project.path / "mydata.py").read_text().replace("zoo.digits(0.0, seed=0)", "zoo.digits(1.0, seed=0)")
    )
    regressed = project.run("--memcheck")
    regressed.assert_outcomes(failed=1)
    regressed.stdout.fnmatch_lines(["*looks memorizing (fail)*", "*that is beyond max_drop 0.100*"])
    assert json.loads(baseline.read_text()) == stored


def test_update_refuses_to_record_a_model_below_its_floor(project):
    project.configure(project.model_table("memorizing", extra="min_auc = 0.4\nmax_drop = 0.1\n"))
    result = project.run("--memcheck", "--memcheck-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*was NOT recorded: the model fails its floor*"])
    assert not (project.path / "tests" / "memcheck" / "memorizing.json").exists()


def test_baseline_of_another_architecture_is_reported_not_compared(project):
    project.configure(_regression_table(project))
    project.run("--memcheck", "--memcheck-update").assert_outcomes(passed=1)
    project.pytester.makepyfile(
        wide="from pytest_memcheck import zoo\n\ndef build():\n    return zoo.digits_cnn(width=8)\n"
    )
    project.configure(
        '[tool.memcheck.models.model]\nmodel = "wide:build"\ndata = "mydata:clean"\n'
        'samples_per_class = 20\nks = [1, 2, 4, 8]\nmax_drop = 0.1\n'
    )
    result = project.run("--memcheck")
    result.assert_outcomes(failed=1)
    # issue 10, finding 4: say what changed, and show no limit or margin for a comparison that did not happen
    result.stdout.fnmatch_lines([
        "*cannot be compared with its baseline*",
        "*another architecture (4 changed: 0 (Conv2d weight(16, 1, 3, 3), bias(16,) -> Conv2d weight(8, 1, 3, 3), bias(8,)),*",
    ])
    out = result.stdout.str()
    row = out[out.index("1 gate: 1 failed"):].split("\n", 2)[1:]
    assert "baseline mismatch" in out[out.index("1 gate: 1 failed"):]
    assert not any(">=" in line or "margin" in line for line in row)


def test_baseline_with_other_settings_is_reported(project):
    project.configure(_regression_table(project))
    project.run("--memcheck", "--memcheck-update").assert_outcomes(passed=1)
    project.configure(_regression_table(project).replace("ks = [1, 2, 4, 8]", "ks = [1, 2, 4]"))
    result = project.run("--memcheck")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*other settings (ks: baseline [[]1, 2, 4, 8], now [[]1, 2, 4])*"])


def test_corrupt_baseline_fails_clearly_and_is_left_alone(project):
    project.configure(_regression_table(project))
    folder = project.path / "tests" / "memcheck"
    folder.mkdir(parents=True)
    (folder / "model.json").write_text('{"format": "pytest-memcheck-baseline", "sch')
    result = project.run("--memcheck")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*model.json is corrupt or truncated*restore it from version control*"])
    assert (folder / "model.json").read_text().endswith('"sch')


def test_configured_baseline_dir(project):
    project.configure(_regression_table(project), top='baseline_dir = "gates"')
    project.run("--memcheck", "--memcheck-update").assert_outcomes(passed=1)
    assert (project.path / "gates" / "model.json").is_file()
