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
    result.stdout.fnmatch_lines(["*could not be judged (inconclusive)*", "*straddles the floor*", "*more samples_per_class or repeats narrow the interval*"])


def test_inconclusive_policy_warn_passes_with_a_warning(project):
    project.configure(project.model_table("clean", extra='min_auc = 0.64\ninconclusive = "warn"\n'))
    result = project.run("--memcheck")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*MemcheckWarning*could not be judged*", "*clean*INCONCLUSIVE*"])


def test_saturated_check_is_inconclusive(project):
    # Compressing only the last layer at high ranks never hurts even the memorizing model: its single-class AuC
    # stays at the uncompressed accuracy, while its score shows it memorized: the AuC cannot judge it.
    project.configure(
        project.model_table("memorizing", extra='min_auc = 0.4\nlayers = ["9"]\n').replace("ks = [1, 2, 4, 8]", "ks = [32, 64]")
    )
    result = project.run("--memcheck")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot be judged by its AuC (inconclusive)*", "*saturated: the single-class AuC*"])


def test_a_table_without_thresholds_is_held_to_the_calibrated_floor_and_baseline(project):
    project.configure(project.model_table("clean", extra=""), project.model_table("memorizing", extra=""))
    first = project.run("--memcheck")
    first.assert_outcomes(failed=2)  # no baseline yet for either: recorded ones are part of the defaults
    first.stdout.fnmatch_lines([
        "memcheck: 'clean' has no baseline to compare with (fail)", "*score * is above the floor min_score 0.645*",
    ])
    first.stdout.fnmatch_lines(["memcheck: 'memorizing' looks memorizing (fail)", "*score * is below the floor min_score 0.645*"])
    project.run("--memcheck", "--memcheck-update").assert_outcomes(passed=1, failed=1)  # the memorizing one is refused
    project.run("--memcheck").assert_outcomes(passed=1, failed=1)
