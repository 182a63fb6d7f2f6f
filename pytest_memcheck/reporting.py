"""Reports of gated models: terminal table, JSON file, GitHub Actions summary and annotations.

Works on plain outcome dictionaries (``Outcome.to_dict()``), which is also what
pytest-xdist workers send to the controller, so one report covers all workers.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
from pathlib import Path
from typing import Any, Sequence

from .baseline import atomic_write

_ICON = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}


def _ci(o: dict[str, Any]) -> str:
    r = o["result"]
    lo, hi = r["auc_ci"]
    return f"{r['auc']:.3f} ({lo:.2f}-{hi:.2f})"


def _limit(o: dict[str, Any]) -> str:
    parts = []
    if o.get("min_auc") is not None:
        parts.append(f">= {o['min_auc']:.3f}")
    base = o["baseline"]
    if o.get("max_drop") is not None:
        if base.get("auc") is not None:
            parts.append(f">= {base['auc'] - o['max_drop']:.3f} (baseline {base['auc']:.3f})")
        else:
            parts.append(f"baseline {base['state']}")
    return "; ".join(parts) or "-"


def _margin(o: dict[str, Any]) -> str:
    return "-" if o.get("margin") is None else f"{o['margin']:+.3f}"


def summary(outcomes: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts = {"pass": 0, "fail": 0, "inconclusive": 0}
    for o in outcomes:
        counts[o["status"]] = counts.get(o["status"], 0) + 1
    return counts


def terminal_table(outcomes: Sequence[dict[str, Any]], width: int, color: bool) -> str:
    """The rich summary table, rendered to text for pytest's terminal reporter."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="memcheck: memorization gates", title_justify="left")
    for col, justify in (
        ("model", "left"), ("verdict", "left"), ("AuC (95% CI)", "right"), ("threshold", "left"),
        ("margin", "right"), ("method", "left"), ("time", "right"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    style = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}
    for o in outcomes:
        r = o["result"]
        table.add_row(
            o["name"],
            f"[{style[o['status']]}]{_ICON[o['status']]}[/]",
            _ci(o),
            _limit(o),
            _margin(o),
            r["method"],
            f"{r['timings'].get('total', 0.0):.2f}s",
        )
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=color, no_color=not color, color_system="standard" if color else None).print(table)
    return buf.getvalue()


def json_report(outcomes: Sequence[dict[str, Any]], path: Path) -> None:
    """Write every outcome to ``path`` atomically."""
    from . import __version__

    payload = {
        "tool": "pytest-memcheck",
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "summary": summary(outcomes),
        "models": list(outcomes),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(payload, indent=2) + "\n")


def step_summary(outcomes: Sequence[dict[str, Any]], plots: str | None = None) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: verdicts first, details folded; where the curves are."""
    counts = summary(outcomes)
    head = "FAIL" if counts["fail"] else ("INCONCLUSIVE" if counts["inconclusive"] else "PASS")
    lines = [
        f"## memcheck: {head}",
        "",
        f"{counts['pass']} passed, {counts['fail']} failed, {counts['inconclusive']} inconclusive",
        "",
        *([f"k-vs-accuracy curves: one PNG per model in `{plots}/`", ""] if plots else []),
        "| verdict | model | AuC (95% CI) | threshold | margin |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(f"| {_ICON[o['status']]} | `{o['name']}` | {_ci(o)} | {_limit(o)} | {_margin(o)} |")
    for o in outcomes:
        r = o["result"]
        reasons = "\n".join(f"- {x}" for x in o["reasons"])
        per_class = ", ".join(f"{c}: {v:.2f}" for c, v in r["per_class"].items())
        lines += [
            "",
            f"<details><summary>{o['name']}: details</summary>",
            "",
            reasons,
            f"- method `{r['method']}`, layers `{', '.join(r['layers'])}`, seed {r['settings'].get('seed')}",
            f"- uncompressed accuracy {r['base_accuracy']:.3f}; per-class AuC {per_class}",
            f"- baseline: {o['baseline']['state']} {o['baseline']['path'] or ''}",
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotations(outcomes: Sequence[dict[str, Any]]) -> list[str]:
    """GitHub workflow commands: an ``::error`` per failing model, ``::warning`` per inconclusive one."""
    out = []
    for o in outcomes:
        if o["status"] == "pass":
            continue
        kind = "error" if o["status"] == "fail" else "warning"
        message = _escape("; ".join(o["reasons"]))
        out.append(f"::{kind} title={_escape('memcheck: ' + o['name']).replace(',', '%2C').replace(':', '%3A')}::{message}")
    return out
