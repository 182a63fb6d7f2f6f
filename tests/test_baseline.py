"""Baseline files: round trip, fingerprints, mismatches, corrupt files and the faults of writing them."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from torch import nn

from conftest import NOT_FILES, link_to_not_a_file
from pytest_memcheck import __version__
from pytest_memcheck import baseline as baseline_mod
from pytest_memcheck.baseline import Baseline, BaselineStore, fingerprint
from pytest_memcheck.errors import BaselineError, MemcheckError
from pytest_memcheck.result import SCHEMA_VERSION, CheckResult

ROOT = Path(__file__).resolve().parents[1]


def result(auc: float = 0.7, **settings) -> CheckResult:
    return CheckResult(
        auc=auc,
        auc_ci=(auc - 0.05, auc + 0.05),
        score=auc / 0.98,
        saturated=False,
        curve={1.0: auc - 0.1, 2.0: auc, 4.0: auc + 0.1},
        per_class={0: auc - 0.02, 1: auc + 0.02},
        base_accuracy=0.98,
        layers=["2", "4"],
        method="nmf",
        settings={
            "method": "nmf", "ks": [1.0, 2.0, 4.0], "residual": False, "iterations": 50, "samples_per_class": 4,
            "batches": "single", "classes": [0, 1], "seed": 0, "device": "cpu", "draw": "abc", **settings,
        },
        samples=[[auc] * 4, [auc] * 4],
    )


def net(width: int = 8) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))


# ----------------------------------------------------------------------------------------- round trip


def test_save_load_round_trip(tmp_path):
    store = BaselineStore(tmp_path / "memcheck")
    original = result(0.73)
    path = store.save("candidate", original, "f" * 16)
    assert path == tmp_path / "memcheck" / "candidate.json"
    loaded = store.load("candidate")
    assert isinstance(loaded, Baseline)
    assert loaded.result == original
    assert (loaded.name, loaded.fingerprint, loaded.tool_version) == ("candidate", "f" * 16, __version__)
    data = json.loads(path.read_text())
    assert data["format"] == "pytest-memcheck-baseline" and data["schema"] == SCHEMA_VERSION
    assert data["result"]["settings"]["samples_per_class"] == 4
    assert path.read_text().endswith("}\n")  # diff-friendly in the repository


def test_missing_baseline_loads_as_none(tmp_path):
    assert BaselineStore(tmp_path / "nowhere").load("model") is None


def test_names_become_safe_file_names(tmp_path):
    store = BaselineStore(tmp_path)
    assert store.path("tests/test_x.py::test_a[1]").parent == tmp_path
    assert store.path("a b").name == "a_b.json"
    with pytest.raises(BaselineError, match="cannot make a file name"):
        store.path("///")


def test_saved_file_is_readable_like_any_other_file(tmp_path):
    """A baseline is committed and read by CI under other users: not the 0600 of a temporary file."""
    umask = os.umask(0o022)
    try:
        path = BaselineStore(tmp_path).save("model", result(), "f" * 16)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_replacing_keeps_the_files_mode(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.save("model", result(), "f" * 16)
    path.chmod(0o664)
    store.save("model", result(0.8), "f" * 16)
    assert path.stat().st_mode & 0o777 == 0o664


# --------------------------------------------------------------------------------------- fingerprints


def test_fingerprint_changes_with_architecture_not_weights():
    a, b = net(), net()
    assert fingerprint(a) == fingerprint(b)  # other random weights
    for p in a.parameters():
        p.data.zero_()
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(net(16)) != fingerprint(a)  # wider
    assert fingerprint(nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2))) != fingerprint(b)
    assert len(fingerprint(a)) == 16


# -------------------------------------------------------------------------------------------- mismatch


def _baseline(**settings) -> Baseline:
    return Baseline("m", "f" * 16, result(**settings), "2024-01-01T00:00:00+00:00", __version__)


def test_same_architecture_and_settings_match():
    assert _baseline().mismatch(result(0.2), "f" * 16) is None


def test_seed_device_and_draw_do_not_make_a_mismatch():
    assert _baseline().mismatch(result(seed=7, device="cuda:0", draw="other", repeats=3), "f" * 16) is None


def test_other_architecture_is_a_mismatch():
    # a baseline from before modules were recorded: it cannot say what changed, and says so in words
    problem = _baseline().mismatch(result(), "0" * 16)
    assert "another architecture" in problem and "module names, types or parameter shapes differ" in problem
    assert "f" * 16 not in problem  # fingerprints mean nothing to the reader (issue 10, finding 4)


def test_architecture_mismatch_names_what_changed(tmp_path):
    store = BaselineStore(tmp_path)
    before = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Dropout(), nn.Linear(8, 2))
    after = nn.Sequential(nn.Flatten(), nn.Linear(4, 16), nn.ReLU())
    after.add_module("3", nn.GELU())
    after.add_module("head", nn.Linear(16, 2))
    store.save("m", result(), fingerprint(before), baseline_mod.modules(before))
    problem = store.load("m").mismatch(result(), fingerprint(after), baseline_mod.modules(after))
    assert "another architecture" in problem
    assert "1 added: head (Linear weight(2, 16), bias(2,))" in problem
    assert "1 removed: 4 (Linear weight(2, 8), bias(2,))" in problem
    assert "2 changed: 1 (Linear weight(8, 4), bias(8,) -> Linear weight(16, 4), bias(16,)), 3 (Dropout -> GELU)" in problem
    assert fingerprint(before) not in problem


@pytest.mark.parametrize(
    ("key", "value"),
    [("method", "pca"), ("ks", [1.0, 2.0]), ("residual", True), ("samples_per_class", 50), ("classes", [0, 1, 2]),
     ("batches", "multi"), ("iterations", 10)],
)
def test_other_settings_are_a_mismatch(key, value):
    problem = _baseline().mismatch(result(**{key: value}), "f" * 16)
    assert problem is not None and "other settings" in problem and key in problem and repr(value) in problem


def test_other_layers_are_a_mismatch():
    other = result()
    other.layers = ["4"]
    assert "layers: baseline ['2', '4'], now ['4']" in _baseline().mismatch(other, "f" * 16)


def test_settings_survive_the_json_round_trip_without_a_false_mismatch(tmp_path):
    store = BaselineStore(tmp_path)
    store.save("m", result(ks=[1, 2, 4], classes=(0, 1)), "f" * 16)
    assert store.load("m").mismatch(result(ks=[1, 2, 4], classes=(0, 1)), "f" * 16) is None


# ------------------------------------------------------------------------------------ unusable files


def _assert_names_file_and_fix(exc: pytest.ExceptionInfo, path: Path) -> None:
    message = str(exc.value)
    assert str(path) in message
    assert "--memcheck-update" in message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        ('{"format": "pytest-memcheck-baseline", "sch', "corrupt or truncated"),
        ("", "corrupt or truncated"),
        ("not json at all", "corrupt or truncated"),
        ('{"some": "other tool"}', "is not a pytest-memcheck baseline"),
        ("[1, 2, 3]", "is not a pytest-memcheck baseline"),
    ],
)
def test_unusable_file_is_a_clear_error(tmp_path, content, what):
    path = tmp_path / "model.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match=what) as exc:
        BaselineStore(tmp_path).load("model")
    _assert_names_file_and_fix(exc, path)
    assert "version control" in str(exc.value)
    assert path.read_text() == content  # never touched


def test_truncated_real_baseline_is_a_clear_error(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.save("model", result(), "f" * 16)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(BaselineError, match="corrupt or truncated") as exc:
        store.load("model")
    _assert_names_file_and_fix(exc, path)


def test_binary_garbage_is_a_clear_error(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(b"\x80\x81\xfe\xff" * 8)
    with pytest.raises(BaselineError, match="corrupt") as exc:
        BaselineStore(tmp_path).load("model")
    _assert_names_file_and_fix(exc, path)


def test_other_schema_version_is_a_clear_error(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.save("model", result(), "f" * 16)
    data = json.loads(path.read_text())
    data["schema"], data["tool_version"] = SCHEMA_VERSION + 1, "9.9.9"
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError) as exc:
        store.load("model")
    message = str(exc.value)
    assert f"schema {SCHEMA_VERSION + 1}" in message and "9.9.9" in message and f"reads schemas 1, {SCHEMA_VERSION}" in message
    _assert_names_file_and_fix(exc, path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("fingerprint"),
        lambda d: d["result"].pop("auc"),
        lambda d: d.update(result="nonsense"),
        lambda d: d["result"].update(curve=[1, 2]),
        lambda d: d["result"].update(per_class={"zero": 0.5}),
    ],
    ids=["no-fingerprint", "no-auc", "result-not-a-table", "curve-a-list", "class-not-a-number"],
)
def test_malformed_fields_are_a_clear_error(tmp_path, damage):
    store = BaselineStore(tmp_path)
    path = store.save("model", result(), "f" * 16)
    data = json.loads(path.read_text())
    damage(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match="missing or has malformed fields") as exc:
        store.load("model")
    _assert_names_file_and_fix(exc, path)


def test_unreadable_path_is_a_clear_error(tmp_path):
    (tmp_path / "model.json").mkdir()  # a folder where the file should be
    with pytest.raises(BaselineError, match="cannot read baseline"):
        BaselineStore(tmp_path).load("model")


def test_baseline_errors_are_memcheck_errors():
    assert issubclass(BaselineError, MemcheckError) and issubclass(BaselineError, ValueError)


# ------------------------------------------------------------------------------------- write faults


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
@pytest.mark.parametrize("where", ["replace", "mkstemp", "write"])
def test_failed_write_keeps_the_old_baseline(tmp_path, monkeypatch, code, where):
    store = BaselineStore(tmp_path)
    path = store.save("model", result(0.7), "f" * 16)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    if where == "replace":
        monkeypatch.setattr(baseline_mod.os, "replace", fail)
    elif where == "mkstemp":
        monkeypatch.setattr(baseline_mod.tempfile, "mkstemp", fail)
    else:
        monkeypatch.setattr(baseline_mod.os, "fsync", fail)
    with pytest.raises(BaselineError) as exc:
        store.save("model", result(0.1), "f" * 16)
    monkeypatch.undo()
    message = str(exc.value)
    assert str(path) in message and os.strerror(code) in message and "previous baseline" in message
    assert path.read_bytes() == before
    assert store.load("model").result.auc == 0.7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]  # no leftovers, no lock file


def test_failed_first_write_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(baseline_mod.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system")))
    with pytest.raises(BaselineError, match="Read-only file system"):
        BaselineStore(tmp_path).save("model", result(), "f" * 16)
    monkeypatch.undo()
    assert BaselineStore(tmp_path).load("model") is None


def test_folder_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BaselineError, match="could not write baseline"):
        BaselineStore(blocker / "memcheck").save("model", result(), "f" * 16)


# -------------------------------------------------------------------------- processes: kill, concurrency

WRITER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    from pytest_memcheck import baseline
    from pytest_memcheck.result import CheckResult

    text = sys.stdin.read()
    res = CheckResult.from_json(text)
    mode = sys.argv[1]
    if mode == "hang":
        def fsync(fd):
            print("writing", flush=True)
            time.sleep(60)
        baseline.os.fsync = fsync
        baseline.BaselineStore(sys.argv[2]).save("model", res, "f" * 16)
    else:
        for i in range(int(sys.argv[3])):
            res.auc = int(mode) / 10 + i / 1000  # the writer in the first decimal, the write in the third
            baseline.BaselineStore(sys.argv[2]).save("model", res, mode)
    """
)


