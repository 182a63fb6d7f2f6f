"""The README's TOML and Python blocks, run as written, so that they cannot drift from the code.

The blocks name a user's package ``mypkg`` (``mypkg.models``, ``mypkg.data``) and, in the library
section, a ``model`` and its training data; the tests provide exactly those, built from the
session's trained digits CNN. Shell blocks set up machines and are not run here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from pytest_memcheck import config, zoo
from pytest_memcheck.gate import Thresholds

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, re.M | re.S)
TOML = [code for lang, code in BLOCKS if lang == "toml"]
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
FIXTURE = [code for code in PYTHON if "def test_" in code and "(memcheck)" in code]
#: The gate-fixture block is examples/digits_project/tests/test_gate_fixtures.py, run by test_plugin_gate_fixtures;
#: the Lightning block trains for 100 epochs, as examples/lightning_early_stopping.py (test_lightning) does.
LIBRARY = [code for code in PYTHON if "def test_" not in code and "lightning" not in code]

MYPKG_MODELS = '''
from pathlib import Path

import torch
from torch import nn

from pytest_memcheck import zoo

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "candidate.pt"


class Net(nn.Module):
    """The digits CNN as feature extractor and classifier."""

    def __init__(self):
        super().__init__()
        layers = list(zoo.digits_cnn())
        self.features = nn.Sequential(*layers[:7])  # ReLUs at features.1, features.3, features.6
        self.classifier = nn.Sequential(*layers[7:])

    def forward(self, x):
        return self.classifier(self.features(x))


def build():
    return Net()


def load_candidate():
    model = build()
    model.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    return model.eval()
'''

MYPKG_DATA = '''
from pytest_memcheck import zoo


def train_set():
    return zoo.digits(0.0, seed=0).train
'''


def test_the_readme_has_the_blocks_these_tests_run():
    assert len(TOML) >= 2 and len(FIXTURE) == 1 and len(LIBRARY) >= 2


def test_every_toml_block_is_a_valid_configuration(tmp_path):
    import tomllib

    table = tomllib.loads("\n".join(TOML))["tool"]["memcheck"]
    cfg = config.parse(table, tmp_path)
    assert set(cfg.models) == {"candidate", "candidate_weights"}
    assert cfg.models["candidate_weights"].trust_pickle is False


def test_the_readme_lists_exactly_the_keys_a_model_table_takes():
    paragraph = README[README.index("A model table may set exactly these keys:") :].split("\n\n")[0]
    listed = paragraph.split(". The seed")[0]
    assert set(re.findall(r"`(\w+)`", listed)) - {"check"} == set(config.MODEL_KEYS)


def _net(trained: nn.Module) -> nn.Module:
    """The session's trained CNN as the README's ``mypkg.models.Net`` (same modules, other names)."""
    renamed = nn.Module()
    layers = list(trained)
    renamed.features, renamed.classifier = nn.Sequential(*layers[:7]), nn.Sequential(*layers[7:])
    namespace = {"__file__": "mypkg/models.py", "__name__": "readme_mypkg_models"}
    exec(MYPKG_MODELS, namespace)
    net = namespace["Net"]()
    net.load_state_dict(renamed.state_dict())
    return net.eval()


@pytest.fixture
def readme_project(pytester: pytest.Pytester, clean_cnn) -> pytest.Pytester:
    """A project as the README describes it: mypkg, its weights, the README's TOML and test."""
    pytester.mkpydir("mypkg")
    (pytester.path / "mypkg" / "models.py").write_text(MYPKG_MODELS)
    (pytester.path / "mypkg" / "data.py").write_text(MYPKG_DATA)
    (pytester.path / "weights").mkdir()
    torch.save(_net(clean_cnn[0]).state_dict(), pytester.path / "weights" / "candidate.pt")
    pytester.makefile(".toml", pyproject="\n".join(TOML))
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_readme_example.py").write_text(FIXTURE[0])
    pytester.syspathinsert()  # mypkg is importable, as an installed package would be
    return pytester


def test_the_gate_section_runs_as_written(readme_project):
    run = lambda *args: readme_project.runpytest("-p", "no:cacheprovider", "--memcheck", *args)  # noqa: E731
    first = run("--memcheck-report=report.json")
    # the two gates on the default thresholds have no baseline yet; the AuC-floor gate passes
    first.assert_outcomes(passed=1, failed=2)
    first.stdout.fnmatch_lines(["*has no baseline to compare with*", "*record one with pytest --memcheck --memcheck-update"])
    models = {m["name"]: m for m in json.loads((readme_project.path / "report.json").read_text())["models"]}
    assert models["candidate"]["result"]["layers"] == ["features.3", "features.6"]
    assert models["candidate"]["min_score"] == Thresholds().min_score and models["candidate"]["min_auc"] is None
    assert models["candidate_weights"]["status"] == "pass" and models["candidate_weights"]["min_auc"] == 0.6
    assert models["test_readme_example.test_classifier_generalizes"]["max_score_drop"] == Thresholds().max_score_drop

    update = run("--memcheck-update")
    update.assert_outcomes(passed=3)
    update.stdout.fnmatch_lines(["*baseline recorded: tests/memcheck/candidate.json*"])
    run().assert_outcomes(passed=3)


def test_the_library_section_runs_as_written(clean_cnn):
    model = _net(clean_cnn[0])
    x_train, y_train = zoo.digits(0.0, seed=0).train
    namespace = {
        "model": model,
        "x_train": x_train,
        "y_train": y_train,
        "data": (x_train, y_train),
        "A": torch.rand(64, 12, generator=torch.Generator().manual_seed(0)),
        "epochs": 2,
        "train_one_epoch": lambda model: None,
    }
    for code in LIBRARY:
        exec(compile(code, "README.md", "exec"), namespace)
