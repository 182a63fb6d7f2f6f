"""``memcheck check``: a saved model or a configured gate from the shell, decided as the gate decides."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from pytest_memcheck import cli

FAST = ["--samples-per-class", "20", "--ks", "1", "2", "4", "8"]
CNN = ["--architecture", "pytest_memcheck.zoo:digits_cnn"]


@pytest.fixture
def shell(project, monkeypatch):
    """Run ``memcheck ...`` in the project folder; returns (exit status, stdout, stderr)."""
    monkeypatch.chdir(project.path)

    def run(*argv: str, capsys=None):
        status = cli.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_saved_weights_give_verdict_json_and_png(shell, capsys, project):
    status, out, _ = shell("check", "clean.pt", "mydata:clean", *CNN, *FAST, "--min-auc", "0.4",
                           "--json", "out/report.json", "--plot", "out/curve.png", capsys=capsys)
    assert status == cli.PASSED
    assert "memcheck: memorization gates" in out and "PASS" in out and "is above the floor min_auc 0.400" in out
    report = json.loads((project.path / "out" / "report.json").read_text())
    assert report["tool"] == "pytest-memcheck" and report["summary"]["pass"] == 1
    assert report["models"][0]["name"] == "clean.pt" and report["models"][0]["result"]["settings"]["samples_per_class"] == 20
    assert (project.path / "out" / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_memorizing_model_fails_with_status_1(shell, capsys):
    status, out, _ = shell("check", "memorizing.pt", "mydata:memorizing", *CNN, *FAST, "--min-auc", "0.4", capsys=capsys)
    assert status == cli.FAILED
    assert "'memorizing.pt' looks memorizing (fail)" in out


def test_gate_gives_the_same_decision_as_pytest(shell, capsys, project):
    project.configure(project.model_table("clean"), project.model_table("memorizing"))
    project.run("--memcheck", "--memcheck-report", "pytest.json").assert_outcomes(passed=1, failed=1)
    gated = {o["name"]: o for o in json.loads((project.path / "pytest.json").read_text())["models"]}
    for name, expected in (("clean", cli.PASSED), ("memorizing", cli.FAILED)):
        status, out, _ = shell("check", "--gate", name, "--json", f"{name}.json", capsys=capsys)
        assert status == expected
        mine = json.loads((project.path / f"{name}.json").read_text())["models"][0]
        for key in ("name", "status", "reasons", "margin", "threshold"):
            assert mine[key] == gated[name][key]
        assert mine["result"]["auc"] == gated[name]["result"]["auc"]
    # the run's seed overrides the configuration's, as --memcheck-seed does
    shell("check", "--gate", "clean", "--seed", "3", "--json", "seeded.json", capsys=capsys)
    assert json.loads((project.path / "seeded.json").read_text())["models"][0]["result"]["settings"]["seed"] == 3


def test_a_gate_records_its_baseline_from_the_shell(shell, capsys, project):
    project.configure(project.model_table("clean", extra="max_score_drop = 0.1\n"))
    status, out, _ = shell("check", "--gate", "clean", capsys=capsys)
    assert status == cli.FAILED and "record one with memcheck check --gate clean --update" in " ".join(out.split())
    status, out, _ = shell("check", "--gate", "clean", "--update", capsys=capsys)
    assert status == cli.PASSED and (project.path / "tests" / "memcheck" / "clean.json").is_file()
    status, out, _ = shell("check", "--gate", "clean", capsys=capsys)
    assert status == cli.PASSED and "change +0.000" in out


def test_baseline_comparison_and_its_curve(shell, capsys, project, monkeypatch):
    project.configure(project.model_table("clean", extra="min_auc = 0.4\nmax_drop = 0.1\n"))
    project.run("--memcheck", "--memcheck-update").assert_outcomes(passed=1)
    plots = importlib.import_module("pytest_memcheck.plots")  # sys.modules' own: pytester may have dropped an older import
    drawn = []
    monkeypatch.setattr(plots, "gate_curve", lambda outcome, path, baseline=None: drawn.append(baseline))
    status, out, _ = shell("check", "clean.pt", "mydata:clean", *CNN, *FAST, "--baseline", "tests/memcheck/clean.json",
                           "--max-drop", "0.1", "--plot", "c.png", capsys=capsys)
    assert status == cli.PASSED
    assert "change +0.000" in out and "paired on the same samples" in out
    assert drawn[0]["auc"] == json.loads((project.path / "tests/memcheck/clean.json").read_text())["result"]["auc"]


def test_record_compare_and_refuse_lifecycle(shell, capsys, project):
    """--update records the accepted model's baseline, a later check compares with it, a memorizing one is refused."""
    baseline = project.path / "tests" / "memcheck" / "cli.json"
    record = ["--baseline", "tests/memcheck/cli.json", *CNN, *FAST]
    status, out, _ = shell("check", "clean.pt", "mydata:clean", *record, "--update", capsys=capsys)
    assert status == cli.PASSED and "baseline recorded: tests/memcheck/cli.json" in " ".join(out.split())
    recorded = baseline.read_bytes()
    assert json.loads(recorded)["name"] == "cli"

    status, out, _ = shell("check", "clean.pt", "mydata:clean", *record, capsys=capsys)
    assert status == cli.PASSED and "change +0.000" in out and "paired on the same samples" in out

    status, out, _ = shell("check", "memorizing.pt", "mydata:memorizing", *record, "--update", capsys=capsys)
    assert status == cli.FAILED and "was NOT updated" in " ".join(out.split())
    assert baseline.read_bytes() == recorded  # the accepted model's baseline is never overwritten by a failing one

    # a limit alone (no floor): an untrained model is still not recorded, since the check cannot judge it
    untrained = ["pytest_memcheck.zoo:digits_cnn", "mydata:clean", "--baseline", "tests/memcheck/cli.json", *FAST]
    status, out, _ = shell("check", *untrained, "--max-score-drop", "0.1", "--update", capsys=capsys)
    assert status == cli.FAILED and "was NOT updated: the check cannot judge the model" in " ".join(out.split())
    assert baseline.read_bytes() == recorded

    # a failed comparison says how to record from the shell, not with a pytest run that would not write this file
    status, out, _ = shell("check", "memorizing.pt", "mydata:memorizing", *record, "--max-score-drop", "0.1",
                           capsys=capsys)
    assert status == cli.FAILED
    assert "record it as the baseline with this memcheck check command with --update" in " ".join(out.split())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check", "--gate", "nope"], "no gate named 'nope' in [tool.memcheck.models] of *; configured gates: 'clean'"),
        (["check", "--gate", "clean", "--method", "pca"], "--gate takes the model, data, settings and thresholds from [tool.memcheck.models.clean]; leave out --method"),
        (["check", "clean.pt"], "give MODEL and DATA"),
        (["check", "clean.pt", "mydata:clean"], "holds a state dict; set architecture = "),
        (["check", "clean.pt", "mydata:clean", *CNN, "--max-drop", "0.1"], "--max-drop and --baseline go together"),
        (["check", "clean.pt", "mydata:clean", *CNN, "--baseline", "b.json", "--max-drop", "0.1"],
         "--baseline b.json does not exist; record it from the model you accept: add --update"),
        (["check", "clean.pt", "mydata:clean", *CNN, "--update"], "--update records a baseline: give the file with --baseline PATH"),
        (["check", "clean.pt", "mydata:clean", *CNN, "--min-auc", "1.5"], "min_auc must be between 0 and 1"),
        (["check", "clean.pt", "mydata:nothing", *CNN], "'mydata' has no attribute 'nothing'"),
        # refused before the check runs, and the files are left as they are (the test reads them back)
        (["check", "clean.pt", "mydata:clean", *CNN, "--json", "notes.txt"],
         "--json notes.txt would replace a file that is not a memcheck report"),
        (["check", "clean.pt", "mydata:clean", *CNN, "--plot", "figure.png"],
         "--plot figure.png would replace a file that is not a memcheck plot; choose another path, or delete it"),
        (["check", "clean.pt", "mydata:clean", *CNN, "--plot", "notes.txt"], "--plot notes.txt must end in .png"),
        (["check", "clean.pt", "mydata:clean", *CNN, "--json", "out.png", "--plot", "out.png"],
         "--json and --plot name the same file (out.png); give each its own"),
    ],
)
def test_input_it_cannot_use_exits_2_with_the_fix(shell, capsys, project, argv, message):
    project.configure(project.model_table("clean"))
    (project.path / "notes.txt").write_text("mine")
    (project.path / "figure.png").write_text("mine")
    status, out, err = shell(*argv, capsys=capsys)
    assert status == cli.USAGE
    assert out == ""
    text, at = " ".join(err.split()), 0
    for piece in message.split("*"):  # the pieces in order, anything between them
        assert piece in text[at:], err
        at = text.index(piece, at) + len(piece)
    assert (project.path / "notes.txt").read_text() == (project.path / "figure.png").read_text() == "mine"


