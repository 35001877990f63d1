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
    Binary,
    BinaryOp,
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
    clone_ops,
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


# --- multi-buffering: loop bodies unrolled so consecutive iterations load into other buffers ---


def pipeline_loop_loads(fn: Function, stages: int, sbuf_bytes: int = 0) -> Function:
    """Step "multi_buffer" (first half): every innermost `for` loop with a constant step whose
    body loads a block is unrolled `stages` times: `for i in range(lb, ub2, stages * step)`
    runs `stages` copies of the body (copy k at `i + k * step`, each taking the carried values
    the previous copy yields), and the original loop, now `range(ub2, ub, step)`, runs the
    remaining iterations (`ub2 = lb + max((ub - lb) / (stages * step), 0) * (stages * step)`,
    C division: ub2 is between lb and ub, or at lb when the loop runs backwards or not at all,
    so the main loop runs exactly (ub2 - lb) / (stages * step) times, which `accel_access`
    relies on for the pointers the remainder loop starts from; with constant bounds a
    remainder loop is emitted only when there is a remainder). The loads
    of the copies are distinct values, so the memory plan (`accel_memory`, the second half)
    gives them distinct buffers: the DMA queues fill the next iteration's tiles while the
    engines read this one's. A loop is left alone when `stages` copies of its loads, its
    carried blocks and the blocks it reads from outside would not fit `sbuf_bytes` per
    partition (less a margin for the lowering's scratch): unrolled, the memory plan would
    have to share their buffers again, for nothing. In place; the order of every side effect
    is unchanged."""
    if stages < 2:
        return fn
    consts = {op.result.id: op.attr.value for op in walk(fn.body) if op.kind is OpKind.CONSTANT}
    prod = {r.id: op for op in walk(fn.body) for r in op.results}
    budget = sbuf_bytes - SCRATCH_MARGIN if sbuf_bytes else None
    _pipeline(fn.body, stages, consts, budget, prod)
    return fn


SCRATCH_MARGIN = 16 << 10  # bytes per partition kept for spills and the lowering's scratch


def _pipeline(region: Region, stages: int, consts: dict, budget: int | None, prod: dict) -> None:
    out: list[Op] = []
    for op in region.ops:
        for r in op.regions:
            _pipeline(r, stages, consts, budget, prod)
        if (
            op.kind is OpKind.FOR
            and _worth_unrolling(op, consts, stages, budget)
            and not _at_most_one_trip(op, consts, prod)
        ):
            out.extend(_unroll(op, stages, consts))
        else:
            out.append(op)
    region.ops = out


def _worth_unrolling(loop: Op, consts: dict, stages: int, budget: int | None) -> bool:
    lb, ub, step = loop.operands[:3]
    s = consts.get(step.id)
    if not isinstance(s, int) or s <= 0 or lb.type != ub.type or ub.type != step.type:
        return False
    body = loop.regions[0]
    if any(o.kind in (OpKind.FOR, OpKind.WHILE) for o in walk(body)):
        return False  # innermost loops only: code size stays linear in `stages`
    loads = [o.result for o in body.ops if o.kind is OpKind.LOAD]
    loads = [v for v in loads if isinstance(v.type, BlockType)]
    if not loads or budget is None:
        return bool(loads)
    inside = {a.id for a in body.args} | {r.id for o in walk(body) for r in o.results}
    outer = {v.id: v for o in walk(body) for v in o.operands if v.id not in inside}
    held = [a for a in body.args[1:]] + list(outer.values())
    need = stages * sum(_bytes(v) for v in loads) + sum(_bytes(v) for v in held)
    return need <= budget


def _at_most_one_trip(loop: Op, consts: dict, prod: dict) -> bool:
    """A loop `range(lb0 + max((ub - lb0) / s, 0) * s, ub, s)` (the partial block after
    `accel_full_blocks`' full ones) runs once at most: nothing to overlap by unrolling it."""
    lb, ub, step = loop.operands[:3]
    s = consts.get(step.id)

    def parts(v: Value, kind: BinaryOp) -> list[Value] | None:
        o = prod.get(v.id)
        if o is None or o.kind is not OpKind.BINARY or o.attr.op is not kind:
            return None
        return o.operands

    add = parts(lb, BinaryOp.ADD)
    mul = add and parts(add[1], BinaryOp.MUL)
    mx = mul and parts(mul[0], BinaryOp.MAX)
    div = mx and parts(mx[0], BinaryOp.DIV)
    sub = div and parts(div[0], BinaryOp.SUB)
    if not sub or consts.get(mx[1].id) != 0 or not isinstance(s, int):
        return False
    return (
        sub[0] is ub
        and sub[1] is add[0]
        and consts.get(div[1].id) == s
        and consts.get(mul[1].id) == s
    )


def _bytes(v: Value) -> int:
    """About what block v takes per partition (its elements over up to 128 partitions)."""
    if not isinstance(v.type, BlockType):
        return 0
    dt = scalar_dtype(v.type)
    size = 4 if dt is None else max(1, dt.mem_bytes)  # pointers: int32 offsets
    return -(-v.type.numel // 128) * size


def _unroll(loop: Op, stages: int, consts: dict) -> list[Op]:
    lb, ub, step = loop.operands[:3]
    s = consts[step.id]
    ty = ub.type
    loc = loop.loc
    pre: list[Op] = []

    def const(v: int) -> Value:
        c = Op(OpKind.CONSTANT, [], [Value(ty, "c")], loc, Const(v))
        pre.append(c)
        consts[c.result.id] = v
        return c.result

    def binary(kind: BinaryOp, a: Value, b: Value, out: list[Op]) -> Value:
        o = Op(OpKind.BINARY, [a, b], [Value(ty, "")], loc, Binary(kind))
        out.append(o)
        return o.result

    lo, hi = consts.get(lb.id), consts.get(ub.id)
    span = stages * s
    remainder = True
    if isinstance(lo, int) and isinstance(hi, int):
        trips = max(0, -(-(hi - lo) // s))
        if trips < stages:
            return [loop]
        ub2 = const(lo + trips // stages * span)
        remainder = trips % stages != 0
    else:
        k = const(span)
        q = binary(BinaryOp.DIV, binary(BinaryOp.SUB, ub, lb, pre), k, pre)
        q = binary(BinaryOp.MAX, q, const(0), pre)  # ub2 >= lb: the main loop's trip count
        ub2 = binary(BinaryOp.ADD, lb, binary(BinaryOp.MUL, q, k, pre), pre)  # is exact
    body = loop.regions[0]
    iv = Value(body.args[0].type, body.args[0].name)
    carried = [Value(a.type, a.name) for a in body.args[1:]]
    ops: list[Op] = []
    ys: list[Value] = carried
    for k in range(stages):
        at = iv if k == 0 else binary(BinaryOp.ADD, iv, const(k * s), ops)
        vmap = {body.args[0].id: at} | {a.id: y for a, y in zip(body.args[1:], ys, strict=True)}
        copied = clone_ops(body.ops[:-1], vmap)
        ops.extend(copied)
        ys = [vmap.get(v.id, v) for v in body.terminator.operands]
    ops.append(Op(OpKind.YIELD, ys, [], body.terminator.loc))
    inits = loop.operands[3:]
    results = [Value(r.type, r.name) for r in loop.results] if remainder else loop.results
    main = Op(
        OpKind.FOR,
        [lb, ub2, const(span), *inits],
        results,
        loc,
        loop.attr,
        [Region([iv, *carried], ops)],
    )
    if not remainder:
        return pre + [main]
    loop.operands = [ub2, ub, step, *results]
    return pre + [main, loop]
