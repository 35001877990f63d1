"""Loop-invariant loads for the accelerator: a load that reads the same memory in every iteration
of a loop moves before the loop.

Stage: accel backend step "hoist_loads" (run first by `infer_accel_layouts` when the target's
`steps` name it). Requires: verified, optimised tile IR. Guarantees: in every `for` loop whose
body (nested regions included) stores nothing (no store or atomic: no load of the loop can see
a write of the loop), each load at the top level of the body whose pointer, mask and other are
defined outside the loop, or by pure ops of the body that are themselves invariant (which move
with it), is done once before the loop instead of once per iteration. When the loop might run
no iteration (its bounds are not constants with a positive trip count) the hoisted loads go
into `if lb < ub` with zeros otherwise, so the program never reads memory the original would
not have read. Inner loops go first: a load invariant in two nested loops leaves the inner one.
Only the loads (and their address computations) move: other invariant block values stay where
they are, so SBUF pressure does not grow beyond the loaded tiles themselves.

Stores in the loop: as Triton's software pipelining does, a load through one pointer argument is
taken not to see stores through another. Each such assumption is recorded as a pair (load's
argument, store's argument); the accel driver checks the pairs at launch and runs a build
without this step when the two arrays overlap. A load whose base is not an argument, or that
shares its argument with a store or atomic of the loop, stays.
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import (
    BlockType,
    Cmp,
    CmpPred,
    Const,
    Function,
    Op,
    OpKind,
    Region,
    ScalarType,
    Value,
    scalar_dtype,
    walk,
)

_NOT_PURE = {
    OpKind.LOAD,
    OpKind.STORE,
    OpKind.ATOMIC,
    OpKind.PRINT,
    OpKind.ASSERT,
    OpKind.YIELD,
    OpKind.CONDITION,
    OpKind.RETURN,
    OpKind.FOR,
    OpKind.IF,
    OpKind.WHILE,
}


_PTR_CHAIN = {
    OpKind.PTR_ADD,
    OpKind.SPLAT,
    OpKind.BROADCAST,
    OpKind.EXPAND_DIMS,
    OpKind.HINT,
    OpKind.CONVERT_LAYOUT,
    OpKind.RESHAPE,
    OpKind.CAST,
}


class _Ctx:
    def __init__(self, fn: Function, assumed: list) -> None:
        self.consts = {}
        self.prod: dict[int, Op] = {}
        for op in walk(fn.body):
            for r in op.results:
                self.prod[r.id] = op
            if op.kind is OpKind.CONSTANT:
                self.consts[op.result.id] = op.attr.value
        self.params = {a.id: i for i, a in enumerate(fn.body.args)}
        self.assumed = assumed

    def base(self, v: Value) -> int | None:
        """The pointer argument (its index) a pointer value is an offset from, if any."""
        while v.id not in self.params:
            o = self.prod.get(v.id)
            if o is None or o.kind not in _PTR_CHAIN:
                return None
            v = o.operands[0]
        return self.params[v.id]


def hoist_invariant_loads(fn: Function, assumed: list | None = None) -> Function:
    """Move loop-invariant loads before their loops (see the module docstring); in place.
    `assumed` receives the (load argument, store argument) pairs taken not to overlap."""
    ctx = _Ctx(fn, assumed if assumed is not None else [])
    _region(fn.body, ctx)
    return fn


def _region(region: Region, ctx: _Ctx) -> None:
    out: list[Op] = []
    for op in region.ops:
        for r in op.regions:
            _region(r, ctx)
        if op.kind is OpKind.FOR:
            out.extend(_hoist(op, ctx))
        out.append(op)
    region.ops = out


def _hoist(loop: Op, ctx: _Ctx) -> list[Op]:
    """The ops to place before `loop` (removed from its body)."""
    body = loop.regions[0]
    stored = set()
    for o in walk(body):
        if o.kind in (OpKind.STORE, OpKind.ATOMIC):
            stored.add(ctx.base(o.operands[0]))
    if None in stored:
        return []
    inside = {a.id for a in body.args} | {r.id for o in walk(body) for r in o.results}
    inv: set[int] = set()  # results of invariant pure ops of the body
    pure: dict[int, Op] = {}
    loads: list[Op] = []
    for o in body.ops:
        if not all(v.id not in inside or v.id in inv for v in o.operands):
            continue
        if o.kind is OpKind.LOAD and isinstance(o.result.type, BlockType):
            b = ctx.base(o.operands[0])
            if b is not None and b not in stored:
                loads.append(o)
        elif o.kind not in _NOT_PURE and not (o.regions and o.kind not in (OpKind.REDUCE,)):
            inv.update(r.id for r in o.results)
            for r in o.results:
                pure[r.id] = o
    if not loads:
        return []
    guard = _trip_guard(loop, ctx.consts)
    if guard is False:  # a step of unknown sign: the loop might run backwards
        return []
    for ld in loads:
        for s in sorted(stored):
            pair = (ctx.base(ld.operands[0]), s)
            if pair not in ctx.assumed:
                ctx.assumed.append(pair)
    # the pure ops the loads' operands need, in body order
    need: set[int] = set()
    stack = [v for ld in loads for v in ld.operands]
    while stack:
        v = stack.pop()
        o = pure.get(v.id)
        if o is not None and id(o) not in need:
            need.add(id(o))
            stack.extend(o.operands)
    moved = [o for o in body.ops if id(o) in need]
    body.ops = [o for o in body.ops if id(o) not in need and not any(o is ld for ld in loads)]
    if guard is None:  # the loop runs at least once
        return moved + loads
    return moved + guard + [_guarded(loop, guard[-1].result, loads)]


def _trip_guard(loop: Op, consts: dict):
    """None when the loop surely runs, else the ops computing `lb < ub` (`>` for a negative
    step); False when the step's sign is unknown."""
    lb, ub, step = loop.operands[:3]
    s = consts.get(step.id)
    if s is None:
        return False
    lo, hi = consts.get(lb.id), consts.get(ub.id)
    if lo is not None and hi is not None and (lo < hi if s > 0 else lo > hi):
        return None
    pred = CmpPred.LT if s > 0 else CmpPred.GT
    cond = Op(OpKind.CMP, [lb, ub], [Value(ScalarType(DType.I1), "runs")], loop.loc, Cmp(pred))
    return [cond]


def _guarded(loop: Op, cond: Value, loads: list[Op]) -> Op:
    """`if cond: the loads else: zeros`, whose results are the loads' original values."""
    then_ops, else_ops, ys, zs = [], [], [], []
    for ld in loads:
        r = ld.result
        new = Value(r.type, r.name)
        then_ops.append(Op(OpKind.LOAD, list(ld.operands), [new], ld.loc, ld.attr))
        ys.append(new)
        dt = scalar_dtype(r.type)
        zero = 0.0 if dt.is_float else (False if dt.is_bool else 0)
        z = Value(r.type, "zero")
        else_ops.append(Op(OpKind.CONSTANT, [], [z], ld.loc, Const(zero)))
        zs.append(z)
    then_ops.append(Op(OpKind.YIELD, ys, [], loop.loc))
    else_ops.append(Op(OpKind.YIELD, zs, [], loop.loc))
    return Op(
        OpKind.IF,
        [cond],
        [ld.result for ld in loads],
        loop.loc,
        None,
        [Region([], then_ops), Region([], else_ops)],
    )
