"""--memcheck-threads: torch's CPU threads for the run, set only with --memcheck (without it: test_plugin_flag)."""

from __future__ import annotations

import pytest

SETS_THREADS = """
import torch

def test_threads():
    assert torch.get_num_threads() == 3
"""


@pytest.mark.parametrize("flag", ["--memcheck", "--memcheck-update"])
def test_sets_torch_threads_for_the_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, flag: str):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # torch's own count, so that 3 can only come from the option
    pytester.makepyfile(SETS_THREADS)
    # a subprocess: torch's thread count is global to the process, and this suite sets its own
    result = pytester.runpytest_subprocess(flag, "--memcheck-threads", "3")
    result.assert_outcomes(passed=1)


def test_the_count_is_put_back_after_the_run(pytester: pytest.Pytester):
    import torch

    before = torch.get_num_threads()
    pytester.makepyfile(SETS_THREADS.replace("== 3", f"== {before + 1}"))
    result = pytester.runpytest("--memcheck", f"--memcheck-threads={before + 1}")  # in this process
    result.assert_outcomes(passed=1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_count_below_one_or_not_whole_is_a_usage_error(pytester: pytest.Pytester, value: str):
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest("--memcheck", f"--memcheck-threads={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--memcheck-threads*1 or more, got '{value}'*"])


def test_documented_in_help(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--memcheck-threads=N*torch CPU threads*"])
