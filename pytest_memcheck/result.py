"""The data object a check returns, and its JSON form."""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Callable

from . import mixing
from .errors import BaselineError
from .escape import log_line

#: Bumped when the meaning or layout of a stored result changes. Schema 2 added the score's
#: interval and per-sample values; schema 1 results still load (without them).
SCHEMA_VERSION = 2


@dataclass
class CheckResult:
    """What a memorization check measured.

    ``auc`` is the paper's quantity: the mean over classes of the mean accuracy
    over the k grid (in [0, 1]; higher = the deep layers are closer to linear
    per class = the model generalizes). Its scale differs between
    architectures. ``score`` is the quantity the default gate judges, on one
    scale for every architecture (:mod:`pytest_memcheck.score`), with its
    interval ``score_ci`` and per-sample values ``score_samples`` (``None`` for
    a sample the model does not fit, which the score leaves out).
    ``saturated`` says the single-class AuC cannot see memorization on this
    model (it stays at the uncompressed accuracy while the score does not
    confirm generalization).
    """

    auc: float
    auc_ci: tuple[float, float]
    score: float | None
    saturated: bool
    curve: dict[float, float]
    per_class: dict[int, float]
    base_accuracy: float
    layers: list[str]
    method: str
    settings: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ranks: dict[str, list[int]] = field(default_factory=dict)
    #: Each sample's accuracy averaged over the k grid, ``[group][sample]``: what the
    #: interval is bootstrapped from, and what a baseline comparison pairs up.
    samples: list[list[float]] = field(default_factory=list)
    #: Each group's accuracy at each k, ``[group][k]``: the curve's band (per k, stratified like the interval).
    group_curves: list[list[float]] = field(default_factory=list)
    score_ci: tuple[float, float] | None = None
    #: The score's per-sample values, ``[class][sample]`` (None: a sample left out).
    score_samples: list[list[float | None]] = field(default_factory=list)
    #: The score's per-sample values at the ranks a baseline comparison reads (above the classes in a
    #: batch, :meth:`pytest_memcheck.score.Mixed.regression_ranks`), ``[class][sample]``.
    regression_samples: list[list[float | None]] = field(default_factory=list)
    #: Accuracy at each rank of the score's mixed batches, and per class ``[class][rank]``.
    score_curve: dict[float, float] = field(default_factory=dict)
    score_group_curves: list[list[float]] = field(default_factory=list)

    @property
    def checked_samples(self) -> int:
        """How many training samples the check drew (all classes, all repeats)."""
        return sum(len(group) for group in self.samples)

    @property
    def regression_score(self) -> float | None:
        """The score at the ranks a baseline comparison reads (the mean of :attr:`regression_samples`)."""
        return _kept_mean(self.regression_samples)

    @property
    def ks(self) -> list[float]:
        return list(self.curve)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["schema"] = SCHEMA_VERSION
        d["auc_ci"] = list(self.auc_ci)
        d["score_ci"] = None if self.score_ci is None else list(self.score_ci)
        d["curve"] = {_key(k): v for k, v in self.curve.items()}
        d["score_curve"] = {_key(k): v for k, v in self.score_curve.items()}
        d["per_class"] = {str(c): v for c, v in self.per_class.items()}
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "CheckResult":
        """The result a dictionary describes, validated field by field (see :data:`FIELDS`).

        A dictionary read from a file may have been edited by hand: every field is
        checked for its type, range and finiteness, and a violation is a
        :class:`~pytest_memcheck.errors.BaselineError` naming the field.
        """
        return parse(d)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **{"indent": 2, "allow_nan": False, **kwargs})

    @classmethod
    def from_json(cls, text: str | bytes) -> "CheckResult":
        return cls.from_dict(loads(text, "the check result"))

    def __repr__(self) -> str:
        """Short: the numbers that matter. Every field stays an attribute; ``to_dict()`` has them all."""
        lo, hi = self.auc_ci
        score = "" if self.score is None else f", score={self.score:.3f}"
        return (
            f"CheckResult(method={self.method!r}, auc={self.auc:.3f}, auc_ci=({lo:.3f}, {hi:.3f}){score}, "
            f"base_accuracy={self.base_accuracy:.3f}, saturated={self.saturated}, layers={_short_list(self.layers)})"
        )

    def __str__(self) -> str:
        lo, hi = self.auc_ci
        flag = " (saturated: the single-class AuC cannot see memorization in these layers)" if self.saturated else ""
        return (
            f"{self.method} AuC {self.auc:.3f} [{lo:.3f}, {hi:.3f}]"
            + ("" if self.score is None else f", score {self.score:.3f}")
            + ", "
            f"base accuracy {self.base_accuracy:.3f}, layers {', '.join(self.layers)}{flag}"
        )


