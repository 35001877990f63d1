"""The values the CPU lowering hands between its parts, and small helpers over them.

Stage: codegen/cpu (shared by `lower`, `memory`, `control`, `blockops` and the helpers). A block
value is lowered to one of three forms: `Lazy` (an elementwise op evaluated chunk by chunk where
it is used), `Mat` (a row-major buffer) or `Offset` (a lazy pointer block moved by a scalar).
This module imports nothing else of the lowering, so every helper can import it at the top.
"""

from __future__ import annotations

import math

from llvmlite import ir

from jitlang.dtypes import DType
from jitlang.ir import (
    BlockType,
    Op,
    OpKind,
    PointerType,
    Region,
    ScalarType,
    Value,
    elem_type,
    scalar_dtype,
)

from . import elementwise as E
from . import llvmutil as U

# elementwise block ops evaluated where they are used (chunk by chunk), never stored
LAZY_KINDS = {
    OpKind.CONSTANT,
    OpKind.MAKE_RANGE,
    OpKind.SPLAT,
    OpKind.BROADCAST,
    OpKind.EXPAND_DIMS,
    OpKind.UNARY,
    OpKind.BINARY,
    OpKind.CMP,
    OpKind.SELECT,
    OpKind.FMA,
    OpKind.CAST,
    OpKind.PTR_ADD,
    OpKind.LOAD,
    OpKind.HINT,
}


class Mat:
    """A block value stored row-major in a buffer of `E.buf_type` elements."""

    def __init__(self, ptr: ir.Value, shape: tuple[int, ...], elem) -> None:
        self.ptr = ptr
        self.shape = shape
        self.elem = elem
        self.strides = tuple(math.prod(shape[i + 1 :]) for i in range(len(shape)))


class Lazy:
    def __init__(self, op: Op) -> None:
        self.op = op


class Offset:
    """A pointer block equal to the lazy block `init` advanced by `offset` bytes (a scalar i64):
    how a loop-carried pointer block that moves by a uniform step is carried (no buffer)."""

    def __init__(self, init: Value, offset: ir.Value) -> None:
        self.init = init
        self.offset = offset


def lanes_for(shape: tuple[int, ...], max_lanes: int) -> int:
    """Chunk width along the last dimension: the largest power of two dividing it, at most one
    register of 32-bit elements (`CpuTarget.max_lanes`)."""
    last = shape[-1]
    w = 1
    while w * 2 <= max_lanes and last % (w * 2) == 0:
        w *= 2
    return w


def dt_of(v: Value) -> DType | None:
    return scalar_dtype(v.type)


def to_f64_i64(b: ir.IRBuilder, val, dt: DType | None):
    if val is None:
        return ir.Constant(U.F64, 0.0), ir.Constant(U.I64, 0)
    if dt is None:  # pointer
        return ir.Constant(U.F64, 0.0), val
    if dt.is_float:
        f = val if val.type == U.F64 else b.fpext(val, U.F64)
        return f, b.bitcast(f, U.I64)
    return ir.Constant(U.F64, 0.0), E.int_to_i64(b, dt, val)


def align_of(t: ir.Type) -> int:
    if isinstance(t, ir.IntType):
        return max(1, t.width // 8)
    if t == U.F64:
        return 8
    if isinstance(t, ir.HalfType):
        return 2
    return 4


def is_float_scalar(t) -> bool:
    return isinstance(t, ScalarType) and t.dtype.is_float


def llvm_const(value, t):
    e = elem_type(t)
    if isinstance(e, PointerType):
        return int(value)
    dt = e.dtype
    if dt.is_float:
        return float(value)
    if dt is DType.I1:
        return int(bool(value))
    return int(value) & ((1 << dt.bits) - 1)


def effective_last_uses(region: Region) -> dict[int, int]:
    """Value id -> index of the last op in `region` that needs it, through lazy block users."""
    last: dict[int, int] = {}
    for i, op in enumerate(region.ops):
        for v in all_operands(op):
            last[v.id] = i
    for i in range(len(region.ops) - 1, -1, -1):
        op = region.ops[i]
        if op.kind in LAZY_KINDS and len(op.results) == 1 and isinstance(op.result.type, BlockType):
            lr = last.get(op.result.id, -1)
            for v in op.operands:
                if last.get(v.id, -1) < lr:
                    last[v.id] = lr
    return last


def all_operands(op: Op):
    yield from op.operands
    for r in op.regions:
        for o in r.ops:
            yield from all_operands(o)
