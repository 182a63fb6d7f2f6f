"""Reports of gated models: terminal table, JSON file, GitHub Actions summary and annotations.

Works on :class:`~pytest_memcheck.outcome.Outcome` objects (pytest-xdist workers
send them as ``Outcome.to_dict()``), so one report covers all workers, and every
gate, also one that could not run, is in every report with its status and reason.

Statuses, baseline states and the table's columns are rendered from one place
(:class:`~pytest_memcheck.outcome.Status`, :data:`COLUMNS`). Every text that
comes from a name, a message or a file is escaped for its medium
(:mod:`pytest_memcheck.escape`): a model name cannot inject a workflow command
into a CI log or markup into the step summary.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .baseline import atomic_write, read_json
from .errors import BaselineError, MemcheckError
from .escape import log_line, markdown, workflow_data, workflow_property
from .outcome import BaselineState, Outcome, Status, judged

REPORT_FORMAT = "pytest-memcheck-report"
#: Bumped when the layout of the JSON report changes.
REPORT_SCHEMA = 2  # 2: "expected" outcomes, counted apart in "summary"; "default_thresholds"
TITLE = "memcheck: memorization gates"
STYLE = {Status.PASS: "green", Status.INCONCLUSIVE: "yellow", Status.FAIL: "bold red", Status.ERROR: "bold magenta"}

# ------------------------------------------------------------------------------------------------- columns


def _value(o: Outcome) -> str:
    """The number the gate judged, with its interval: the score, or the AuC for explicit AuC thresholds."""
    r = o.result
    if r is None:
        return "-"
    word = judged(r, o.thresholds)
    lo, hi = r.score_ci if word.startswith("score") and r.score_ci is not None else r.auc_ci
    return f"{word} ({lo:.2f}-{hi:.2f})"


def _limit(o: Outcome) -> str:
    """The limits that were applied: the floors, and the baseline's only when it was compared."""
    t, parts = o.thresholds, []
    if o.result is None or (o.verdict is not None and o.verdict.guard is not None and o.verdict.guard.value != "saturated"):
        return "-"  # a guard stopped the gate before any threshold applied
    for floor in (t.min_score, t.min_auc):
        if floor is not None:
            parts.append(f">= {floor:.3f}")
    if o.baseline_state == BaselineState.COMPARED:
        upper = o.baseline_regression_score  # a share of the baseline's score at the ranks above the class count
        if t.max_score_drop is not None and upper is not None:
            parts.append(f">= {upper * (1 - t.max_score_drop):.3f} above the class count (baseline {upper:.3f})")
        if t.max_drop is not None and o.baseline_auc is not None:
            parts.append(f">= {o.baseline_auc - t.max_drop:.3f} (baseline {o.baseline_auc:.3f})")
    return "; ".join(parts) or "-"


def _margin(o: Outcome) -> str:
    return "-" if o.verdict is None or o.verdict.margin is None else f"{o.verdict.margin:+.3f}"


def _baseline(o: Outcome) -> str:
    return "-" if o.baseline_state == BaselineState.NOT_USED else o.baseline_state.value


def _time(o: Outcome) -> str:
    return "-" if o.result is None else f"{o.result.timings.get('total', 0.0):.1f}s"


def note(o: Outcome) -> str:
    """Why a gate did not pass, in a few words (and the error itself for a gate that could not run)."""
    if o.status == Status.PASS:
        return ""
    text = f"{o.headline}: {o.reasons[0]}" if o.failure is not None else o.headline
    return f"as its test expected: {text}" if o.expected_failure else text


@dataclass(frozen=True)
class Column:
    """A column of the tables: its header, its cell, and its prefix in the compact layout."""

    header: str
    cell: Callable[[Outcome], str]
    justify: str = "left"
    compact: str = ""


#: After the gate's name and status, in this order (the step summary has the same columns).
COLUMNS = (
    Column("judged (95% CI)", _value, "right"),
    Column("limit", _limit, compact="limit"),
    Column("margin", _margin, "right", "margin"),
    Column("baseline", _baseline, compact="baseline"),
    Column("time", _time, "right"),
)