def _short_list(items: list[str], shown: int = 4) -> str:
    if len(items) <= shown:
        return repr(list(items))
    return repr(list(items[:shown]))[:-1] + f", ... {len(items) - shown} more]"


def _key(k: float) -> str:
    return str(int(k)) if float(k).is_integer() else repr(float(k))


# ------------------------------------------------------------------------------ validation of stored results
#
# A stored result comes from a file that anyone may have edited: a baseline committed to the repository, a
# report, a result saved with to_json(). Each field has one validator below, which checks the value's type,
# range and finiteness and returns it converted (JSON object keys are strings; intervals are tuples). Adding a
# field to CheckResult means adding its line to FIELDS (tests/test_result_json.py fails otherwise).

#: Longest text accepted in a stored result (layer names, notes, settings); file sizes are bounded where read.
MAX_TEXT = 10_000
#: Nesting accepted inside settings values (lists of lists ...).
MAX_DEPTH = 4
#: Largest JSON text parsed (a result of 1000 classes x 1000 samples takes about 20 MB).
MAX_JSON_CHARS = 64 * 2**20

Validator = Callable[[Any, str], Any]


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _bad(where: str, expected: str, value: Any) -> BaselineError:
    """The error for a field, quoting the value found (shortened, and inert in a CI log)."""
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return BaselineError(f"field {log_line(where)!r} must be {expected}, got {log_line(shown)}")


