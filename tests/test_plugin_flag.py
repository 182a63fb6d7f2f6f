"""--memcheck on and off, -p no:memcheck, and no torch import without the flag."""

from __future__ import annotations

import pytest

MARKED = """
import pytest

@pytest.mark.memcheck
def test_marked():
    pass

def test_uses_fixture(memcheck):
    pass

def test_plain():
    pass
"""


def test_without_flag_memcheck_tests_are_skipped_with_a_reason(pytester: pytest.Pytester):
    pytester.makepyfile(MARKED)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*run with pytest --memcheck*"])
    assert result.ret == 0


def test_with_flag_they_run(pytester: pytest.Pytester):
    pytester.makepyfile(MARKED)
    result = pytester.runpytest("--memcheck")
    result.assert_outcomes(passed=3)


def test_plugin_can_be_disabled(pytester: pytest.Pytester):
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest("-p", "no:memcheck")
    result.assert_outcomes(passed=1)
    unknown = pytester.runpytest("-p", "no:memcheck", "--memcheck")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR


# memcheck's options without --memcheck change nothing either (--memcheck-threads would need torch)
@pytest.mark.parametrize("options", [[], ["--memcheck-threads", "3", "--memcheck-device", "cpu"]])
def test_plain_run_does_not_import_torch(pytester: pytest.Pytester, options: list[str]):
    pytester.makepyfile(
        """
        import sys

        def test_no_torch():
            assert "torch" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "memcheck", *options)
    result.assert_outcomes(passed=1)


def test_options_are_documented_in_help(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--memcheck *", "*--memcheck-update*", "*--memcheck-seed*", "*--memcheck-device*", "*--memcheck-report*"]
    )
