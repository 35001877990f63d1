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


FP8E5 = _E5 = NUMPY[DType.FP8E5]  # one dtype object: `is` tells it apart
_ANY_FLOAT = frozenset(NUMPY[d] for d in FLOATS) | {np.dtype(np.float64)}


def keep_fp8e5_nan_payloads(src, out: np.ndarray, dt) -> np.ndarray:
    """`out` (src converted to dt) with float8_e5m2 NaNs carrying their payload as IEEE
        narrowing and widening do (ml_dtypes makes every NaN the quiet 0x7e / 0x7fc00000): a float
        NaN narrows to the code with the top two bits of its mantissa (10 if both are 0: it stays
        a NaN), a code widens to the fp32 NaN with its two bits on top (then to 16 bits as the CPU
    rounds fp32: quieted for fp16, truncated for bf16). The CPU target converts
        the same way (codegen.cpu.elementwise.fp8_to_f32 / f32_to_fp8)."""
    dt, src = np.dtype(dt), np.asarray(src)
    if dt == _E5 and src.dtype != _E5 and src.dtype in _ANY_FLOAT:
        with np.errstate(invalid="ignore"):
            f = src.astype(np.float32)
        nan = np.isnan(f)
        if nan.any():
            bits = f.view(np.uint32)[nan]
            p = (bits >> 21) & 3
            code = ((bits >> 24) & 0x80) | 0x7C | np.where(p == 0, 2, p)
            out = np.array(out, copy=True)
            out.view(np.uint8)[nan] = code.astype(np.uint8)
    elif src.dtype == _E5 and dt != _E5 and dt in _ANY_FLOAT:
        w = src.view(np.uint8)
        nan = ((w & 0x7C) == 0x7C) & ((w & 3) != 0)
        if nan.any():
            c = w[nan].astype(np.uint32)
            f = ((c & 0x80) << 24) | 0x7F800000 | ((c & 3) << 21)  # the fp32 NaN, as decoded
            out = np.array(out, copy=True)
            if dt == NUMPY[DType.BF16]:  # rounding keeps a payload that survives truncation
                out.view(np.uint16)[nan] = (f >> 16).astype(np.uint16)
            elif dt == NUMPY[DType.F16]:  # the fp32 -> fp16 conversion quiets it
                h = ((c & 0x80) << 8) | 0x7E00 | ((c & 3) << 8)
                out.view(np.uint16)[nan] = h.astype(np.uint16)
            elif dt == np.float32:
                out.view(np.uint32)[nan] = f
            else:
                with np.errstate(invalid="ignore"):
                    out[nan] = (f | 0x400000).view(np.float32).astype(dt)
    return out
