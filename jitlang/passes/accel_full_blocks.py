"""Full blocks apart from the partial one: a loop `for off in range(lb, ub, BLOCK)` over a row
in blocks, masked by `off + arange(0, BLOCK) < ub` (Triton's layer norm, any chunked row loop),
runs its full blocks in a loop where that comparison is known true, and the last, partial block
(if any) after it with the mask. In the full loop the mask, the `where` it guards and the
masking of its loads and stores go away: no vector-engine work for them on the accelerator.

Stage: accel backend step "batch_programs", run by `accel_batch_masks.version_masks` after the
batch, and step "full_blocks" (`split_loops_once`, every kernel, first in
`accel_steps.apply_tile_steps`), both before layout inference, so
`accel_hoist.pipeline_loop_loads` then unrolls the full loop and leaves the tail loop, which
runs at most once, alone. Attention forward (Triton's tutorial, `cols < N_CTX` in its K/V loop
at a run-time N_CTX) 16x1024x64 fp16: 2,888.5 -> 1,419.3 us on nc-v2 (the row mask went to
every partition through an SBUF->SBUF DMA each iteration, on the loop's critical path). Input: verified tile IR. Output: an
equivalent kernel. What it requires of a loop: a constant positive step s, scalar bounds of one
integer type, and in its body (nested regions included) a comparison `a < b` (or `<=`, `>`,
`>=`) whose integer operands are affine (`accel_access`) with `a - b = iv - ub + e`, e uniform
but for block indices, and e's largest value below s (`<`: at most s for `<=`). What it
guarantees: the full loop runs `range(lb, lb + max((ub - lb) / s, 0) * s, s)` (C division), so
every iteration has iv + s <= ub and the comparison holds everywhere; the tail loop runs the
rest, the original body unchanged. Results and side effects in the same order as before.
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import (
    Binary,
    BinaryOp,
    BlockType,
    CmpPred,
    Const,
    Function,
    Op,
    OpKind,
    Region,
    Value,
    clone_ops,
    scalar_dtype,
    shape_of,
    walk,
)
from .accel_access import AccessAnalysis, Affine

_LT = {CmpPred.LT: False, CmpPred.LE: True}  # pred -> inclusive, operands as written
_GT = {CmpPred.GT: False, CmpPred.GE: True}  # the same with the operands swapped
# ops that give an all-true block when their (first) operand is one
_SHAPE = (OpKind.EXPAND_DIMS, OpKind.BROADCAST, OpKind.RESHAPE, OpKind.HINT, OpKind.CONVERT_LAYOUT)


def split_full_blocks(fn: Function) -> Function:
    """Split each loop whose body compares its induction variable plus a block index against
    its upper bound into a full-block loop, with those comparisons replaced by `true` and
    folded, and a tail loop (see the module docstring). Tail loops such a split made are left
    alone (one runs once at most: splitting it again would only copy its body), so the step
    can run again on a kernel that had it. In place."""
    from .accel_hoist import _at_most_one_trip

    prod: dict[int, Op] = {}
    consts: dict[int, object] = {}
    for op in walk(fn.body):
        for r in op.results:
            prod[r.id] = op
        if op.kind is OpKind.CONSTANT:
            consts[op.result.id] = op.attr.value
    an = AccessAnalysis(prod)
    _region(fn.body, an, consts, lambda loop: not _at_most_one_trip(loop, consts, prod))
    return fn


# step "full_blocks": the split for every kernel (a batched one has had it in "batch_programs")
split_loops_once = split_full_blocks


def _region(region: Region, an: AccessAnalysis, consts: dict, wanted) -> None:
    out: list[Op] = []
    for op in region.ops:
        for r in op.regions:
            _region(r, an, consts, wanted)
        if op.kind is OpKind.FOR and wanted(op):
            out.extend(_split(op, an, consts))
        else:
            out.append(op)
    region.ops = out


def proven_true(loop: Op, an: AccessAnalysis, consts: dict) -> list[Op]:
    """The comparisons of `loop`'s body that hold wherever iv + step <= ub."""
    lb, ub, step = loop.operands[:3]
    s = consts.get(step.id)
    if not isinstance(s, int) or isinstance(s, bool) or s <= 0:
        return []
    if not (lb.type == ub.type == step.type) or not _is_int(ub):
        return []
    iv = loop.regions[0].args[0]
    out = []
    for op in walk(loop.regions[0]):
        if op.kind is not OpKind.CMP or not all(_is_int(x) for x in op.operands):
            continue
        pred = op.attr.pred
        if pred in _LT:
            a, b, inclusive = op.operands[0], op.operands[1], _LT[pred]
        elif pred in _GT:
            a, b, inclusive = op.operands[1], op.operands[0], _GT[pred]
        else:
            continue
        fa, fb, fu = an.affine(a), an.affine(b), an.affine(ub)
        if fa is None or fb is None or fu is None:
            continue
        rank = len(shape_of(op.result.type))
        d = fa.add(fb, -1)
        # e = (a - b) - (iv - ub): no scalar terms left, block indices allowed
        e = d.add(Affine(0, ((iv, 1),), (0,) * rank), -1).add(fu.with_dims((0,) * rank))
        if e.terms:
            continue
        shape = shape_of(op.result.type)
        top = e.const + sum(max(c * (n - 1), 0) for c, n in zip(e.dims, shape, strict=True))
        if top < s or (inclusive and top <= s):
            out.append(op)
    return out


