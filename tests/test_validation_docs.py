"""docs/validation.md shows exactly the tables the study prints from its committed summary."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_memcheck.study import report

ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_tables_are_the_studys_report():
    summary = json.loads((ROOT / "docs" / "data" / "validation-summary.json").read_text())
    doc = (ROOT / "docs" / "validation.md").read_text()
    block = doc.split("<!-- report:start -->\n", 1)[1].split("<!-- report:end -->", 1)[0]
    assert block == report.markdown(summary), "regenerate: memcheck plot <study folder>, then paste report.md"


def test_the_docs_figures_exist():
    doc = (ROOT / "docs" / "validation.md").read_text()
    for name in ("study_score_vs_error.png", "study_score_by_p.png", "study_checkpoints.png", "early_stopping_seed0.png"):
        assert f"img/{name}" in doc and (ROOT / "docs" / "img" / name).stat().st_size > 1000
