"""Load the models and data that ``[tool.memcheck]`` names.

A spec is ``"package.module:attribute"`` (called if callable), or for models a
file path relative to the rootdir: a state dict or checkpoint loaded with
``torch.load(weights_only=True)`` into ``architecture``. Loading a whole pickled
module runs code from the file, so it happens only with ``trust_pickle = true``.
TorchScript files are refused with an explanation: their modules cannot carry
the forward hooks the check needs.
"""

from __future__ import annotations

import importlib
import sys
import zipfile
from pathlib import Path
from typing import Any

from .errors import MemcheckError


def resolve_object(spec: str, rootdir: Path) -> Any:
    """Import ``"package.module:attr.sub"`` with ``rootdir`` importable, and return the object."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise MemcheckError(f"{spec!r} is not of the form 'package.module:callable'")
    root = str(rootdir)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise MemcheckError(f"cannot import {module_name!r} for {spec!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise MemcheckError(f"{module_name!r} has no attribute {attr!r} (from {spec!r})") from exc
    return obj


def _call(obj: Any, spec: str) -> Any:
    if not callable(obj):
        return obj
    try:
        return obj()
    except MemcheckError:
        raise
    except Exception as exc:
        raise MemcheckError(f"{spec!r} raised {type(exc).__name__}: {exc}") from exc


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in zf.namelist())


def load_model(spec: str, rootdir: Path, *, architecture: str | None = None, trust_pickle: bool = False) -> Any:
    """The ``nn.Module`` a model spec names."""
    import torch
    from torch import nn

    path = (rootdir / spec) if not Path(spec).is_absolute() else Path(spec)
    if ":" in spec and not path.exists():
        model = _call(resolve_object(spec, rootdir), spec)
    elif path.exists():
        model = _load_file(path, rootdir, architecture, trust_pickle, torch)
    else:
        raise MemcheckError(
            f"model {spec!r} is neither an existing file (relative to {rootdir}) nor 'package.module:callable'"
        )
    if not isinstance(model, nn.Module):
        raise MemcheckError(f"model {spec!r} gave a {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_file(path: Path, rootdir: Path, architecture: str | None, trust_pickle: bool, torch: Any) -> Any:
    if _is_torchscript(path):
        raise MemcheckError(
            f"{path} is a TorchScript archive; scripted modules cannot be hooked, so memcheck cannot compress "
            "their activations. Save a state dict instead and set model = 'weights.pt' with "
            "architecture = 'package.module:build_model'"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for the same problem
        hint = (
            " It holds more than weights: if you trust the file, set trust_pickle = true (this runs code from it)."
            if not trust_pickle and "weights_only" in str(exc)
            else ""
        )
        raise MemcheckError(f"cannot load {path}: {str(exc).splitlines()[0]}.{hint}") from exc
    if isinstance(obj, torch.nn.Module):
        return obj
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise MemcheckError(f"{path} holds a {type(obj).__name__}; expected a state dict or a checkpoint with one")
    if architecture is None:
        raise MemcheckError(
            f"{path} holds a state dict; set architecture = 'package.module:build_model' to build the model to load it into"
        )
    model = _call(resolve_object(architecture, rootdir), architecture)
    try:
        model.load_state_dict(obj)
    except RuntimeError as exc:
        raise MemcheckError(f"the weights in {path} do not fit {architecture!r}: {str(exc).splitlines()[0]}") from exc
    return model


def load_data(spec: str, rootdir: Path) -> Any:
    """The data a data spec names: ``(x, y)``, a Dataset or a DataLoader."""
    return _call(resolve_object(spec, rootdir), spec)
