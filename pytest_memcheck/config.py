"""``[tool.memcheck]`` in pyproject.toml: the gated models and their thresholds.

::

    [tool.memcheck]
    baseline_dir = "tests/memcheck"
    [tool.memcheck.models.candidate]
    model = "mypkg.models:load_candidate"
    data = "mypkg.data:train_set"
    # no threshold: the calibrated defaults (min_score, and max_score_drop against a baseline)

Unknown keys are errors, with the nearest known key suggested, and so is a
misspelled ``[tool.memchek]`` table (a typo must not silently disable a gate).
Baselines stay inside the project: ``baseline_dir`` must resolve under the
rootdir, and two model names that would share a baseline file are refused.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MemcheckError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

INCONCLUSIVE_POLICIES = ("fail", "warn")
#: ``Thresholds``' fields (:data:`pytest_memcheck.gate.KEYS`; named here so that reading the
#: configuration imports no numerical code).
THRESHOLD_KEYS = ("min_auc", "max_drop", "min_score", "max_score_drop")

#: Keyword arguments of ``check`` that a model table may set.
CHECK_KEYS = {
    "layers": (list, str),
    "method": (str,),
    "ks": (list,),
    "samples_per_class": (int,),
    "batches": (str,),
    "residual": (bool,),
    "classes": (list,),
    "output": (str, int),
    "iterations": (int,),
    "repeats": (int,),
    "confidence": (float,),
    "keys": (list,),
}
MODEL_KEYS = {
    "model": (str,),
    "data": (str,),
    "architecture": (str,),
    "trust_pickle": (bool,),
    "min_auc": (float, int),
    "max_drop": (float, int),
    "min_score": (float, int),
    "max_score_drop": (float, int),
    "inconclusive": (str,),
    **CHECK_KEYS,
}
TOP_KEYS = {"baseline_dir": (str,), "seed": (int,), "device": (str,), "inconclusive": (str,), "models": (dict,)}


class ConfigError(MemcheckError):
    """``[tool.memcheck]`` is malformed."""


@dataclass
class ModelConfig:
    name: str
    model: str
    data: str
    architecture: str | None = None
    trust_pickle: bool = False
    #: The thresholds the table sets (none: the calibrated defaults).
    limits: dict[str, float] = field(default_factory=dict)
    inconclusive: str = "fail"
    check: dict[str, Any] = field(default_factory=dict)

    def thresholds(self) -> Any:
        """The gate's :class:`~pytest_memcheck.gate.Thresholds`: those the table sets, else the calibrated defaults."""
        from .gate import Thresholds

        return Thresholds.given(**self.limits)


@dataclass
class MemcheckConfig:
    path: Path | None
    baseline_dir: Path
    seed: int = 0
    device: str | None = None
    models: dict[str, ModelConfig] = field(default_factory=dict)


def thread_count(value: str) -> int:
    """A command line's torch thread count (``--memcheck-threads``, ``memcheck check --threads``): 1 or more.

    An argparse type: its error becomes the command's usage error (pytest: exit 4).
    """
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of threads, 1 or more, got {value!r}")
    return n


