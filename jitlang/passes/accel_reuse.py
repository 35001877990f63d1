"""Row loads reused across loops for the accelerator: a kernel that walks one row in several loops
over the same range (Triton's layer norm: mean, variance and output passes over
`range(0, N, BLOCK)`) loads the row once when the range is one trip, the row fitting in a block.

Stage: accel backend step "reuse_rows" (run by `jitlang.compiler.compile_accel` on the optimised
tile IR, before batching, when the target's steps name "hoist_loads", whose alias assumption it
shares). Input: verified tile IR. Output: an equivalent kernel where, in any region, a span of
ops from the first to the last of two or more `for` loops with the same bounds (the same SSA
values) and a positive constant step becomes

    if lb < ub and ub <= lb + step:   the span with each loop's body inlined at i = lb
    else:                             the span as it was

and in the first branch a load with the same pointer, mask and other as an earlier one (after
value numbering the inlined bodies' pure ops) reads the earlier one's value instead. A store
between the two through another pointer argument is taken not to write the loaded memory (as
`accel_hoist` does): each such pair (load's argument, store's argument) goes to `assumed`, which
the accel driver checks at launch, running a build without "hoist_loads" when the arrays
overlap. A store through the load's own argument, or one whose argument is unknown, keeps the
second load. A span where no load is reused is left as it was.
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import (
    Binary,
    BinaryOp,
    Cmp,
    CmpPred,
    Function,
    Op,
    OpKind,
    Region,
    ScalarType,
    Value,
    clone_ops,
    walk,
)

I1 = ScalarType(DType.I1)
_PTR_CHAIN = {
    OpKind.PTR_ADD,
    OpKind.SPLAT,
    OpKind.BROADCAST,
    OpKind.EXPAND_DIMS,
    OpKind.HINT,
    OpKind.CAST,
}
_IMPURE = {
    OpKind.LOAD,
    OpKind.STORE,
    OpKind.ATOMIC,
    OpKind.PRINT,
    OpKind.ASSERT,
    OpKind.YIELD,
    OpKind.CONDITION,
    OpKind.RETURN,
    OpKind.PROGRAM_ID,
}


def reuse_row_loads(
    fn: Function, assumed: list | None = None, spans: list | None = None
) -> Function:
    """`fn` with single-trip loop spans versioned and their repeated loads reused (see the
    module docstring); in place. `assumed` receives the (load argument, store argument) pairs
    taken not to overlap, `spans` the location of each span versioned."""
    ctx = _Ctx(fn, [] if assumed is None else assumed)
    ctx.spans = [] if spans is None else spans
    _region(fn.body, ctx)
    return fn


class _Ctx:
    def __init__(self, fn: Function, assumed: list) -> None:
        self.assumed = assumed
        self.params = {a.id: i for i, a in enumerate(fn.body.args)}
        self.made: set[int] = set()  # ids of the else regions made here (the original span)
        self.prod: dict[int, Op] = {}
        self.consts: dict[int, object] = {}
        for op in walk(fn.body):
            for r in op.results:
                self.prod[r.id] = op
            if op.kind is OpKind.CONSTANT and not op.regions:
                self.consts[op.result.id] = op.attr.value

    def base(self, v: Value) -> int | None:
        """The pointer argument (its index) a pointer value is an offset from, if any."""
        while v.id not in self.params:
            o = self.prod.get(v.id)
            if o is None or o.kind not in _PTR_CHAIN:
                return None
            v = o.operands[0]
        return self.params[v.id]


def _region(region: Region, ctx: _Ctx) -> None:
    for op in region.ops:
        for r in op.regions:
            if id(r) not in ctx.made:
                _region(r, ctx)
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, op in enumerate(region.ops):
        if op.kind is OpKind.FOR:
            lb, ub, step = op.operands[:3]
            s = ctx.consts.get(step.id)
            if isinstance(s, int) and not isinstance(s, bool) and s > 0:
                groups.setdefault((lb.id, ub.id, step.id), []).append(i)
    for idx in sorted(groups.values(), key=lambda g: g[0]):
        if len(idx) < 2:
            continue
        i0, i1 = idx[0], idx[-1]
        new = _version(region, i0, i1, [region.ops[i] for i in idx], ctx)
        if new is not None:
            region.ops[i0 : i1 + 1] = new
            return _region(region, ctx)  # indices moved: look again (the span is now an if)


def _version(region: Region, i0: int, i1: int, loops: list[Op], ctx: _Ctx) -> list[Op] | None:
    """The ops replacing region.ops[i0:i1+1] (see the module docstring), or None when no load
    would be reused."""
    span = region.ops[i0 : i1 + 1]
    loop_ids = {id(lp) for lp in loops}
    defined = {r.id for op in span for x in walk(Region([], [op])) for r in x.results}
    used_after = []
    for op in region.ops[i1 + 1 :]:
        for x in walk(Region([], [op])):
            for v in x.operands:
                if v.id in defined and v not in used_after:
                    used_after.append(v)
    lb, ub, step = loops[0].operands[:3]
    loc = loops[0].loc
    # the inlined span
    vmap: dict[int, Value] = {}
    then_ops: list[Op] = []
    for op in span:
        if id(op) in loop_ids:
            body = op.regions[0]
            vmap[body.args[0].id] = lb
            for a, init in zip(body.args[1:], op.operands[3:], strict=True):
                vmap[a.id] = vmap.get(init.id, init)
            then_ops += clone_ops(body.ops[:-1], vmap)
            for r, y in zip(op.results, body.terminator.operands, strict=True):
                vmap[r.id] = vmap.get(y.id, y)
        else:
            then_ops += clone_ops([op], vmap)
    for x in walk(Region([], then_ops)):
        for r in x.results:
            ctx.prod[r.id] = x
    then_ops, reused = _number(then_ops, vmap, ctx)
    if not reused:
        return None
    ctx.spans.append(loc)
    for pair in reused:
        if pair not in ctx.assumed:
            ctx.assumed.append(pair)
    then_ops.append(Op(OpKind.YIELD, [vmap.get(v.id, v) for v in used_after], [], loc))
    else_ops = list(span) + [Op(OpKind.YIELD, list(used_after), [], loc)]
    results = [Value(v.type, v.name) for v in used_after]
    sub = {v.id: r for v, r in zip(used_after, results, strict=True)}
    for op in region.ops[i1 + 1 :]:
        for x in walk(Region([], [op])):
            x.operands = [sub.get(v.id, v) for v in x.operands]
    cond = [
        Op(OpKind.CMP, [lb, ub], [Value(I1, "runs")], loc, Cmp(CmpPred.LT)),
        Op(OpKind.BINARY, [lb, step], [Value(lb.type, "lb_step")], loc, Binary(BinaryOp.ADD)),
    ]
    cond.append(
        Op(OpKind.CMP, [ub, cond[1].result], [Value(I1, "one")], loc, Cmp(CmpPred.LE)),
    )
    cond.append(
        Op(
            OpKind.BINARY,
            [cond[0].result, cond[2].result],
            [Value(I1, "one_trip")],
            loc,
            Binary(BinaryOp.AND),
        )
    )
    else_region = Region([], else_ops)
    ctx.made.add(id(else_region))
    branch = Op(
        OpKind.IF,
        [cond[-1].result],
        results,
        loc,
        None,
        [Region([], then_ops), else_region],
    )
    return cond + [branch]


def _number(ops: list[Op], vmap: dict[int, Value], ctx: _Ctx):
    """Value numbering of straight-line `ops`: a pure op (no regions) or a load equal to an
    earlier one (kind, attribute, operands, result types) is dropped and its results read the
    earlier one's; the (load argument, store argument) pairs a reused load relies on."""
    seen: dict[tuple, Op] = {}
    loads: dict[tuple, tuple[Op, set]] = {}  # key -> (load, arguments stored to since)
    rename: dict[int, Value] = {}
    out: list[Op] = []
    reused: list[tuple[int, int]] = []
    for op in ops:
        op.operands = [rename.get(v.id, v) for v in op.operands]
        for x in walk(Region([], [op])):
            if x is not op:
                x.operands = [rename.get(v.id, v) for v in x.operands]
        key = (
            op.kind,
            repr(op.attr),
            tuple(v.id for v in op.operands),
            tuple(repr(r.type) for r in op.results),
        )
        if op.kind is OpKind.LOAD:
            hit = loads.get(key)
            base = ctx.base(op.operands[0])
            if hit is not None and base is not None:
                first, stored = hit
                rename[op.result.id] = first.result
                reused += [(base, s) for s in sorted(stored)]
                continue
            loads[key] = (op, set())
            out.append(op)
            continue
        writes = [x for x in walk(Region([], [op])) if x.kind in (OpKind.STORE, OpKind.ATOMIC)]
        for w in writes:
            s = ctx.base(w.operands[0])
            for k in list(loads):
                lbase = ctx.base(loads[k][0].operands[0])
                if s is None or s == lbase:
                    del loads[k]  # may have written what that load read
                else:
                    loads[k][1].add(s)
        if op.kind not in _IMPURE and not op.regions and not writes:
            hit = seen.get(key)
            if hit is not None:
                for r, h in zip(op.results, hit.results, strict=True):
                    rename[r.id] = h
                continue
            seen[key] = op
        out.append(op)
    for k, v in list(vmap.items()):
        vmap[k] = rename.get(v.id, v)
    return out, reused


def copy_function(fn: Function) -> Function:
    """A copy of `fn` with fresh values (for a pass that works in place on a build that may be
    dropped)."""
    vmap: dict[int, Value] = {}
    args = [Value(a.type, a.name) for a in fn.body.args]
    vmap.update({a.id: n for a, n in zip(fn.body.args, args, strict=True)})
    body = Region(args, clone_ops(fn.body.ops, vmap))
    return Function(fn.name, list(fn.params), body, fn.loc, fn.source_files)
