"""Uniform masks versioned for the accelerator: a block comparison whose outcome depends only on
run-time arguments, not on the program or a loop (`cols < N` with cols = arange(0, BLOCK) and N
an argument: Triton's layer norm when the row fits one block), is true everywhere in the usual
launch (N >= BLOCK), but as written costs engine work in every program: the mask tile and the
`where` it guards (`tl.where(cols < N, x - mean, 0.0)`).

Stage: accel backend step "uniform_masks", run by `accel_steps.apply_tile_steps` after
"full_blocks" (and after batching and `accel_batch_masks`): their loop splits leave the row
loops' masks to the tail loops. Input: verified tile IR. Output: an equivalent kernel where a region (the kernel's
body or a branch of an `if`) that holds such a comparison, at its top level or in a loop of
it, runs as

    if <every such comparison in the region holds for every block index>:
        the region with them folded to true (`accel_full_blocks.fold_true`: no mask, no select)
    else:
        the region as it was

A region is versioned for a comparison that costs engine work as written: one read by
something other than the masks of loads and stores (those become DMA bounds, free), such as
a `where`. What it requires of a comparison: `<`, `<=`, `>`, `>=` of two int32 blocks of
affine forms (`accel_access`) whose difference has compile-time coefficients per block index
and scalar terms that are defined outside the region and do not depend on program ids (kernel
arguments, values of enclosing regions). The condition is computed in int64 from the scalar
terms and each index's largest contribution, so it is exact (no int32 wrap of its own).
What it guarantees: results and side effects as before, for every argument value; a region is
versioned once (its copies are not looked at again), regions nested in a versioned one are
left alone, regions with none are searched further down through their `if`s (not into loop
bodies: a test per iteration would stop `accel_hoist` pipelining the loop's loads).
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import (
    Binary,
    BinaryOp,
    BlockType,
    Cast,
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
    elem_type,
    shape_of,
    walk,
)
from .accel_access import AccessAnalysis
from .accel_full_blocks import fold_true
from .dce import dce

I1, I32, I64 = ScalarType(DType.I1), ScalarType(DType.I32), ScalarType(DType.I64)
_ORDERED = (CmpPred.LT, CmpPred.LE, CmpPred.GT, CmpPred.GE)
_LOOPS = (OpKind.FOR, OpKind.WHILE)
_MASK_SHAPING = (OpKind.EXPAND_DIMS, OpKind.BROADCAST, OpKind.RESHAPE, OpKind.HINT)


def version_uniform_masks(fn: Function) -> Function:
    """Version each region holding uniform block comparisons (see the module docstring), then
    drop what the folding left unused. In place."""
    prod: dict[int, Op] = {}
    loops = []
    for op in walk(fn.body):
        for r in op.results:
            prod[r.id] = op
        if op.kind in _LOOPS:
            loops.append(op)
    ctx = _Ctx(prod, AccessAnalysis(prod, loops))
    for op in walk(fn.body):
        for i, v in enumerate(op.operands):
            ctx.uses.setdefault(v.id, []).append((op, i))
    if _version(fn.body, ctx):
        return dce(fn)
    return fn


class _Ctx:
    def __init__(self, prod: dict[int, Op], an: AccessAnalysis) -> None:
        self.prod, self.an = prod, an
        self._pid: dict[int, bool] = {}
        self.uses: dict[int, list[tuple[Op, int]]] = {}  # value id -> (user, operand index)

    def costs_work(self, v: Value) -> bool:
        """Whether mask `v` (or a reshape or `&` of it) is read by anything but the mask
        operand of a load or store: those become DMA bounds, which cost no engine time."""
        for op, i in self.uses.get(v.id, ()):
            if op.kind is OpKind.LOAD and i == 1 or op.kind is OpKind.STORE and i == 2:
                continue
            if op.kind in _MASK_SHAPING or (
                op.kind is OpKind.BINARY and op.attr.op is BinaryOp.AND
            ):
                if self.costs_work(op.result):
                    return True
                continue
            return True
        return False

    def from_pid(self, v: Value) -> bool:
        """Whether scalar `v` depends on a program id (or is not known not to)."""
        hit = self._pid.get(v.id)
        if hit is not None:
            return hit
        self._pid[v.id] = True  # a cycle (a loop-carried value): assume it does
        op = self.prod.get(v.id)
        if op is None:  # an argument of the kernel (a region argument is caught elsewhere)
            out = False
        elif op.kind in (OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS) or op.regions:
            out = True
        else:
            out = any(self.from_pid(x) for x in op.operands)
        self._pid[v.id] = out
        return out


def _version(region: Region, ctx: _Ctx) -> bool:
    """Version `region` or, when it holds no uniform comparison of its own, the branches of the
    `if`s in it; whether anything changed."""
    inner = _defined_in(region)
    own = [
        c
        for c in _own_cmps(region)
        if _condition(c, inner, ctx) is not None and ctx.costs_work(c.result)
    ]
    if own:
        _split(region, inner, ctx)
        return True
    changed = False
    for op in region.ops:
        if op.kind is OpKind.IF:  # not into loops: their masks are `accel_full_blocks`' work
            for r in op.regions:
                changed |= _version(r, ctx)
    return changed


def _own_cmps(region: Region) -> list[Op]:
    """The block comparisons at the region's top level and in its loops (not in its `if`s)."""
    out = []
    for op in region.ops:
        if op.kind is OpKind.CMP and isinstance(op.result.type, BlockType):
            out.append(op)
        elif op.kind in _LOOPS:
            for r in op.regions:
                out += _own_cmps(r)
    return out