def test_dict_items_are_read_with_keys(shell, capsys, project):
    project.pytester.makepyfile(dictdata=(
        "import mydata\nfrom torch.utils.data import Dataset\n\n"
        "class Digits(Dataset):\n"
        "    def __init__(self):\n"
        "        self.x, self.y = mydata.clean()\n"
        "    def __len__(self):\n"
        "        return len(self.y)\n"
        "    def __getitem__(self, i):\n"
        "        return {'img': self.x[i], 'digit': self.y[i]}\n\n"
        "def train():\n"
        "    return Digits()\n"
    ))
    argv = ["check", "clean.pt", "dictdata:train", *CNN, *FAST]
    status, _, err = shell(*argv, capsys=capsys)
    assert status == cli.USAGE and "keys=('img', 'digit')" in err
    status, out, _ = shell(*argv, "--keys", "img", "digit", capsys=capsys)
    assert status == cli.PASSED and "PASS" in out


def test_the_checks_warnings_are_in_the_commands_words(shell, capsys, project):
    project.pytester.makepyfile(loaders=(
        "import warnings\nimport mydata\nfrom torch.utils.data import DataLoader, TensorDataset\n\n"
        "def shuffled():\n"
        "    return DataLoader(TensorDataset(*mydata.clean()), batch_size=64, shuffle=True)\n\n"
        "def warned():\n"
        "    warnings.warn('the data loader of the user has a word to say', UserWarning)\n"
        "    return mydata.clean()\n"
    ))
    status, _, err = shell("check", "clean.pt", "loaders:shuffled", *CNN, *FAST, capsys=capsys)
    assert status == cli.PASSED
    assert err.startswith("memcheck check: warning: ") and "shuffle" in err
    assert "Warning" not in err and ".py:" not in err  # no warning class, no line of a script
    # anybody else's warning goes on to Python's (here pytest's) handler, once, and the check goes on
    with pytest.warns(UserWarning, match="the data loader of the user has a word to say") as seen:
        status, _, _ = shell("check", "clean.pt", "loaders:warned", *CNN, *FAST, capsys=capsys)
    assert status == cli.PASSED and len([w for w in seen if w.category is UserWarning]) == 1


