"""Reductions of the tile IR on the vector and GpSimd engines.

Stage: part of the accel lowering (`tileops` dispatches here). Input: a `reduce` op (sum, max,
min, prod, and/or/xor, argmax/argmin) over a 1-D block (to a scalar) or a 2-D block along either
axis, in the default layouts (leading dimension split over `pn` partitions, r rows each). Output:
free-axis `reduce` (groups of consecutive free elements; strided views pick the groups) and
cross-partition `preduce`, which writes its result to every partition: a whole-block result is
a column replicated on the partitions, an axis-0 result a row on partition 0. argmax/argmin
reduce the values, compare the block against the broadcast extreme (stride-0 views), select the
indices where equal (the largest int32 elsewhere) and take their minimum: the first index, as
Triton and numpy give.
"""

from __future__ import annotations

from isa.operands import SPACE_SBUF
from isa.table import ActFn, ReduceOp, TensorOp
from jitlang.dtypes import DType
from jitlang.ir import Op, ReduceKind, scalar_dtype, shape_of
from jitlang.passes.accel_memory import general_combine
from jitlang.passes.accel_patterns import combine_kind

from .lower import UnsupportedOnAccelError, f32_bits
from .tiles import TileRef

_RED = {
    ReduceKind.SUM: ReduceOp.ADD,
    ReduceKind.MAX: ReduceOp.MAX,
    ReduceKind.MIN: ReduceOp.MIN,
    ReduceKind.PROD: ReduceOp.MUL,
    ReduceKind.XOR: ReduceOp.XOR,
    ReduceKind.OR: ReduceOp.OR,
    ReduceKind.AND: ReduceOp.AND,
}
_ACT_OK = (ReduceKind.SUM, ReduceKind.MAX, ReduceKind.MIN)  # float: exact in act's fp32 copy
_ARG = {ReduceKind.ARGMAX: ReduceOp.MAX, ReduceKind.ARGMIN: ReduceOp.MIN}
_INT_MAX = (1 << 31) - 1


def lower_reduce(ops, op: Op) -> None:
    from .combine import BUILTIN, lower_general

    kind = combine_kind(op)
    if kind in _ARG and len(op.operands) == 2:
        return _arg_reduce(ops, op)
    if general_combine(op):
        if kind is ReduceKind.CUSTOM:
            return lower_general(ops, op, None)
        if kind in BUILTIN and len(op.operands) == 1:
            return lower_general(ops, op, BUILTIN[kind])
        raise UnsupportedOnAccelError(op.loc, f"reduction `{kind.value}` of {op.operands[0].type}")
    low = ops.low
    rop = int(_RED[kind])
    r, s = op.result, op.operands[0]
    d = ops.dest(r)
    x = low.tile_of(s, 0)
    shape, axis = shape_of(s.type), op.attr.axis
    if nan_skipping(op):
        # Triton's tl.max/tl.min skip NaN (the engines' max/min propagate it): NaN lanes take
        # the identity, and a slice of NaN only gives NaN. `x >= -inf` is 0 only for NaN (one
        # `ts`, half a `tt`'s cost); the identity comes from one stride-0 element; the two
        # free-axis reductions run on the activation engine (an in-place copy with an
        # accumulator), which the vector engine's element-wise work leaves idle
        dt = scalar_dtype(s.type)
        ok = low.scratch(3, DType.U8, x.pn, x.free)
        clean = low.scratch(4, dt, x.pn, x.free)
        worst = low.scratch(5, dt, x.pn, 1)
        ops.call("accel.ts", int(TensorOp.GE), ok, x, f32_bits(float("-inf")))
        inf = float("-inf") if kind is ReduceKind.MAX else float("inf")
        ops.call("accel.memset", worst, f32_bits(inf))
        ops.call("accel.select", clean, ok, x, worst.view((0, x.free)))
        _reduce_into(ops, rop, d, clean, shape, axis, op, on_act=_in_place(ops, clean))
        some = low.scratch(6, DType.U8, d.pn, d.free)
        _reduce_into(ops, int(ReduceOp.MAX), some, ok, shape, axis, op, on_act=_in_place(ops, ok))
        nans = low.scratch(5, d.dtype, d.pn, d.free)
        ops.call("accel.memset", nans, f32_bits(float("nan")))
        ops.call("accel.select", d, some, d, nans)
    else:
        dt = scalar_dtype(s.type)
        junk = None
        if dt.is_float and kind in _ACT_OK and x.tile.space == SPACE_SBUF:
            if ops.act_is_freer(x.free):  # an `act copy` accumulates it: into scratch, or
                try:  # onto x itself when no slot is that large (x keeps its values)
                    junk = low.scratch(3, x.dtype, x.pn, x.free)
                except UnsupportedOnAccelError:
                    junk = x
        _reduce_into(ops, rop, d, x, shape, axis, op, on_act=junk)
    ops.finish(r, d)


