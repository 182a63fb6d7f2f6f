"""Reports from canned outcomes (no model runs): every gate in every medium, 80 columns, escaping, JSON layout."""

from __future__ import annotations

import json
import re

import pytest

from pytest_memcheck import escape, reporting
from pytest_memcheck.errors import MemcheckError
from pytest_memcheck.gate import Thresholds, Verdict
from pytest_memcheck.outcome import BaselineState, Outcome, Stage, Status
from pytest_memcheck.result import CheckResult


def res(auc: float) -> CheckResult:
    return CheckResult(
        auc=auc, auc_ci=(auc - 0.05, auc + 0.05), score=None, saturated=False, curve={1.0: auc, 2.0: auc},
        per_class={0: auc, 1: auc}, base_accuracy=0.99, layers=["3", "6"], method="nmf",
        settings={"seed": 0, "samples_per_class": 20, "classes": [0, 1]}, timings={"total": 1.23},
        samples=[[auc] * 3, [auc] * 3],
    )


def passing(name: str = "clean") -> Outcome:
    return Outcome(name, res(0.64), Verdict("pass", ["AuC 0.640 is above the floor"], 0.24, 0.4), Thresholds(0.4))


def failing(name: str = "memorizing") -> Outcome:
    return Outcome(
        name, res(0.13), Verdict("fail", ["AuC 0.130 is below the floor min_auc 0.400"], -0.27, 0.4), Thresholds(0.4, 0.05),
        BaselineState.COMPARED, "/p/tests/memcheck/memorizing.json", 0.8,
    )


def errored(name: str = "broken", message: str = "'mydata:broken' raised RuntimeError: disk gone") -> Outcome:
    return Outcome.failed(name, Stage.DATA, MemcheckError(message), Thresholds(0.4))


def inconclusive() -> Outcome:
    return Outcome("wobbly", res(0.41), Verdict("inconclusive", ["straddles the floor"], 0.01, 0.4), Thresholds(0.4))


def mismatched() -> Outcome:
    return Outcome(
        "widened", res(0.7), Verdict("fail", ["the baseline was recorded for another architecture (...), so it is not compared"]),
        Thresholds(None, 0.05), BaselineState.MISMATCH, "/p/tests/memcheck/widened.json", 0.8,
    )


def recorded() -> Outcome:
    return Outcome(
        "fresh", res(0.7), Verdict("pass", ["baseline recorded: tests/memcheck/fresh.json (AuC 0.700)"]),
        Thresholds(None, 0.05), BaselineState.RECORDED, "tests/memcheck/fresh.json", 0.7,
    )


ALL = [passing(), failing(), errored(), inconclusive(), mismatched(), recorded()]


# ------------------------------------------------------------------------------------- every gate, everywhere


def test_every_status_is_in_every_report():
    table = reporting.terminal_table(ALL, 80, False)
    summary = reporting.step_summary(ALL)
    annotations = "\n".join(reporting.annotations(ALL))
    data = json.loads(json.dumps(reporting.payload(ALL)))
    for o in ALL:
        assert re.search(rf"^{o.name}\s+{o.status.label}\b", table, re.M), o.name
        assert f"| <code>{o.name}</code> | {o.status.label} |" in summary
        assert {"name": o.name, "status": o.status.value}.items() <= next(m for m in data["models"] if m["name"] == o.name).items()
        if o.status != Status.PASS:
            assert f"title=memcheck%3A {o.name}::" in annotations
    assert data["summary"] == {"pass": 2, "inconclusive": 1, "fail": 2, "error": 1, "expected": 0}
    assert data["status"] == "error" and summary.startswith("## memcheck: ERROR")
    assert "6 gates: 2 passed, 1 inconclusive, 2 failed, 1 error" in table and "6 gates: 2 passed" in summary