def summary(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """Gates per status, and apart from them those whose failure or error their test expected."""
    counts = {s.value: 0 for s in Status}
    for o in outcomes:
        if not o.expected_failure:
            counts[o.status.value] += 1
    counts["expected"] = sum(o.expected_failure for o in outcomes)
    return counts


def worst(outcomes: Sequence[Outcome]) -> Status | None:
    """The run's status: the worst outcome's, counting one its test expected as a pass."""
    statuses = (o.status if o.counts_against_the_run else Status.PASS for o in outcomes)
    return max(statuses, key=lambda s: s.severity, default=None)


def _counts(outcomes: Sequence[Outcome]) -> str:
    """"3 gates: 1 passed, 1 failed, 1 error" (statuses that occur, in order of severity)."""
    n = len(outcomes)
    tally = summary(outcomes)
    expected = tally.pop("expected")
    counts = [Status(s).counted(c) for s, c in tally.items() if c]
    counts += [f"{expected} as {'its test' if expected == 1 else 'their tests'} expected"] if expected else []
    return f"{n} gate{'s' if n != 1 else ''}" + (": " + ", ".join(counts) if counts else "")


def _shown_path(path: str) -> str:
    """A path relative to the working directory when it is below it (shorter in logs)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if rel.startswith("..") else rel


# ---------------------------------------------------------------------------------------------- terminal


def terminal_table(outcomes: Sequence[Outcome], width: int, color: bool) -> str:
    """The summary for pytest's terminal: a table where it fits, else one compact entry per gate."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    console = Console(
        file=buf, width=width, force_terminal=color, no_color=not color, color_system="standard" if color else None,
        highlight=False,
    )
    console.print(Text(TITLE, style="bold"))
    console.print(Text(_counts(outcomes)))
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("gate", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for c in COLUMNS:
        table.add_column(c.header, justify=c.justify, no_wrap=True)  # type: ignore[arg-type]
    notes = any(note(o) for o in outcomes)
    if notes:
        table.add_column("note", no_wrap=True)
    for o in outcomes:
        cells = [Text(log_line(o.name)), Text(o.status.label, style=STYLE[o.status]), *(Text(c.cell(o)) for c in COLUMNS)]
        table.add_row(*cells, *([Text(log_line(note(o)))] if notes else []))
    natural = Measurement.get(console, console.options.update_width(10**6), table).maximum
    if natural <= width:
        console.print(table)
    else:
        for line in _compact(outcomes, width):
            console.print(line, no_wrap=True, overflow="ignore", crop=False)
    written = [o for o in outcomes if o.baseline_state in (BaselineState.RECORDED, BaselineState.REPLACED)]
    for o in written:
        console.print(
            Text(f"  baseline {o.baseline_state.value}: {log_line(_shown_path(o.baseline_path or ''))} ({judged(o.result, o.thresholds)})"),
            no_wrap=True, overflow="ignore", crop=False,
        )
    return buf.getvalue()


def _compact(outcomes: Sequence[Outcome], width: int) -> list[Any]:
    """One entry per gate for narrow terminals: name and status, then the cells, wrapped between cells.

    A gate's name is never broken: with short names they form a column, long ones start their entry and
    the cells continue on the lines below.
    """
    from rich.text import Text

    names = [log_line(o.name) for o in outcomes]
    label_width = max(len(o.status.label) for o in outcomes)
    name_width = max(map(len, names), default=0)
    aligned = name_width + label_width + 4 <= width // 2
    out: list[Any] = []
    for o, name in zip(outcomes, names):
        entry = Text(f"{name:<{name_width}}  " if aligned else f"{name}  ")
        entry.append(f"{o.status.label:<{label_width}}" if aligned else o.status.label, style=STYLE[o.status])
        indent = name_width + label_width + 4 if aligned else 4
        pieces = [(f"{c.compact} {v}".strip(), False) for c in COLUMNS if (v := c.cell(o)) != "-"]
        text = note(o)
        if text:
            pieces.insert(0, (log_line(text), True))
        start = len(entry.plain) if aligned else width  # long names: the cells start on the next line
        out.append(entry + Text(_wrap(start, pieces, width, indent)))
    return out


def _wrap(start: int, pieces: list[tuple[str, bool]], width: int, indent: int) -> str:
    """Continue a line at column ``start`` with ``pieces`` (two spaces apart), breaking between pieces, or
    between words for breakable ones, onto lines indented by ``indent``."""
    out, column = [], start
    for piece, breakable in pieces:
        fits = len(piece) <= width - indent  # a piece wider than the room breaks between words too
        words = piece.split(" ") if breakable or not fits else [piece]
        for i, word in enumerate(words):
            sep = "  " if i == 0 else " "
            if column + len(sep) + len(word) > width and (column > indent or out == []):
                out.append("\n" + " " * indent + log_line(word))  # a word that starts a line must not be a command
                column = indent + len(word)
            else:
                out.append(sep + word)
                column += len(sep) + len(word)
    return "".join(out)


# --------------------------------------------------------------------------------------------- JSON report


def payload(outcomes: Sequence[Outcome], error: str | None = None) -> dict[str, Any]:
    """The ``--memcheck-report`` JSON: versioned, a summary, every gate's outcome (``error``: a run-wide one)."""
    from . import __version__

    status = Status.ERROR if error else worst(outcomes)
    return {
        "format": REPORT_FORMAT,
        "schema": REPORT_SCHEMA,
        "tool": "pytest-memcheck",
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "status": None if status is None else status.value,
        "error": error,
        "summary": summary(outcomes),
        "models": [o.to_dict() for o in outcomes],
    }


def check_report_path(path: Path, option: str = "--memcheck-report") -> None:
    """Refuse a report path where something other than a memcheck report lives (it would be replaced)."""
    if not os.path.lexists(path):
        return
    refuse = f"{option} {path} would replace a file that is not a memcheck report"
    try:
        data = read_json(path, "report", limit=256 * 2**20)
    except BaselineError as exc:
        raise MemcheckError(f"{refuse} ({exc}); choose another path") from exc
    # reports written before the format marker have "tool" alone
    if not isinstance(data, dict) or (data.get("format"), data.get("tool")) not in (
        (REPORT_FORMAT, "pytest-memcheck"),
        (None, "pytest-memcheck"),
    ):
        raise MemcheckError(f"{refuse}; choose another path")


def json_report(outcomes: Sequence[Outcome], path: Path, error: str | None = None, option: str = "--memcheck-report") -> None:
    """Write the report to ``path`` atomically, never replacing anything but an older report."""
    check_report_path(path, option)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(payload(outcomes, error), indent=2, allow_nan=False) + "\n")


