"""The memcheck_model and memcheck_batches fixtures: a configured gate's model and batches in a user's test."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pytest_memcheck import config as memcheck_config
from pytest_memcheck import zoo
from pytest_memcheck.gates import ConfiguredGates

USER_TESTS = """
import torch
import mydata

def test_model_is_the_configured_one(memcheck_model):
    model = memcheck_model("clean")
    expected = torch.load("clean.pt", weights_only=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in expected.items())
    assert memcheck_model("clean") is model  # loaded once per session

def test_batches_are_class_sorted_training_samples(memcheck_batches):
    batches = memcheck_batches("clean")
    x, y = mydata.clean()
    assert batches.classes == list(range(10))
    assert batches.y.shape == (10, 20) and batches.x.shape == (200, 1, 8, 8)
    assert (batches.y == torch.tensor(batches.classes)[:, None]).all()
    assert torch.equal(batches.x, x[batches.index.flatten()])
    assert torch.equal(batches.y, y[batches.index])
    assert memcheck_batches("clean") is batches
    print("SEED-DRAW", batches.index[0, :3].tolist())

def test_unknown_name(memcheck_model):
    memcheck_model("clen")
"""


@pytest.fixture
def fixture_project(project):
    project.configure(project.model_table("clean"), project.model_table("broken", weights="clean", data="explode"))
    project.pytester.makepyfile(mydata=(Path(project.path) / "mydata.py").read_text() + "\n\ndef explode():\n    raise RuntimeError('data of broken loaded')\n")
    project.pytester.makepyfile(test_user=USER_TESTS)
    return project


@pytest.mark.parametrize("flags", [(), ("--memcheck", "-k", "test_user")])
def test_fixtures_with_and_without_memcheck(fixture_project, flags):
    result = fixture_project.run("test_user.py", *flags)
    result.assert_outcomes(passed=2, failed=1)
    # the unknown name lists the configured gates; the broken gate's data was never loaded
    result.stdout.fnmatch_lines(["*no gate named 'clen' in [[]tool.memcheck.models[]] of *pyproject.toml; configured gates: 'clean', 'broken'*"])
    result.stdout.no_fnmatch_line("*data of broken loaded*")


def test_errors_show_the_users_line_not_the_plugins(fixture_project):
    result = fixture_project.run("test_user.py", "-k", "unknown")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['>       memcheck_model("clen")', "E       *no gate named 'clen'*"])
    assert "gates.py" not in result.stdout.str()
    # a typo in the configuration, without --memcheck: one line that says so, at the fixtures' setup
    config = fixture_project.path / "pyproject.toml"
    config.write_text(config.read_text().replace("[tool.memcheck.models.clean]", "[tool.memcheck.models.clean]\nlayer = 3"))
    result = fixture_project.run("test_user.py", "-k", "unknown")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*memcheck configuration error: *unknown key 'layer'*did you mean 'layers'*"])
    assert "plugin.py" not in result.stdout.str() and "config.py" not in result.stdout.str()


def test_batches_follow_the_seed_option(fixture_project):
    draws = []
    for seed in ("0", "5"):
        result = fixture_project.run("test_user.py", "-s", "-k", "batches", "--memcheck-seed", seed)
        result.assert_outcomes(passed=1)
        draws.append([line for line in result.outlines if "SEED-DRAW" in line])
    assert draws[0] != draws[1]


def test_fixtures_are_documented(pytester: pytest.Pytester):
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["memcheck_model*", "*Load the model of a gate*", "memcheck_batches*", "*class-sorted batches*"])


def _gates(tmp_path: Path, *, repeats: int = 1, batches: str = "single") -> ConfiguredGates:
    (tmp_path / "gatedata.py").write_text(
        "from pytest_memcheck import zoo\n\ndef train():\n    return zoo.digits(0.0, seed=0).train\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.memcheck.models.cnn]\nmodel = "pytest_memcheck.zoo:digits_cnn"\ndata = "gatedata:train"\n'
        f'min_auc = 0.5\nsamples_per_class = 4\nks = [1, 2]\nrepeats = {repeats}\nbatches = "{batches}"\n'
    )
    return ConfiguredGates(memcheck_config.load(tmp_path), tmp_path, seed=3)


@pytest.mark.parametrize("repeats, batches", [(1, "single"), (2, "multi")])
def test_batches_are_the_ones_the_gate_checks(tmp_path, repeats, batches):
    """The draw fingerprint of the gate's own result matches the fixture's batches, repeat by repeat."""
    from pytest_memcheck.engine import _draw_fingerprint

    gates = _gates(tmp_path, repeats=repeats, batches=batches)
    torch.manual_seed(0)
    outcome = gates.outcome("cnn")
    drawn = [gates.batches("cnn", r) for r in range(repeats)]
    assert outcome.result.settings["draw"] == _draw_fingerprint(drawn)
    assert outcome.result.settings["seed"] == 3
    with pytest.raises(ValueError, match=f"repeats = {repeats}.*repeat={repeats} must be in 0..{repeats - 1}"):
        gates.batches("cnn", repeats)


def test_batches_read_dict_items_with_the_gates_keys(tmp_path):
    (tmp_path / "dictdata.py").write_text(
        "from torch.utils.data import Dataset\n"
        "from pytest_memcheck import zoo\n\n"
        "class Digits(Dataset):\n"
        "    def __init__(self):\n"
        "        self.x, self.y = zoo.digits(0.0, seed=0).train\n"
        "    def __len__(self):\n"
        "        return len(self.y)\n"
        "    def __getitem__(self, i):\n"
        "        return {'img': self.x[i], 'cls': self.y[i]}\n\n"
        "def train():\n"
        "    return Digits()\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.memcheck.models.cnn]\nmodel = "pytest_memcheck.zoo:digits_cnn"\ndata = "dictdata:train"\n'
        'min_auc = 0.5\nsamples_per_class = 4\nks = [1, 2]\nkeys = ["img", "cls"]\n'
    )
    gates = ConfiguredGates(memcheck_config.load(tmp_path), tmp_path, seed=3)
    from pytest_memcheck.engine import _draw_fingerprint

    torch.manual_seed(0)
    batches = gates.batches("cnn")  # names neither of the common keys: drawn only with the gate's own
    assert gates.outcome("cnn").result.settings["draw"] == _draw_fingerprint([batches])
    x, y = zoo.digits(0.0, seed=0).train
    assert torch.equal(batches.x, x[batches.index.flatten()]) and torch.equal(batches.y, y[batches.index])


def test_model_is_loaded_once_and_only_when_asked(tmp_path):
    gates = _gates(tmp_path)
    assert gates._models == {} and gates._data == {}
    model = gates.model("cnn")
    assert isinstance(model, torch.nn.Module) and gates.model("cnn") is model
    assert gates._data == {}
    x, _ = zoo.digits(0.0, seed=0).train
    assert torch.equal(gates.batches("cnn").x, x[gates.batches("cnn").index.flatten()])


def test_the_example_projects_fixture_tests_pass(pytester: pytest.Pytester):
    """The README's fixture example, as examples/digits_project runs it."""
    project = Path(__file__).resolve().parent.parent / "examples" / "digits_project"
    result = pytester.runpytest(
        str(project / "tests" / "test_gate_fixtures.py"), "--rootdir", str(project), "-c", str(project / "pyproject.toml"),
        "-p", "no:cacheprovider",
    )
    result.assert_outcomes(passed=2)
