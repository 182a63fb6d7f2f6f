"""``[tool.memcheck]`` in pyproject.toml: the gated models and their thresholds.

::

    [tool.memcheck]
    baseline_dir = "tests/memcheck"
    [tool.memcheck.models.candidate]
    model = "mypkg.models:load_candidate"
    data = "mypkg.data:train_set"
    min_auc = 0.6
    max_drop = 0.05

Unknown keys are errors (a typo must not silently disable a threshold).
"""

from __future__ import annotations

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
    min_auc: float | None = None
    max_drop: float | None = None
    inconclusive: str = "fail"
    check: dict[str, Any] = field(default_factory=dict)


@dataclass
class MemcheckConfig:
    path: Path | None
    baseline_dir: Path
    seed: int = 0
    device: str | None = None
    models: dict[str, ModelConfig] = field(default_factory=dict)


def _typed(table: dict[str, Any], allowed: dict[str, tuple[type, ...]], where: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r} in {where}; known keys: {', '.join(sorted(allowed))}")
        kinds = allowed[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"{where}.{key} must be a {names}, got {value!r}")


def _policy(value: str, where: str) -> str:
    if value not in INCONCLUSIVE_POLICIES:
        raise ConfigError(f"{where}.inconclusive must be one of {INCONCLUSIVE_POLICIES}, got {value!r}")
    return value


def parse(table: dict[str, Any], rootdir: Path, path: Path | None = None) -> MemcheckConfig:
    """Validate a ``[tool.memcheck]`` table."""
    where = "[tool.memcheck]"
    _typed(table, TOP_KEYS, where)
    default_policy = _policy(table.get("inconclusive", "fail"), where)
    cfg = MemcheckConfig(
        path=path,
        baseline_dir=rootdir / table.get("baseline_dir", "tests/memcheck"),
        seed=table.get("seed", 0),
        device=table.get("device"),
    )
    for name, spec in table.get("models", {}).items():
        mwhere = f"[tool.memcheck.models.{name}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{mwhere} must be a table with at least 'model' and 'data'")
        _typed(spec, MODEL_KEYS, mwhere)
        missing = [k for k in ("model", "data") if k not in spec]
        if missing:
            raise ConfigError(f"{mwhere} needs {' and '.join(repr(m) for m in missing)}")
        if "min_auc" not in spec and "max_drop" not in spec:
            raise ConfigError(f"{mwhere} sets no threshold; add min_auc = 0.5 and/or max_drop = 0.05")
        for key in ("min_auc", "max_drop"):
            if key in spec and not 0 <= spec[key] <= 1:
                raise ConfigError(f"{mwhere}.{key} must be between 0 and 1, got {spec[key]}")
        cfg.models[name] = ModelConfig(
            name=name,
            model=spec["model"],
            data=spec["data"],
            architecture=spec.get("architecture"),
            trust_pickle=spec.get("trust_pickle", False),
            min_auc=spec.get("min_auc"),
            max_drop=spec.get("max_drop"),
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
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return parse(data.get("tool", {}).get("memcheck", {}), rootdir, path)