def test_the_error_and_its_reason_are_in_every_report():
    o = errored()
    assert "broken  ERROR  could not load its data: 'mydata:broken' raised RuntimeError:" in reporting.terminal_table([o], 80, False)
    assert "could not load its data: 'mydata:broken' raised RuntimeError: disk gone |" in reporting.step_summary([o])
    assert reporting.annotations([o]) == ["::error title=memcheck%3A broken::'mydata:broken' raised RuntimeError: disk gone"]
    model = reporting.payload([o])["models"][0]
    assert model["error"] == {"stage": "data", "type": "MemcheckError", "message": "'mydata:broken' raised RuntimeError: disk gone"}
    assert model["result"] is None and model["reasons"] == [o.failure.message]


def test_outcomes_round_trip_through_their_json_form():
    defaults = Outcome("calibrated", res(0.64), Verdict("pass", []), Thresholds())
    given = Outcome("given", res(0.64), Verdict("pass", []), Thresholds(min_score=Thresholds().min_score))
    for o in [*ALL, defaults, given]:
        assert Outcome.from_dict(json.loads(json.dumps(o.to_dict()))) == o
    # whether the thresholds were the calibrated defaults travels too: only they carry the calibration's bounds
    assert defaults.to_dict()["default_thresholds"] and not given.to_dict()["default_thresholds"]


def test_an_empty_run_still_has_a_report_and_summary():
    assert reporting.payload([])["models"] == [] and reporting.payload([])["status"] is None
    assert reporting.step_summary([]).startswith("## memcheck: no gates ran")
    error = reporting.payload([], error="configuration error: x")
    assert error["status"] == "error" and error["error"] == "configuration error: x"


# ------------------------------------------------------------------------------------------------ 80 columns


def test_80_columns_fit_and_names_are_never_broken():
    long = "a_rather_long_model_name_for_the_production_classifier"
    outcomes = [*ALL, failing(long)]
    text = reporting.terminal_table(outcomes, 80, False)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(line for line in lines if len(line) > 80)
    for o in outcomes:
        assert any(re.match(rf"{o.name}(\s|$)", line) for line in lines), o.name  # whole, at the start of a line
    assert "┃" not in text  # the compact layout, not a squeezed table


@pytest.mark.parametrize("length", range(20, 50))
def test_80_columns_fit_whatever_the_name_length(length):
    # a name just short enough for the aligned layout leaves ~40 columns: a long limit cell must still fit
    lines = reporting.terminal_table([failing("m" * length), passing()], 80, False).splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)


def test_wide_terminals_get_a_table_with_the_same_cells():
    text = reporting.terminal_table([passing(), failing()], 200, False)
    header = next(line for line in text.splitlines() if "judged (95% CI)" in line)
    for column in ("gate", "status", "limit", "margin", "baseline", "time", "note"):
        assert column in header
    assert re.search(r"memorizing\s+│ FAIL\s+│ AuC 0.130 \(0.08-0.18\)", text)


def test_mismatch_row_shows_no_threshold_or_margin_that_pretends_a_comparison():
    # issue 10, finding 4: the row showed ">= 0.750 (baseline 0.800)" and a margin
    row = [line for line in reporting.terminal_table([mismatched()], 80, False).splitlines() if "widened" in line][0]
    assert "baseline mismatch" in reporting.terminal_table([mismatched()], 80, False)
    assert ">=" not in row and "margin" not in row
    assert "| AuC 0.700 (0.65-0.75) | - | - | mismatch |" in reporting.step_summary([mismatched()])


def test_a_score_comparison_shows_the_limit_at_the_ranks_it_compares():
    # max_score_drop is a share of the baseline's score at the ranks above the class count, not of its whole score
    compared = Outcome(
        "scored", res(0.7), Verdict("pass", ["..."], 0.05, 0.9), Thresholds(), BaselineState.COMPARED,
        "/p/tests/memcheck/scored.json", 0.7, 0.8, baseline_regression_score=0.95,
    )
    text = reporting.terminal_table([compared], 200, False)
    assert f">= {0.95 * (1 - Thresholds().max_score_drop):.3f} above the class count (baseline 0.950)" in text
    assert "(baseline 0.800)" not in text


