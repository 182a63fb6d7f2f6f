"""Loading the models and data that [tool.memcheck] names: specs, weights files, pickles, TorchScript."""

from __future__ import annotations

import itertools
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import NOT_FILES, link_to_not_a_file
from pytest_memcheck import loading
from pytest_memcheck.errors import MemcheckError
from pytest_memcheck.loading import load_data, load_model, resolve_object

_counter = itertools.count()


def tiny(width: int = 8) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """A rootdir whose sys.path entry is removed afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


def module(root: Path, source: str, package: bool = False) -> str:
    """Write a module (or a package with module ``mod``) under a fresh name, return the importable name."""
    name = f"memcheck_loading_{next(_counter)}_{root.name.replace('-', '_')}"
    if package:
        (root / name).mkdir()
        (root / name / "__init__.py").write_text("")
        (root / name / "mod.py").write_text(textwrap.dedent(source))
        return f"{name}.mod"
    (root / f"{name}.py").write_text(textwrap.dedent(source))
    return name


ARCH = """
from torch import nn

def build():
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

def build_wide():
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))

def not_a_model():
    return {"weights": 1}

def broken():
    raise RuntimeError("GPU out of coffee")
"""


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------------------------------- specs


def test_resolve_object_imports_from_the_rootdir(root):
    name = module(root, "VALUE = 42\nclass Holder:\n    inner = 'deep'\ndef factory():\n    return 'made'\n", package=True)
    assert resolve_object(f"{name}:VALUE", root) == 42
    assert resolve_object(f"{name}:Holder.inner", root) == "deep"
    assert resolve_object(f"{name}:factory", root)() == "made"
    assert str(root) in sys.path


@pytest.mark.parametrize("spec", ["no_colon", ":attr", "module:", ""])
def test_malformed_spec_is_a_clear_error(root, spec):
    with pytest.raises(MemcheckError, match="is not of the form 'package.module:callable'"):
        resolve_object(spec, root)


def test_missing_module_is_a_clear_error(root):
    with pytest.raises(MemcheckError, match="cannot import 'no_such_module_xyz' for 'no_such_module_xyz:f'"):
        resolve_object("no_such_module_xyz:f", root)


def test_missing_attribute_is_a_clear_error(root):
    name = module(root, "VALUE = 1\n")
    with pytest.raises(MemcheckError, match=f"'{name}' has no attribute 'nope'"):
        resolve_object(f"{name}:nope", root)


def test_module_that_fails_on_import_is_a_clear_error(root):
    name = module(root, "raise RuntimeError('config server unreachable')\n")
    with pytest.raises(MemcheckError, match="raised RuntimeError: config server unreachable") as exc:
        resolve_object(f"{name}:f", root)
    assert name in str(exc.value)
    bad = module(root, "def f(:\n")
    with pytest.raises(MemcheckError, match="SyntaxError"):
        resolve_object(f"{bad}:f", root)


# -------------------------------------------------------------------------------------------- data


def test_load_data_calls_a_callable_and_returns_other_objects(root):
    name = module(root, "import torch\nX = (torch.zeros(2, 4), torch.tensor([0, 1]))\ndef make():\n    return X\n")
    made = load_data(f"{name}:make", root)
    assert made is resolve_object(f"{name}:X", root)
    assert load_data(f"{name}:X", root) is made


def test_data_factory_that_raises_names_it(root):
    name = module(root, "def make():\n    raise FileNotFoundError('train.npz')\n")
    with pytest.raises(MemcheckError, match=rf"'{name}:make' raised FileNotFoundError: train.npz"):
        load_data(f"{name}:make", root)


# ----------------------------------------------------------------------------------- model callables


def test_model_from_a_callable(root):
    name = module(root, ARCH)
    model = load_model(f"{name}:build", root)
    assert isinstance(model, nn.Sequential) and model[1].out_features == 8


def test_model_factory_that_raises_names_it(root):
    name = module(root, ARCH)
    with pytest.raises(MemcheckError, match=rf"'{name}:broken' raised RuntimeError: GPU out of coffee"):
        load_model(f"{name}:broken", root)


def test_model_spec_that_is_not_a_module_is_refused(root):
    name = module(root, ARCH)
    with pytest.raises(MemcheckError, match="gave a dict, not a torch.nn.Module"):
        load_model(f"{name}:not_a_model", root)


@pytest.mark.parametrize("spec", ["weights.pt", "models/missing.pt", "nocolon"])
def test_missing_file_or_malformed_model_spec(root, spec):
    with pytest.raises(MemcheckError, match="is neither an existing file") as exc:
        load_model(spec, root)
    assert str(root) in str(exc.value) and "package.module:callable" in str(exc.value)


# ------------------------------------------------------------------------------------ weights files


@pytest.fixture
def spy_load(monkeypatch):
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return calls


def test_state_dict_file_loads_into_the_architecture_safely(root, spy_load):
    name = module(root, ARCH)
    source = tiny()
    torch.save(source.state_dict(), root / "weights.pt")
    model = load_model("weights.pt", root, architecture=f"{name}:build")
    assert same_weights(model, source)
    assert spy_load == [{"map_location": "cpu", "weights_only": True}]


def test_absolute_path_spec(root):
    project = root / "project"
    project.mkdir()
    name = module(project, ARCH)
    source = tiny()
    (root / "sub").mkdir()
    torch.save(source.state_dict(), root / "sub" / "w.pt")
    assert same_weights(load_model(str(root / "sub" / "w.pt"), project, architecture=f"{name}:build"), source)


@pytest.mark.parametrize("key", ["state_dict", "model_state_dict"])
def test_checkpoint_dict_loads_its_state_dict(root, spy_load, key):
    name = module(root, ARCH)
    source = tiny()
    optimizer = torch.optim.SGD(source.parameters(), lr=0.1, momentum=0.9)
    torch.save({key: source.state_dict(), "epoch": 3, "optimizer": optimizer.state_dict()}, root / "ckpt.pt")
    model = load_model("ckpt.pt", root, architecture=f"{name}:build")
    assert same_weights(model, source)
    assert all(call["weights_only"] for call in spy_load)


def test_state_dict_without_architecture_says_what_to_set(root):
    torch.save(tiny().state_dict(), root / "weights.pt")
    with pytest.raises(MemcheckError, match="holds a state dict; set architecture = 'package.module:build_model'"):
        load_model("weights.pt", root)


def test_weights_that_do_not_fit_the_architecture(root):
    name = module(root, ARCH)
    torch.save(tiny().state_dict(), root / "weights.pt")
    with pytest.raises(MemcheckError, match=rf"do not fit '{name}:build_wide'") as exc:
        load_model("weights.pt", root, architecture=f"{name}:build_wide")
    message = str(exc.value)
    assert "size mismatch for 1.weight" in message  # the detail, not only torch's first line
    assert "weights.pt" in message


def test_weights_go_to_the_runs_device_a_users_model_stays_where_it_is(root, monkeypatch):
    name = module(root, ARCH + "\nSHARED = build()\n\ndef shared():\n    return SHARED\n")
    torch.save(tiny().state_dict(), root / "weights.pt")
    moved = []
    monkeypatch.setattr(nn.Module, "to", lambda self, *a, **k: moved.append(a) or self)
    load_model("weights.pt", root, architecture=f"{name}:build", device="cpu")
    assert moved == [(torch.device("cpu"),)]  # built here from a file: put where the run checks
    load_model(f"{name}:shared", root, device="cpu")
    assert len(moved) == 1  # the user's own object: never moved
    with pytest.raises(MemcheckError, match="device='meta' holds no values"):
        load_model("weights.pt", root, architecture=f"{name}:build", device="meta")
    with pytest.raises(MemcheckError, match="device='gpu' is not a torch device"):
        load_model("weights.pt", root, architecture=f"{name}:build", device="gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="tells what happens where CUDA is missing")
def test_weights_for_a_device_this_machine_lacks_say_so(root):
    name = module(root, ARCH)
    torch.save(tiny().state_dict(), root / "weights.pt")
    with pytest.raises(MemcheckError, match=r"could not be put on 'cuda': .*; run where that device exists"):
        load_model("weights.pt", root, architecture=f"{name}:build", device="cuda")


def test_weights_with_missing_keys(root):
    name = module(root, ARCH)
    torch.save({"1.weight": torch.zeros(8, 4)}, root / "partial.pt")
    with pytest.raises(MemcheckError, match="do not fit") as exc:
        load_model("partial.pt", root, architecture=f"{name}:build")
    assert "Missing key(s)" in str(exc.value)
    assert ":;" not in str(exc.value) and "for Sequential: Missing key(s)" in str(exc.value)  # torch's lines, joined


def test_architecture_that_raises_or_is_not_a_model(root):
    name = module(root, ARCH)
    torch.save(tiny().state_dict(), root / "weights.pt")
    with pytest.raises(MemcheckError, match=rf"'{name}:broken' raised RuntimeError"):
        load_model("weights.pt", root, architecture=f"{name}:broken")
    with pytest.raises(MemcheckError, match=rf"architecture '{name}:not_a_model' gave a dict, not a torch.nn.Module"):
        load_model("weights.pt", root, architecture=f"{name}:not_a_model")


def test_file_holding_something_else_is_refused(root):
    torch.save([torch.zeros(2)], root / "list.pt")
    with pytest.raises(MemcheckError, match="holds a list; expected a state dict"):
        load_model("list.pt", root)


@pytest.mark.parametrize("content", [b"hello, not a torch file", b""], ids=["garbage", "empty"])
def test_damaged_file_is_a_clear_error(root, content):
    (root / "w.pt").write_bytes(content)
    with pytest.raises(MemcheckError, match=r"cannot load .*w\.pt.*damaged, truncated or another kind of file"):
        load_model("w.pt", root, architecture="x:y")


def test_truncated_file_is_a_clear_error(root):
    torch.save(tiny().state_dict(), root / "w.pt")
    data = (root / "w.pt").read_bytes()
    (root / "w.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(MemcheckError, match="cannot load"):
        load_model("w.pt", root, architecture="x:y")


# ------------------------------------------------------------------------- pickles and TorchScript


def test_whole_pickled_module_is_refused_without_trust_pickle(root):
    torch.save(tiny(), root / "whole.pt")
    with pytest.raises(MemcheckError) as exc:
        load_model("whole.pt", root)
    message = str(exc.value)
    assert "trust_pickle = true" in message and "runs code" in message
    assert "state_dict()" in message and "whole.pt" in message
    assert "\x1b[" not in message  # no terminal escapes from torch's own message


def test_whole_pickled_module_is_loaded_with_trust_pickle(root, spy_load):
    source = tiny()
    torch.save(source, root / "whole.pt")
    model = load_model("whole.pt", root, trust_pickle=True)
    assert isinstance(model, nn.Sequential) and same_weights(model, source)
    assert spy_load[-1]["weights_only"] is False


def test_torchscript_file_is_refused_with_the_reason(root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated in recent torch
        torch.jit.script(tiny()).save(str(root / "scripted.pt"))
    for trust in (False, True):
        with pytest.raises(MemcheckError, match="is a TorchScript archive") as exc:
            load_model("scripted.pt", root, trust_pickle=trust)
        assert "cannot be hooked" in str(exc.value) and "state dict" in str(exc.value)


def test_plain_torch_save_zip_is_not_mistaken_for_torchscript(root):
    torch.save(tiny().state_dict(), root / "w.pt")
    with open(root / "w.pt", "rb") as fh:  # the file is opened once, checked, then loaded
        assert not loading._is_torchscript(fh)


# ------------------------------------------------------------------------ files from elsewhere (issue 14)


@pytest.mark.parametrize("target", NOT_FILES)
def test_weights_that_are_not_a_regular_file_are_refused_without_reading(root, target, never_opened):
    link_to_not_a_file(root / "weights.pt", target)
    never_opened(root / "weights.pt")
    name = module(root, ARCH)
    with pytest.raises(MemcheckError, match=r"cannot load model file .*weights.pt: it is .*not a regular file"):
        load_model("weights.pt", root, architecture=f"{name}:build")


def test_weights_larger_than_the_limit_are_refused(root, monkeypatch):
    name = module(root, ARCH)
    torch.save(tiny().state_dict(), root / "weights.pt")
    monkeypatch.setattr(loading, "MAX_WEIGHTS_BYTES", 100)
    with pytest.raises(MemcheckError, match="larger than the limit"):
        load_model("weights.pt", root, architecture=f"{name}:build")


def test_weights_files_are_refused_on_a_torch_where_weights_only_can_be_bypassed(root, monkeypatch, spy_load):
    name = module(root, ARCH)
    torch.save(tiny().state_dict(), root / "weights.pt")
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    with pytest.raises(MemcheckError, match=r"torch 2.5.1\+cpu.*CVE-2025-32434.*torch>=2.6"):
        load_model("weights.pt", root, architecture=f"{name}:build")
    assert spy_load == []  # refused before reading the file
    # with trust_pickle the user has accepted that the file runs code: nothing more to protect
    assert isinstance(load_model("weights.pt", root, architecture=f"{name}:build", trust_pickle=True), nn.Module)


def test_a_model_built_for_the_gate_is_in_eval_mode(root):
    name = module(root, ARCH)
    torch.save(tiny().state_dict(), root / "weights.pt")
    assert not load_model("weights.pt", root, architecture=f"{name}:build").training
