"""Baselines: the stored result of an accepted model, one JSON file per model.

Written atomically (temporary file in the same folder, fsync, ``os.replace``)
under an exclusive lock, so that an interrupted run or concurrent pytest-xdist
workers leave either the old file or the new one, never a mix. A baseline is
only compared with a result of the same architecture and settings; anything
else is reported, not compared.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import glob
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import BaselineError
from .result import SCHEMA_VERSION, CheckResult

#: Settings that change what the AuC measures; a baseline must match them all.
COMPARED_SETTINGS = ("method", "ks", "residual", "iterations", "samples_per_class", "batches", "classes")


def fingerprint(model: Any) -> str:
    """A short hash of the architecture: module names, types and parameter shapes (not values)."""
    parts = [
        f"{name}:{type(module).__name__}:" + ",".join(f"{p}{tuple(t.shape)}" for p, t in module.named_parameters(recurse=False))
        for name, module in model.named_modules()
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass
class Baseline:
    name: str
    fingerprint: str
    result: CheckResult
    created: str
    tool_version: str

    def mismatch(self, result: CheckResult, fingerprint: str) -> str | None:
        """Why ``result`` cannot be compared with this baseline, or None if it can."""
        if fingerprint != self.fingerprint:
            return (
                f"the baseline was recorded for another architecture (fingerprint {self.fingerprint}, "
                f"this model has {fingerprint})"
            )
        return settings_mismatch(self.result, result)


def settings_mismatch(baseline: CheckResult, result: CheckResult) -> str | None:
    """Why ``result`` was measured differently from ``baseline`` (seed and device aside), or None."""
    diffs = [
        f"{key}: baseline {baseline.settings.get(key)!r}, now {result.settings.get(key)!r}"
        for key in COMPARED_SETTINGS
        if _plain(baseline.settings.get(key)) != _plain(result.settings.get(key))
    ]
    if list(baseline.layers) != list(result.layers):
        diffs.append(f"layers: baseline {baseline.layers}, now {result.layers}")
    if diffs:
        return "the baseline was recorded with other settings (" + "; ".join(diffs) + ")"
    return None


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so that a round trip is no mismatch."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    if not cleaned:
        raise BaselineError(f"cannot make a file name from baseline name {name!r}")
    return cleaned


_FIX = "restore it from version control, or delete it and run pytest --memcheck --memcheck-update"


class BaselineStore:
    """A folder of ``<name>.json`` baselines."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        return self.directory / f"{_safe_name(name)}.json"

    def load(self, name: str) -> Baseline | None:
        """The stored baseline, None if there is none; a clear error if the file is unusable."""
        path = self.path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BaselineError(f"cannot read baseline {path}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise BaselineError(f"baseline {path} is corrupt (not UTF-8 text: {exc.reason}); {_FIX}") from exc
        fix = _FIX
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"baseline {path} is corrupt or truncated ({exc.msg} at line {exc.lineno}); {fix}") from exc
        if not isinstance(data, dict) or data.get("format") != "pytest-memcheck-baseline":
            raise BaselineError(f"{path} is not a pytest-memcheck baseline; {fix}")
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise BaselineError(
                f"baseline {path} has schema {schema} from pytest-memcheck {data.get('tool_version')}, this version "
                f"reads schema {SCHEMA_VERSION}; re-record it with pytest --memcheck --memcheck-update"
            )
        try:
            return Baseline(
                name=data["name"],
                fingerprint=data["fingerprint"],
                result=CheckResult.from_dict(data["result"]),
                created=data["created"],
                tool_version=data["tool_version"],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BaselineError(f"baseline {path} is missing or has malformed fields ({exc!r}); {fix}") from exc

    def save(self, name: str, result: CheckResult, fingerprint: str) -> Path:
        """Write (or replace) a baseline atomically; the old file survives any failure."""
        from . import __version__

        path = self.path(name)
        payload = {
            "format": "pytest-memcheck-baseline",
            "schema": SCHEMA_VERSION,
            "tool_version": __version__,
            "name": name,
            "fingerprint": fingerprint,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "result": result.to_dict(),
        }
        text = json.dumps(payload, indent=2) + "\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with _locked(self.directory):
                # every writer holds the lock while it writes: a temporary file seen now was left by a killed one
                for stale in self.directory.glob(f".{glob.escape(path.name)}.*.tmp") if _CAN_LOCK else ():
                    with contextlib.suppress(OSError):
                        stale.unlink()
                atomic_write(path, text)
        except OSError as exc:
            raise BaselineError(
                f"could not write baseline {path}: {exc.strerror or exc}; the previous baseline, if any, is unchanged"
            ) from exc
        return path


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new content, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            # mkstemp makes the file 0600; the result is a file kept in the repository and read by others
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), _mode(path))
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _mode(path: Path) -> int:
    """The permissions the file keeps (if it exists) or gets (``0o666`` less the umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
_CAN_LOCK = fcntl is not None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive advisory lock on the folder itself, between processes.

    Locking the directory leaves no lock file behind for users to commit. A
    no-op where ``fcntl`` is missing.
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
