"""The example project's gate never flakes: 20 seeds, no false failure and no false pass."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent / "examples" / "digits_project"


@pytest.mark.slow
def test_gate_verdicts_do_not_depend_on_the_seed(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT))
    flake_rate = runpy.run_path(str(PROJECT / "flake_rate.py"))
    tally = flake_rate["main"](["--seeds", "20", "--threads", "1"])
    assert tally["accepted"]["pass"] == 20  # never fails, never inconclusive
    assert tally["candidate"]["fail"] == 20  # never passes
