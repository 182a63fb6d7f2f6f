"""Baselines: the stored result of an accepted model, one JSON file per model.

Written atomically (temporary file in the same folder, fsync, ``os.replace``)
under an exclusive lock, so that an interrupted run or concurrent pytest-xdist
workers leave either the old file or the new one, never a mix. A baseline is
only compared with a result of the same model name, architecture and settings;
anything else is reported, not compared. A baseline file may have been edited by
hand: every field is validated on load, and a file that fails is an error that
names the field, never a comparison. A file that memcheck did not write, or the
baseline of another model, is never replaced.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import BaselineError
from .escape import log_line
from .files import read_bytes
from .result import READABLE_SCHEMAS, SCHEMA_VERSION, CheckResult, loads, parse

#: Settings that change what the AuC measures; a baseline must match them all.
COMPARED_SETTINGS = ("method", "ks", "residual", "iterations", "samples_per_class", "batches", "classes")
#: Largest baseline file read.
MAX_BYTES = 64 * 2**20
FORMAT = "pytest-memcheck-baseline"


def modules(model: Any) -> dict[str, str]:
    """The architecture as stored in a baseline: each module's type and parameter shapes (not values), by name."""
    return {
        name: f"{type(module).__name__}:" + ",".join(f"{p}{tuple(t.shape)}" for p, t in module.named_parameters(recurse=False))
        for name, module in model.named_modules()
    }


def _hash(described: dict[str, str]) -> str:
    return hashlib.sha256("\n".join(f"{name}:{d}" for name, d in described.items()).encode()).hexdigest()[:16]


def fingerprint(model: Any) -> str:
    """A short hash of the architecture: module names, types and parameter shapes (not values)."""
    return _hash(modules(model))


def _readable(description: str) -> str:
    """``"Linear:weight(2, 8),bias(2,)"`` as ``"Linear weight(2, 8), bias(2,)"``."""
    kind, _, params = description.partition(":")
    return " ".join([kind, *([", ".join(re.split(r"(?<=\)),", params))] if params else [])])


def architecture_change(before: dict[str, str], after: dict[str, str], shown: int = 3) -> str:
    """What changed between two :func:`modules` records, in words: modules added, removed, changed."""

    def listing(verb: str, items: list[str]) -> str:
        more = f" and {len(items) - shown} more" if len(items) > shown else ""
        return f"{len(items)} {verb}: {', '.join(items[:shown])}{more}"

    def named(name: str) -> str:
        return name or "<the model itself>"

    changed = [
        f"{named(n)} ({_readable(before[n])} -> {_readable(after[n])})" for n in before if n in after and before[n] != after[n]
    ]
    parts = [
        listing("added", [f"{named(n)} ({_readable(d)})" for n, d in after.items() if n not in before]),
        listing("removed", [f"{named(n)} ({_readable(d)})" for n, d in before.items() if n not in after]),
        listing("changed", changed),
    ]
    return "; ".join(p for p in parts if not p.startswith("0 ")) or "the same modules in another order"


