"""`sort` and `flip` of the tile IR: reorderings along one axis, in the working layout.

Stage: part of the accel lowering (`tileops` dispatches here). Both move the block into the
general combine's working layout (`accel_memory.work_layout`: the axis inside each partition's
free elements, the dims before it over partitions), reorder there through strided views, and
move the result to its own layout (copy or SBUF-to-SBUF DMA, `combine.put_result`):
- flip: one copy through a view that walks the axis backwards (a negative stride);
- sort (last axis, n a power of two): a bitonic network, log2(n) (log2(n) + 1) / 2 steps of
  compare-exchange on whole tiles. In step (k, j) element i meets i + j (bit j of i clear),
  ascending where bit k of i is clear, so one step is two compare-exchanges (ascending and
  descending pairs) through the views (2k, o n / 2k) x (2j, k / 2j) x (1, j), offsets 0 / j and
  k / k + j. NaN counts as larger than every number (numpy's order: last when ascending, first
  when descending). Like Triton's, the network is not stable (only -0.0 / 0.0 can tell).
"""

from __future__ import annotations

from isa.table import TensorOp
from jitlang.dtypes import DType
from jitlang.ir import Op, scalar_dtype, shape_of
from jitlang.passes.accel_memory import SCRATCH_SLOTS, work_layout

from .combine import put_result
from .tiles import TileRef


class _Reorder:
    def __init__(self, ops, op: Op, axis: int) -> None:
        self.ops, self.low, self.op = ops, ops.low, op
        shape = shape_of(op.operands[0].type)
        self.pn, self.o, self.n, self.inner = work_layout(shape, axis, self.low.target)
        self.per = self.o * self.n * self.inner

    def slot(self, i: int, dt: DType) -> TileRef:
        return self.low.scratch(SCRATCH_SLOTS + i, dt, self.pn, self.per)

    def load(self, dt: DType) -> TileRef:
        """The operand, copied into working slot 0 (the reordering writes it)."""
        src = self.low.tile_of(self.op.operands[0], 0)
        x = self.slot(0, dt)
        if src.pn == self.pn:
            self.ops.call("accel.copy", x, src)
        else:
            self.ops.call("accel.dma.copy", x, src)
        return x

    def store(self, t: TileRef) -> None:
        r = self.op.result
        d = self.ops.dest(r)
        put_result(self, d, t)
        self.ops.finish(r, d)


def lower_flip(ops, op: Op) -> None:
    w = _Reorder(ops, op, op.attr.axis)
    dt = _dtype(op)
    x = w.load(dt)
    n, inner, es = w.n, w.inner, x.dtype.mem_bytes
    dims = [(n * inner, w.o), (-inner, n), (1, inner)]
    dims = [d for d in dims if d[1] > 1] or [(1, 1)]
    w.store(TileRef(x.view(*dims, off=(n - 1) * inner * es), x.dtype))


def lower_sort(ops, op: Op) -> None:
    rank = len(shape_of(op.operands[0].type))
    w = _Reorder(ops, op, rank - 1)
    dt = _dtype(op)
    x = w.load(dt)
    n, o = w.n, w.o
    half = o * n // 2
    m, na, nb = (w.slot(i, DType.U8).view((1, half)) for i in (1, 2, 3))
    tmp = TileRef(w.slot(4, dt).view((1, half)), dt)
    mask = TileRef(m, DType.U8), TileRef(na, DType.U8), TileRef(nb, DType.U8)
    desc = op.attr.descending
    k = 2
    while k <= n:
        j = k // 2
        while j >= 1:
            if k == n:  # every pair ascends
                _exchange(w, x, [(n, o), (2 * j, n // (2 * j)), (1, j)], 0, j, not desc, mask, tmp)
            else:
                dims = [(2 * k, o * n // (2 * k)), (2 * j, k // (2 * j)), (1, j)]
                _exchange(w, x, dims, 0, j, not desc, mask, tmp)
                _exchange(w, x, dims, k, k + j, desc, mask, tmp)
            j //= 2
        k *= 2
    w.store(x)


def _exchange(w, x: TileRef, dims, ia: int, ib: int, up: bool, mask, tmp: TileRef) -> None:
    """Pairs (a, b) at element offsets ia, ib through `dims`: a gets the smaller (up) or the
    larger one, b the other."""
    call = w.ops.call
    dims = [d for d in dims if d[1] > 1] or [(1, 1)]
    es = x.dtype.mem_bytes
    a = TileRef(x.view(*dims, off=ia * es), x.dtype)
    b = TileRef(x.view(*dims, off=ib * es), x.dtype)
    cnt = a.free
    m, na, nb = (TileRef(t.view((1, cnt)), DType.U8) for t in mask)
    t = TileRef(tmp.view((1, cnt)), tmp.dtype)
    call("accel.tt", int(TensorOp.GT if up else TensorOp.LT), m, a, b)
    if x.dtype.is_float:  # NaN is the largest: it goes to b when ascending, to a otherwise
        call("accel.tt", int(TensorOp.NE), na, a, a)
        call("accel.tt", int(TensorOp.NE), nb, b, b)
        first, second = (na, nb) if up else (nb, na)
        call("accel.tt", int(TensorOp.GT), first, first, second)
        call("accel.tt", int(TensorOp.OR), m, m, first)
    call("accel.select", t, m, a, b)
    call("accel.select", a, m, b, a)
    call("accel.copy", b, t)


def _dtype(op: Op) -> DType:
    return scalar_dtype(op.operands[0].type)
