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
    assert data["summary"] == {"pass": 1, "fail": 1, "inconclusive": 0, "error": 0, "expected": 0}  # "error": gates that could not run
    assert (data["format"], data["schema"], data["status"]) == ("pytest-memcheck-report", 2, "fail")
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
    assert "| <code>memorizing</code> | FAIL |" in text and "| <code>clean</code> | PASS |" in text  # names escaped
    assert "<details><summary>memorizing: looks memorizing</summary>" in text
    result.stdout.fnmatch_lines(["::error title=memcheck%3A memorizing::nmf AuC *below the floor*"])
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


BROKEN_DATA = '''
def broken():
    rows = load_rows()
    return rows

def load_rows():
    raise RuntimeError("the data server is down")
'''


def test_a_gate_whose_data_raises_is_in_every_report_next_to_the_other(project, monkeypatch):
    # issue 10, done-when: both gates, with their status, in the 80-column table, the JSON report,
    # the step summary and the annotations; the error shows the user's own frame.
    project.pytester.makepyfile(brokendata=BROKEN_DATA)
    project.configure(project.model_table("clean"), project.model_table("broken", weights="clean", data="x").replace(
        'data = "mydata:x"', 'data = "brokendata:broken"'))
    summary = project.path / "summary.md"
    report = project.path / "report.json"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("COLUMNS", "80")
    result = project.run("--memcheck", f"--memcheck-report={report}")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # pytest's own short summary is not truncated on CI (it sees $CI): check our table only.
    table = out[out.index("memcheck: memorization gates"):].split("\n=")[0]
    assert "clean   PASS" in table
    assert all(len(line) <= 80 for line in table.splitlines() if not line.startswith("::"))
    result.stdout.fnmatch_lines([
        "*'brokendata:broken' raised RuntimeError: the data server is down",
        "where your code raised it (most recent call last):",
        '*brokendata.py", line 2, in broken',
        '*brokendata.py", line 6, in load_rows',
        "RuntimeError: the data server is down",
    ])
    result.stdout.fnmatch_lines(["2 gates: 1 passed, 1 error", "broken  ERROR  could not load its data: 'brokendata:broken'*",
                                 "clean   PASS   AuC 0.6*"])
    data = json.loads(report.read_text())
    assert {m["name"]: m["status"] for m in data["models"]} == {"broken": "error", "clean": "pass"}
    assert data["summary"] == {"pass": 1, "inconclusive": 0, "fail": 0, "error": 1, "expected": 0}
    assert data["models"][0]["error"]["stage"] == "data"
    text = summary.read_text()
    assert text.startswith("## memcheck: ERROR") and "2 gates: 1 passed, 1 error" in text
    assert "| <code>broken</code> | ERROR |" in text and "| <code>clean</code> | PASS |" in text
    result.stdout.fnmatch_lines(["::error title=memcheck%3A broken::'brokendata:broken' raised RuntimeError: the data server is down"])


def test_report_and_summary_are_written_when_every_gate_fails_to_load(project, monkeypatch):
    project.configure('[tool.memcheck.models.gone]\nmodel = "missing.pt"\narchitecture = "x:y"\ndata = "mydata:clean"\nmin_auc = 0.4\n')
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.run("--memcheck", "--memcheck-report=report.json", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    model = json.loads((project.path / "report.json").read_text())["models"][0]
    assert (model["name"], model["status"], model["error"]["stage"]) == ("gone", "error", "model")
    assert "| <code>gone</code> | ERROR |" in summary.read_text()
    import xml.etree.ElementTree as ET

    props = {p.get("name"): p.get("value") for p in ET.parse(project.path / "junit.xml").iter("property")}
    assert props == {"memcheck_gone_status": "error"}


def test_a_run_without_gates_still_writes_the_report(project):
    project.configure()
    project.pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    project.run("--memcheck", "--memcheck-report=report.json").assert_outcomes(passed=1)
    data = json.loads((project.path / "report.json").read_text())
    assert data["models"] == [] and data["status"] is None


def test_report_path_that_is_not_a_report_is_refused_before_the_run(project):
    project.configure(project.model_table("clean"))
    before = (project.path / "pyproject.toml").read_text()
    result = project.run("--memcheck", "--memcheck-report=pyproject.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--memcheck-report pyproject.toml would replace a file that is not a memcheck report*"])
    assert (project.path / "pyproject.toml").read_text() == before


def test_a_configuration_error_is_in_the_report_and_summary(project, monkeypatch):
    project.configure(top='baseline_dir = ".."')
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.run("--memcheck", "--memcheck-report=report.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    data = json.loads((project.path / "report.json").read_text())
    assert data["status"] == "error" and "leads outside the project" in data["error"]
    assert summary.read_text().startswith("## memcheck: ERROR")
    assert not (project.path.parent / "package.json").exists()
