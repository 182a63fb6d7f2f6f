"""Generated hostile input against the threat model of docs/reliability.md.

Names, folders and file contents are generated; the promises checked are the
document's: no write outside the project, no lost baseline, no hang (every read
is of a regular file of bounded size, and hypothesis bounds each example's
time), no raw exception (only ``MemcheckError`` or a correct result).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_memcheck import config, reporting
from pytest_memcheck.baseline import BaselineStore, safe_name
from pytest_memcheck.errors import MemcheckError
from pytest_memcheck.escape import log_text
from pytest_memcheck.gate import Thresholds, decide
from pytest_memcheck.gate import Verdict
from pytest_memcheck.outcome import Outcome, Stage
from pytest_memcheck.result import CheckResult

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Names and folders as a hostile or careless configuration writes them.
names = st.one_of(
    st.text(max_size=24),
    st.sampled_from(["a b", "a_b", "a/b", "A_B", "..", "../package", "/etc/passwd", "a\n::error::x", "x ##[error]y",
                     "</details><img src=x onerror=alert(1)>", "con", ".hidden", "model.json", "ü", "a" * 300]),
)
folders = st.one_of(
    st.text(max_size=16),
    st.sampled_from(["..", "../x", "/tmp", "tests/../..", ".", "tests/memcheck", "~", "a\x00b", "link/inside", "link/.."]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=12,
)


def _result(auc: float = 0.7) -> CheckResult:
    return CheckResult(
        auc=auc, auc_ci=(auc - 0.05, auc + 0.05), score=auc, saturated=False, curve={1.0: auc, 2.0: auc},
        per_class={0: auc, 1: auc}, base_accuracy=0.98, layers=["2"], method="nmf",
        settings={"method": "nmf", "ks": [1.0, 2.0], "samples_per_class": 3, "classes": [0, 1], "seed": 0,
                  "confidence": 0.95, "draw": "d"},
        samples=[[auc] * 3, [auc] * 3],
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """``outside/`` next to ``project/``; ``project/link`` points outside."""
    base = tmp_path_factory.mktemp("fuzz")
    (base / "outside").mkdir()
    (base / "outside" / "package.json").write_text('{"name": "package"}')
    (base / "project").mkdir()
    (base / "project" / "link").symlink_to(base / "outside")
    return base


@FUZZ
@given(folder=folders, model_names=st.lists(names, min_size=1, max_size=3))
def test_configuration_keeps_baselines_inside_and_apart(sandbox, folder, model_names):
    project = sandbox / "project"
    table = {"baseline_dir": folder, "models": {n: {"model": "a:b", "data": "a:c", "min_auc": 0.5} for n in model_names}}
    try:
        cfg = config.parse(table, project)
    except MemcheckError:
        return
    assert cfg.baseline_dir.resolve().is_relative_to(project.resolve())
    files = [safe_name(n).lower() for n in cfg.models]
    assert len(files) == len(set(files))  # one model, one file
    for name in cfg.models:
        assert log_text(name) == name.strip("\n") or "\n" not in name


@FUZZ
@given(first=names, others=st.lists(names, min_size=1, max_size=4))
def test_saving_never_writes_outside_its_folder_nor_replaces_another_models_file(sandbox, first, others):
    project = sandbox / "project"
    store = BaselineStore(project / "tests" / "memcheck")
    outside = _snapshot(sandbox / "outside")
    try:
        kept = store.save(first, _result(0.7), "f" * 16)
    except MemcheckError:
        return
    before = kept.read_bytes()
    for name in others:
        try:
            path = store.save(name, _result(0.3), "f" * 16)
        except MemcheckError:
            continue
        assert path.parent == store.directory
    assert _snapshot(sandbox / "outside") == outside
    if all(safe_name(n) != safe_name(first) or n == first for n in others if _safe(n)):
        stored = store.load(first)
        assert stored.name == first
        assert kept.read_bytes() == before or first in others
    for p in list(store.directory.iterdir()):
        p.unlink()


def _safe(name: str) -> bool:
    try:
        safe_name(name)
    except MemcheckError:
        return False
    return True


def _set(data: dict, path: list, value) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


BASELINE_FIELDS = [["name"], ["fingerprint"], ["created"], ["schema"], ["result"], ["modules"], ["result", "auc"],
                   ["result", "auc_ci"], ["result", "samples"], ["result", "settings"], ["result", "curve"],
                   ["result", "per_class"], ["result", "settings", "ks"], ["result", "settings", "classes"],
                   ["result", "settings", "confidence"], ["result", "settings", "seed"], ["result", "layers"]]


@FUZZ
@given(where=st.sampled_from(BASELINE_FIELDS), value=json_values)
def test_a_hand_edited_baseline_loads_valid_or_is_a_baseline_error(tmp_path_factory, where, value):
    store = BaselineStore(tmp_path_factory.mktemp("store"))
    path = store.save("model", _result(), "f" * 16)
    data = json.loads(path.read_text())
    _set(data, where, value)
    path.write_text(json.dumps(data))
    try:
        baseline = store.load("model")
    except MemcheckError:
        return
    # what loads must be usable: the gate decides on it without a raw exception
    baseline.mismatch(_result(), "f" * 16)
    decide(_result(), Thresholds(0.5, 0.05), baseline.result)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), json_values.map(json.dumps), st.binary(max_size=64)))
def test_any_text_is_a_result_or_a_baseline_error(text):
    try:
        result = CheckResult.from_json(text)
    except MemcheckError:
        return
    assert CheckResult.from_json(result.to_json()) == result


@FUZZ
@given(target=st.sampled_from(["/dev/zero", "/dev/urandom", "/dev/null", "fifo", "folder", "missing"]))
def test_a_baseline_that_is_not_a_regular_file_is_refused_at_once(tmp_path_factory, target):
    folder = tmp_path_factory.mktemp("special")
    if target == "fifo":
        os.mkfifo(folder / "fifo")
    elif target == "folder":
        (folder / "folder").mkdir()
    (folder / "model.json").symlink_to(Path(target) if target.startswith("/") else folder / target)
    try:
        assert BaselineStore(folder).load("model") is None and target == "missing"
    except MemcheckError:
        pass


@FUZZ
@given(name=names, message=st.text(max_size=60))
def test_reports_keep_any_name_and_message_inert(name, message):
    outcomes = [
        Outcome(name, _result(), Verdict("fail", [message], -0.1, 0.8), Thresholds(0.8)),
        Outcome.failed(name, Stage.MODEL, MemcheckError(message), Thresholds(0.8)),
    ]
    lines = reporting.terminal_table(outcomes, 80, False).splitlines() + outcomes[0].explain().splitlines()
    lines += reporting.annotations(outcomes)
    for line in lines:
        stripped = line.lstrip()
        assert "##[" not in line
        assert not stripped.startswith("::") or stripped.startswith(("::error title=memcheck%3A ", "::warning title="))
    summary = reporting.step_summary(outcomes)
    assert "<img" not in summary and "</details><img" not in summary
    assert all(line.count("|") == len(reporting.COLUMNS) + 4 for line in summary.splitlines() if line.startswith("| <code>"))
    json.dumps(reporting.payload(outcomes), allow_nan=False)
    assert [Outcome.from_dict(copy.deepcopy(o.to_dict())) for o in outcomes] == outcomes


# ---------------------------------------------------------------------------------- hostile gate projects

HOSTILE_MODULE = """
import torch
from torch import nn


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))