def _did_you_mean(word: str, known: Any) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _typed(table: dict[str, Any], allowed: dict[str, tuple[type, ...]], where: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(
                f"unknown key {key!r} in {where}{_did_you_mean(key, allowed)}; known keys: {', '.join(sorted(allowed))}"
            )
        kinds = allowed[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"{where}.{key} must be a {names}, got {value!r}")


def _policy(value: str, where: str) -> str:
    if value not in INCONCLUSIVE_POLICIES:
        raise ConfigError(f"{where}.inconclusive must be one of {INCONCLUSIVE_POLICIES}, got {value!r}")
    return value


def _baseline_dir(value: str, rootdir: Path) -> Path:
    """``value`` under the rootdir, symlinks resolved; anything that leads outside is a configuration error."""
    root = rootdir.resolve()
    try:
        resolved = (root / value).resolve()
    except (OSError, ValueError) as exc:  # a NUL character, a symlink loop
        raise ConfigError(f"[tool.memcheck].baseline_dir = {value!r} is not a usable path ({exc})") from exc
    if resolved != root and root not in resolved.parents:
        raise ConfigError(
            f"[tool.memcheck].baseline_dir = {value!r} leads outside the project ({resolved}); baselines are "
            f"written only inside the rootdir {root}: use a relative path such as 'tests/memcheck'"
        )
    return rootdir / value


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _model_name(name: str, files: dict[str, str]) -> None:
    """A name that prints on one line and has a baseline file of its own (compared ignoring case)."""
    if not name.strip() or _UNPRINTABLE.search(name) or "##[" in name or name.lstrip().startswith("::"):
        raise ConfigError(
            f"model table name {name!r} must be printable text on one line, without '##[' or a leading '::' "
            "(a CI runner reads those as commands): it names the gate in logs and reports"
        )
    from .baseline import safe_name
    from .errors import BaselineError

    try:
        file = safe_name(name) + ".json"
    except BaselineError as exc:
        raise ConfigError(f"[tool.memcheck.models] {exc}; use letters, digits, '.', '_' or '-'") from exc
    other = files.setdefault(file.lower(), name)
    if other != name:
        raise ConfigError(
            f"model tables {other!r} and {name!r} would share the baseline file {file} (characters other than "
            "letters, digits, '.', '_' and '-' become '_', and case is ignored); rename one of them"
        )


def parse(table: dict[str, Any], rootdir: Path, path: Path | None = None) -> MemcheckConfig:
    """Validate a ``[tool.memcheck]`` table."""
    where = "[tool.memcheck]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {type(table).__name__} {table!r}")
    _typed(table, TOP_KEYS, where)
    default_policy = _policy(table.get("inconclusive", "fail"), where)
    cfg = MemcheckConfig(
        path=path,
        baseline_dir=_baseline_dir(table.get("baseline_dir", "tests/memcheck"), rootdir),
        seed=table.get("seed", 0),
        device=table.get("device"),
    )
    files: dict[str, str] = {}
    for name, spec in table.get("models", {}).items():
        _model_name(name, files)
        mwhere = f"[tool.memcheck.models.{name}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{mwhere} must be a table with at least 'model' and 'data'")
        _typed(spec, MODEL_KEYS, mwhere)
        missing = [k for k in ("model", "data") if k not in spec]
        if missing:
            raise ConfigError(f"{mwhere} needs {' and '.join(repr(m) for m in missing)}")
        for key in THRESHOLD_KEYS:
            if key in spec and not 0 <= spec[key] <= 1:
                raise ConfigError(f"{mwhere}.{key} must be between 0 and 1, got {spec[key]}")
        cfg.models[name] = ModelConfig(
            name=name,
            model=spec["model"],
            data=spec["data"],
            architecture=spec.get("architecture"),
            trust_pickle=spec.get("trust_pickle", False),
            limits={k: float(spec[k]) for k in THRESHOLD_KEYS if k in spec},
            inconclusive=_policy(spec.get("inconclusive", default_policy), mwhere),
            check={k: v for k, v in spec.items() if k in CHECK_KEYS},
        )
    return cfg


def load(rootdir: Path) -> MemcheckConfig:
    """Read ``rootdir/pyproject.toml``; an absent file or table gives an empty configuration."""
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return MemcheckConfig(path=None, baseline_dir=rootdir / "tests" / "memcheck")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"[tool] in {path} must be a table, got {type(tool).__name__}")
    _near_misses(tool, path)
    return parse(tool.get("memcheck", {}), rootdir, path)


def _near_misses(tool: dict[str, Any], path: Path) -> None:
    """``[tool.memchek]`` or ``[tool.pytest-memcheck]`` would be silently ignored: refuse them."""
    for key in tool:
        plain = re.sub(r"[^a-z]", "", key.lower()).removeprefix("pytest")
        if key != "memcheck" and difflib.SequenceMatcher(None, plain, "memcheck").ratio() >= 0.8:
            raise ConfigError(
                f"[tool.{key}] in {path} looks like a misspelling of [tool.memcheck], which pytest-memcheck reads; "
                "rename it (its gates would not run otherwise)"
            )
