"""Thresholds: the floor, inconclusive verdicts and their policy, exit codes 0/1."""

from __future__ import annotations

import pytest


def test_floor_passes_the_clean_model_with_exit_0(project):
    project.configure(project.model_table("clean"))
    result = project.run("--memcheck")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK


def test_floor_fails_the_memorizing_model_with_exit_1(project):
    project.configure(project.model_table("memorizing"))
    result = project.run("--memcheck")
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*AuC 0.1* is below the floor min_auc 0.400*"])


def test_interval_straddling_the_floor_is_inconclusive_and_fails_by_default(project):
    # the clean model's AuC ~0.64 with an interval of about +-0.1
    project.configure(project.model_table("clean", extra="min_auc = 0.64\n"))
    result = project.run("--memcheck")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*could not be judged (inconclusive)*", "*straddles the floor*more samples_per_class*"])


def test_inconclusive_policy_warn_passes_with_a_warning(project):
    project.configure(project.model_table("clean", extra='min_auc = 0.64\ninconclusive = "warn"\n'))
    result = project.run("--memcheck")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*MemcheckWarning*could not be judged*", "*clean*INCONCLUSIVE*"])


def test_saturated_check_is_inconclusive(project):
    # Compressing only the last layer at high ranks never hurts the clean model.
    project.configure(
        project.model_table("clean", extra='min_auc = 0.4\nlayers = ["9"]\n').replace("ks = [1, 2, 4, 8]", "ks = [32, 64]")
    )
    result = project.run("--memcheck")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*saturated: accuracy stays at its uncompressed level*"])
