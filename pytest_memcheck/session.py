"""All plugin state for one pytest run, in one object (kept in ``config.stash``)."""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from .baseline import BaselineStore
from .config import MemcheckConfig
from .errors import MemcheckError

if TYPE_CHECKING:  # torch-free at import: outcome imports the gate (numpy)
    from .gate import Thresholds
    from .outcome import Outcome, Stage

#: Outcomes recorded by an item during its run, moved onto its report.
OUTCOMES_KEY = pytest.StashKey[list]()


@dataclass
class MemcheckSession:
    enabled: bool
    update: bool
    seed: int
    device: str | None
    report_path: Path | None
    plots: Path | None  # --memcheck-plots: where each gate's curve is drawn
    config: MemcheckConfig
    is_worker: bool
    #: ``Outcome.to_dict()`` of every gate, as they arrive from this process or from pytest-xdist workers.
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _decoded: list[Outcome] | None = None

    @property
    def store(self) -> BaselineStore:
        return BaselineStore(self.config.baseline_dir)

    def check_kwargs(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The session's seed and device, unless a test or model table sets its own."""
        return {"seed": self.seed, "device": self.device, **overrides}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather outcomes from every report, including those of pytest-xdist workers."""
        if report.when == "call":
            self.outcomes.extend(getattr(report, "memcheck", None) or [])

    def decoded(self) -> list[Outcome]:
        """Every outcome, sorted by name (one that cannot be read back is an error outcome, never a crash)."""
        if self._decoded is None:
            self._decoded = sorted(map(_decode, self.outcomes), key=lambda o: o.name)
        return self._decoded

    def finish(self, session: pytest.Session) -> None:
        """Write the reports on every run with ``--memcheck``; a failure to write fails the run, never raises."""
        if self.is_worker or not self.enabled:
            return
        plots = self.plots
        if plots is not None:
            from .plots import gate_curves

            self.errors += gate_curves([o.to_dict() for o in self.decoded() if o.result is not None], plots)
        self.errors += publish(self.decoded(), self.report_path, plots=plots)
        if self.errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        if not self.enabled:
            self._not_run(terminalreporter)
            return
        from . import reporting

        outcomes = self.decoded()
        tw = terminalreporter._tw
        terminalreporter.write_sep("=", "memcheck")
        if outcomes:
            terminalreporter.write(reporting.terminal_table(outcomes, tw.fullwidth, tw.hasmarkup))
        else:
            terminalreporter.write_line("memcheck: no gate or memcheck assertion ran")
        if _on_github():
            for line in reporting.annotations(outcomes):
                terminalreporter.write_line(line)
        for err in self.errors:
            terminalreporter.write_line(f"memcheck: {err}", red=True)

    def _not_run(self, terminalreporter: Any) -> None:
        """Without --memcheck, one line says that configured gates exist and did not run."""
        from .config import load

        try:
            gates = load(terminalreporter.config.rootpath).models
        except MemcheckError:
            return  # a broken configuration is reported where it is used (with --memcheck)
        if gates and terminalreporter.verbosity >= 0:
            n = len(gates)
            terminalreporter.write_line(
                f"memcheck: {n} configured gate{'s' if n != 1 else ''} did not run (pytest --memcheck runs them)"
            )


def _decode(d: dict[str, Any]) -> Outcome:
    from .gate import Thresholds
    from .outcome import Outcome, Stage

    try:
        return Outcome.from_dict(d)
    except (MemcheckError, KeyError, TypeError) as exc:
        return Outcome.failed(str(d.get("name", "?")), Stage.CHECK, MemcheckError(f"its outcome cannot be reported: {exc}"), Thresholds())


def _on_github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def publish(
    outcomes: list[Outcome], report_path: Path | None, error: str | None = None, plots: Path | None = None
) -> list[str]:
    """Write the JSON report and the GitHub step summary; returns what could not be written.

    ``error`` is a problem of the whole run (a configuration error), reported instead of gates.
    """
    from . import reporting

    problems = []
    if report_path is not None:
        try:
            reporting.json_report(outcomes, report_path, error)
        except OSError as exc:
            problems.append(f"could not write the memcheck report {report_path}: {exc.strerror or exc}")
        except MemcheckError as exc:
            problems.append(str(exc))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if _on_github() and summary_file:
        try:
            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(reporting.step_summary(outcomes, error, plots))
        except OSError as exc:
            problems.append(f"could not append to GITHUB_STEP_SUMMARY {summary_file}: {exc.strerror or exc}")
    return problems


SESSION_KEY = pytest.StashKey[MemcheckSession]()


def _property(name: str) -> str:
    """A gate's name as part of a JUnit property name: letters, digits, ``.``, ``_`` and ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def record(item: pytest.Item, outcome: Outcome) -> None:
    """Attach an outcome to the item: its report carries it to the (xdist) controller and to JUnit XML."""
    item.stash.setdefault(OUTCOMES_KEY, []).append(outcome.to_dict())
    key = f"memcheck_{_property(outcome.name)}"
    item.user_properties.append((f"{key}_status", outcome.status.value))
    if outcome.result is not None:
        item.user_properties.append((f"{key}_auc", f"{outcome.result.auc:.4f}"))


def carry(item: pytest.Item, report: pytest.TestReport, recorded: list[dict[str, Any]]) -> None:
    """Put an item's outcomes on its call report (a plain attribute travels to the pytest-xdist controller).

    A failed or errored check in a test that passed (or failed as its xfail
    marker expected) was caught by the test on purpose: it is marked expected,
    in the reports and as a JUnit property.
    """
    if report.passed or (report.skipped and hasattr(report, "wasxfail")):
        for d in recorded:
            if d.get("status") in ("fail", "error"):
                d["expected"] = True
                # JUnit XML reads the item's properties, after teardown
                item.user_properties.append((f"memcheck_{_property(str(d.get('name')))}_expected", "true"))
    report.memcheck = recorded  # type: ignore[attr-defined]


@contextlib.contextmanager
def stage(item: pytest.Item, name: str, where: Stage, thresholds: Thresholds, baseline_path: Any = None) -> Iterator[None]:
    """Run one stage of a gate; if it raises, record the gate's outcome as an error at that stage, then re-raise."""
    try:
        yield
    except Exception as exc:
        from .outcome import Outcome

        record(item, Outcome.failed(name, where, exc, thresholds, None if baseline_path is None else str(baseline_path)))
        raise
