"""Common-subexpression elimination.

Requires: verified IR. Guarantees: a pure, region-free op identical (kind, attribute, operands,
result types) to one that dominates it (earlier in the same region or an enclosing one) is
removed and its uses point at the earlier result. Loads, stores and region ops are never merged.
"""

from __future__ import annotations

import math

from ..ir import Const, Function, OpKind, Region, Value

_IMPURE = {
    OpKind.LOAD,
    OpKind.STORE,
    OpKind.ATOMIC,
    OpKind.PRINT,
    OpKind.ASSERT,
    OpKind.YIELD,
    OpKind.CONDITION,
    OpKind.RETURN,
}


def _attr_key(attr):
    # -0.0 == 0.0 (and they hash alike), but they are different constants: 1 / c tells them apart
    if isinstance(attr, Const) and isinstance(attr.value, float):
        return (attr, math.copysign(1.0, attr.value))
    return attr


def _key(op, subst: dict[int, Value]):
    return (
        op.kind,
        _attr_key(op.attr),
        tuple(subst.get(v.id, v).id for v in op.operands),
        tuple(r.type for r in op.results),
    )


def _cse_region(region: Region, seen: dict, subst: dict[int, Value]) -> None:
    local = dict(seen)
    kept = []
    for op in region.ops:
        op.operands = [subst.get(v.id, v) for v in op.operands]
        for r in op.regions:
            _cse_region(r, local, subst)
        if op.kind in _IMPURE or op.regions or not op.results:
            kept.append(op)
            continue
        k = _key(op, subst)
        prev = local.get(k)
        if prev is not None:
            for old, new in zip(op.results, prev.results):
                subst[old.id] = new
            continue
        local[k] = op
        kept.append(op)
    region.ops = kept


def cse(fn: Function) -> Function:
    _cse_region(fn.body, {}, {})
    return fn
