"""Fuzz inputs: deterministic arrays rich in edge values, and their portable encoding.

Stage: test tooling (no compiler code). Input: a dtype name, a shape and a seed; output: a numpy
array mixing ordinary values with the edge values of its dtype (NaN, +-inf, -0.0, denormals,
the largest magnitudes, INT_MIN/INT_MAX). `encode`/`decode` carry arrays through JSON (the
worker protocol) and into reproducer files.
"""

from __future__ import annotations

import base64
import zlib

import ml_dtypes
import numpy as np

# the dtype names the generator uses, as `tl.<name>` spells them, with their numpy dtypes
NUMPY = {
    "int1": np.dtype(np.bool_),
    "int8": np.dtype(np.int8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16),
    "uint32": np.dtype(np.uint32),
    "uint64": np.dtype(np.uint64),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
}


def is_float(dt: str) -> bool:
    return dt.startswith(("float", "bfloat"))


def bits(dt: str) -> int:
    return 1 if dt == "int1" else NUMPY[dt].itemsize * 8


def edge_values(dt: str, huge: bool = True) -> list:
    """The values of `dt` that break implementations: signs of zero, extremes, NaN, infinities.
    `huge=False` leaves out the finite floats near the overflow threshold (for sums and dots,
    whose overflow to inf depends on the order of accumulation, which targets may choose)."""
    if dt == "int1":
        return [True, False]
    npdt = NUMPY[dt]
    if is_float(dt):
        fi = ml_dtypes.finfo(npdt) if dt == "bfloat16" else np.finfo(npdt)
        tiny = float(fi.smallest_subnormal)
        big = [float(fi.max), -float(fi.max), float(fi.max) / 2] if huge else []
        return big + [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            float("nan"),
            float("inf"),
            float("-inf"),
            tiny,
            -tiny,
            float(fi.tiny),
            100.0,
            -3.0,
        ]
    ii = np.iinfo(npdt)
    return [0, 1, -1 if ii.min < 0 else 2, ii.min, ii.max, ii.min + 1, ii.max - 1, 7, 100 % ii.max]


def make_array(
    dt: str, shape: tuple[int, ...], seed: int, edge_rate: float = 0.15, huge: bool = True
) -> np.ndarray:
    """Ordinary values (small magnitudes, exactly representable) with `edge_rate` edge values."""
    rng = np.random.default_rng(seed)
    npdt = NUMPY[dt]
    size = int(np.prod(shape)) if shape else 1
    if dt == "int1":
        a = rng.integers(0, 2, size).astype(np.bool_)
    elif is_float(dt):
        a = (rng.integers(-64, 64, size) / 8.0).astype(npdt)
    else:
        ii = np.iinfo(npdt)
        a = rng.integers(max(ii.min, -100), min(ii.max, 100) + 1, size).astype(npdt)
    if edge_rate > 0 and dt != "int1":
        edges = np.array(edge_values(dt, huge), dtype=np.float64 if is_float(dt) else object)
        pick = rng.random(size) < edge_rate
        idx = rng.integers(0, len(edges), size)
        with np.errstate(over="ignore", invalid="ignore"):
            vals = np.array(
                [edges[i] for i in idx[pick]], dtype=np.float64 if is_float(dt) else npdt
            )
            a[pick] = vals.astype(npdt)
    return a.reshape(shape)


def encode(a: np.ndarray) -> dict:
    """A JSON-able description of `a` (dtype name, shape, zlib+base64 bytes)."""
    name = next(k for k, v in NUMPY.items() if v == a.dtype)
    raw = np.ascontiguousarray(a).tobytes()
    return {
        "dtype": name,
        "shape": list(a.shape),
        "data": base64.b64encode(zlib.compress(raw, 9)).decode(),
    }


def decode(d: dict) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(d["data"]))
    return np.frombuffer(raw, dtype=NUMPY[d["dtype"]]).reshape(d["shape"]).copy()