def data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(48, 1, 8, 8, generator=g), torch.arange(48) % 4
"""
#: A gate that runs in well under a second, so that --memcheck-update really writes where it is told to.
GATE = (
    '[tool.memcheck.models.{name}]\nmodel = "{model}"\narchitecture = "hostile:model"\ndata = "hostile:data"\n'
    "samples_per_class = 6\nks = [1, 2]\nmax_drop = 0.1\n"
)
UPDATE = ("--memcheck-update",)
HOSTILE_PROJECTS = {
    "baseline-dir-parent": ('[tool.memcheck]\nbaseline_dir = ".."\n' + GATE.format(name="package", model="hostile:model"), UPDATE),
    "baseline-dir-absolute": ('[tool.memcheck]\nbaseline_dir = "{outside}"\n' + GATE.format(name="m", model="hostile:model"), UPDATE),
    "baseline-dir-symlink": ('[tool.memcheck]\nbaseline_dir = "link/memcheck"\n' + GATE.format(name="m", model="hostile:model"), UPDATE),
    "name-maps-to-another-models-file": (GATE.format(name='"keep/"', model="hostile:model"), UPDATE),
    "colliding-names": (GATE.format(name='"a b"', model="hostile:model") + GATE.format(name="a_b", model="hostile:model"), UPDATE),
    # the tiny untrained model is not judged (inconclusive); "warn" lets everything but the hand-edited baseline pass
    "hand-edited-baseline": (GATE.format(name="keep", model="hostile:model") + 'inconclusive = "warn"\n', ()),
    "weights-dev-zero": (GATE.format(name="w", model="zero.pt"), UPDATE),
    "weights-fifo": (GATE.format(name="w", model="fifo.pt"), UPDATE),
    "report-over-config": (GATE.format(name="m", model="hostile:model"), ("--memcheck-report=pyproject.toml", *UPDATE)),
    "command-in-name": (GATE.format(name='"k ##[error]x"', model="hostile:model"), UPDATE),
    "tool-not-a-table": ('[tool]\nmemcheck = "x"\n', UPDATE),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PROJECTS))
def test_hostile_projects_write_nothing_outside_and_lose_no_baseline(pytester: pytest.Pytester, case):
    toml, args = HOSTILE_PROJECTS[case]
    pytester.makepyfile(hostile=HOSTILE_MODULE)
    outside = pytester.path.parent / f"outside-{case}"
    outside.mkdir()
    (outside / "package.json").write_text('{"name": "package"}')
    (pytester.path / "link").symlink_to(outside)
    (pytester.path / "zero.pt").symlink_to("/dev/zero")
    os.mkfifo(pytester.path / "fifo.pt")
    keep = pytester.path / "tests" / "memcheck" / "keep.json"
    keep.parent.mkdir(parents=True)
    BaselineStore(keep.parent).save("keep", _result(), "f" * 16)
    pytester.makefile(".toml", pyproject=toml.format(outside=outside / "memcheck"))
    if case == "hand-edited-baseline":  # a valid baseline, then an AuC below 0 and no samples
        edited = json.loads(keep.read_text())
        edited["result"].update(auc=-5, samples=[])
        keep.write_text(json.dumps(edited))
    around = pytester.path.parent
    before = {k: v for k, v in _snapshot(around).items() if not k.startswith(pytester.path.name)}
    before_keep, before_config = keep.read_bytes(), (pytester.path / "pyproject.toml").read_bytes()

    result = pytester.runpytest_subprocess("--memcheck", *args, timeout=120)

    output = result.stdout.str() + result.stderr.str()
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.USAGE_ERROR), output  # never a pass
    assert "INTERNALERROR" not in output and "Traceback (most recent call last)" not in output
    assert {k: v for k, v in _snapshot(around).items() if not k.startswith(pytester.path.name)} == before
    assert keep.read_bytes() == before_keep and (pytester.path / "pyproject.toml").read_bytes() == before_config
    assert not any(line.lstrip().startswith("::") or "##[" in line for line in output.splitlines())
    if case == "hand-edited-baseline":  # refused as a damaged file, before any comparison could fail it
        assert "has malformed fields" in output and "result.auc" in output, output
