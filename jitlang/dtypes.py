"""Element types of jitlang and Triton's type-promotion rules, in one place.

The names follow `triton.language`: int1, int8..int64, uint8..uint64, float16, bfloat16,
float32, float64 (fp16/bf16/fp32/fp64 as short names). bfloat16 arrays come from `ml_dtypes`.
"""

from __future__ import annotations

import enum

import ml_dtypes
import numpy as np


class Kind(enum.IntEnum):
    """Promotion kinds, ordered as Triton orders them: bool < uint < int < float."""

    BOOL = 0
    UINT = 1
    INT = 2
    FLOAT = 3


class DType(enum.Enum):
    # value: (triton name, bits, kind)
    I1 = ("int1", 1, Kind.BOOL)
    I8 = ("int8", 8, Kind.INT)
    I16 = ("int16", 16, Kind.INT)
    I32 = ("int32", 32, Kind.INT)
    I64 = ("int64", 64, Kind.INT)
    U8 = ("uint8", 8, Kind.UINT)
    U16 = ("uint16", 16, Kind.UINT)
    U32 = ("uint32", 32, Kind.UINT)
    U64 = ("uint64", 64, Kind.UINT)
    F8E4NV = ("fp8e4nv", 8, Kind.FLOAT)  # e4m3fn: bias 7, no inf, NaN 0x7f/0xff
    F8E5 = ("fp8e5", 8, Kind.FLOAT)  # e5m2: bias 15, IEEE-like (inf, NaNs)
    F8E4B8 = ("fp8e4b8", 8, Kind.FLOAT)  # e4m3fnuz: bias 8, no inf, one NaN 0x80, no -0
    F8E5B16 = ("fp8e5b16", 8, Kind.FLOAT)  # e5m2fnuz: bias 16, no inf, one NaN 0x80, no -0
    # e4m3 with bias 15: the fp16 values below 2 cut to 3 mantissa bits, no inf, no NaN, max 1.875
    F8E4B15 = ("fp8e4b15", 8, Kind.FLOAT)
    F16 = ("fp16", 16, Kind.FLOAT)
    BF16 = ("bf16", 16, Kind.FLOAT)
    F32 = ("fp32", 32, Kind.FLOAT)
    F64 = ("fp64", 64, Kind.FLOAT)

    @property
    def short(self) -> str:
        return self.value[0]

    @property
    def bits(self) -> int:
        return self.value[1]

    @property
    def kind(self) -> Kind:
        return self.value[2]

    @property
    def is_float(self) -> bool:
        return self.kind == Kind.FLOAT

    @property
    def is_int(self) -> bool:
        """True for integers and int1 (Triton's `is_int`)."""
        return self.kind != Kind.FLOAT

    @property
    def is_bool(self) -> bool:
        return self is DType.I1

    @property
    def is_fp8(self) -> bool:
        return self.kind == Kind.FLOAT and self.bits == 8

    @property
    def is_narrow_float(self) -> bool:
        """fp8, fp16 and bf16: held in fp32 registers, rounded back after each operation."""
        return self.kind == Kind.FLOAT and self.bits <= 16

    @property
    def is_signed(self) -> bool:
        return self.kind in (Kind.INT, Kind.FLOAT)

    @property
    def is_unsigned(self) -> bool:
        return self.kind == Kind.UINT

    @property
    def mem_bytes(self) -> int:
        """Bytes one element occupies in memory (int1 is stored as a byte, like numpy's bool)."""
        return max(1, self.bits // 8)

    @property
    def np(self) -> np.dtype:
        return _TO_NUMPY[self]

    def __repr__(self) -> str:
        return self.short

    def __str__(self) -> str:
        return self.short


_TO_NUMPY = {
    DType.I1: np.dtype(np.bool_),
    DType.I8: np.dtype(np.int8),
    DType.I16: np.dtype(np.int16),
    DType.I32: np.dtype(np.int32),
    DType.I64: np.dtype(np.int64),
    DType.U8: np.dtype(np.uint8),
    DType.U16: np.dtype(np.uint16),
    DType.U32: np.dtype(np.uint32),
    DType.U64: np.dtype(np.uint64),
    DType.F8E4NV: np.dtype(ml_dtypes.float8_e4m3fn),
    DType.F8E5: np.dtype(ml_dtypes.float8_e5m2),
    DType.F8E4B8: np.dtype(ml_dtypes.float8_e4m3fnuz),
    DType.F8E5B16: np.dtype(ml_dtypes.float8_e5m2fnuz),
    # ml_dtypes has no e4m3 with bias 15: its arrays are uint8 codes, seen through
    # `jl.reinterpret(codes, tl.float8e4b15)`; this one-byte record dtype only names them apart
    DType.F8E4B15: np.dtype([("fp8e4b15", np.uint8)]),
    DType.F16: np.dtype(np.float16),
    DType.BF16: np.dtype(ml_dtypes.bfloat16),
    DType.F32: np.dtype(np.float32),
    DType.F64: np.dtype(np.float64),
}
_FROM_NUMPY = {v: k for k, v in _TO_NUMPY.items()}


def from_numpy(dt: np.dtype) -> DType | None:
    """The DType of a numpy dtype, or None when jitlang has no such element type."""
    return _FROM_NUMPY.get(np.dtype(dt))


def fp8e4b15_to_float32(codes) -> np.ndarray:
    """float8e4b15 codes (uint8) -> float32, exactly: s.eeee.mmm is the fp16 s.0eeee.mmm0000000."""
    c = np.asarray(codes).astype(np.uint16)
    return (((c & 0x80) << 8) | ((c & 0x7F) << 7)).view(np.float16).astype(np.float32)


def float32_to_fp8e4b15(x, saturate: bool = True) -> np.ndarray:
    """float32 -> float8e4b15 codes (uint8), as Triton's compiled cast does it: through fp16
    rounding toward zero, magnitudes above 1.75 (inf and NaN too) saturate to 1.75 (0x7e, so
    0x7f is never produced), then round to nearest with ties away from zero; the sign is kept.
    `saturate=False` saturates at 1.875 instead: the exact codes of values already on the grid."""
    x = np.asarray(x, dtype=np.float32)
    sign = ((x.view(np.uint32) >> 24) & 0x80).astype(np.uint8)
    with np.errstate(invalid="ignore"):  # signalling NaNs
        a = np.abs(x).astype(np.float64)
    top = 1.75 if saturate else 1.875
    a = np.where(np.isnan(a) | (a > top), top, a)
    # fp16's rounding toward zero first cannot change the result: it keeps the bit that decides
    e = np.frexp(a)[1] - 1  # a in [2^e, 2^(e+1))
    step = 2.0 ** (np.maximum(e, -14) - 3)  # e4b15's spacing at a (2^-17 for subnormals)
    q = np.floor(a / step + 0.5) * step  # ties away from zero (a >= 0)
    h16 = q.astype(np.float16).view(np.uint16)
    return (sign | ((h16 >> 7) & 0x7F)).astype(np.uint8)


def integer_promote(a: DType, b: DType) -> DType:
    """C's usual arithmetic conversions for two integer types (Triton's integer_promote_impl)."""
    if a.is_signed == b.is_signed or a.is_bool or b.is_bool:
        if a.is_bool and not b.is_bool:
            return b
        if b.is_bool and not a.is_bool:
            return a
        return a if a.bits > b.bits else b
    unsigned, signed = (a, b) if a.is_unsigned else (b, a)
    return unsigned if unsigned.bits >= signed.bits else signed


def computation_type(
    a: DType, a_is_literal: bool, b: DType, b_is_literal: bool, div_or_mod: bool
) -> DType:
    """The type both operands of a binary arithmetic op are converted to (Triton's rules).

    `*_is_literal` marks a Python number written in the kernel (a "weak" scalar).
    Raises TypeError for combinations Triton rejects.
    """
    # 0) A Python literal of a lower-or-equal kind than the other (non-literal) operand does not
    #    take part in promotion (PyTorch-like weak scalars). Kinds here are Triton's dtype.kind():
    #    bool < integer < float, signed and unsigned integers alike (uint32 % 3 stays uint32).
    if a_is_literal != b_is_literal:
        lit, other = (a, b) if a_is_literal else (b, a)
        if _weak_kind(lit) <= _weak_kind(other):
            if div_or_mod and other in (DType.F16, DType.BF16):
                return DType.F32
            return other
    # 1) double wins.
    if DType.F64 in (a, b):
        return DType.F64
    # 2) then float.
    if DType.F32 in (a, b):
        return DType.F32
    # 3) half, unless dividing (no native fp16 division): then float.
    if DType.F16 in (a, b):
        return DType.F32 if div_or_mod else DType.F16
    # 4) bf16 only when both are bf16 (and not dividing).
    if DType.BF16 in (a, b):
        if div_or_mod or a != b:
            return DType.F32
        return DType.BF16
    # 5) two fp8 operands: their type when they agree, fp16 otherwise.
    if a.is_fp8 and b.is_fp8:
        return a if a is b else DType.F16
    if a.is_fp8 or b.is_fp8:  # fp8 with an integer
        raise TypeError(f"unexpected operand types {a} and {b}: cast the integer to a float type")
    # 6) both integers: C promotion; / // % refuse mixed signedness.
    if div_or_mod and not a.is_bool and not b.is_bool and a.is_signed != b.is_signed:
        raise TypeError(
            f"Cannot use /, // or % with {a} and {b} because they have different signedness; "
            "cast them to the same signedness"
        )
    return integer_promote(a, b)


def _weak_kind(dt: DType) -> int:
    return 0 if dt.is_bool else 1 if dt.is_int else 2


def literal_dtype(value: object) -> DType:
    """The type of a Python literal when it becomes a tensor (Triton's to_tensor)."""
    if isinstance(value, (bool, np.bool_)):
        return DType.I1
    if isinstance(value, (int, np.integer)):
        v = int(value)
        if -(2**31) <= v < 2**31:
            return DType.I32
        if 2**31 <= v < 2**32:
            return DType.U32
        if -(2**63) <= v < 2**63:
            return DType.I64
        if 2**63 <= v < 2**64:
            return DType.U64
        raise ValueError(f"integer literal {v} does not fit in 64 bits")
    if isinstance(value, (float, np.floating)):
        return DType.F32
    raise TypeError(f"{type(value).__name__} is not a numeric literal")