def _in_place(ops, t: TileRef) -> TileRef | None:
    """t itself as the destination of the accumulating `act copy` when the activation engine
    is the freer one (t is scratch: rewriting its values in place changes nothing)."""
    return t if ops.act_is_freer(t.free) else None


def nan_skipping(op: Op) -> bool:
    """A float max/min reduction that must skip NaN (the default, propagate_nan=False)."""
    kind = combine_kind(op)
    dt = scalar_dtype(op.operands[0].type)
    return (
        kind in (ReduceKind.MAX, ReduceKind.MIN)
        and dt is not None
        and dt.is_float
        and not getattr(op.attr, "propagate_nan", False)
        and len(op.operands) == 1
    )


def _reduce_into(
    ops,
    rop: int,
    d: TileRef,
    x: TileRef,
    shape,
    axis: int,
    op: Op,
    on_act: TileRef | None = None,
) -> None:
    """d = reduction of x (block of `shape`) along `axis` (see module docstring). With
    `on_act` (a tile of x's partitions and free size: x itself or scratch) the free-axis step
    is the accumulator of an `act copy` of x into it on the activation engine (x * 1 + -0.0
    is x for every float; the accumulator reduces the same values in the same order)."""
    low = ops.low

    def reduce(dst: TileRef, src: TileRef) -> None:
        if ops.fuse_accum(dst, src, rop):  # the accumulator of the act that wrote src
            return
        if on_act is not None:
            one, bias = f32_bits(1.0), f32_bits(-0.0)
            out = src if on_act.tile == x.tile else on_act
            ops.call("accel.act", int(ActFn.COPY), out, src, bias, one, dst, rop)
        else:
            ops.call("accel.reduce", rop, dst, src)

    if len(shape) == 1:
        if x.pn == 1:
            reduce(d, x)
            return
        col = low.scratch(0, d.dtype, x.pn, 1)
        reduce(col, x)
        ops.call("accel.preduce", rop, d, col)
    elif len(shape) == 2 and axis == 1:
        reduce(d, x)
    elif len(shape) == 2 and axis == 0:
        m, n = shape
        rows = m // x.pn
        part = x
        if rows > 1:
            part = low.scratch(1, d.dtype, x.pn, n)
            reduce(part, x.view((1, n), (n, rows)))
        if x.pn > 1:
            ops.call("accel.preduce", rop, d, part)
        else:
            ops.call("accel.copy", d, part)
    else:
        raise UnsupportedOnAccelError(
            op.loc, f"reduction over axis {axis} of a {len(shape)}-D block"
        )


