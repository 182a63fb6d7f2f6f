"""All plugin state for one pytest run, in one object (kept in ``config.stash``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import reporting
from .baseline import BaselineStore
from .config import MemcheckConfig

#: Outcomes recorded by an item during its run, moved onto its report.
OUTCOMES_KEY = pytest.StashKey[list]()


@dataclass
class MemcheckSession:
    enabled: bool
    update: bool
    seed: int
    device: str | None
    report_path: Path | None
    config: MemcheckConfig
    is_worker: bool
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

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

    def finish(self, session: pytest.Session) -> None:
        """Write the reports; a failure to write fails the run (exit status), never raises."""
        if self.is_worker or not self.outcomes:
            return
        self.outcomes.sort(key=lambda o: o["name"])
        if self.report_path is not None:
            try:
                reporting.json_report(self.outcomes, self.report_path)
            except OSError as exc:
                self.errors.append(f"could not write the memcheck report {self.report_path}: {exc.strerror or exc}")
        plots = session.config.getoption("memcheck_plots")
        if plots:
            from .plots import gate_curves

            self.errors += gate_curves(self.outcomes, Path(plots))
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if os.environ.get("GITHUB_ACTIONS") == "true" and summary_file:
            try:
                with open(summary_file, "a", encoding="utf-8") as fh:
                    fh.write(reporting.step_summary(self.outcomes, plots))
            except OSError as exc:
                self.errors.append(f"could not append to GITHUB_STEP_SUMMARY {summary_file}: {exc.strerror or exc}")
        if self.errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        if self.outcomes:
            tw = terminalreporter._tw
            terminalreporter.write_sep("=", "memcheck")
            terminalreporter.write(reporting.terminal_table(self.outcomes, tw.fullwidth, tw.hasmarkup))
            if os.environ.get("GITHUB_ACTIONS") == "true":
                for line in reporting.annotations(self.outcomes):
                    terminalreporter.write_line(line)
        for err in self.errors:
            terminalreporter.write_line(f"memcheck: {err}", red=True)


SESSION_KEY = pytest.StashKey[MemcheckSession]()


def record(item: pytest.Item, outcome: Any) -> None:
    """Attach an outcome to the item: its report carries it to the (xdist) controller."""
    item.stash.setdefault(OUTCOMES_KEY, []).append(outcome.to_dict())
    item.user_properties += [
        (f"memcheck_{outcome.name}_status", outcome.status),
        (f"memcheck_{outcome.name}_auc", f"{outcome.result.auc:.4f}"),
    ]

