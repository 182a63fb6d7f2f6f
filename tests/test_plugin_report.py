"""--memcheck-report JSON, GitHub step summary and annotations, JUnit properties."""

from __future__ import annotations

import json

import pytest


def _two_models(project):
    project.configure(project.model_table("clean"), project.model_table("memorizing"))


def test_json_report_holds_every_gate(project):
    _two_models(project)
    report = project.path / "out" / "memcheck.json"
    result = project.run("--memcheck", f"--memcheck-report={report}")
    result.assert_outcomes(passed=1, failed=1)
    data = json.loads(report.read_text())
    assert data["summary"] == {"pass": 1, "fail": 1, "inconclusive": 0}
    by_name = {m["name"]: m for m in data["models"]}
    assert by_name["clean"]["status"] == "pass" and by_name["memorizing"]["status"] == "fail"
    assert by_name["memorizing"]["result"]["auc"] < 0.4 <= by_name["clean"]["result"]["auc_ci"][0]
    assert by_name["clean"]["min_auc"] == 0.4 and by_name["clean"]["margin"] > 0
    assert len(by_name["clean"]["result"]["per_class"]) == 10


def test_github_step_summary_and_annotations(project, monkeypatch):
    _two_models(project)
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.run("--memcheck")
    text = summary.read_text()
    assert text.startswith("## memcheck: FAIL")
    assert "| FAIL | `memorizing` |" in text and "| PASS | `clean` |" in text
    assert "<details><summary>memorizing: details</summary>" in text
    result.stdout.fnmatch_lines(["::error title=memcheck%3A memorizing::AuC *below the floor*"])
    assert "::error title=memcheck%3A clean" not in result.stdout.str()


def test_no_github_output_outside_actions(project, monkeypatch):
    _two_models(project)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.run("--memcheck")
    assert not summary.exists()
    assert "::error" not in result.stdout.str()


def test_unwritable_report_fails_the_run_with_a_message(project):
    project.configure(project.model_table("clean"))
    (project.path / "blocker").write_text("a file, not a folder")
    result = project.run("--memcheck", "--memcheck-report=blocker/report.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*could not write the memcheck report blocker/report.json*"])


def test_junit_xml_carries_scalar_properties(project):
    project.configure(project.model_table("clean"))
    project.run("--memcheck", "--junitxml=junit.xml").assert_outcomes(passed=1)
    xml = (project.path / "junit.xml").read_text()
    assert 'name="memcheck_clean_status" value="pass"' in xml
    assert 'name="memcheck_clean_auc"' in xml
