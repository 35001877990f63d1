"""Checks the invariants of tile IR; run after every pass in tests (and on IR dumps).

Guarantees checked: every operand is defined before use in its own or an enclosing region
(SSA dominance for structured control flow); each op's operand and result types agree with its
kind; regions end in the terminator their owner expects; block shapes are positive.
"""

from __future__ import annotations

from .dtypes import DType
from .ir import (
    BlockType,
    Function,
    Op,
    OpKind,
    Region,
    ScalarType,
    elem_type,
    is_ptr,
    scalar_dtype,
    shape_of,
)


class VerificationError(Exception):
    """The IR broke an invariant: a compiler bug, never a user error."""


def _fail(op: Op, msg: str) -> None:
    raise VerificationError(f"{op.kind.value} at {op.loc}: {msg}")


_ELEMENTWISE_SAME = {OpKind.UNARY, OpKind.BINARY, OpKind.FMA}


def _check_op(op: Op) -> None:
    k = op.kind
    ops = op.operands
    res = op.results
    for r in res:
        for d in shape_of(r.type):
            if d <= 0:
                _fail(op, f"non-positive block dimension in {r.type}")
    if k in _ELEMENTWISE_SAME:
        for v in ops:
            if v.type != res[0].type:
                _fail(op, f"operand {v.type} differs from result {res[0].type}")
    elif k is OpKind.CMP:
        if ops[0].type != ops[1].type:
            _fail(op, f"compares {ops[0].type} with {ops[1].type}")
        if scalar_dtype(res[0].type) is not DType.I1 or shape_of(res[0].type) != shape_of(
            ops[0].type
        ):
            _fail(op, f"result {res[0].type} must be int1 of the operand shape")
    elif k is OpKind.SELECT:
        if scalar_dtype(ops[0].type) is not DType.I1:
            _fail(op, "condition must be int1")
        if ops[1].type != res[0].type or ops[2].type != res[0].type:
            _fail(op, "both choices must have the result type")
        if shape_of(ops[0].type) not in ((), shape_of(res[0].type)):
            _fail(op, "condition shape must match")
    elif k is OpKind.CAST:
        if shape_of(ops[0].type) != shape_of(res[0].type):
            _fail(op, "cast changes the shape")
    elif k is OpKind.PTR_ADD:
        if not is_ptr(ops[0].type) or ops[0].type != res[0].type:
            _fail(op, "ptr_add needs a pointer operand of the result type")
        if shape_of(ops[1].type) != shape_of(res[0].type):
            _fail(op, "offset shape must match")
        dt = scalar_dtype(ops[1].type)
        if dt is None or not dt.is_int:
            _fail(op, "offset must be an integer")
    elif k is OpKind.SPLAT:
        if isinstance(ops[0].type, BlockType) or elem_type(res[0].type) != ops[0].type:
            _fail(op, "splat takes a scalar of the result's element type")
    elif k is OpKind.BROADCAST:
        src, dst = shape_of(ops[0].type), shape_of(res[0].type)
        if len(src) != len(dst) or any(s != d and s != 1 for s, d in zip(src, dst)):
            _fail(op, f"cannot broadcast {src} to {dst}")
    elif k is OpKind.EXPAND_DIMS:
        src, dst = list(shape_of(ops[0].type)), shape_of(res[0].type)
        src.insert(op.attr.axis, 1)
        if tuple(src) != dst:
            _fail(op, f"expand_dims gives {dst}, expected {tuple(src)}")
    elif k is OpKind.LOAD:
        if not is_ptr(ops[0].type):
            _fail(op, "load needs a pointer")
        pt = elem_type(ops[0].type)
        if elem_type(res[0].type) != ScalarType(pt.elem) or shape_of(res[0].type) != shape_of(
            ops[0].type
        ):
            _fail(op, f"load of {ops[0].type} cannot give {res[0].type}")
        for extra in ops[1:]:
            if shape_of(extra.type) != shape_of(ops[0].type):
                _fail(op, "mask/other shape must match the pointer")
    elif k is OpKind.STORE:
        if not is_ptr(ops[0].type):
            _fail(op, "store needs a pointer")
        pt = elem_type(ops[0].type)
        if scalar_dtype(ops[1].type) != pt.elem or shape_of(ops[1].type) != shape_of(ops[0].type):
            _fail(op, f"cannot store {ops[1].type} through {ops[0].type}")
    elif k is OpKind.MAKE_RANGE:
        r = op.attr
        if res[0].type != BlockType((r.end - r.start,), ScalarType(DType.I32)):
            _fail(op, "make_range result must be block<n x i32>")
    elif k is OpKind.DOT:
        a, bb, c = (shape_of(v.type) for v in ops)
        if len(a) not in (2, 3) or len(a) != len(bb) or a[-1] != bb[-2] or c != a[:-1] + bb[-1:]:
            _fail(op, f"dot shapes {a} x {bb} -> {c} do not agree")
        if res[0].type != ops[2].type:
            _fail(op, "dot result must have the accumulator's type")
    elif k is OpKind.CONVERT_LAYOUT:
        if ops[0].type != res[0].type:
            _fail(op, "convert_layout must keep the type")
    elif k is OpKind.TRANS:
        src, dst = shape_of(ops[0].type), shape_of(res[0].type)
        if tuple(src[i] for i in op.attr.order) != dst:
            _fail(op, f"trans {op.attr.order} of {src} cannot give {dst}")
    elif k is OpKind.RESHAPE:
        import math

        if math.prod(shape_of(ops[0].type)) != math.prod(shape_of(res[0].type) or (1,)):
            _fail(op, "reshape changes the number of elements")
    elif k is OpKind.REDUCE:
        src = list(shape_of(ops[0].type))
        del src[op.attr.axis]
        for r in res:
            if shape_of(r.type) != tuple(src):
                _fail(op, f"reduce result shape {shape_of(r.type)} != {tuple(src)}")
    elif k is OpKind.FOR:
        body = op.regions[0]
        if len(body.args) != 1 + len(res) or len(ops) != 3 + len(res):
            _fail(op, "for: carried values mismatch")
        for init, arg, r in zip(ops[3:], body.args[1:], res):
            if not (init.type == arg.type == r.type):
                _fail(op, f"for: carried types differ ({init.type}, {arg.type}, {r.type})")
        _check_yield(op, body, res)
    elif k is OpKind.IF:
        if scalar_dtype(ops[0].type) is not DType.I1 or shape_of(ops[0].type):
            _fail(op, "if condition must be a scalar int1")
        for r in op.regions:
            _check_yield(op, r, res)
    elif k is OpKind.WHILE:
        before, after = op.regions
        term = before.terminator
        if term is None or term.kind is not OpKind.CONDITION:
            _fail(op, "while: before region must end in condition")
        _check_yield(op, after, before.args)


