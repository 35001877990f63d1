"""Reductions and scans with any combine function, applied to whole tiles.

Stage: part of the accel lowering (`reduce` dispatches here when the engines have no single
instruction for the op: a `tl.reduce`/`tl.associative_scan` combine region, tuple operands
(argmax-style pairs, `tl.gather`), `.item()`/`tl.split` (first/last element), blocks of rank > 2,
scans along a leading axis). Input: the op; output: each operand moved by an SBUF-to-SBUF DMA
into the working layout (`accel_memory.work_layout`: the axis inside each partition's free
elements, the dims before it over partitions), then about log2(n) steps that each apply the
combine once to whole tiles, ping-ponging between two sets of scratch slots:
- a reduction combines adjacent pairs, f(x[2i], x[2i+1]) (an odd last element is carried), so
  the order of the elements is kept and the combine need not be commutative (the CPU folds left
  to right; for an associative combine the results agree);
- a scan is Hillis-Steele: x[k] = f(x[k-s], x[k]) for k >= s (reverse: f(x[k+s], x[k])).
A combine region's ops are lowered by `tileops` with its arguments bound to tile views and its
values to scratch slots (`TileOps.forced`). The result goes to the op's result layout by copy,
DMA or partition broadcast.
"""

from __future__ import annotations

from isa.table import TensorOp
from jitlang.dtypes import DType
from jitlang.ir import Op, OpKind, ReduceKind, Value, scalar_dtype, shape_of
from jitlang.passes.accel_layout import is_tile_value
from jitlang.passes.accel_memory import SCRATCH_SLOTS, work_layout

from .lower import UnsupportedOnAccelError
from .tiles import TileRef

BUILTIN = {
    ReduceKind.SUM: TensorOp.ADD,
    ReduceKind.PROD: TensorOp.MUL,
    ReduceKind.MAX: TensorOp.MAX,
    ReduceKind.MIN: TensorOp.MIN,
    ReduceKind.XOR: TensorOp.XOR,
    ReduceKind.OR: TensorOp.OR,
    ReduceKind.AND: TensorOp.AND,
}


class _Work:
    """The working tiles of one op: (pn, o, n, inner) and a scratch-slot counter."""

    def __init__(self, ops, op: Op) -> None:
        self.ops, self.low, self.op = ops, ops.low, op
        shape = shape_of(op.operands[0].type)
        self.pn, self.o, self.n, self.inner = work_layout(shape, op.attr.axis, self.low.target)
        self.dts = [_dtype(v) for v in op.operands]
        self.next_slot = SCRATCH_SLOTS

    def slot(self, dt: DType, count: int) -> TileRef:
        t = self.low.scratch(self.next_slot, dt, self.pn, self.o * count * self.inner)
        self.next_slot += 1
        return t

    def view(self, t: TileRef, c: int, k0: int, step: int, cnt: int) -> TileRef:
        """Elements k0, k0+step, ... (cnt of them) along the axis of a compact tile holding c
        along it."""
        dims = [(c * self.inner, self.o), (step * self.inner, cnt), (1, self.inner)]
        dims = [d for d in dims if d[1] > 1] or [(1, 1)]
        return TileRef(t.view(*dims, off=k0 * self.inner * t.dtype.mem_bytes), t.dtype)

    def load(self, v: Value, dt: DType) -> TileRef | None:
        """Operand v in the working layout: its own buffer when that already is it."""
        src = self.low.tile_of(v, 0)
        if src.pn == self.pn and src.dtype.mem_bytes == dt.mem_bytes:
            return src
        return None


def _dtype(v: Value) -> DType:
    dt = scalar_dtype(v.type)
    return DType.I32 if dt is None else dt


