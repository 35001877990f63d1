"""Dead-code elimination.

Requires: verified IR. Guarantees: pure ops (no memory writes, prints or asserts, in themselves or
in their regions) whose results are all unused are removed, iterating to a fixed point.
"""

from __future__ import annotations

from ..ir import Function, Op, OpKind, Region, walk

_EFFECTS = {OpKind.STORE, OpKind.PRINT, OpKind.ASSERT, OpKind.ATOMIC}
_TERMINATORS = {OpKind.YIELD, OpKind.CONDITION, OpKind.RETURN}


def has_effects(op: Op) -> bool:
    if op.kind in _EFFECTS or op.kind in _TERMINATORS:
        return True
    if op.kind is OpKind.LOAD and op.attr is not None and op.attr.volatile:
        return True
    return any(o.kind in _EFFECTS for r in op.regions for o in walk(r))


def _uses(region: Region, used: set[int]) -> None:
    for op in region.ops:
        used.update(v.id for v in op.operands)
        for r in op.regions:
            _uses(r, used)


def _sweep(region: Region, used: set[int]) -> bool:
    changed = False
    kept = []
    for op in region.ops:
        for r in op.regions:
            changed |= _sweep(r, used)
        if not has_effects(op) and not any(v.id in used for v in op.results):
            changed = True
            continue
        kept.append(op)
    region.ops = kept
    return changed


def dce(fn: Function) -> Function:
    while True:
        used: set[int] = set()
        _uses(fn.body, used)
        if not _sweep(fn.body, used):
            return fn
