"""Config-only gates: [tool.memcheck] models become test items; bad config is a usage error."""

from __future__ import annotations

import pytest


def test_each_configured_model_is_one_item(project):
    project.configure(project.model_table("clean"), project.model_table("memorizing"))
    result = project.run("--memcheck", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["pyproject.toml::memcheck[clean]", "pyproject.toml::memcheck[memorizing]"])


def test_gates_pass_the_clean_model_and_fail_the_memorizing_one(project):
    project.configure(project.model_table("clean"), project.model_table("memorizing"))
    result = project.run("--memcheck")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*'memorizing' looks memorizing (fail)*", "*below the floor min_auc 0.400*", "*per-class AuC*"])
    # the summary table names both
    result.stdout.fnmatch_lines(["*memcheck: memorization gates*", "*clean*PASS*", "*memorizing*FAIL*"])


def test_no_gates_without_the_flag(project):
    project.configure(project.model_table("clean"))
    project.pytester.makepyfile("def test_plain():\n    pass\n")
    result = project.run()
    result.assert_outcomes(passed=1)


BROKEN = '[tool.memcheck.models.{name}]\nmodel = "missing_module_{name}:load"\ndata = "mydata:clean"\nmin_auc = 0.4\n'


def test_gates_run_whatever_paths_are_given(project):
    # issue 10, finding 2: "pytest tests --memcheck" ran no gate and exited 0. Gates that fail to load are
    # cheap to run and still show that they ran.
    project.configure(BROKEN.format(name="one"), BROKEN.format(name="two"))
    project.pytester.mkdir("tests")
    (project.path / "tests" / "test_other.py").write_text("def test_plain():\n    pass\n")
    result = project.run("--memcheck", "tests")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["collected 3 items", "*one*ERROR*could not load its model*", "*two*ERROR*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # a path naming the configuration, or one gate of it, collects those gates once
    project.run("--memcheck", "pyproject.toml", "tests").assert_outcomes(passed=1, failed=2)
    project.run("--memcheck", "pyproject.toml::memcheck[one]").assert_outcomes(failed=1)
    project.run("--memcheck", ".").assert_outcomes(passed=1, failed=2)
    project.run("--memcheck", "tests/test_other.py::test_plain").assert_outcomes(passed=1, failed=2)


def test_keyword_and_marker_selection_apply_to_gates_with_right_counts(project):
    project.configure(BROKEN.format(name="one"), BROKEN.format(name="two"))
    with open(project.path / "pyproject.toml", "a") as fh:  # the usual layout: pytest looks in tests/ only
        fh.write('\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    project.pytester.mkdir("tests")
    (project.path / "tests" / "test_other.py").write_text(
        "def test_plain():\n    pass\n\n"
        "def test_with_the_fixture(memcheck):\n    pass\n"  # a memcheck test by the fixture alone, without the marker
    )
    result = project.run("--memcheck", "-k", "one")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["collected 4 items / 3 deselected / 1 selected"])  # was "-1 selected"
    everything = project.run("--memcheck")
    everything.assert_outcomes(passed=2, failed=2)
    everything.stdout.fnmatch_lines(["collected 4 items"])  # was "collected 1 item" before three ran
    project.run("--memcheck", "-m", "not memcheck").assert_outcomes(passed=1, deselected=3)
    project.run("--memcheck", "-m", "memcheck").assert_outcomes(passed=1, failed=2, deselected=1)


def test_a_marker_added_by_a_conftest_makes_a_memcheck_test(pytester: pytest.Pytester):
    pytester.makeconftest(
        "import pytest\n\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        if 'mem' in item.name:\n"
        "            item.add_marker(pytest.mark.memcheck)\n"
    )
    pytester.makepyfile("def test_mem():\n    pass\n\ndef test_plain():\n    pass\n")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*memorization check: run with pytest --memcheck*"])


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[tool.memcheck]\nbaseline_dri = "x"\n', "memcheck:*unknown key 'baseline_dri'"),
        ('[tool.memcheck.models.m]\nmodel = "a:b"\n', "memcheck:*needs 'data'"),
        ('[tool.memcheck.models.m]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 2\n', "memcheck:*between 0 and 1"),
        ('[tool.memcheck.models.m]\nmodel = "a:b"\ndata = "a:c"\nmax_score_drop = -0.1\n', "memcheck:*between 0 and 1"),
        ('[tool.memcheck.models.m]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = "high"\n', "memcheck:*must be a float"),
        ("[tool.memcheck\n", "pyproject.toml: Expected*"),
        # issue 10: near-miss table names are errors, not silently dropped gates
        ('[tool.memchek.models.m]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n', "[[]tool.memchek[]]*misspelling of [[]tool.memcheck[]]"),
        ('[tool.pytest-memcheck]\nseed = 1\n', "[[]tool.pytest-memcheck[]]*misspelling"),
        ('[tool.memcheck.model.m]\nmodel = "a:b"\n', "unknown key 'model' in [[]tool.memcheck[]] (did you mean 'models'?)"),
        ('[tool.memcheck.models.m]\nmodel = "a:b"\ndata = "a:c"\nmin_acu = 0.5\n', "unknown key 'min_acu'*(did you mean 'min_auc'?)"),
        # issue 14: the configuration cannot make the gate write outside the project or mix two models' files
        ('[tool]\nmemcheck = "x"\n', "memcheck: [[]tool.memcheck[]] must be a table, got str"),
        ('[tool.memcheck]\nbaseline_dir = ".."\n', "baseline_dir = '..' leads outside the project"),
        ('[tool.memcheck]\nbaseline_dir = "/tmp/elsewhere"\n', "baseline_dir = '/tmp/elsewhere' leads outside the project"),
        ('[tool.memcheck]\nbaseline_dir = "tests/../../x"\n', "leads outside the project"),
        (
            '[tool.memcheck.models."a b"]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n'
            '[tool.memcheck.models.a_b]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n',
            "model tables 'a b' and 'a_b' would share the baseline file a_b.json",
        ),
        (
            '[tool.memcheck.models.Model]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n'
            '[tool.memcheck.models.model]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n',
            "model tables 'Model' and 'model' would share the baseline file model.json",
        ),
        (
            '[tool.memcheck.models."x\\n::error::pwned"]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n',
            "model table name 'x\\n::error::pwned' must be printable text on one line",
        ),
        ('[tool.memcheck.models."a ##[error]b"]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n', "model table name 'a ##\\[[]error]b' must be printable text on one line, without*"),
        ('[tool.memcheck.models."::add-mask::x"]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n', "model table name '::add-mask::x' must be printable text on one line, without*"),
        ('[tool.memcheck.models."..."]\nmodel = "a:b"\ndata = "a:c"\nmin_auc = 0.5\n', "cannot make a file name"),
    ],
)
def test_bad_configuration_is_a_usage_error(pytester: pytest.Pytester, toml, message):
    pytester.makefile(".toml", pyproject=toml)
    result = pytester.runpytest("--memcheck")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_a_model_factory_that_raises_fails_its_gate_with_the_cause(project):
    project.pytester.makepyfile(broken="def load():\n    raise RuntimeError('weights server down')\n")
    project.configure('[tool.memcheck.models.b]\nmodel = "broken:load"\ndata = "mydata:clean"\nmin_auc = 0.4\n')
    result = project.run("--memcheck")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*'broken:load' raised RuntimeError: weights server down*"])


def test_without_memcheck_a_line_says_the_configured_gates_did_not_run(project):
    project.configure(BROKEN.format(name="one"), BROKEN.format(name="two"))
    project.pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = project.run("test_plain.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["memcheck: 2 configured gates did not run (pytest --memcheck runs them)"])
    assert "configured gates did not run" not in project.run("test_plain.py", "-q").stdout.str()