@dataclass(frozen=True)
class Baseline:
    name: str
    fingerprint: str
    result: CheckResult
    created: str
    tool_version: str
    #: :func:`modules` of the recorded model; None in baselines written before it was recorded.
    modules: dict[str, str] | None = None

    def mismatch(self, result: CheckResult, fingerprint: str, modules: dict[str, str] | None = None) -> str | None:
        """Why ``result`` cannot be compared with this baseline, or None if it can."""
        if fingerprint != self.fingerprint:
            if self.modules is not None and modules is not None:
                return f"the baseline was recorded for another architecture ({architecture_change(self.modules, modules)})"
            return (
                "the baseline was recorded for another architecture (module names, types or parameter shapes "
                "differ; this baseline is older than the record of its modules, so which ones is not known)"
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


def safe_name(name: str) -> str:
    """The file name (without ``.json``) a baseline name is stored under."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    if not cleaned:
        raise BaselineError(f"cannot make a file name from baseline name {name!r}")
    return cleaned


_FIX = "restore it from version control, or delete it and run pytest --memcheck --memcheck-update"


def _text(value: Any, where: str, pattern: str = r"[^\x00-\x1f\x7f]{1,1000}") -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise BaselineError(
            f"field {where!r} must be a string of up to 1000 printable characters, got {log_line(repr(str(value)[:60]))}"
        )
    return value


def _modules(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BaselineError(f"field 'modules' must be an object, got {type(value).__name__}")
    return {_text(k, "modules", r"[^\x00-\x1f\x7f]{0,1000}"): _text(v, f"modules.{k}") for k, v in value.items()}


def parse_baseline(data: Any, name: str, path: Path) -> Baseline:
    """A baseline from the parsed content of ``path``, validated; every problem names the file and the fix."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BaselineError(f"{path} is not a pytest-memcheck baseline; {_FIX}")
    schema = data.get("schema")
    if isinstance(schema, bool) or schema not in READABLE_SCHEMAS:
        raise BaselineError(
            f"baseline {path} has schema {log_line(str(schema)[:20])} from pytest-memcheck "
            f"{log_line(str(data.get('tool_version'))[:20])}, "
            f"this version reads schemas {', '.join(map(str, READABLE_SCHEMAS))}; re-record it with "
            "pytest --memcheck --memcheck-update"
        )
    try:
        baseline = Baseline(
            name=_text(data.get("name"), "name", r"[\s\S]{1,1000}"),  # any name save() takes; shown escaped
            fingerprint=_text(data.get("fingerprint"), "fingerprint", r"[0-9a-f]{1,64}"),
            result=parse(data.get("result"), "result"),
            created=_text(data.get("created"), "created"),
            tool_version=_text(data.get("tool_version"), "tool_version"),
            modules=_modules(data.get("modules")),
        )
        if baseline.modules is not None and _hash(baseline.modules) != baseline.fingerprint:
            raise BaselineError("field 'modules' does not match field 'fingerprint'")
    except BaselineError as exc:
        raise BaselineError(f"baseline {path} is missing or has malformed fields: {exc}; {_FIX}") from exc
    if baseline.name != name:
        raise BaselineError(
            f"baseline {path} holds the baseline of model {log_line(repr(baseline.name))}, not of {log_line(repr(name))}: "
            "both names map to "
            f"the file {path.name}; rename one of them (characters other than letters, digits, '.', '_' and '-' "
            "become '_' in file names)"
        )
    return baseline


def read_json(path: Path, what: str, limit: int = MAX_BYTES) -> Any:
    """The parsed JSON content of ``path`` (a regular file of bounded size), None if absent."""
    try:
        raw = read_bytes(path, limit)
    except OSError as exc:
        raise BaselineError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    return None if raw is None else loads(raw, f"{what} {path}")


class BaselineStore:
    """A folder of ``<name>.json`` baselines."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        return self.directory / f"{safe_name(name)}.json"

    def load(self, name: str) -> Baseline | None:
        """The stored baseline, None if there is none; a clear error if the file is unusable."""
        path = self.path(name)
        try:
            data = read_json(path, "baseline")
        except BaselineError as exc:
            raise BaselineError(f"{exc}; {_FIX}") from exc
        return None if data is None else parse_baseline(data, name, path)

    def save(self, name: str, result: CheckResult, fingerprint: str, modules: dict[str, str] | None = None) -> Path:
        """Write (or replace) a baseline atomically; the old file survives any failure.

        Only a memcheck baseline of the same name is ever replaced; anything else in
        its place is an error, and the file is left as it was.
        """
        from . import __version__

        path = self.path(name)
        payload = {
            "format": FORMAT,
            "schema": SCHEMA_VERSION,
            "tool_version": __version__,
            "name": name,
            "fingerprint": fingerprint,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "result": result.to_dict(),
            **({} if modules is None else {"modules": modules}),
        }
        text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with _locked(self.directory):
                _replaceable(path, name)
                # every writer holds the lock while it writes: a temporary file seen now was left by a killed one
                for stale in _temporary_files(path) if _CAN_LOCK else ():
                    with contextlib.suppress(OSError):
                        stale.unlink()
                atomic_write(path, text)
        except OSError as exc:
            raise BaselineError(
                f"could not write baseline {path}: {exc.strerror or exc}; the previous baseline, if any, is unchanged"
            ) from exc
        return path


def _replaceable(path: Path, name: str) -> None:
    """Refuse to replace anything but a memcheck baseline of ``name`` (an old schema or a damaged field is fine)."""
    if not os.path.lexists(path):
        return
    keep = "it is left as it is; move it away or choose another model name"
    try:
        data = read_json(path, "baseline")
    except BaselineError as exc:
        raise BaselineError(f"{exc}, so it is not replaced; {keep}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BaselineError(f"{path} is not a pytest-memcheck baseline, so it is not replaced; {keep}")
    if data.get("name") != name:
        raise BaselineError(
            f"{path} holds the baseline of model {log_line(repr(str(data.get('name'))[:200]))}, so it is not replaced "
            f"by that of {log_line(repr(name))}; {keep}"
        )


def _temporary_files(path: Path) -> list[Path]:
    """Temporary files that :func:`atomic_write` made for ``path``: exactly ``.<name>.<8 characters>.tmp``."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    with contextlib.suppress(OSError):
        return [p for p in path.parent.iterdir() if pattern.fullmatch(p.name) and not p.is_symlink() and p.is_file()]
    return []


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` so that readers see the old or the new content, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content.encode("utf-8") if isinstance(content, str) else content)
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