def _writer(tmp_path: Path, *args: str) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    if not script.exists():  # rewriting it under a writer that is still reading it would hand that one a cut script
        script.write_text(WRITER.format(root=str(ROOT)))
    return subprocess.Popen(
        [sys.executable, str(script), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_writer_killed_mid_write_leaves_the_old_baseline(tmp_path):
    folder = tmp_path / "memcheck"
    store = BaselineStore(folder)
    path = store.save("model", result(0.7), "f" * 16)
    before = path.read_bytes()

    proc = _writer(tmp_path, "hang", str(folder))
    try:
        proc.stdin.write(result(0.1).to_json())
        proc.stdin.close()
        assert proc.stdout.readline().strip() == "writing"  # the new content is in the temporary file now
        temps = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
        assert len(temps) == 1 and temps[0].stat().st_size > 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    assert path.read_bytes() == before
    assert store.load("model").result.auc == 0.7  # the leftover temporary file does not get in the way
    store.save("model", result(0.8), "f" * 16)  # nor does the lock the killed writer held
    assert store.load("model").result.auc == 0.8
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []  # the next write cleans up


def test_concurrent_writers_always_leave_valid_json(tmp_path):
    folder = tmp_path / "memcheck"
    writers = [_writer(tmp_path, str(i), str(folder), "15") for i in range(1, 5)]
    payload = result().to_json()
    for w in writers:
        w.stdin.write(payload)
        w.stdin.close()
    path = folder / "model.json"
    seen = 0
    while any(w.poll() is None for w in writers):
        if path.exists():
            loaded = BaselineStore(folder).load("model")  # a reader never sees a half-written file
            assert int(loaded.result.auc * 10) == int(loaded.fingerprint)
            seen += 1
        time.sleep(0.005)
    for w in writers:
        w.stdout.close()
        assert w.wait() == 0
    final = BaselineStore(folder).load("model")
    assert final.fingerprint in {"1", "2", "3", "4"}
    assert final.result.auc == pytest.approx(int(final.fingerprint) / 10 + 0.014)  # some writer's last, whole
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


# ----------------------------------------------------------------- hand-edited and hostile files (issue 14)


def _edited(tmp_path, edit) -> tuple[BaselineStore, Path]:
    store = BaselineStore(tmp_path)
    path = store.save("model", result(), "f" * 16)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return store, path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["result"].update(auc=-5, samples=[]), "result.auc"),
        (lambda d: d["result"].update(auc="0.9"), "result.auc"),
        (lambda d: d["result"].update(auc_ci=[0.9, 0.1]), "result.auc_ci"),
        (lambda d: d["result"].update(settings=[]), "result.settings"),
        (lambda d: d["result"].update(samples=[[0.5], [0.5, 0.5]]), "result.samples"),
        (lambda d: d.update(fingerprint=["f"]), "fingerprint"),
        (lambda d: d.update(name=7), "name"),
        (lambda d: d.update(modules={"0": "Linear:"}), "modules"),
        (lambda d: d["result"].update(score_samples=[[0.5] * 4] * 2, score=0.99), "result.score"),
    ],
    ids=["auc-negative", "auc-text", "interval-reversed", "settings-list", "samples-ragged", "fingerprint-list",
         "name-number", "modules-forged", "score-not-its-samples"],
)
def test_hand_edited_field_is_an_error_naming_file_and_field(tmp_path, edit, field):
    store, path = _edited(tmp_path, edit)
    with pytest.raises(BaselineError) as exc:
        store.load("model")
    assert f"field '{field}" in str(exc.value)
    _assert_names_file_and_fix(exc, path)