def _defined_in(region: Region) -> set[int]:
    """Ids of the values a region defines (results and region arguments, nested ones too)."""
    out: set[int] = set()
    for op in walk(region):
        out.update(r.id for r in op.results)
        for r in op.regions:
            out.update(a.id for a in r.args)
    return out


def _condition(cmp: Op, inner: set[int], ctx: _Ctx):
    """(key, strict, const, terms): `cmp` holds everywhere iff const + sum(c * t) (+ 1 when not
    strict) <= 0, with const already holding each block index's largest contribution; None
    when `cmp` is not a uniform comparison the region can test before it runs."""
    pred = cmp.attr.pred
    if pred not in _ORDERED or any(elem_type(x.type) != I32 for x in cmp.operands):
        return None
    a, b = (ctx.an.affine(x) for x in cmp.operands)
    if a is None or b is None:
        return None
    d = a.add(b, -1) if pred in (CmpPred.LT, CmpPred.LE) else b.add(a, -1)
    for t, _c in d.terms:
        if not isinstance(t, Value) or t.id in inner or ctx.from_pid(t):
            return None
        if elem_type(t.type) != I32:
            return None
    top = d.const + sum(max(c * (n - 1), 0) for c, n in zip(d.dims, shape_of(cmp.result.type)))
    strict = pred in (CmpPred.LT, CmpPred.GT)
    terms = tuple(sorted(((t.id, c) for t, c in d.terms)))
    return (top, terms, strict), strict, top, d.terms


def _split(region: Region, inner: set[int], ctx: _Ctx) -> None:
    """region := [condition; if cond: region with its uniform comparisons true; else: region]."""
    body, term = region.ops[:-1], region.ops[-1]
    conds: dict = {}
    known: list[Op] = []
    for op in walk(Region([], body)):
        if op.kind is not OpKind.CMP or not isinstance(op.result.type, BlockType):
            continue
        c = _condition(op, inner, ctx)
        if c is not None:
            conds.setdefault(c[0], c[1:])
            known.append(op)
    loc = known[0].loc
    pre: list[Op] = []

    def emit(kind: OpKind, operands, t, attr) -> Value:
        o = Op(kind, list(operands), [Value(t, "")], loc, attr)
        pre.append(o)
        return o.result

    def i64(x: int) -> Value:
        return emit(OpKind.CONSTANT, [], I64, Const(x))

    cond = None
    for strict, top, terms in conds.values():
        total = i64(top + 1 if strict else top)  # `<`: top + sum(c * t) < 0, i.e. <= -1
        for t, c in terms:
            wide = emit(OpKind.CAST, [t], I64, Cast())
            if c != 1:
                wide = emit(OpKind.BINARY, [wide, i64(c)], I64, Binary(BinaryOp.MUL))
            total = emit(OpKind.BINARY, [total, wide], I64, Binary(BinaryOp.ADD))
        ok = emit(OpKind.CMP, [total, i64(0)], I1, Cmp(CmpPred.LE))
        cond = ok if cond is None else emit(OpKind.BINARY, [cond, ok], I1, Binary(BinaryOp.AND))
    # values of the region its terminator (or nothing else) reads: the `if` yields them
    defined = {r.id for op in body for r in op.results}
    outs = [v for v in term.operands if v.id in defined]
    vmap: dict[int, Value] = {}
    full = clone_ops(body, vmap)
    fold_true(full, {vmap[op.result.id].id for op in known})
    full.append(Op(OpKind.YIELD, [vmap[v.id] for v in outs], [], loc))
    rest = list(body) + [Op(OpKind.YIELD, list(outs), [], loc)]
    results = [Value(v.type, v.name) for v in outs]
    sub = {v.id: r for v, r in zip(outs, results, strict=True)}
    term.operands = [sub.get(v.id, v) for v in term.operands]
    branch = Op(OpKind.IF, [cond], results, loc, None, [Region([], full), Region([], rest)])
    region.ops = pre + [branch, term]