def test_update_runs_say_which_file_was_recorded_or_replaced():
    replaced = Outcome(
        "old", res(0.7), Verdict("pass", []), Thresholds(None, 0.05), BaselineState.REPLACED, "tests/memcheck/old.json", 0.7
    )
    text = reporting.terminal_table([recorded(), replaced], 80, False)
    assert "baseline recorded: tests/memcheck/fresh.json (AuC 0.700)" in text
    assert "baseline replaced: tests/memcheck/old.json (AuC 0.700)" in text
    assert re.search(r"fresh\s+(│ )?PASS .*(│ )?recorded", text)


# --------------------------------------------------------------------------------------------------- escaping

HOSTILE = [
    "x\n::error file=a.py::pwned",
    "y\r\n::add-mask::secret",
    "</details><img src=x onerror=alert(1)>",
    "a|b`c`[link](javascript:alert(1))",
    "100%0A::warning::z",
    "\u2028::error::ls",
    "::error::at the start of a line",
    "  ::add-mask::indented",
    "x ##[error]legacy syntax, anywhere in a line",
    "many words so that the note wraps onto a line of its own ::error::wrapped",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_names_and_messages_cannot_inject_commands_or_markup(name):
    outcomes = [passing(name), errored(name, message=name)]
    for line in reporting.annotations(outcomes):
        command, _, message = line.partition("::")[2].partition("::")
        assert "\n" not in line and "\r" not in line and "\u2028" not in line
        assert line.startswith("::error title=memcheck%3A ") and "::" not in command[len("error title=") :]
        assert "%0A" not in message or "\n" in name  # an encoded newline only where the message had one
    for line in reporting.terminal_table(outcomes, 80, False).splitlines() + errored(name, name).explain().splitlines():
        assert not line.lstrip().startswith("::") and "##[" not in line  # what GitHub's runner acts on
    summary = reporting.step_summary(outcomes)
    for raw in ("<img", "</details><img", "`c`", "[link]", "\n::"):
        assert raw not in summary
    rows = [line for line in summary.splitlines() if line.startswith("| <code>")]
    assert all(line.count("|") == len(reporting.COLUMNS) + 4 for line in rows)  # no cell split by a name


def test_workflow_command_encoding_is_githubs():
    assert escape.workflow_data("50%\r\nx") == "50%25%0D%0Ax"
    assert escape.workflow_property("a: b, c") == "a%3A b%2C c"


# ------------------------------------------------------------------------------------------------ report path


def test_report_path_refuses_a_file_that_is_not_a_memcheck_report(tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.memcheck]\n")
    with pytest.raises(MemcheckError, match="would replace a file that is not a memcheck report"):
        reporting.json_report([passing()], config)
    assert config.read_text() == "[tool.memcheck]\n"
    other = tmp_path / "other.json"
    other.write_text('{"tool": "coverage"}')
    with pytest.raises(MemcheckError, match="not a memcheck report"):
        reporting.check_report_path(other)


def test_report_path_replaces_an_older_report(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"tool": "pytest-memcheck", "version": "0.1.0", "models": []}))  # before "format"
    reporting.json_report([passing()], path)
    data = json.loads(path.read_text())
    assert (data["format"], data["schema"]) == ("pytest-memcheck-report", 2)
    reporting.json_report([failing()], path)
    assert json.loads(path.read_text())["models"][0]["name"] == "memorizing"


def test_an_outcome_that_cannot_be_read_back_is_reported_as_an_error():
    from pytest_memcheck.session import _decode

    d = failing().to_dict()
    d["result"]["auc"] = float("nan")  # e.g. a worker's result that JSON could not carry
    out = _decode(d)
    assert out.status == Status.ERROR and out.name == "memorizing" and "cannot be reported" in out.reasons[0]
