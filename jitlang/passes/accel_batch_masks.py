"""Masks that program batching made non-rectangular, versioned: a one-block-per-program
kernel's `offs < n` with offs = pid * BLOCK + arange(BLOCK) becomes, batched, a comparison of
[B, BLOCK] indices whose valid part is no rectangle (rows full up to some lane, then a partial
row), which only an indirect DMA can do.

Stage: accel backend step "batch_programs", after `accel_batch.batch_programs` and CSE (which
would merge the fallback's copies back). Input: verified batched tile IR. Output: the same
kernel where each such load/store runs in `if <the comparison holds wherever the rest of the
mask does>` with the comparison dropped (an access-pattern DMA), and as before otherwise (the
grid's last batch when n is not a multiple of BLOCK); the fallback computes its own address and
mask blocks, so outside the `if` they feed access patterns only and cost no engine time.
"""

from __future__ import annotations

from ..ir import (
    Binary,
    BinaryOp,
    Cmp,
    CmpPred,
    Const,
    Function,
    Op,
    OpKind,
    Region,
    Value,
    elem_type,
    shape_of,
    walk,
)
from .accel_batch import I1, I32, PURE_KINDS
from .accel_full_blocks import split_full_blocks
from .dce import dce

_ADD, _MUL = Binary(BinaryOp.ADD), Binary(BinaryOp.MUL)


