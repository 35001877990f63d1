"""Loads made in the shape their one user wants: `expand_dims(load(p, m, o), axis)`, the load's
only use (Triton's layer norm: `w = tl.load(W + cols)` broadcast over the rows as `w[None, :]`
by `x_hat * w`), becomes `load(expand_dims(p), expand_dims(m), expand_dims(o))`. On the
accelerator an expand_dims of a tile is a copy on the vector engine (a [1024] row to a [1, 1024]
tile: 1024 cycles) before the partition broadcast; the expanded load lands where the broadcast
reads it, and the expanded pointers and masks are access patterns (no engine work).

Stage: accel backend step "expand_loads", run by `accel_layout.infer_accel_layouts` before
layouts are assigned. Input: verified tile IR. Output: an equivalent kernel (same memory
reads, the same values in the expanded shape). What it requires: the load and the
expand_dims in one region, the load's result used by that expand_dims only, the load not
volatile. What it guarantees: the load moves nowhere (its pointer, mask and other are expanded
right before it), so what it reads and when are unchanged.
"""

from __future__ import annotations

from ..ir import BlockType, Function, Op, OpKind, Region, Value, elem_type, shape_of, walk


def expand_loads(fn: Function) -> Function:
    """Fold each `expand_dims` of a load it alone reads into the load (see the module
    docstring). In place."""
    uses: dict[int, int] = {}
    for op in walk(fn.body):
        for v in op.operands:
            uses[v.id] = uses.get(v.id, 0) + 1
    _region(fn.body, uses)
    return fn


def _region(region: Region, uses: dict[int, int]) -> None:
    loads: dict[int, Op] = {}
    for op in region.ops:
        for r in op.regions:
            _region(r, uses)
        if op.kind is OpKind.LOAD and not (op.attr is not None and op.attr.volatile):
            loads[op.result.id] = op
    if not loads:
        return
    out: list[Op] = []
    moved: dict[int, list[Op]] = {}  # id(load) -> ops to put before it
    drop: set[int] = set()
    for op in region.ops:
        if op.kind is not OpKind.EXPAND_DIMS:
            continue
        load = loads.get(op.operands[0].id)
        if load is None or uses.get(load.result.id) != 1:
            continue
        shape = shape_of(load.result.type)
        if any(shape_of(v.type) != shape for v in load.operands):
            continue
        axis = op.attr.axis
        new_shape = shape[:axis] + (1,) + shape[axis:]
        pre = []
        for v in load.operands:
            e = Value(BlockType(new_shape, elem_type(v.type)), v.name)
            pre.append(Op(OpKind.EXPAND_DIMS, [v], [e], load.loc, op.attr))
        moved[id(load)] = pre
        load.operands = [x.result for x in pre]
        load.results = [op.result]
        drop.add(id(op))
    for op in region.ops:
        if id(op) in drop:
            continue
        out += moved.get(id(op), [])
        out.append(op)
    region.ops = out