def _is_int(v: Value) -> bool:
    dt = scalar_dtype(v.type)
    return dt is not None and dt.is_int and dt is not DType.I1


def _split(loop: Op, an: AccessAnalysis, consts: dict) -> list[Op]:
    known = proven_true(loop, an, consts)
    if not known:
        return [loop]
    lb, ub, step = loop.operands[:3]
    s = consts[step.id]
    ty, loc = ub.type, loop.loc
    pre: list[Op] = []

    def emit(kind: OpKind, operands, attr) -> Value:
        o = Op(kind, list(operands), [Value(ty, "")], loc, attr)
        pre.append(o)
        if kind is OpKind.CONSTANT:
            consts[o.result.id] = attr.value
        return o.result

    lo, hi = consts.get(lb.id), consts.get(ub.id)
    tail = True
    if isinstance(lo, int) and isinstance(hi, int):
        full = max(0, hi - lo) // s
        if full == 0:
            return [loop]
        ub_full = emit(OpKind.CONSTANT, [], Const(lo + full * s))
        tail = lo + full * s < hi
    else:
        k = emit(OpKind.CONSTANT, [], Const(s))
        q = emit(OpKind.BINARY, [emit(OpKind.BINARY, [ub, lb], Binary(BinaryOp.SUB)), k], _DIV)
        q = emit(OpKind.BINARY, [q, emit(OpKind.CONSTANT, [], Const(0))], Binary(BinaryOp.MAX))
        ub_full = emit(OpKind.BINARY, [lb, emit(OpKind.BINARY, [q, k], Binary(BinaryOp.MUL))], _ADD)
    body = loop.regions[0]
    args = [Value(a.type, a.name) for a in body.args]
    vmap = {a.id: n for a, n in zip(body.args, args, strict=True)}
    ops = clone_ops(body.ops, vmap)
    true_ids = {vmap[c.result.id].id for c in known}
    fold_true(ops, true_ids)
    results = [Value(r.type, r.name) for r in loop.results] if tail else loop.results
    main = Op(OpKind.FOR, [lb, ub_full, step, *loop.operands[3:]], results, loc, loop.attr)
    main.regions = [Region(args, ops)]
    if not tail:
        return pre + [main]
    loop.operands = [ub_full, ub, step, *results]
    return pre + [main, loop]


_ADD, _DIV = Binary(BinaryOp.ADD), Binary(BinaryOp.DIV)


def fold_true(ops: list[Op], true_ids: set[int]) -> None:
    """Comparisons `true_ids` become all-true constants, and so does what only reshapes them;
    `x & true` is x, `where(true, a, b)` is a, a load or store masked by true is unmasked.
    Ops left unused are for DCE."""
    rep: dict[int, Value] = {}
    region = Region([], ops)
    for op in walk(region):
        op.operands = [rep.get(v.id, v) for v in op.operands]
        k = op.kind
        if (
            len(op.results) == 1
            and op.result.id in true_ids
            or (k in _SHAPE and op.operands and op.operands[0].id in true_ids)
        ):
            op.kind, op.operands, op.attr, op.regions = OpKind.CONSTANT, [], Const(True), []
            true_ids.add(op.result.id)
        elif k is OpKind.CONSTANT and op.attr.value is True and _bool_block(op.result):
            true_ids.add(op.result.id)
        elif k is OpKind.BINARY and op.attr.op is BinaryOp.AND and _bool_block(op.result):
            a, b = op.operands
            if a.id in true_ids and b.type == op.result.type:
                rep[op.result.id] = b
            elif b.id in true_ids and a.type == op.result.type:
                rep[op.result.id] = a
        elif k is OpKind.SELECT and op.operands[0].id in true_ids:
            if op.operands[1].type == op.result.type:
                rep[op.result.id] = op.operands[1]
        elif k is OpKind.LOAD and len(op.operands) > 1 and op.operands[1].id in true_ids:
            op.operands = op.operands[:1]
        elif k is OpKind.STORE and len(op.operands) > 2 and op.operands[2].id in true_ids:
            op.operands = op.operands[:2]


def _bool_block(v: Value) -> bool:
    return isinstance(v.type, BlockType) and scalar_dtype(v.type) is DType.I1