def lower_general(ops, op: Op, builtin: TensorOp | None) -> None:
    """A reduce or scan op through the general combine (see module docstring); `builtin` is
    the engine op of a built-in kind, None for a combine region."""
    w = _Work(ops, op)
    a = [w.slot(dt, w.n) for dt in w.dts]  # the two ping-pong sets, then temporaries
    b = [w.slot(dt, w.n) for dt in w.dts]
    cur = []
    for v, dt, spare in zip(op.operands, w.dts, b, strict=True):
        t = w.load(v, dt)
        if t is None:
            ops.call("accel.dma.copy", spare, w.low.tile_of(v, 0))
            t = spare
        cur.append(t)
    temps_from = w.next_slot
    if op.kind is OpKind.REDUCE:
        c = w.n
        nxt_set = a
        while c > 1:
            h, c2 = c // 2, c - c // 2
            lhs = [w.view(t, c, 0, 2, h) for t in cur]
            rhs = [w.view(t, c, 1, 2, h) for t in cur]
            outs = [w.view(t, c2, 0, 1, h) for t in nxt_set]
            w.next_slot = temps_from
            _combine(w, builtin, lhs, rhs, outs, h)
            if c % 2:
                for t, d in zip(cur, nxt_set, strict=True):
                    ops.call("accel.copy", w.view(d, c2, h, 1, 1), w.view(t, c, c - 1, 1, 1))
            cur, nxt_set = nxt_set, (b if nxt_set is a else a)
            c = c2
        per = w.o * w.inner
    else:
        n, s = w.n, 1
        nxt_set = a
        while s < n:
            keep = n - s
            if op.attr.reverse:
                lhs = [w.view(t, n, s, 1, keep) for t in cur]
                rhs = [w.view(t, n, 0, 1, keep) for t in cur]
                outs = [w.view(t, n, 0, 1, keep) for t in nxt_set]
                rest = (keep, s)
            else:
                lhs = [w.view(t, n, 0, 1, keep) for t in cur]
                rhs = [w.view(t, n, s, 1, keep) for t in cur]
                outs = [w.view(t, n, s, 1, keep) for t in nxt_set]
                rest = (0, s)
            w.next_slot = temps_from
            _combine(w, builtin, lhs, rhs, outs, keep)
            for t, d in zip(cur, nxt_set, strict=True):
                ops.call(
                    "accel.copy",
                    w.view(d, n, rest[0], 1, rest[1]),
                    w.view(t, n, rest[0], 1, rest[1]),
                )
            cur, nxt_set = nxt_set, (b if nxt_set is a else a)
            s *= 2
        per = w.o * n * w.inner
    for r, t in zip(op.results, cur, strict=True):
        if is_tile_value(r) and r.id not in w.low.plan.needed:
            continue
        d = ops.dest(r)
        put_result(w, d, TileRef(t.view((1, per)), t.dtype))
        ops.finish(r, d)


def put_result(w, d: TileRef, src: TileRef) -> None:
    """d (an op's result in its layout) = src (the same row-major elements in the working
    layout): a copy, an SBUF-to-SBUF DMA, or a partition broadcast of one element. `w` has the
    op (`.op`) and its TileOps (`.ops`)."""
    ops = w.ops
    if (d.pn, d.free) == (src.pn, src.free):
        ops.call("accel.copy", d, src)
    elif d.pn * d.free == src.pn * src.free:
        ops.call("accel.dma.copy", d, src)
    elif src.pn * src.free == 1 and d.free == 1:  # a scalar replicated on d's partitions
        ops.call("accel.pbcast", d, src)
    else:
        raise UnsupportedOnAccelError(
            w.op.loc, f"internal: result layout [{d.pn}x{d.free}] of {w.op.results[0].type}"
        )


def _combine(w: _Work, builtin, lhs, rhs, outs, cnt: int) -> None:
    """outs = f(lhs, rhs), elementwise over whole tiles."""
    ops, low = w.ops, w.low
    if builtin is not None:
        ops.call("accel.tt", int(builtin), outs[0], lhs[0], rhs[0])
        return
    region = w.op.regions[0]
    args = region.args
    for a, t in zip(args, lhs + rhs, strict=True):
        low.tiles[a.id] = t
    yields = list(region.terminator.operands)
    made = {r.id for o in region.ops for r in o.results}
    forced = ops.forced
    for y, out in zip(yields, outs, strict=True):
        if y.id in made and y.id not in forced and yields.count(y) == 1:
            forced[y.id] = out
    # float scalars from outside the region (constants CSE'd with the kernel's) are [1, 1]
    # tiles: spread each over the step's shape for the duration of the region
    captured = {}
    for o in region.ops:
        for v in o.operands:
            if v.id in made or v.id in captured or any(v is a for a in args):
                continue
            if v.id in low.tiles and not shape_of(v.type):
                src = low.tiles[v.id]
                t = w.slot(src.dtype, cnt)
                ops.broadcast(t, (t.pn, t.free), TileRef(src.view((1, 1), pn=1), src.dtype), (1, 1))
                captured[v.id] = low.tiles[v.id]
                low.tiles[v.id] = t
    for o in region.ops:
        if o.kind is OpKind.YIELD:
            continue
        if o.kind is OpKind.CONSTANT:
            if is_tile_value(o.result):
                low.fconst[o.result.id] = float(o.attr.value)
            else:
                low.scalar(o)
            continue
        if o.regions:
            raise UnsupportedOnAccelError(o.loc, f"`{o.kind.value}` inside a combine function")
        for r in o.results:
            if r.id not in forced:
                forced[r.id] = w.slot(_dtype(r), cnt)
        low._loc, low.line = o.loc, o.loc.line or low.line
        ops.lower(o)
    for y, out in zip(yields, outs, strict=True):
        if forced.get(y.id) is out:
            continue
        lay = type("L", (), {"pn": out.pn, "free": out.free})
        ops.call("accel.copy", out, low.tile_of(y, 0, lay))
    for o in region.ops:
        for r in o.results:
            forced.pop(r.id, None)
            low.tiles.pop(r.id, None)
    for a in args:
        low.tiles.pop(a.id, None)
    low.tiles.update(captured)