def _number(lo: float = -math.inf, hi: float = math.inf, what: str = "a finite number") -> Validator:
    def check(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
            raise _bad(where, what, value)
        return value

    return check


def _whole(minimum: int | None = None) -> Validator:
    what = "a whole number" + ("" if minimum is None else f" >= {minimum}")

    def check(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            raise _bad(where, what, value)
        return value

    return check


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, "true or false", value)
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise _bad(where, f"a string of at most {MAX_TEXT} characters", value)
    return value


def _optional(inner: Validator) -> Validator:
    def check(value: Any, where: str) -> Any:
        return None if value is None else inner(value, where)

    return check


def _list_of(inner: Validator) -> Validator:
    def check(value: Any, where: str) -> list:
        if not isinstance(value, list):
            raise _bad(where, "a list", value)
        return [inner(v, f"{where}[{i}]") for i, v in enumerate(value)]

    return check


def _table(inner: Validator) -> Validator:
    """A list of equally long lists (``samples[group][sample]``)."""
    rows = _list_of(_list_of(inner))

    def check(value: Any, where: str) -> list:
        out = rows(value, where)
        if len({len(r) for r in out}) > 1:
            raise _bad(where, "a table of equally long rows", f"rows of lengths {sorted({len(r) for r in out})}")
        return out

    return check


def _interval(lo: float = -math.inf, hi: float = math.inf) -> Validator:
    """A ``[low, high]`` pair of finite numbers within ``[lo, hi]``, low <= high."""
    bound = _number(lo, hi, "a finite number" if lo == -math.inf else f"a number in [{lo:g}, {hi:g}]")

    def check(value: Any, where: str) -> tuple[float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise _bad(where, "a [low, high] pair", value)
        low, high = bound(value[0], f"{where}[0]"), bound(value[1], f"{where}[1]")
        if low > high:
            raise _bad(where, "a [low, high] pair with low <= high", value)
        return low, high

    return check


def _mapping(key: Callable[[str], Any], key_what: str, inner: Validator) -> Validator:
    def check(value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise _bad(where, "an object", value)
        out = {}
        for k, v in value.items():
            try:
                converted = key(k)
            except (TypeError, ValueError):
                raise _bad(where, f"an object whose keys are {key_what}", k) from None
            out[converted] = inner(v, f"{where}.{k}")
        return dict(sorted(out.items())) if key is not str else out

    return check


def _finite_key(k: str) -> float:
    value = float(k)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(k)
    return value


def _json_value(value: Any, where: str, depth: int = 0) -> Any:
    """Any JSON value of bounded depth, with finite numbers and bounded texts."""
    if depth > MAX_DEPTH:
        raise _bad(where, f"nested at most {MAX_DEPTH} deep", value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _number()(value, where)
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, list):
        return [_json_value(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {_text(k, where): _json_value(v, f"{where}.{k}", depth + 1) for k, v in value.items()}
    raise _bad(where, "a JSON value", value)


#: The settings a baseline comparison and the gate read; other keys only need to be plain JSON values.
SETTINGS: dict[str, Validator] = {
    "method": _text,
    "ks": _list_of(_number(0, math.inf, "a positive finite number")),
    "residual": _boolean,
    "iterations": _whole(1),
    "samples_per_class": _whole(1),
    "batches": _text,
    "classes": _optional(_list_of(_whole())),
    "seed": _whole(0),
    "repeats": _whole(1),
    "confidence": _number(0, 1, "a number in (0, 1)"),
    "draw": _optional(_text),
    "device": _optional(_text),
    "layers": _optional(_list_of(_text)),
    "outputs": _optional(_whole(1)),
    "depth": _optional(_whole(0)),
}


def _settings(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, "an object", value)
    return {
        _text(k, where): SETTINGS[k](v, f"{where}.{k}") if k in SETTINGS else _json_value(v, f"{where}.{k}")
        for k, v in value.items()
    }


_unit = _number(0, 1, "a number in [0, 1]")

#: One validator per field of :class:`CheckResult` (an optional interval of any finite numbers would be
#: ``_optional(_interval())``, a table of them ``_table(_number())``).
FIELDS: dict[str, Validator] = {
    "auc": _unit,
    "auc_ci": _interval(0, 1),
    "score": _optional(_number()),
    "saturated": _boolean,
    "curve": _mapping(_finite_key, "positive numbers", _unit),
    "per_class": _mapping(int, "whole numbers", _unit),
    "base_accuracy": _unit,
    "layers": _list_of(_text),
    "method": _text,
    "settings": _settings,
    "timings": _mapping(str, "strings", _number(0, math.inf, "a finite number >= 0")),
    "notes": _list_of(_text),
    "ranks": _mapping(str, "strings", _list_of(_whole(0))),
    "samples": _table(_unit),
    "group_curves": _table(_unit),
    "score_ci": _optional(_interval(0, 1)),
    "score_samples": _table(_optional(_unit)),
    "regression_samples": _table(_optional(_unit)),
    "score_curve": _mapping(_finite_key, "positive numbers", _unit),
    "score_group_curves": _table(_unit),
}

#: Schemas this version reads. A schema-1 result (pytest-memcheck 0.1) loads without a score:
#: its ``score`` measured something else (multi-class NMF AuC over base accuracy), never to be compared.
READABLE_SCHEMAS = (1, SCHEMA_VERSION)


def parse(d: Any, where: str = "") -> CheckResult:
    """:meth:`CheckResult.from_dict`, with field names reported under ``where`` (e.g. ``"result"``)."""
    prefix = f"{where}." if where else ""
    if not isinstance(d, dict):
        raise BaselineError(f"{where or 'a check result'} must be a JSON object, got {_kind(d)}")
    unknown = sorted(set(d) - set(FIELDS) - {"schema"})
    if unknown:
        raise BaselineError(f"unknown field {log_line(repr(prefix + unknown[0]))[:80]}; a check result has {', '.join(FIELDS)}")
    schema = d.get("schema", SCHEMA_VERSION)
    if isinstance(schema, bool) or schema not in READABLE_SCHEMAS:
        raise BaselineError(
            f"field {prefix + 'schema'!r} is {log_line(repr(schema))[:40]}; this version reads schemas "
            f"{', '.join(map(str, READABLE_SCHEMAS))}"
        )
    if schema == 1:
        d = {**d, "score": None}
    values = {}
    for f in fields(CheckResult):
        if f.name in d:
            values[f.name] = FIELDS[f.name](d[f.name], prefix + f.name)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise BaselineError(f"field {prefix + f.name!r} is missing")
    _consistent_score(values, prefix)
    _consistent_regression(values, prefix)
    return CheckResult(**values)


def _kept_mean(table: list[list[float | None]]) -> float | None:
    """The mean of stored per-sample values, leaving out the samples a score left out (None); None if none."""
    kept = [v for row in table for v in row if v is not None]
    return math.fsum(kept) / len(kept) if kept else None


def _consistent_score(values: dict[str, Any], prefix: str) -> None:
    """The score is the mean of its per-sample values: a score edited by hand no longer is."""
    score, mean = values.get("score"), _kept_mean(values.get("score_samples") or [])
    if score is None or mean is None:
        return
    if abs(score - mean) > 1e-5:  # the stored samples are rounded to 6 decimals (engine.py): 5e-7 at most
        raise BaselineError(
            f"field {prefix + 'score'!r} is {score:.6g} but its samples ({prefix + 'score_samples'}) average "
            f"{mean:.6g}: it was edited or damaged"
        )


def _consistent_regression(values: dict[str, Any], prefix: str) -> None:
    """The compared values are the score at the ranks above the class count: their mean is the score curve's mean
    over those ranks. Values edited by hand (lowered, they would loosen every comparison) no longer are."""
    mean, curve = _kept_mean(values.get("regression_samples") or []), values.get("score_curve") or {}
    classes = len((values.get("settings") or {}).get("classes") or values.get("per_class") or {})
    compared = mixing.regression_ranks(mixing.classes_per_batch(classes)) if classes else ()
    above = [v for k, v in curve.items() if k in compared]
    if mean is None or not above:
        return
    expected = math.fsum(above) / len(above)
    if abs(mean - expected) > 1e-5:  # rounded to 6 decimals (engine.py), as the score's samples
        raise BaselineError(
            f"field {prefix + 'regression_samples'!r} averages {mean:.6g}, but the score at the ranks above the class "
            f"count ({prefix}score_curve) is {expected:.6g}: it was edited or damaged"
        )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def loads(text: str | bytes, what: str) -> Any:
    """Parse JSON from a file we did not write ourselves: bounded size and depth, finite numbers only.

    Any problem is a :class:`~pytest_memcheck.errors.BaselineError` saying what is wrong with ``what``.
    """
    if len(text) > MAX_JSON_CHARS:
        raise BaselineError(f"{what} is larger than {MAX_JSON_CHARS // 2**20} MiB")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{what} is corrupt or truncated ({exc.msg} at line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{what} is corrupt (not UTF-8 text: {exc.reason})") from exc
    except RecursionError as exc:
        raise BaselineError(f"{what} is corrupt (nested too deeply)") from exc
    except (ValueError, TypeError) as exc:  # NaN or Infinity, an integer of thousands of digits, not text
        raise BaselineError(f"{what} is corrupt ({exc})") from exc
