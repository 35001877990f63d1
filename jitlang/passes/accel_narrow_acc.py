"""Dot accumulators. `fuse_dot_add`: `x + tl.dot(a, b)` (fp32) is `tl.dot(a, b, x)`, so that
`acc += tl.dot(a, b)` in a K loop accumulates in place. Step "narrow_acc": `(acc.to(tl.float32) + tl.dot(a, b)).to(tl.bfloat16)` with a bf16
(or fp16) `acc` is one `dot(a, b, acc)` whose result is bf16: the tensor engine sums the
products in fp32 PSUM and the vector engine's read-out adds the bf16 accumulator and writes
bf16 (an ISA `tt` computes in float64 and rounds once to its destination's dtype). Without
the step the fp32 sum is a block of its own (twice the bf16 accumulator's bytes per
partition) and a second pass converts it. This is how NKI's tuned matmul keeps its result
tiles (bf16 in SBUF, one PSUM read-out per contraction block), so a kernel written that way in
the Triton dialect holds twice the accumulator elements of an fp32 one in the same SBUF.

Values: the unfused form rounds the fp32 sum to fp32 and then to bf16; the fused one rounds the
exact sum (fp32 PSUM + bf16) once. The two differ only when the fp32 rounding lands exactly
halfway between two bf16 values, by one bf16 ulp per K block (tests/codegen/accel/
test_narrow_acc.py compares both with numpy).

Stage: accel backend, run by `accel_steps.apply_tile_steps` (`fuse_dot_add` always, then step
"narrow_acc") before layouts are assigned. Input: verified tile IR.
Output: each `cast<T>(dot(a, b, cast<f32>(y)))` (T bf16 or fp16, y of type T and the same shape,
the dot 2-D with an fp32 result read only by the cast, the inner cast read only by the dot)
is `dot(a, b, y)` of type T; the casts are gone.
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import BinaryOp, Function, Op, OpKind, Region, Value, scalar_dtype, shape_of, walk
from .accel_patterns import zero_acc
from .dce import dce

STEP = "narrow_acc"
_NARROW = (DType.BF16, DType.F16)


def narrow_dot_accumulators(fn: Function) -> Function:
    """Fuse the casts around dot accumulators (see the module docstring). In place."""
    prod: dict[int, Op] = {}
    uses: dict[int, list[Op]] = {}
    for op in walk(fn.body):
        for r in op.results:
            prod[r.id] = op
        for v in op.operands:
            uses.setdefault(v.id, []).append(op)
    gone: set[int] = set()
    for op in walk(fn.body):
        d = _fusable(op, prod, uses)
        if d is None:
            continue
        d.operands[2] = prod[d.operands[2].id].operands[0]
        d.results = [op.result]  # the dot now defines what the cast did, typed T
        gone.add(id(op))
    if not gone:
        return fn
    _drop(fn.body, gone)
    return dce(fn)


def _fusable(op: Op, prod: dict[int, Op], uses: dict[int, list[Op]]) -> Op | None:
    """The dot whose cast `op` is, when the pair can fuse."""
    if op.kind is not OpKind.CAST or op.attr.bitcast:
        return None
    t = scalar_dtype(op.result.type)
    if t not in _NARROW:
        return None
    d = prod.get(op.operands[0].id)
    if d is None or d.kind is not OpKind.DOT or len(shape_of(d.result.type)) != 2:
        return None
    if scalar_dtype(d.result.type) is not DType.F32 or uses.get(d.result.id) != [op]:
        return None
    w = prod.get(d.operands[2].id)
    if w is None or w.kind is not OpKind.CAST or w.attr.bitcast:
        return None
    if uses.get(w.result.id) != [d] or d.operands[2] in d.operands[:2]:
        return None
    return d if w.operands[0].type == op.result.type else None


def _drop(region: Region, gone: set[int]) -> None:
    region.ops = [o for o in region.ops if id(o) not in gone]
    for o in region.ops:
        for r in o.regions:
            _drop(r, gone)


def fuse_dot_add(fn: Function) -> None:
    """`x + tl.dot(a, b)` (an fp32 block x defined before the dot, the dot's accumulator a
    constant 0 and the sum its only use) becomes `tl.dot(a, b, x)`: the same fp32 sum (the
    lowering adds PSUM to the accumulator either way), and `acc += tl.dot(a, b)` in a K loop
    then accumulates in place (`accel_memory` gives the dot the carried buffer)."""
    prod = {r.id: op for op in walk(fn.body) for r in op.results}
    uses: dict[int, list[Op]] = {}
    for op in walk(fn.body):
        for v in op.operands:
            uses.setdefault(v.id, []).append(op)
    replaced: dict[int, Value] = {}
    _fuse_in(fn.body, prod, uses, replaced)
    if replaced:
        for op in walk(fn.body):
            op.operands = [replaced.get(v.id, v) for v in op.operands]


def _fuse_in(region: Region, prod, uses, replaced: dict[int, Value]) -> None:
    pos = {id(o): i for i, o in enumerate(region.ops)}
    gone: set[int] = set()
    for op in region.ops:
        for sub in op.regions:
            _fuse_in(sub, prod, uses, replaced)
        if op.kind is not OpKind.BINARY or op.attr.op is not BinaryOp.ADD:
            continue
        for i in (0, 1):
            d = prod.get(op.operands[i].id)
            x = op.operands[1 - i]
            if (
                d is None
                or d.kind is not OpKind.DOT
                or id(d) not in pos
                or not zero_acc(d, prod)
                or uses.get(d.result.id) != [op]
                or not d.result.type == op.result.type == x.type
                or scalar_dtype(x.type) is not DType.F32
            ):
                continue
            px = prod.get(x.id)  # x must exist at the dot: outer, an argument, or earlier
            if px is not None and id(px) in pos and pos[id(px)] > pos[id(d)]:
                continue
            d.operands[2] = x
            replaced[op.result.id] = d.result
            gone.add(id(op))
            break
    region.ops = [o for o in region.ops if id(o) not in gone]