def _arg_reduce(ops, op: Op) -> None:
    """argmax/argmin (module docstring). Floats follow Triton: NaN is skipped (the extreme is
    taken over the other elements, and NaN never equals it); a slice of NaN only gives its
    last index and a NaN value."""
    low = ops.low
    vals, idxs = op.operands
    shape = shape_of(vals.type)
    axis = op.attr.axis
    x = low.tile_of(vals, 0)
    ix = low.tile_of(idxs, 1)
    ix = ix.as_dtype(DType.I32) if ix.dtype.bits == 32 else ix
    rop = int(_ARG[op.attr.kind])
    pn = x.pn
    vdt = scalar_dtype(vals.type)
    s0, s1, s2 = (lambda dt, p, f, i=i: low.scratch(i, dt, p, f) for i in range(3))
    if len(shape) == 1:
        red_free = 1
    elif len(shape) == 2 and axis == 1:
        rows, n = shape[0] // pn, shape[1]
        red_free = rows
    elif len(shape) == 2 and axis == 0:
        rows, n = shape[0] // pn, shape[1]
        red_free = n
    else:
        raise UnsupportedOnAccelError(op.loc, f"argmax/argmin over axis {axis} of {vals.type}")

    def reduce(rop: int, d: TileRef, src: TileRef) -> None:
        if len(shape) == 1 or axis == 1:
            ops.call("accel.reduce", rop, d, src)
            if len(shape) == 1 and pn > 1:
                ops.call("accel.preduce", rop, d, d)
            return
        if rows > 1:
            ops.call("accel.reduce", rop, d, src.view((1, n), (n, rows)))
        else:
            ops.call("accel.copy", d, src)
        if pn > 1:
            ops.call("accel.preduce", rop, d, d)

    clean = x
    if vdt.is_float:  # the extreme of the numbers: NaN lanes take the identity
        clean, nan = s2(vdt, pn, x.free), s1(DType.U8, pn, x.free)
        worst = float("-inf") if op.attr.kind is ReduceKind.ARGMAX else float("inf")
        ops.call("accel.tt", int(TensorOp.NE), nan, x, x)
        ops.call("accel.memset", clean, f32_bits(worst))
        ops.call("accel.select", clean, nan, clean, x)
    m = s0(vdt, pn, red_free)
    reduce(rop, m, clean)
    if len(shape) == 1:
        bview = m.view((0, x.free))
    elif axis == 1:
        bview = m.view((1, rows), (0, n))
    else:
        bview = m.view((0, rows), (1, n))
    eq = s1(DType.U8, pn, x.free)
    ops.call("accel.tt", int(TensorOp.EQ), eq, x, bview)  # NaN equals nothing
    cand = s2(DType.I32, pn, x.free)
    ops.call("accel.iota", cand, _INT_MAX, 0, 0)
    ops.call("accel.select", cand, eq, ix, cand)
    best = s1(DType.I32, pn, red_free)
    reduce(int(ReduceOp.MIN), best, cand)
    if vdt.is_float:  # no candidate: the slice is all NaN
        flag = low.scratch(3, DType.U8, pn, red_free)
        last = low.scratch(4, DType.I32, pn, red_free)
        nans = low.scratch(5, vdt, pn, red_free)
        ops.call("accel.ts", int(TensorOp.GT), flag, best, f32_bits(float(1 << 30)))
        reduce(int(ReduceOp.MAX), last, ix)
        ops.call("accel.select", best, flag, last, best)
        ops.call("accel.memset", nans, f32_bits(float("nan")))
        ops.call("accel.select", m, flag, nans, m)
    row = len(shape) == 2 and axis == 0 or len(shape) == 1
    for res, src in zip(op.results, (m, best), strict=True):
        if res.id not in low.plan.needed and res.id in low.plan.layouts:
            continue
        d = ops.dest(res)
        view = TileRef(src.view(pn=d.pn), src.dtype) if row else src
        ops.call("accel.copy", d, view)
        ops.finish(res, d)


_SCAN = {
    ReduceKind.SUM: TensorOp.ADD,
    ReduceKind.PROD: TensorOp.MUL,
    ReduceKind.MAX: TensorOp.MAX,
    ReduceKind.MIN: TensorOp.MIN,
}


def lower_scan(ops, op: Op) -> None:
    """Inclusive scans along the free axis: Hillis-Steele, log2(N) steps of one `tt` on shifted
    views plus a copy of the untouched prefix, ping-ponging between two scratch slots. A 1-D
    block spread over partitions is first gathered onto one partition by DMA (and back)."""
    from .combine import BUILTIN, lower_general

    kind = combine_kind(op)
    shape = shape_of(op.operands[0].type)
    if general_combine(op):
        if kind is ReduceKind.CUSTOM:
            return lower_general(ops, op, None)
        if kind in BUILTIN and len(op.operands) == 1:
            return lower_general(ops, op, BUILTIN[kind])
        raise UnsupportedOnAccelError(op.loc, f"scan `{kind.value}` of {op.operands[0].type}")
    low = ops.low
    tt = int(_SCAN[kind])
    r, s = op.result, op.operands[0]
    d = ops.dest(r)
    x = low.tile_of(s, 0)
    n = shape[-1]
    es = x.dtype.mem_bytes
    if len(shape) == 1:
        pn, rows = 1, 1
        cur = low.scratch(0, x.dtype, 1, n)
        if x.pn != 1:
            ops.call("accel.dma.copy", cur, x)
        else:
            cur = x
    else:
        pn, rows = x.pn, shape[0] // x.pn
        cur = x

    def v(t: TileRef, off: int, size: int):
        dims = ((n, rows), (1, size)) if rows > 1 else ((1, size),)
        return t.view(*dims, pn=pn, off=off * es)

    step, slot = 1, 1
    while step < n:
        nxt = low.scratch(slot, x.dtype, pn, rows * n)
        keep = n - step
        if op.attr.reverse:
            ops.call("accel.tt", tt, v(nxt, 0, keep), v(cur, 0, keep), v(cur, step, keep))
            ops.call("accel.copy", v(nxt, keep, step), v(cur, keep, step))
        else:
            ops.call("accel.tt", tt, v(nxt, step, keep), v(cur, step, keep), v(cur, 0, keep))
            ops.call("accel.copy", v(nxt, 0, step), v(cur, 0, step))
        cur, slot, step = nxt, 3 - slot, step * 2
    if d.pn != pn:
        ops.call("accel.dma.copy", d, cur)
    else:
        ops.call("accel.copy", d, cur)
    ops.finish(r, d)
