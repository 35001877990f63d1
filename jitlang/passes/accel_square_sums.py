"""Sums of squares without their zero start: `0.0 + x * x` (Triton's layer norm, `_var += x * x`
on a `tl.zeros` accumulator, one trip after `accel_reuse`) is `x * x`, bit for bit: a square is
never -0.0 (the one value `+ 0.0` changes), and a NaN stays the same NaN. The add is a pass
over the block on an engine; without it the square is what the row's `tl.sum` reads, so the
activation engine's `square` carries the sum as its accumulator
(`codegen.accel.tileops.fuse_accum`, the same step) instead of a copy or reduce of its own.

Stage: accel backend step "square_sums", run by `accel_layout.infer_accel_layouts` before
layouts are assigned. Input: verified tile IR. Output: an equivalent kernel where each float
`add` of a +0.0 constant block (or splat/broadcast of one) and `mul(x, x)` of the same type
reads as the `mul` (the `add` is left unused for DCE).
"""

from __future__ import annotations

import math

from ..ir import BinaryOp, Function, Op, OpKind, Value, scalar_dtype, walk
from .dce import dce

_THROUGH = (OpKind.SPLAT, OpKind.BROADCAST, OpKind.EXPAND_DIMS)


def drop_zero_adds(fn: Function) -> Function:
    """`0.0 + x * x` (either order) reads as `x * x` (see the module docstring). In place."""
    prod: dict[int, Op] = {}
    for op in walk(fn.body):
        for r in op.results:
            prod[r.id] = op
    rep: dict[int, Value] = {}
    for op in walk(fn.body):
        if op.kind is not OpKind.BINARY or op.attr.op is not BinaryOp.ADD:
            continue
        dt = scalar_dtype(op.result.type)
        if dt is None or not dt.is_float:
            continue
        for i in (0, 1):
            sq, zero = op.operands[i], op.operands[1 - i]
            if sq.type == op.result.type and _is_square(sq, prod) and _is_pos_zero(zero, prod):
                rep[op.result.id] = sq
                break
    if not rep:
        return fn
    for op in walk(fn.body):
        op.operands = [_final(rep, v) for v in op.operands]
    return dce(fn)


def _final(rep: dict[int, Value], v: Value) -> Value:
    while v.id in rep:
        v = rep[v.id]
    return v


def _is_square(v: Value, prod: dict[int, Op]) -> bool:
    op = prod.get(v.id)
    return (
        op is not None
        and op.kind is OpKind.BINARY
        and op.attr.op is BinaryOp.MUL
        and op.operands[0].id == op.operands[1].id
    )


def _is_pos_zero(v: Value, prod: dict[int, Op]) -> bool:
    op = prod.get(v.id)
    while op is not None and op.kind in _THROUGH:
        op = prod.get(op.operands[0].id)
    if op is None or op.kind is not OpKind.CONSTANT:
        return False
    c = op.attr.value
    if isinstance(c, bool) or not isinstance(c, (int, float)):
        return False
    return c == 0 and math.copysign(1.0, float(c)) > 0  # +0.0, not -0.0
