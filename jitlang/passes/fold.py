"""Constant folding.

Requires: verified IR. Guarantees: `splat(constant)` becomes a block constant; integer and float
binary ops, comparisons and casts on scalar constants are replaced by constants with the same
(C-style, wrapping) semantics the code generators implement. Types never change.
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import (
    Binary,
    BinaryOp,
    BlockType,
    CmpPred,
    Const,
    Function,
    Op,
    OpKind,
    Region,
    ScalarType,
    scalar_dtype,
)


def _wrap(v: int, dt: DType) -> int:
    v &= (1 << dt.bits) - 1
    if dt.is_signed and v >= 1 << (dt.bits - 1):
        v -= 1 << dt.bits
    return v


def _int_binop(op: BinaryOp, a: int, b: int, dt: DType) -> int | None:
    if op is BinaryOp.ADD:
        return _wrap(a + b, dt)
    if op is BinaryOp.SUB:
        return _wrap(a - b, dt)
    if op is BinaryOp.MUL:
        return _wrap(a * b, dt)
    if op is BinaryOp.DIV:
        if b == 0:
            return None
        q = abs(a) // abs(b)
        return _wrap(q if (a >= 0) == (b >= 0) else -q, dt)
    if op is BinaryOp.REM:
        if b == 0:
            return None
        r = abs(a) % abs(b)
        return _wrap(r if a >= 0 else -r, dt)
    if op is BinaryOp.AND:
        return _wrap(a & b, dt)
    if op is BinaryOp.OR:
        return _wrap(a | b, dt)
    if op is BinaryOp.XOR:
        return _wrap(a ^ b, dt)
    if op is BinaryOp.MIN:
        return min(a, b)
    if op is BinaryOp.MAX:
        return max(a, b)
    return None


_CMP = {
    CmpPred.EQ: lambda a, b: a == b,
    CmpPred.NE: lambda a, b: a != b,
    CmpPred.LT: lambda a, b: a < b,
    CmpPred.LE: lambda a, b: a <= b,
    CmpPred.GT: lambda a, b: a > b,
    CmpPred.GE: lambda a, b: a >= b,
}


def fold(fn: Function) -> Function:
    _fold_region(fn.body, {})
    return fn


def _fold_region(region: Region, consts: dict[int, object]) -> None:
    for op in region.ops:
        for r in op.regions:
            _fold_region(r, consts)
        _fold_one(op, consts)


def _fold_one(op: Op, consts: dict[int, object]) -> None:
    if op.kind is OpKind.CONSTANT:
        consts[op.result.id] = op.attr.value
        return
    if op.kind is OpKind.SPLAT and op.operands[0].id in consts:
        value = consts[op.operands[0].id]
        op.kind, op.operands, op.attr = OpKind.CONSTANT, [], Const(value)
        consts[op.result.id] = value
        return
    if len(op.results) != 1 or isinstance(op.result.type, BlockType):
        return
    if not isinstance(op.result.type, ScalarType):
        return
    if op.kind is OpKind.BINARY and all(v.id in consts for v in op.operands):
        dt = scalar_dtype(op.result.type)
        a, b = (consts[v.id] for v in op.operands)
        attr: Binary = op.attr
        r = None
        if dt.is_int and not dt.is_bool:
            r = _int_binop(attr.op, int(a), int(b), dt)
        if r is not None:
            op.kind, op.operands, op.attr = OpKind.CONSTANT, [], Const(r)
            consts[op.result.id] = r
    elif op.kind is OpKind.CMP and all(v.id in consts for v in op.operands):
        dt = scalar_dtype(op.operands[0].type)
        if dt is not None and dt.is_int:
            a, b = (consts[v.id] for v in op.operands)
            r = bool(_CMP[op.attr.pred](a, b))
            op.kind, op.operands, op.attr = OpKind.CONSTANT, [], Const(r)
            consts[op.result.id] = r
    elif op.kind is OpKind.CAST and op.operands[0].id in consts and not op.attr.bitcast:
        src = scalar_dtype(op.operands[0].type)
        dst = scalar_dtype(op.result.type)
        v = consts[op.operands[0].id]
        if src is not None and dst is not None and src.is_int and dst.is_int:
            r = bool(v) if dst is DType.I1 else _wrap(int(v), dst)
            op.kind, op.operands, op.attr = OpKind.CONSTANT, [], Const(r)
            consts[op.result.id] = r