def test_a_gate_asked_for_outside_the_project_root_says_where_to_run(shell, capsys, project, monkeypatch):
    project.configure(project.model_table("clean"))
    (project.path / "tests").mkdir(exist_ok=True)
    monkeypatch.chdir(project.path / "tests")
    status, _, err = shell("check", "--gate", "clean", capsys=capsys)
    assert status == cli.USAGE
    assert f"no gate named 'clean': there is no pyproject.toml in {project.path / 'tests'}; run from the project's root" in " ".join(err.split())


def test_plot_without_matplotlib_says_what_to_install(shell, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, _, err = shell("check", "clean.pt", "mydata:clean", *CNN, "--plot", "c.png", capsys=capsys)
    assert status == cli.USAGE
    assert "--plot needs matplotlib: pip install 'pytest-memcheck[plot]'" in err


def test_check_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "check a saved model (or a configured gate)" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["check", "demo"])
@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_thread_count_below_one_is_a_usage_error(command, value, capsys):
    # torch refused a negative count with a RuntimeError after the model loaded; 0 was silently ignored
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, f"--threads={value}"] + (["clean.pt", "mydata:clean"] if command == "check" else []))
    assert exit_.value.code == cli.USAGE
    assert f"--threads: expected a whole number of threads, 1 or more, got '{value}'" in capsys.readouterr().err