def version_masks(fn: Function) -> Function:
    """A one-block-per-program kernel's `offs < n` with offs = pid * BLOCK + arange(BLOCK)
    becomes, batched, a comparison of [B, BLOCK] indices whose valid part is no rectangle (rows
    full up to some lane, then a partial row): an indirect DMA. Each load/store whose mask is
    rectangular but for such comparisons runs in `if <every element passes them>` with the
    comparisons dropped (an access-pattern DMA), and as before otherwise (the grid's last
    batch). Rewrites `fn` in place, then splits loops over a row in blocks into full blocks
    and the partial one (`accel_full_blocks.split_full_blocks`) and drops what that leaves
    unused."""
    from .accel_access import AccessAnalysis

    prod: dict[int, Op] = {}
    loops = []
    for op in walk(fn.body):
        for r in op.results:
            prod[r.id] = op
        if op.kind is OpKind.FOR:
            loops.append(op)
    an = AccessAnalysis(prod, loops)

    def leaves(v: Value, out: list[Value]) -> None:
        op = prod.get(v.id)
        if op is not None and op.kind is OpKind.BINARY and op.attr.op is BinaryOp.AND:
            for x in op.operands:
                leaves(x, out)
        else:
            out.append(v)

    def scalar(a, emit) -> Value | None:
        """The uniform affine form `a` (no block part) as an int32 scalar."""
        if any(not isinstance(t, Value) or elem_type(t.type) != I32 for t, _ in a.terms):
            return None
        total = emit(OpKind.CONSTANT, [], I32, Const(a.const))
        for t, c in a.terms:
            if c != 1:
                t = emit(OpKind.BINARY, [t, emit(OpKind.CONSTANT, [], I32, Const(c))], I32, _MUL)
            total = emit(OpKind.BINARY, [total, t], I32, _ADD)
        return total

    def all_pass(leaf: Value, bounds, emit) -> Value | None:
        """A scalar i1: comparison `leaf` holds wherever the kept `bounds` do (None: not
        computable). Along a dim a bound limits (the lanes below the grid), the largest index
        is the bound's; elsewhere the block's."""
        op = prod.get(leaf.id)
        if op is None or op.kind is not OpKind.CMP or op.attr.pred in (CmpPred.EQ, CmpPred.NE):
            return None
        if any(elem_type(x.type) != I32 for x in op.operands):
            return None
        a, b = (an.affine(x) for x in op.operands)
        if a is None or b is None:
            return None
        pred = op.attr.pred
        d = a.add(b, -1) if pred in (CmpPred.LT, CmpPred.LE) else b.add(a, -1)
        total = scalar(d.with_dims((0,) * len(d.dims)), emit)
        if total is None:
            return None
        for dim, (c, n) in enumerate(zip(d.dims, shape_of(leaf.type), strict=True)):
            if c <= 0:
                continue
            last = emit(OpKind.CONSTANT, [], I32, Const(n - 1))
            for bd in bounds:
                if bd.dim != dim or bd.coef != 1 or bd.inclusive:
                    continue
                lo, hi = scalar(bd.lhs, emit), scalar(bd.rhs, emit)
                if lo is None or hi is None:
                    continue
                room = emit(OpKind.BINARY, [hi, lo], I32, Binary(BinaryOp.SUB))
                room = emit(
                    OpKind.BINARY,
                    [room, emit(OpKind.CONSTANT, [], I32, Const(1))],
                    I32,
                    Binary(BinaryOp.SUB),
                )
                last = emit(OpKind.BINARY, [last, room], I32, Binary(BinaryOp.MIN))
            k = emit(OpKind.CONSTANT, [], I32, Const(c))
            total = emit(
                OpKind.BINARY, [total, emit(OpKind.BINARY, [last, k], I32, _MUL)], I32, _ADD
            )
        zero = emit(OpKind.CONSTANT, [], I32, Const(0))
        strict = pred in (CmpPred.LT, CmpPred.GT)
        return emit(OpKind.CMP, [total, zero], I1, Cmp(CmpPred.LT if strict else CmpPred.LE))

    def clone(v: Value, out: list[Op], done: dict[int, Value]) -> Value:
        """`v` recomputed into `out` when it is a block made by pure ops (else `v`)."""
        op = prod.get(v.id)
        if v.id in done:
            return done[v.id]
        if op is None or not shape_of(v.type) or op.kind not in PURE_KINDS or op.regions:
            return v
        operands = [clone(x, out, done) for x in op.operands]
        nv = done[v.id] = Value(v.type, v.name)
        out.append(Op(op.kind, operands, [nv], op.loc, op.attr))
        return nv

    def region(reg: Region) -> None:
        new_ops: list[Op] = []
        for op in reg.ops:
            for r in op.regions:
                region(r)
            at = 1 if op.kind is OpKind.LOAD else 2
            if op.kind not in (OpKind.LOAD, OpKind.STORE) or len(op.operands) <= at:
                new_ops.append(op)
                continue
            mask = op.operands[at]
            if an.bounds(mask) is not None:
                new_ops.append(op)
                continue
            keep, drop = [], []
            ls: list[Value] = []
            leaves(mask, ls)
            for leaf in ls:
                (keep if an.bounds(leaf) is not None else drop).append(leaf)
            pre: list[Op] = []

            def emit(kind, operands, t, attr=None, _pre=pre, _loc=op.loc):
                v = Value(t)
                _pre.append(Op(kind, list(operands), [v], _loc, attr))
                return v

            kept = [bd for leaf in keep for bd in an.bounds(leaf)]
            conds = [all_pass(leaf, kept, emit) for leaf in drop]
            if not drop or any(c is None for c in conds):
                new_ops.append(op)
                continue
            cond = conds[0]
            for c in conds[1:]:
                cond = emit(OpKind.BINARY, [cond, c], I1, Binary(BinaryOp.AND))
            then: list[Op] = []
            m2 = None
            for leaf in keep:
                if m2 is not None:
                    both = Value(mask.type)
                    then.append(Op(OpKind.BINARY, [m2, leaf], [both], op.loc, Binary(BinaryOp.AND)))
                    leaf = both
                m2 = leaf
            rest = op.operands[at + 1 :]
            operands = op.operands[:at] + ([m2] + rest if m2 is not None else [])
            results = [Value(r.type, r.name) for r in op.results]
            then.append(Op(op.kind, operands, results, op.loc, op.attr))
            then.append(Op(OpKind.YIELD, results, [], op.loc))
            # the fallback computes its own address and mask blocks: outside the `if` they then
            # feed access patterns only, and cost nothing (no tiles on the engines)
            orig: list[Op] = []
            copied = [clone(v, orig, {}) for v in op.operands]
            other = [Value(r.type, r.name) for r in op.results]
            orig.append(Op(op.kind, copied, other, op.loc, op.attr))
            orig.append(Op(OpKind.YIELD, other, [], op.loc))
            new_ops += pre
            new_ops.append(
                Op(
                    OpKind.IF,
                    [cond],
                    op.results,
                    op.loc,
                    None,
                    [Region([], then), Region([], orig)],
                )
            )
        reg.ops[:] = new_ops

    region(fn.body)
    # loops over a row in blocks: the full blocks without their masks, the partial one apart
    return dce(split_full_blocks(fn))
