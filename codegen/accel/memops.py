"""Loads and stores of the tile IR as DMA intrinsic calls.

Stage: part of the accel lowering (`lower`). Input: a load/store with its `Access` from the
layout pass. Output: `accel.dma.load`/`accel.dma.store` with an HBM access pattern (base address
computed in LLVM from the affine pointer, one pattern dim per block dim with constant strides,
rectangular masks as per-dim valid counts) or `accel.dma.gather`/`accel.dma.scatter` with an
int32 element-offset tile (masked lanes get index -1: filled on loads, skipped on stores).
"""

from __future__ import annotations

import math
from dataclasses import replace

from llvmlite import ir

from isa.table import AtomicOp, TensorOp
from jitlang.dtypes import DType
from jitlang.ir import AtomicKind, Op, OpKind, scalar_dtype, shape_of, walk
from jitlang.passes.accel_access import Affine, Bound, Remainder
from jitlang.passes.accel_layout import access_mask, is_tile_value

from .lower import I64, UnsupportedOnAccelError, f32_bits, llvm_int
from .tiles import TileRef

GATHER_ROWS = (1 << 20) - 1  # the largest size of an HBM pattern dim
GATHER_SHIFT = 1 << 19  # indices of indirect DMAs are element offsets + this


def eval_affine(low, a: Affine) -> ir.Value:
    """const + sum(coef * scalar) as an i64 (a uniform affine form)."""
    b = low.b
    acc = ir.Constant(I64, a.const)
    for v, c in a.terms:
        if isinstance(v, Remainder):  # `u % m` of a wrap-free remainder (accel_access)
            x = b.srem(eval_affine(low, v.of), ir.Constant(I64, v.m))
        else:
            x = low.reg64(v)
        acc = b.add(acc, x if c == 1 else b.mul(x, ir.Constant(I64, c)))
    return acc


def _count(low, bd: Bound) -> ir.Value:
    b = low.b
    diff = b.sub(eval_affine(low, bd.rhs), eval_affine(low, bd.lhs))
    if bd.inclusive:
        diff = b.add(diff, ir.Constant(I64, 1))
    if bd.coef == 1:
        return diff
    return b.sdiv(b.add(diff, ir.Constant(I64, bd.coef - 1)), ir.Constant(I64, bd.coef))


def _pattern(
    low, op: Op, acc, shape, dt, mask, words: int = 1, transposed: bool = False
) -> tuple[int, ir.Value, list]:
    """(pattern index, base address, bound values b0..b3) of an access-pattern DMA. A 64-bit
    scalar moves as `words` = 2 u32 words (the machine has no 64-bit element type)."""
    b = low.b
    pa = acc.ptr
    esize = dt.mem_bytes
    off = eval_affine(low, pa.off)
    base = b.add(low.reg(pa.base), b.mul(off, ir.Constant(I64, esize)))
    dims = list(zip(pa.off.dims, shape, strict=True)) or [(1, words)]
    bounds: list = [None] * len(dims)
    order = list(range(len(dims)))
    if transposed:  # a transposing DMA: the pattern walks the block column by column
        order = order[::-1]
    if mask is not None and not shape:
        bounds[0] = b.mul(b.zext(low.reg(mask), I64), ir.Constant(I64, words))
    for bd in acc.bounds:
        c = _count(low, bd)
        prev = bounds[bd.dim]
        bounds[bd.dim] = c if prev is None else b.select(b.icmp_signed("<", c, prev), c, prev)
    dims, bounds = [dims[k] for k in order], [bounds[k] for k in order]
    pdt = DType.U32 if words == 2 else dt
    idx = low.tables.pattern(pdt, dims, tuple(x is not None for x in bounds))
    vals = [x if x is not None else ir.Constant(I64, 0) for x in bounds]
    low.last_pattern = (pdt, dims, bounds)  # for _split (the same access over several queues)
    return idx, base, vals + [ir.Constant(I64, 0)] * (4 - len(vals))


