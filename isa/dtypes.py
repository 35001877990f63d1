"""Element types of the accelerator: a 4-bit code per dtype, mapped to numpy/ml_dtypes types."""

from __future__ import annotations

import enum

import ml_dtypes
import numpy as np


class DType(enum.IntEnum):
    F32 = 0
    BF16 = 1
    F16 = 2
    FP8E4 = 3  # float8_e4m3fn
    FP8E5 = 4  # float8_e5m2
    I32 = 5
    U32 = 6
    I16 = 7
    U16 = 8
    I8 = 9
    U8 = 10


NAMES: dict[DType, str] = {
    DType.F32: "f32",
    DType.BF16: "bf16",
    DType.F16: "f16",
    DType.FP8E4: "fp8e4",
    DType.FP8E5: "fp8e5",
    DType.I32: "i32",
    DType.U32: "u32",
    DType.I16: "i16",
    DType.U16: "u16",
    DType.I8: "i8",
    DType.U8: "u8",
}
BY_NAME: dict[str, DType] = {v: k for k, v in NAMES.items()}

NUMPY: dict[DType, np.dtype] = {
    DType.F32: np.dtype(np.float32),
    DType.BF16: np.dtype(ml_dtypes.bfloat16),
    DType.F16: np.dtype(np.float16),
    DType.FP8E4: np.dtype(ml_dtypes.float8_e4m3fn),
    DType.FP8E5: np.dtype(ml_dtypes.float8_e5m2),
    DType.I32: np.dtype(np.int32),
    DType.U32: np.dtype(np.uint32),
    DType.I16: np.dtype(np.int16),
    DType.U16: np.dtype(np.uint16),
    DType.I8: np.dtype(np.int8),
    DType.U8: np.dtype(np.uint8),
}
_FROM_NUMPY = {v: k for k, v in NUMPY.items()}
FLOATS = frozenset({DType.F32, DType.BF16, DType.F16, DType.FP8E4, DType.FP8E5})


def np_dtype(code: int) -> np.dtype:
    return NUMPY[DType(code)]


def itemsize(code: int) -> int:
    return NUMPY[DType(code)].itemsize


def is_float(code: int) -> bool:
    return DType(code) in FLOATS


def from_numpy(dt) -> DType:
    """The DType of a numpy dtype; raises KeyError for dtypes the machine has no code for."""
    return _FROM_NUMPY[np.dtype(dt)]


_VALID = frozenset(int(d) for d in DType)


def valid(code: int) -> bool:
    return code in _VALID
