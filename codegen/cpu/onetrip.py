"""Loops that run once at run time: their block accumulators reduced straight from the loads.

Stage: codegen/cpu, a helper of the `for` lowering (`control.py`). Input: a `for` whose carried
values are all blocks starting lazy (`tl.zeros(...)`), each consumed only by one reduction along
its last axis in the same region (the tutorial layer norm: `_mean += x` over column blocks, then
`tl.sum(_mean)`); output: LLVM IR that tests at run time whether the loop runs exactly once
(a row no longer than BLOCK_SIZE, the usual case) and then lowers the body once and the
reductions fused with it: each chunk of `0 + x` is summed from the loads, without writing the
accumulator to its buffer and reading it back. Otherwise the loop and the reductions lower as
usual. Both paths evaluate the same values in the same order (the reduction reads the chunks of
the buffer that the single iteration would have written), so the results are bit-identical; the
reductions' scalar results join in phis and the reductions are not lowered again at their place.
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.ir import BlockType, Op, OpKind, ReduceKind, shape_of, walk

from . import llvmutil as U
from .values import Lazy


def plan(low, op: Op) -> list[Op] | None:
    """The reductions that consume the loop's results, when `op` qualifies; None otherwise."""
    inits = op.operands[3:]
    step = low.scalar(op.operands[2])
    if not inits or not isinstance(step, ir.Constant):
        return None
    width = step.type.width
    value = step.constant - (1 << width) if step.constant >= 1 << (width - 1) else step.constant
    if value <= 0:
        return None
    if any(
        not isinstance(v.type, BlockType) or not isinstance(low.vals.get(v.id), Lazy) for v in inits
    ):
        return None
    users, parent = _uses(low)
    home = parent.get(id(op))
    reds = []
    for r in op.results:
        us = users.get(r.id, [])
        if len(us) != 1:
            return None
        u = us[0]
        shape = shape_of(r.type)
        if (
            u.kind is not OpKind.REDUCE
            or len(u.operands) != 1
            or u.attr.kind is ReduceKind.CUSTOM
            or len(shape) != 1
            or parent.get(id(u)) is not home
        ):
            return None
        reds.append(u)
    return reds


def _uses(low) -> tuple[dict[int, list[Op]], dict[int, object]]:
    """{value id: ops using it} and {id(op): the region holding it}, built once per kernel."""
    cached = getattr(low, "_onetrip_uses", None)
    if cached is None:
        users: dict[int, list[Op]] = {}
        parent: dict[int, object] = {}
        regions = [low.fn.body] + [r for o in walk(low.fn.body) for r in o.regions]
        for region in regions:
            for o in region.ops:
                parent[id(o)] = region
                for v in o.operands:
                    users.setdefault(v.id, []).append(o)
        cached = low._onetrip_uses = (users, parent)
    return cached


def lower(low, op: Op, reds: list[Op], lower_loop) -> None:
    """`if the loop runs once: body + fused reductions, else: lower_loop(op) + reductions`."""
    b = low.b
    lb, ub, step = (low.scalar(v) for v in op.operands[:3])
    wide = [b.sext(v, U.I64) if v.type.width < 64 else v for v in (lb, ub, step)]
    once = b.and_(
        b.icmp_signed("<", wide[0], wide[1]),
        b.icmp_signed("<=", b.sub(wide[1], wide[0]), wide[2]),
    )
    body = op.regions[0]
    incoming = []
    with b.if_else(once, likely=True) as (then, otherwise):
        with then:
            low.memo = {}
            low.vals[body.args[0].id] = lb
            for a, v in zip(body.args[1:], op.operands[3:]):
                low.vals[a.id] = low.vals[v.id]
            low.trips.append(ir.Constant(U.F64, 1.0))
            low.lower_region(body)
            low.trips.pop()
            for r, y in zip(op.results, body.terminator.operands):
                low.vals[r.id] = low.vals[y.id]
            incoming.append((_reduce(low, reds), b.block))
        with otherwise:
            low.memo = {}
            lower_loop(op)
            incoming.append((_reduce(low, reds), b.block))
    low.memo = {}
    results = [res for red in reds for res in red.results]
    for i, res in enumerate(results):
        a, b_a = incoming[0][0][i], incoming[0][1]
        c, b_c = incoming[1][0][i], incoming[1][1]
        phi = b.phi(a.type)
        phi.add_incoming(a, b_a)
        phi.add_incoming(c, b_c)
        low.vals[res.id] = phi
    low.lowered_early.update(id(red) for red in reds)


def _reduce(low, reds: list[Op]) -> list[ir.Value]:
    out = []
    for red in reds:
        low.lower_op(red)
        out.extend(low.vals[res.id] for res in red.results)
    return out
