"""Loop-invariant hoisting of expensive lazy block values, for the CPU lowering.

Stage: codegen/cpu, a helper of the `for`/`while` lowering. Input: a loop op about to be
lowered; effect: some lazy block values defined before the loop are materialised into buffers
before it.

Elementwise block values are lazy: each use re-evaluates the expression per vector chunk. Inside
a loop that means once per iteration, which is free for adds and compares but not for integer
division and remainder, which have no vector instruction on x86 (one scalar `div` per lane). The
tutorial matmul indexes its tiles with `(pid * BLOCK + tl.arange(0, BLOCK)) % M`, so without
this every K iteration paid a division per element of each tile. A value defined outside the
loop cannot change inside it, so evaluating it once before the loop is exact.
"""

from __future__ import annotations

from jitlang.ir import BinaryOp, BlockType, Op, OpKind, Value, scalar_dtype, walk

_EXPENSIVE_INT = {BinaryOp.DIV, BinaryOp.REM}


def hoist_invariant(low, loop: Op) -> None:
    inside: set[int] = set()
    for region in loop.regions:
        for a in region.args:
            inside.add(a.id)
        for o in walk(region):
            for r in o.results:
                inside.add(r.id)
            for sub in o.regions:
                for a in sub.args:
                    inside.add(a.id)
    roots: list[Value] = list(loop.operands)
    for region in loop.regions:
        for o in walk(region):
            roots.extend(v for v in o.operands if v.id not in inside)
    seen: set[int] = set()
    for v in roots:
        _visit(low, v, seen)


def _visit(low, v: Value, seen: set[int]) -> None:
    if v.id in seen or not isinstance(v.type, BlockType):
        return
    seen.add(v.id)
    r = low.vals.get(v.id)
    lazy_op = getattr(r, "op", None)
    if lazy_op is None:
        init = getattr(r, "init", None)  # a carried pointer block: its lazy start
        if init is not None:
            _visit(low, init, seen)
        return
    if lazy_op.kind is OpKind.LOAD:
        return  # loads keep their own ordering rules (materialised before conflicting stores)
    for x in lazy_op.operands:
        _visit(low, x, seen)
    if _expensive(lazy_op):
        low.materialize(v)


def _expensive(op: Op) -> bool:
    if op.kind is not OpKind.BINARY:
        return False
    dt = scalar_dtype(op.results[0].type)
    if op.attr.op in _EXPENSIVE_INT and dt is not None and dt.is_int:
        return True
    return op.attr.op is BinaryOp.POW