def _scored(d: dict) -> None:
    """A ten-class result with a score whose compared values (ranks 12-32) are consistent with its curve."""
    curve = {"6": 0.5, "8": 0.7, "12": 0.9, "16": 1.0, "24": 1.0, "32": 1.0}
    d["result"]["settings"]["classes"] = list(range(10))
    d["result"].update(score=0.85, score_ci=[0.8, 0.9], score_curve=curve, score_samples=[[0.85] * 4] * 2,
                       regression_samples=[[0.975] * 4] * 2)


def test_compared_values_must_be_the_score_at_the_ranks_above_the_class_count(tmp_path):
    store, _ = _edited(tmp_path / "kept", _scored)
    assert store.load("model").result.regression_score == pytest.approx(0.975)
    # the natural "repair" of a baseline without them, copying the score's own values (every rank, 6 and 8
    # included), would loosen every comparison: it is an edited baseline
    copied = _edited(tmp_path / "copied", lambda d: [_scored(d), d["result"].update(regression_samples=d["result"]["score_samples"])])
    lowered = _edited(tmp_path / "lowered", lambda d: [_scored(d), d["result"].update(regression_samples=[[0.95] * 4] * 2)])
    for (store, path), mean in ((copied, "0.85"), (lowered, "0.95")):
        with pytest.raises(BaselineError) as exc:
            store.load("model")
        assert f"field 'result.regression_samples' averages {mean}, but the score at the ranks above the class count" in str(exc.value)
        assert "is 0.975: it was edited or damaged" in str(exc.value)
        _assert_names_file_and_fix(exc, path)


