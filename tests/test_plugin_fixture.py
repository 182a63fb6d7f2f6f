"""The memcheck fixture in users' own tests, with --memcheck-seed and --memcheck-device."""

from __future__ import annotations

import json

import pytest

USER_TESTS = """
import json
import pytest
import torch
from pytest_memcheck import zoo
import mydata

def load(name):
    model = zoo.digits_cnn()
    model.load_state_dict(torch.load(f"{name}.pt", weights_only=True))
    return model.eval()

FAST = dict(samples_per_class=20, ks=(1, 2, 4, 8))

def test_seed_comes_from_the_command_line(memcheck, request):
    result = memcheck.check(load("clean"), mydata.clean(), **FAST)
    assert result.settings["seed"] == (request.config.getoption("memcheck_seed") or 0)
    print("SEED", result.settings["seed"])

def test_clean_is_not_memorizing(memcheck):
    memcheck.assert_not_memorizing(load("clean"), mydata.clean(), min_auc=0.4, **FAST)

def test_memorizing_is_caught(memcheck):
    memcheck.assert_not_memorizing(load("memorizing"), mydata.memorizing(), min_auc=0.4, **FAST)

def test_no_regression(memcheck):
    memcheck.assert_no_regression(load("clean"), mydata.clean(), max_drop=0.1, **FAST)

def test_memorizing_is_caught_on_purpose(memcheck):
    with pytest.raises(AssertionError, match="looks memorizing"):
        memcheck.assert_not_memorizing(load("memorizing"), mydata.memorizing(), min_auc=0.4, **FAST)

@pytest.mark.xfail(reason="the memorizing model must be caught", strict=True)
def test_memorizing_fails_as_marked(memcheck):
    memcheck.assert_not_memorizing(load("memorizing"), mydata.memorizing(), min_auc=0.4, **FAST)

def test_memorizing_in_a_subtest(memcheck, subtests):
    with subtests.test("memorizing"):
        memcheck.assert_not_memorizing(load("memorizing"), mydata.memorizing(), min_auc=0.4, **FAST)
"""


@pytest.fixture
def user_project(project):
    project.configure()
    project.pytester.makepyfile(test_user=USER_TESTS)
    return project


def test_assertions_report_failures_with_scores_and_hints(user_project):
    result = user_project.run("--memcheck", "-k", "not regression and not on_purpose and not marked and not subtest")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: memcheck: 'test_user.test_memorizing_is_caught' looks memorizing (fail)*",
            "*below the floor min_auc 0.400*",
            "*per-class AuC: 0: *",
        ]
    )
    result.stdout.fnmatch_lines(["*test_user.te*PASS*"])


def test_no_regression_lifecycle_through_the_fixture(user_project):
    baseline = user_project.path / "tests" / "memcheck" / "test_user.test_no_regression.json"
    first = user_project.run("--memcheck", "-k", "regression")
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(["*no baseline recorded yet*", "*record one with pytest --memcheck --memcheck-update*"])
    user_project.run("--memcheck", "--memcheck-update", "-k", "regression").assert_outcomes(passed=1)
    assert json.loads(baseline.read_text())["name"] == "test_user.test_no_regression"
    user_project.run("--memcheck", "-k", "regression").assert_outcomes(passed=1)


def test_memcheck_seed_option(user_project):
    result = user_project.run("--memcheck", "--memcheck-seed=7", "-s", "-k", "seed")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SEED 7"])


def test_memcheck_device_that_the_model_is_not_on_is_a_clear_error(user_project):
    result = user_project.run("--memcheck", "--memcheck-device=cuda", "-k", "clean_is")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the model is on cpu but device='cuda' was asked for*model.to('cuda')*"])


def test_a_failure_the_test_expected_does_not_fail_the_reports(user_project, monkeypatch, tmp_path):
    """A test that shows a memorizing model is caught passes, and the reports agree: no error, no FAIL headline."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = user_project.run("--memcheck", "-k", "on_purpose or clean_is", "--memcheck-report", "r.json",
                              "--junitxml", "j.xml")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*2 gates: 1 passed, 1 as its test expected*",
                                 "*on_purpose  FAIL", "*as its test expected: looks memorizing*"])
    assert "::error" not in result.stdout.str()
    report = json.loads((user_project.path / "r.json").read_text())
    assert report["status"] == "pass"
    assert report["summary"] == {"pass": 1, "inconclusive": 0, "fail": 0, "error": 0, "expected": 1}
    caught = next(m for m in report["models"] if m["name"].endswith("on_purpose"))
    assert caught["status"] == "fail" and caught["expected"] is True  # what was measured, and that it was expected
    assert summary.read_text().startswith("## memcheck: PASS")
    xml = (user_project.path / "j.xml").read_text()
    assert 'name="memcheck_test_user.test_memorizing_is_caught_on_purpose_expected" value="true"' in xml


def test_a_device_torch_does_not_know_stops_the_run_before_any_check(user_project):
    result = user_project.run("--memcheck", "--memcheck-device=gpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*memcheck: device='gpu' is not a torch device (*); use e.g. 'cpu', 'cuda' or 'cuda:1'*"])


def test_an_xfail_test_expects_its_failure_and_a_subtest_does_not(user_project):
    """A strict xfail expected the failure; a failing subtest is a real failure, reported once."""
    result = user_project.run("--memcheck", "-k", "marked or subtest", "--memcheck-report", "r.json")
    result.assert_outcomes(xfailed=1, failed=2)  # pytest counts the failed subtest and its test
    report = json.loads((user_project.path / "r.json").read_text())
    assert report["summary"] == {"pass": 0, "inconclusive": 0, "fail": 1, "error": 0, "expected": 1}
    assert report["status"] == "fail"
    assert {m["name"].split(".")[-1]: m["expected"] for m in report["models"]} == {
        "test_memorizing_fails_as_marked": True, "test_memorizing_in_a_subtest": False,
    }
