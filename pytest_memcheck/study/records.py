"""The zoo's records: one JSON object per measured model, appended as JSON lines.

Per-sample outcomes are kept (packed bits), not only AuCs: the calibration
evaluates score formulas, k ranges, intervals and paired baseline comparisons
offline, without retraining or re-checking a model.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

Record = dict[str, Any]


def pack_bits(a: np.ndarray) -> dict[str, Any]:
    """A boolean array as ``{"shape", "bits"}`` (base64 of packed bits)."""
    a = np.asarray(a, dtype=bool)
    return {"shape": list(a.shape), "bits": base64.b64encode(np.packbits(a.ravel()).tobytes()).decode()}


def unpack_bits(d: dict[str, Any]) -> np.ndarray:
    shape = tuple(d["shape"])
    flat = np.unpackbits(np.frombuffer(base64.b64decode(d["bits"]), dtype=np.uint8))
    return flat[: int(np.prod(shape))].astype(bool).reshape(shape)


def pack_ints(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a, dtype=np.int32)
    return {"shape": list(a.shape), "int32": base64.b64encode(a.tobytes()).decode()}


def unpack_ints(d: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["int32"]), dtype=np.int32).reshape(tuple(d["shape"]))


def append(sink: Path, record: Record) -> None:
    with sink.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def load(path: Path) -> list[Record]:
    """Records of a study folder (every ``records*.jsonl`` in it, one per worker) or of one file."""
    files: Iterable[Path] = sorted(path.glob("records-*.jsonl")) if path.is_dir() else [path]
    out = []
    for f in files:
        out += [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def record_key(r: Record) -> str:
    """A measured model: its run and the point of training it was measured at."""
    return f"{r['run']}@{r['epoch_tag']}"
