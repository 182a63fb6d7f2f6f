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


def test_the_beyond_zoo_tables_in_the_docs_are_the_probes_summary():
    """docs/validation.md copies rows of the probe's summary (docs/data/beyond-zoo.md); they must not drift."""
    header = "| family | layers | classes | clean (alone) |"

    def summary_rows(text: str) -> list[str]:
        rows, inside = [], False
        for line in text.splitlines():
            if line.startswith(header):
                inside = True
            elif inside and not line.startswith("|"):
                inside = False
            elif inside and not line.startswith("|---"):
                rows.append(line)
        return rows

    probe = summary_rows((ROOT / "docs" / "data" / "beyond-zoo.md").read_text())
    copied = summary_rows((ROOT / "docs" / "validation.md").read_text())
    assert len(copied) >= 14 and set(copied) <= set(probe), set(copied) - set(probe)