def _check_yield(op: Op, region: Region, expected) -> None:
    term = region.terminator
    if term is None or term.kind is not OpKind.YIELD:
        _fail(op, "region must end in yield")
    got = [v.type for v in term.operands]
    want = [v.type for v in expected]
    if got != want:
        _fail(op, f"yield types {got} differ from {want}")


def _verify_region(region: Region, defined: set[int]) -> None:
    local = set(defined)
    local.update(a.id for a in region.args)
    for i, op in enumerate(region.ops):
        for v in op.operands:
            if v.id not in local:
                _fail(op, f"operand {v!r} used before definition")
        is_last = i == len(region.ops) - 1
        if op.kind in (OpKind.YIELD, OpKind.CONDITION, OpKind.RETURN) and not is_last:
            _fail(op, "terminator in the middle of a region")
        _check_op(op)
        for r in op.regions:
            _verify_region(r, local)
        local.update(r.id for r in op.results)


def verify(fn: Function) -> Function:
    """Raise VerificationError if `fn` breaks an invariant; return it unchanged otherwise."""
    if len(fn.body.args) != len(fn.params):
        raise VerificationError("function arguments and parameters differ")
    term = fn.body.terminator
    if term is None or term.kind is not OpKind.RETURN:
        raise VerificationError("function body must end in return")
    _verify_region(fn.body, set())
    return fn