# ------------------------------------------------------------------------------------------ GitHub Actions


def step_summary(outcomes: Sequence[Outcome], error: str | None = None, plots: Path | None = None) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: verdicts first, details folded; every text escaped."""
    head = Status.ERROR if error else worst(outcomes)
    lines = [f"## memcheck: {head.label if head else 'no gates ran'}", ""]
    if error:
        lines += [f"**{markdown(error)}**", ""]
    lines.append(_counts(outcomes))
    if plots is not None and any(o.result is not None for o in outcomes):
        lines += ["", f"k-vs-accuracy curves: one PNG per gate in <code>{markdown(str(plots))}/</code>"]
    if not outcomes:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "| " + " | ".join(["gate", "status", *(c.header for c in COLUMNS), "note"]) + " |",
        "|" + "---|" * (len(COLUMNS) + 3),
    ]
    for o in outcomes:
        cells = [f"<code>{markdown(o.name)}</code>", o.status.label, *(markdown(c.cell(o)) for c in COLUMNS), markdown(note(o))]
        lines.append("| " + " | ".join(cells) + " |")
    for o in outcomes:
        lines += ["", f"<details><summary>{markdown(o.name)}: {markdown(o.headline)}</summary>", ""]
        lines += [f"- {markdown(reason)}" for reason in o.reasons]
        r = o.result
        if r is not None:
            per_class = ", ".join(f"{c}: {v:.2f}" for c, v in r.per_class.items())
            if r.score is not None and r.score_ci is not None:
                lines.append(f"- score {r.score:.3f} ({r.score_ci[0]:.3f}-{r.score_ci[1]:.3f}); {r.method} AuC {r.auc:.3f}")
            lines += [
                f"- method {markdown(r.method)}, layers {markdown(', '.join(r.layers))}, seed {markdown(r.settings.get('seed'))}",
                f"- uncompressed accuracy {r.base_accuracy:.3f}; per-class AuC {per_class}",
                *(f"- note: {markdown(n)}" for n in r.notes),
            ]
        if o.baseline_path:
            lines.append(f"- baseline {markdown(o.baseline_state.value)}: {markdown(_shown_path(o.baseline_path))}")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def annotations(outcomes: Sequence[Outcome], error: str | None = None) -> list[str]:
    """GitHub workflow commands: ``::error`` per failed gate or gate that could not run, ``::warning`` per
    inconclusive one; names and messages encoded so that they cannot end the command or start another."""
    out = [f"::error title=memcheck::{workflow_data(error)}"] if error else []
    for o in outcomes:
        if not o.counts_against_the_run:
            continue
        kind = "warning" if o.status == Status.INCONCLUSIVE else "error"
        out.append(f"::{kind} title={workflow_property('memcheck: ' + o.name)}::{workflow_data('; '.join(o.reasons))}")
    return out