# A transfer is split over this many DMA queues at most (the scheduler gives consecutive
# transfers consecutive queues) while each piece moves at least DMA_SPLIT_MIN_BYTES: one queue
# moves ~26 B/ns where a core sustains ~102 (isa/machine.py), and a piece's fixed cost (~81 ns,
# ~2 KiB of transfer time) stays under 7% of it.
DMA_SPLIT_MAX = 4
DMA_SPLIT_MIN_BYTES = 32 << 10


def _split(low, t: TileRef, base: ir.Value, vals: list) -> list[tuple]:
    """Step "dma_split": the access-pattern transfer just built by `_pattern` to or from tile
    t as (pattern, base, bounds, tile) pieces over consecutive partition ranges. The pattern's
    outer dim is cut in equal parts (its elements are partition-major, like the tile's), so
    each piece is the same access with a shifted base (and, when the outer dim is masked, its
    share of the valid rows); a transfer too small to be worth it stays whole."""
    pdt, dims, bounds = low.last_pattern
    x = _wide_tile(t)
    whole = [(None, base, vals, x)]
    if "dma_split" not in getattr(low.target, "steps", ()) or not dims:
        return whole
    nbytes = t.pn * t.free * t.dtype.mem_bytes
    s0, n0 = dims[0]
    parts = DMA_SPLIT_MAX
    while parts > 1 and (t.pn % parts or n0 % parts or nbytes // parts < DMA_SPLIT_MIN_BYTES):
        parts //= 2
    if parts == 1:
        return whole
    piece = [(s0, n0 // parts)] + list(dims[1:])
    idx = low.tables.pattern(pdt, piece, tuple(b is not None for b in bounds))
    step = (n0 // parts) * s0 * pdt.mem_bytes
    pn = t.pn // parts
    out = []
    for c in range(parts):
        b = low.b.add(base, ir.Constant(I64, c * step)) if c else base
        pv = vals
        if bounds[0] is not None:  # a masked outer dim: the piece's share of the valid rows
            pv = [_clamp(low, vals[0], c * (n0 // parts), n0 // parts)] + list(vals[1:])
        out.append((idx, b, pv, replace(x, p0=x.p0 + c * pn, pn=pn)))
    return out


def _clamp(low, n: ir.Value, first: int, rows: int) -> ir.Value:
    """min(max(n - first, 0), rows): of n valid rows, those of a piece starting at `first`."""
    b = low.b
    x = b.sub(n, ir.Constant(I64, first)) if first else n
    zero, top = ir.Constant(I64, 0), ir.Constant(I64, rows)
    x = b.select(b.icmp_signed("<", x, zero), zero, x)
    return b.select(b.icmp_signed(">", x, top), top, x)


def _wide_tile(t: TileRef):
    """t's tile with a free size above a tile dim's 16-bit size field as two dims."""
    x = t.tile
    f = t.free
    if f <= MAX_TILE_DIM or len([d for d in x.dims if d[1] > 1]) > 1:
        return x
    inner = next(d for d in range(MAX_TILE_STRIDE, 0, -1) if f % d == 0)
    return replace(x, dims=((inner, f // inner), (1, inner)))


MAX_TILE_DIM = (1 << 16) - 1  # a tile dim's size is 16-bit unsigned, its stride signed
MAX_TILE_STRIDE = (1 << 15) - 1


def _fill(low, other) -> tuple[int | ir.Value, bool]:
    """(fill operand, needs a select afterwards) for a load's `other`."""
    if other is None:
        return f32_bits(0.0), False
    p = low.plan.producers.get(other.id)
    while p is not None and p.kind in (OpKind.SPLAT, OpKind.BROADCAST):
        src = p.operands[0]
        if src.id in low.fconst:
            return f32_bits(low.fconst[src.id]), False
        p = low.plan.producers.get(src.id)
    if p is not None and p.kind is OpKind.CONSTANT:
        return f32_bits(float(p.attr.value)), False
    return f32_bits(0.0), True


def _indirect(low, ptr, mask, like, esize: int):
    """(base address, index tile) of an indirect DMA. A pattern dim holds < 2**20 rows, so the
    base moves GATHER_SHIFT elements down and the indices up: element offsets in
    [-2**19, 2**19) from the pointer are reachable (negative strides too); a masked lane gets
    index -1, outside the pattern (filled on loads, skipped on stores and atomics)."""
    offs = low.tiles[ptr.id]
    idx = low.scratch(0, offs.dtype, like.pn, like.free)
    shift = f32_bits(float(GATHER_SHIFT))
    if mask is None:
        low.call("accel.ts", int(TensorOp.ADD), idx, offs, shift)
    else:
        m = low.tiles[mask.id]
        low.call("accel.ts", int(TensorOp.ADD), idx, offs, shift)
        low.call("accel.tt", int(TensorOp.MUL), idx, idx, m)  # (offs + shift) * m + m - 1
        low.call("accel.tt", int(TensorOp.ADD), idx, idx, m)
        low.call("accel.ts", int(TensorOp.ADD), idx, idx, f32_bits(-1.0))
    base = low.b.sub(low.ptr_base[ptr.id], ir.Constant(I64, GATHER_SHIFT * esize))
    return base, idx


def _wide_scalar(v) -> bool:
    dt = scalar_dtype(v.type)
    return not shape_of(v.type) and dt is not None and not dt.is_float and dt.bits == 64


def _load_wide(low, op: Op) -> None:
    """A 64-bit integer scalar: two u32 words into partition 0, joined in registers."""
    r = op.result
    mask = op.operands[1] if len(op.operands) > 1 else None
    t = low.scratch(2, DType.U32, 1, 2)
    idx, base, bounds = _pattern(
        low, op, low.plan.access[id(op)], (), scalar_dtype(r.type), mask, 2
    )
    low.call("accel.dma.load", t, idx, base, 0, *bounds, f32_bits(0.0))
    lo = low.call("accel.ld", t.view((1, 1)))
    hi = low.call("accel.ld", t.view((1, 1), dtype=DType.I32, off=4))
    b = low.b
    low.vals[r.id] = b.or_(b.shl(hi, ir.Constant(I64, 32)), lo)


def _store_wide(low, op: Op) -> None:
    ptr, val = op.operands[:2]
    mask = op.operands[2] if len(op.operands) > 2 else None
    t = low.scratch(2, DType.U32, 1, 2)
    x = low.reg64(val)
    low.call("accel.iota", t.view((1, 1)), x, 0, 0)
    hi = low.b.ashr(x, ir.Constant(I64, 32))
    low.call("accel.iota", t.view((1, 1), dtype=DType.I32, off=4), hi, 0, 0)
    idx, base, bounds = _pattern(
        low, op, low.plan.access[id(op)], (), scalar_dtype(val.type), mask, 2
    )
    low.call("accel.dma.store", idx, base, 0, *bounds, t)


def lower_load(low, op: Op) -> None:
    r = op.result
    if _wide_scalar(r):
        return _load_wide(low, op)
    if is_tile_value(r) and r.id not in low.plan.needed:
        return
    ptr = op.operands[0]
    mask = op.operands[1] if len(op.operands) > 1 else None
    other = op.operands[2] if len(op.operands) > 2 else None
    dt = scalar_dtype(r.type)
    shape = shape_of(r.type)
    d = low.buffer(r) if is_tile_value(r) else low.scratch(2, dt, 1, 1)
    fill, post = _fill(low, other)
    acc = low.plan.access[id(op)]
    if acc.kind == "ap":
        lay = low.plan.layouts.get(r.id)
        tr = lay is not None and lay.transposed
        idx, base, bounds = _pattern(low, op, acc, shape, dt, mask, transposed=tr)
        for pidx, pbase, pb, tile in _split(low, d, base, bounds):
            low.call("accel.dma.load", tile, idx if pidx is None else pidx, pbase, 0, *pb, fill)
    else:
        if ptr.id not in low.tiles:
            raise UnsupportedOnAccelError(op.loc, "this pointer block (no offsets were computed)")
        base, offs = _indirect(low, ptr, mask, d, dt.mem_bytes)
        pat = low.tables.pattern(dt, [(1, GATHER_ROWS)], (False,))
        low.call("accel.dma.gather", d, pat, base, offs, fill)
    if post:
        low.call("accel.select", d, low.tiles[mask.id], d, low.tile_of(other, 1))
    if is_tile_value(r):
        low.tiles[r.id] = d
    else:
        raw = low.call("accel.ld", d)
        ty = llvm_int(dt)
        low.vals[r.id] = raw if ty.width == 64 else low.b.trunc(raw, ty)


def lower_store(low, op: Op) -> None:
    if _wide_scalar(op.operands[1]):
        return _store_wide(low, op)
    ptr, val = op.operands[:2]
    mask = op.operands[2] if len(op.operands) > 2 else None
    dt = scalar_dtype(val.type)
    shape = shape_of(val.type)
    src = low.tile_of(val, 2)
    if not shape and src.pn != 1:
        src = TileRef(src.view(pn=1), src.dtype)  # a replicated scalar column
    acc = low.plan.access[id(op)]
    if acc.kind == "ap":
        idx, base, bounds = _pattern(low, op, acc, shape, dt, mask)
        if val.id in getattr(low, "deferred_casts", {}) and _store_chunks(
            low, op, val, acc, src, base, bounds
        ):
            return
        for pidx, pbase, pb, tile in _split(low, src, base, bounds):
            low.call("accel.dma.store", idx if pidx is None else pidx, pbase, 0, *pb, tile)
        return
    if val.id in getattr(low, "deferred_casts", {}):  # (only an access pattern is chunked)
        x, d, convert, _line = low.deferred_casts.pop(val.id)
        convert(d, x)
    if ptr.id not in low.tiles:
        raise UnsupportedOnAccelError(op.loc, "this pointer block (no offsets were computed)")
    base, offs = _indirect(low, ptr, mask, src, dt.mem_bytes)
    pat = low.tables.pattern(dt, [(1, GATHER_ROWS)], (False,))
    low.call("accel.dma.scatter", pat, base, src, offs)


_ATOMIC = {
    AtomicKind.ADD: AtomicOp.ADD,
    AtomicKind.MAX: AtomicOp.MAX,
    AtomicKind.MIN: AtomicOp.MIN,
    AtomicKind.AND: AtomicOp.AND,
    AtomicKind.OR: AtomicOp.OR,
    AtomicKind.XOR: AtomicOp.XOR,
    AtomicKind.XCHG: AtomicOp.XCHG,
}


def lower_atomic(low, op: Op) -> None:
    """Atomic read-modify-write (and compare-and-swap) through an HBM access pattern; the old
    values land in the result's tile (integer scalars come back through `ld`)."""
    acc = low.plan.access[id(op)]
    r = op.result
    cas = op.attr.kind is AtomicKind.CAS
    if acc.kind != "ap" and cas:
        raise UnsupportedOnAccelError(op.loc, "compare-and-swap through data-dependent pointers")
    vals = op.operands[1:3] if cas else op.operands[1:2]
    dt = scalar_dtype(r.type)
    shape = shape_of(r.type)
    if dt.bits == 64:
        raise UnsupportedOnAccelError(op.loc, f"{dt} atomics (the machine's elements are 32-bit)")
    live = is_tile_value(r) and r.id in low.plan.needed or not is_tile_value(r)
    old = (low.buffer(r) if is_tile_value(r) else low.scratch(2, dt, 1, 1)) if live else -1
    tiles = [low.tile_of(v, 1 + i) for i, v in enumerate(vals)]
    if dt.is_float and op.attr.kind in (AtomicKind.MAX, AtomicKind.MIN):
        # max(old, NaN) keeps old (Triton, the CPU); the DMA engine's max propagates NaN: a NaN
        # operand becomes the identity first
        t = tiles[0]
        clean = low.scratch(3, t.dtype, t.pn, t.free)
        nan = low.scratch(4, DType.U8, t.pn, t.free)
        worst = float("-inf") if op.attr.kind is AtomicKind.MAX else float("inf")
        low.call("accel.tt", int(TensorOp.NE), nan, t, t)
        low.call("accel.memset", clean, f32_bits(worst))
        low.call("accel.select", clean, nan, clean, t)
        tiles[0] = clean
    if acc.kind != "ap":  # indirect: element offsets, -1 where masked (skipped)
        ptr, mask = op.operands[0], access_mask(op)
        if ptr.id not in low.tiles:
            raise UnsupportedOnAccelError(op.loc, "this pointer block (no offsets were computed)")
        base, offs = _indirect(low, ptr, mask, tiles[0], dt.mem_bytes)
        pat = low.tables.pattern(dt, [(1, GATHER_ROWS)], (False,))
        low.call(
            "accel.atomic.ind",
            int(_ATOMIC[op.attr.kind]),
            pat,
            base,
            tiles[0],
            offs,
            old,
        )
    else:
        idx, base, bounds = _pattern(low, op, acc, shape, dt, access_mask(op))
    if acc.kind != "ap":
        pass
    elif cas:
        low.call("accel.cas", idx, base, 0, *bounds, tiles[0], tiles[1], old)
    else:
        low.call("accel.atomic", int(_ATOMIC[op.attr.kind]), idx, base, 0, *bounds, tiles[0], old)
    if not live:
        return
    if is_tile_value(r):
        low.tiles[r.id] = old
    else:
        raw = low.call("accel.ld", old)
        ty = llvm_int(dt)
        low.vals[r.id] = raw if ty.width == 64 else low.b.trunc(raw, ty)


# --- step "store_chunks" ---------------------------------------------------------------------

STORE_CHUNKS = "store_chunks"
STORE_CHUNKS_MAX = 4
# fewer chunks lost in the model: two_acc_f16 (tests/codegen/accel/test_matmul_perf.py) with 2
# accumulator rows per partition, 2 chunks of 128 KiB: 61.8 -> 63.6 us; with 4 rows, 4 chunks:
# 83.7 -> 82.6 us (each chunk is one store over all partitions, no longer split over queues)
STORE_CHUNKS_MIN = 4
_CONVERTIBLE = (DType.F32, DType.F16, DType.BF16)


def _chunk_casts(fn, needed: set[int]) -> dict[int, Op]:
    """Float conversions whose result only one store of the same region writes to HBM, with
    no op between the two computing a tile in a buffer (so nothing can be placed in the
    source's bytes before the store), outside every loop: result id -> the store.

    Not in a loop body: there the next iteration's prefetched loads are dispatched after the
    chunks and take the DMA bandwidth in the gaps while the chunks wait for their conversions,
    so the last chunk leaves later than one whole store would; with SBUF full (the chunks'
    fp16 tiles sit in freed accumulator bytes) the next iteration's accumulator
    initialisation waits for that last chunk and the K loop after it stalls. NKI tutorial
    step 4 with fp32 accumulators (16 output blocks in one loop, nc-v2): 7.78 ms unchunked,
    8.08 ms chunked (two PE stalls of 16.6 and 19.2 us after each block boundary; the stores
    end 1037 us instead of 979 us after the first block). A program's last stores have no
    next iteration: there the earlier start is a gain (matmul 4096^3 blocked 924.3 -> 914.9 us)."""
    uses: dict[int, int] = {}
    for op in walk(fn.body):
        for v in op.operands:
            uses[v.id] = uses.get(v.id, 0) + 1
    out: dict[int, Op] = {}

    def scan(region, in_loop: bool) -> None:
        pending: dict[int, int] = {}  # cast result id -> its position in region.ops
        for i, op in enumerate(region.ops):
            for r in op.regions:
                scan(r, in_loop or op.kind in (OpKind.FOR, OpKind.WHILE))
            if op.kind is OpKind.STORE and len(op.operands) == 2:
                v = op.operands[1]
                if v.id in pending and uses.get(v.id) == 1 and not in_loop:
                    out[v.id] = op
            if op.kind is OpKind.CAST and not op.attr.bitcast and shape_of(op.result.type):
                s, r = scalar_dtype(op.operands[0].type), scalar_dtype(op.result.type)
                if s in _CONVERTIBLE and r in _CONVERTIBLE:
                    pending = {op.result.id: i}
                    continue
            if op.kind is not OpKind.STORE and any(r.id in needed for r in op.results):
                pending = {}

    scan(fn.body, False)
    return out


def defer_cast(low, op: Op, x: TileRef, d: TileRef, convert) -> bool:
    """Step "store_chunks": hold back the conversion x -> d when its result is only stored
    (`tl.store(p, acc.to(tl.float16))`); the store then converts and stores it in chunks along
    the free dim (`lower_store`). `convert(dst, src)` emits one conversion."""
    if STORE_CHUNKS not in getattr(low.target, "steps", ()):
        return False
    casts = getattr(low, "chunk_casts", None)
    if casts is None:
        casts = low.chunk_casts = _chunk_casts(low.fn, low.plan.needed)
        low.deferred_casts = {}
    if op.result.id not in casts or x.pn != d.pn or x.free != d.free:
        return False
    low.deferred_casts[op.result.id] = (x, d, convert, low.line)
    return True


def _chunk_pieces(low, src: TileRef, base: ir.Value, acc) -> list[tuple] | None:
    """(pattern, base, tile) per chunk of an unmasked store whose tile holds whole rows of the
    pattern's outer dim in each partition (rows-per-partition x inner dims): chunk c is each
    partition's c-th run of rows, as a pattern over (partitions, rows of the chunk, inner)."""
    pdt, dims, bounds = low.last_pattern
    if acc.bounds or any(b is not None for b in bounds) or not dims or len(dims) > 3:
        return None
    (s0, n0), inner = dims[0], dims[1:]
    pn, f = src.pn, src.free
    if n0 % pn:
        return None
    rows = n0 // pn
    per_row = math.prod(n for _s, n in inner)
    if rows * per_row != f or [t for t in src.tile.dims if t[1] > 1] != [(1, f)]:
        return None
    nbytes = pn * f * src.dtype.mem_bytes
    parts = STORE_CHUNKS_MAX
    while parts > 1 and (rows % parts or nbytes // parts < DMA_SPLIT_MIN_BYTES):
        parts //= 2
    if parts < STORE_CHUNKS_MIN:
        return None
    crows = rows // parts
    piece = [(s0 * rows, pn), (s0, crows)] + list(inner)
    idx = low.tables.pattern(pdt, piece, (False,) * len(piece))
    step = crows * s0 * pdt.mem_bytes
    cfree = crows * per_row
    out = []
    for c in range(parts):
        b = low.b.add(base, ir.Constant(I64, c * step)) if c else base
        out.append((idx, b, c * cfree, cfree))
    return out


def _store_chunks(low, op: Op, val, acc, src: TileRef, base: ir.Value, bounds) -> bool:
    """Convert and store a deferred conversion's result chunk by chunk: each chunk's store
    waits only for its own conversion, which waits only for the last writes of its part of the
    source (in a matmul's epilogue, the accumulator's rows finished first go out first, while
    the last K step still runs). False when the store's shape does not allow it: the caller
    then converts the whole block and stores it as usual."""
    x, d, convert, line = low.deferred_casts.pop(val.id)
    pieces = _chunk_pieces(low, src, base, acc)
    if pieces is None:
        here, low.line = low.line, line
        convert(d, x)
        low.line = here
        return False
    zeros = [ir.Constant(I64, 0)] * 4
    for idx, b, off, n in pieces:
        xs = TileRef(x.view((1, n), off=off * x.dtype.mem_bytes), x.dtype)
        ds = TileRef(d.view((1, n), off=off * d.dtype.mem_bytes), d.dtype)
        here, low.line = low.line, line
        convert(ds, xs)
        low.line = here
        low.call("accel.dma.store", idx, b, 0, *zeros, ds)
    return True
