"""Load the models and data that ``[tool.memcheck]`` names.

A spec is ``"package.module:attribute"`` (called if callable), or for models a
file path relative to the rootdir: a state dict or checkpoint loaded with
``torch.load(weights_only=True)`` into ``architecture``. Loading a whole pickled
module runs code from the file, so it happens only with ``trust_pickle = true``.
TorchScript files are refused with an explanation: their modules cannot carry
the forward hooks the check needs.

Weights files may come from elsewhere (a model registry, a CI artifact): they are
read only if they are regular files (symlinks resolved; no devices, FIFOs or
folders) of bounded size, and only with a torch whose ``weights_only=True`` holds
(2.6 and later: CVE-2025-32434).
"""

from __future__ import annotations

import importlib
import re
import sys
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from .errors import MemcheckError
from .escape import log_line
from .files import open_regular

#: Largest weights file loaded.
MAX_WEIGHTS_BYTES = 64 * 2**30
#: The first torch whose torch.load(weights_only=True) cannot be made to run code (CVE-2025-32434).
SAFE_TORCH = (2, 6)


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
    except Exception as exc:  # the module itself fails: SyntaxError, an error at import time, ...
        raise MemcheckError(f"importing {module_name!r} for {spec!r} raised {type(exc).__name__}: {exc}") from exc
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


def _is_torchscript(fh: BinaryIO) -> bool:
    try:
        if not zipfile.is_zipfile(fh):
            return False
        with zipfile.ZipFile(fh) as zf:
            return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):  # damaged: torch.load reports it
        return False
    finally:
        fh.seek(0)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:2])


_ANSI = re.compile(r"\x1b\[[0-9;]*m")

#: Keys under which checkpoints commonly keep the model's weights.
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")


def _first_lines(exc: BaseException, n: int = 1) -> str:
    # torch's messages may quote the file (a pickled global's name): keep them inert in a CI log
    lines = [log_line(line.strip()) for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    text = "".join(("" if i == 0 else " " if lines[i - 1].endswith(":") else "; ") + line
                   for i, line in enumerate(lines[:n]))  # "... for Linear: Missing key(s) ...", not "Linear:;"
    return text + (f" (and {len(lines) - n} more)" if len(lines) > n else "")


def load_model(
    spec: str, rootdir: Path, *, architecture: str | None = None, trust_pickle: bool = False, device: str | None = None
) -> Any:
    """The ``nn.Module`` a model spec names.

    A model read from a weights file is built here, for the check alone, so it
    is put on ``device`` (the run's ``--memcheck-device``); one that the user's
    callable returns stays where that callable put it (memcheck never moves a
    user's model).
    """
    import torch
    from torch import nn

    path = (rootdir / spec) if not Path(spec).is_absolute() else Path(spec)
    on_disk = path.exists()
    if ":" in spec and not on_disk:
        model = _call(resolve_object(spec, rootdir), spec)
    elif on_disk:
        model = _load_file(path, rootdir, architecture, trust_pickle, torch)
    else:
        raise MemcheckError(
            f"model {spec!r} is neither an existing file (relative to {rootdir}) nor 'package.module:callable'"
        )
    if not isinstance(model, nn.Module):
        raise MemcheckError(f"model {spec!r} gave a {type(model).__name__}, not a torch.nn.Module")
    return _placed(model, device, spec) if on_disk and device is not None else model


def _placed(model: Any, device: str, spec: str) -> Any:
    """A model memcheck loaded itself, on the device the run asks for."""
    from .engine import parse_device

    wanted = parse_device(device)
    if wanted.type == "meta":
        raise MemcheckError(f"device='meta' holds no values, so the weights of {spec!r} cannot be checked there")
    try:
        return model.to(wanted)
    except (RuntimeError, AssertionError) as exc:  # torch says "not compiled with CUDA" with an AssertionError
        raise MemcheckError(
            f"the weights of {spec!r} could not be put on {device!r}: {_first_lines(exc)}; run where that device "
            "exists, or leave the device unset to check on the CPU"
        ) from exc


def _load_file(path: Path, rootdir: Path, architecture: str | None, trust_pickle: bool, torch: Any) -> Any:
    if not trust_pickle and _version(torch.__version__) < SAFE_TORCH:
        raise MemcheckError(
            f"cannot load {path} safely with torch {torch.__version__}: before torch 2.6, a file can run code even "
            "through torch.load(weights_only=True) (CVE-2025-32434). Upgrade torch (pip install 'torch>=2.6'), or "
            "load the model in your own code and name that function: model = 'package.module:load_model'"
        )
    try:
        with open_regular(path, MAX_WEIGHTS_BYTES) as fh:
            if _is_torchscript(fh):
                raise MemcheckError(
                    f"{path} is a TorchScript archive; scripted modules cannot be hooked, so memcheck cannot compress "
                    "their activations. Save a state dict instead and set model = 'weights.pt' with "
                    "architecture = 'package.module:build_model'"
                )
            obj = torch.load(fh, map_location="cpu", weights_only=not trust_pickle)
    except MemcheckError:
        raise
    except OSError as exc:  # not a regular file, too large, unreadable
        raise MemcheckError(f"cannot load model file {path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for the same problem
        if not trust_pickle and "weights_only" in str(exc).lower().replace(" ", "_"):
            raise MemcheckError(
                f"cannot load {path} as weights (torch.load(weights_only=True)): it holds more than tensors, "
                "e.g. a whole pickled nn.Module. Save model.state_dict() instead and set architecture = "
                "'package.module:build_model'; or, only if you trust the file, set trust_pickle = true "
                "(unpickling it runs code from it)"
            ) from exc
        raise MemcheckError(
            f"cannot load {path} ({type(exc).__name__}: {_first_lines(exc) or 'no details'}); it should be a state dict "
            "or checkpoint written by torch.save: is it damaged, truncated or another kind of file?"
        ) from exc
    if isinstance(obj, torch.nn.Module):
        return obj
    if isinstance(obj, dict):
        for key in CHECKPOINT_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise MemcheckError(f"{path} holds a {type(obj).__name__}; expected a state dict or a checkpoint with one")
    if architecture is None:
        raise MemcheckError(
            f"{path} holds a state dict; set architecture = 'package.module:build_model' to build the model to load it into"
        )
    model = _call(resolve_object(architecture, rootdir), architecture)
    if not isinstance(model, torch.nn.Module):
        raise MemcheckError(f"architecture {architecture!r} gave a {type(model).__name__}, not a torch.nn.Module")
    try:
        model.load_state_dict(obj)
    except Exception as exc:  # RuntimeError for missing/unexpected keys and shapes, others for odd values
        raise MemcheckError(
            f"the weights in {path} do not fit {architecture!r}: {_first_lines(exc, 4)}; check that architecture "
            "builds the model these weights were saved from"
        ) from exc
    return model.eval()  # built here for the gate alone: a fresh module's training flag means nothing


def load_data(spec: str, rootdir: Path) -> Any:
    """The data a data spec names: ``(x, y)``, a Dataset or a DataLoader."""
    return _call(resolve_object(spec, rootdir), spec)