@pytest.mark.parametrize(
    "text",
    [
        lambda t: t.replace('"auc": 0.7', '"auc": NaN'),
        lambda t: t.replace('"seed": 0', '"seed": ' + "1" * 5000),
        lambda t: "[" * 200_000 + "]" * 200_000,
    ],
    ids=["nan", "5000-digits", "deep-nesting"],
)
def test_hostile_json_is_a_baseline_error_not_a_raw_exception(tmp_path, text):
    store = BaselineStore(tmp_path)
    path = store.save("model", result(), "f" * 16)
    path.write_text(text(path.read_text()))
    with pytest.raises(BaselineError) as exc:
        store.load("model")
    _assert_names_file_and_fix(exc, path)


def test_stored_name_is_checked_on_load(tmp_path):
    store = BaselineStore(tmp_path)
    store.save("a/b", result(0.3), "f" * 16)  # stored as a_b.json
    with pytest.raises(BaselineError) as exc:
        store.load("a b")  # also a_b.json
    assert "holds the baseline of model 'a/b', not of 'a b'" in str(exc.value) and "a_b.json" in str(exc.value)


def test_another_models_baseline_is_never_replaced(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.save("a/b", result(0.3), "f" * 16)
    before = path.read_bytes()
    with pytest.raises(BaselineError, match="holds the baseline of model 'a/b', so it is not replaced"):
        store.save("a b", result(0.9), "f" * 16)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", ['{"name": "package", "version": "1.0"}', "not json", ""])
def test_a_file_memcheck_did_not_write_is_never_replaced(tmp_path, content):
    path = tmp_path / "package.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match="so it is not replaced"):
        BaselineStore(tmp_path).save("package", result(), "f" * 16)
    assert path.read_text() == content


def test_an_old_schema_or_damaged_baseline_of_the_same_model_is_replaced(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.save("model", result(0.3), "f" * 16)
    data = json.loads(path.read_text())
    data["schema"], data["result"]["auc"] = 0, "broken"
    path.write_text(json.dumps(data))
    store.save("model", result(0.8), "f" * 16)  # what the error message tells the user to do
    assert store.load("model").result.auc == 0.8


def test_temporary_files_are_removed_by_exact_name_only(tmp_path):
    store = BaselineStore(tmp_path)
    keep = [".model.json.notes.tmp", ".model.json.b.json.abcd1234.tmp", ".other.json.abcd1234.tmp", "x.tmp"]
    for name in keep:
        (tmp_path / name).write_text("user's file")
    (tmp_path / ".model.json.abcd_123.tmp").write_text("left by a killed writer")
    store.save("model", result(), "f" * 16)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, "model.json"])


@pytest.mark.parametrize("target", NOT_FILES)
def test_baseline_that_is_not_a_regular_file_is_refused_without_reading(tmp_path, target, never_opened):
    (tmp_path / "store").mkdir()
    link_to_not_a_file(tmp_path / "store" / "model.json", target)
    never_opened(tmp_path / "store" / "model.json")
    with pytest.raises(BaselineError, match="cannot read baseline .*not a regular file"):
        BaselineStore(tmp_path / "store").load("model")
    with pytest.raises(BaselineError, match="not a regular file, so it is not replaced"):
        BaselineStore(tmp_path / "store").save("model", result(), "f" * 16)
