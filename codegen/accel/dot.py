"""`dot` on the tensor engine: PSUM accumulation over 128-row contraction chunks.

Stage: part of the accel lowering (`tileops` dispatches here). Input: `dot(a[M, K], b[K, N],
acc[M, N])` with `a` already stored as its transpose [K, M] (the layout pass chose a transposing
load or an explicit convert_layout) and `b`, `acc` in the default layouts. The PE computes
`PSUM[M', N'] (+)= stat[K', M']^T @ mov[K', N']` with K', M' <= 128 and N' <= 512, so: for every
chunk of 128 result rows and 512 result columns, and for every 128-row chunk of the contraction,
a strided view of `a` is the stationary operand, `b`'s chunk is the moving operand as it lies,
and the matmuls accumulate in one PSUM bank (`set` then `acc`); the vector engine adds `acc`
while copying PSUM out. With the layouts' row split (r rows per partition), contraction chunk j
is rows {q * r + j}. Integer operands go through fp32 (exact while products and sums stay below
2**24); products and sums are fp32.
"""

from __future__ import annotations

from isa.operands import Tile
from isa.table import AccMode, TensorOp
from jitlang.dtypes import DType
from jitlang.ir import Op, OpKind, scalar_dtype, shape_of, walk
from jitlang.passes.accel_memory import SCRATCH_SLOTS
from jitlang.passes.accel_patterns import zero_acc

from .lower import UnsupportedOnAccelError
from .tiles import TileRef, sbuf_tile

_PE_DTYPES = (DType.F32, DType.BF16, DType.F16)
# fp8 operands of one type multiply as they lie (the PE's FP8E4/FP8E5 path); mixed fp8 pairs
# reach the dot as bf16 (jitlang.passes.accel_fp8)
_PE_FP8 = (DType.F8E4NV, DType.F8E5)


PSUM_ACC_BANKS = (2, 3, 4, 5, 6, 7)  # banks 0 and 1 are the lowering's transposes and dots


def psum_accumulators(low, loop: Op) -> dict[int, TileRef]:
    """Step "psum_acc": carried accumulators of `loop` that can stay in PSUM across its
    iterations, by body-argument id -> PSUM tile. One is `acc = tl.dot(a, b, acc)` where the
    body argument's only use is that dot's `acc` and the dot's result's only use is the yield
    or the next such dot (so no one reads the running sum inside the loop), an fp32 [M <= 128, N] result whose row
    fits one PSUM bank. Its matmuls then accumulate in place: no PSUM -> SBUF add per
    iteration; the lowering copies the sum out once after the loop."""
    if "psum_acc" not in getattr(low.target, "steps", ()):
        return {}
    body = loop.regions[0]
    uses: dict[int, list[Op]] = {}
    for o in walk(body):
        for v in o.operands:
            uses.setdefault(v.id, []).append(o)
    term = body.terminator
    bank = low.target.psum_bank_bytes
    out: dict[int, TileRef] = {}
    for j, a in enumerate(body.args[1:]):
        d = _acc_reader(uses, a, body)
        if d is None:
            continue
        r = d.result
        nxt = _acc_reader(uses, r, body)
        while nxt is not None:  # a body unrolled by accel_hoist: dot(.., dot(.., acc))
            d, r = nxt, nxt.result
            nxt = _acc_reader(uses, r, body)
        if [o for o in uses.get(r.id, [])] != [term] or term.operands[j] is not r:
            continue
        if term.operands.count(r) != 1:
            continue
        sa, sb_ = shape_of(d.operands[0].type), shape_of(d.operands[1].type)
        if len(sa) != 2 or scalar_dtype(r.type) is not DType.F32:
            continue
        m, n = sa[0], sb_[1]
        lay = low.plan.layouts.get(r.id)
        if m > min(low.target.partitions, low.target.pe_cols) or lay is None or lay.pn != m:
            continue
        if n * 4 > bank or len(low.psum_banks_used) >= len(PSUM_ACC_BANKS):
            continue
        b_ = PSUM_ACC_BANKS[len(low.psum_banks_used)]
        low.psum_banks_used.append(b_)
        out[a.id] = TileRef(_psum(b_ * bank, m, n), DType.F32)
    return out


def epilogue_reads_psum(low, r) -> bool:
    """Step "psum_acc", its epilogue: the result of a PSUM-accumulated loop that is only
    converted (`acc.to(tl.float16)`, a copy on the activation engine, which reads PSUM) is
    converted straight from its bank, with no PSUM -> SBUF copy first. The bank stays
    reserved (`psum_banks_used`) for the rest of the kernel."""
    uses = getattr(low, "value_uses", None)
    if uses is None:
        uses = low.value_uses = {}
        for o in walk(low.plan.fn.body):
            for v in o.operands:
                uses.setdefault(v.id, []).append(o)
    us = uses.get(r.id, [])
    return bool(us) and all(
        u.kind is OpKind.CAST
        and not u.attr.bitcast
        and scalar_dtype(u.result.type) in _PE_DTYPES
        and u.operands[0] is r
        for u in us
    )


def _acc_reader(uses, v, body) -> Op | None:
    """The dot of `body` that is v's only reader, reading it as its accumulator only."""
    us = uses.get(v.id, [])
    if len(us) != 1 or us[0].kind is not OpKind.DOT or us[0] not in body.ops:
        return None
    d = us[0]
    return d if d.operands[2] is v and v not in d.operands[:2] else None


def lower_dot(ops, op: Op) -> None:
    low = ops.low
    a_v, b_v, c_v = op.operands
    r = op.result
    sa, sb_ = shape_of(a_v.type), shape_of(b_v.type)
    dt = scalar_dtype(a_v.type)
    if dt.is_bool:
        raise UnsupportedOnAccelError(op.loc, f"dot of {dt} operands")
    a, b = low.tiles[a_v.id], low.tiles[b_v.id]
    # a constant 0 accumulator is never computed (accel_layout.zero_acc): PSUM is copied out
    c = (
        None
        if c_v.id not in low.tiles and zero_acc(op, low.plan.producers)
        else low.tile_of(c_v, 0)
    )
    if c_v.id in low.psum_acc:  # step psum_acc: accumulate in place (see psum_accumulators)
        if not low.plan.layouts[a_v.id].transposed or a.pn != b.pn:
            raise UnsupportedOnAccelError(op.loc, "internal: the stationary operand is not [K, M]")
        low.tiles[r.id] = c
        low.psum_acc[r.id] = c  # the next copy of an unrolled body accumulates here too
        _dot2d(ops, op, a, b, c, c, (*sa, sb_[1]), in_place=True)
        return
    d = ops.dest(r)
    if len(sa) == 3 and len(sb_) == 3:
        _batched(ops, op, a, b, c, d)
    elif len(sa) == 2 and len(sb_) == 2:
        if not low.plan.layouts[a_v.id].transposed or a.pn != b.pn:
            raise UnsupportedOnAccelError(op.loc, "internal: the stationary operand is not [K, M]")
        _dot2d(ops, op, a, b, c, d, (*sa, sb_[1]))
    else:
        raise UnsupportedOnAccelError(op.loc, f"dot of {a_v.type} and {b_v.type}")
    ops.finish(r, d)


def _batched(ops, op: Op, a: TileRef, b: TileRef, c: TileRef, d: TileRef) -> None:
    """[B, M, K] x [B, K, N]: per batch, SBUF-to-SBUF DMAs bring a's slab in as [K, M] (the
    source read column by column) and b's as [K, N] over partitions, the 2-D dot runs into a
    scratch [M, N] tile, and a DMA puts it into the result's slab (batches lie r per
    partition in the default layout, so a batch is one partition's contiguous range)."""
    low = ops.low
    B, M, K = shape_of(op.operands[0].type)
    N = shape_of(op.operands[1].type)[2]
    P = low.target.partitions
    pk = _parts(K, P)
    pm = _parts(M, P)
    first = SCRATCH_SLOTS
    at = low.scratch(first, a.dtype, pk, K // pk * M)
    bt = low.scratch(first + 1, b.dtype, pk, K // pk * N)
    ct = low.scratch(first + 2, c.dtype, pm, M // pm * N)
    dt_ = low.scratch(first + 3, d.dtype, pm, M // pm * N)
    for i in range(B):
        low.call("accel.dma.copy", at, _slab(a, B, i, M * K, ((1, K), (K, M))))
        low.call("accel.dma.copy", bt, _slab(b, B, i, K * N, ((1, K * N),)))
        low.call("accel.dma.copy", ct, _slab(c, B, i, M * N, ((1, M * N),)))
        _dot2d(ops, op, at, bt, ct, dt_, (M, K, N))
        low.call("accel.dma.copy", _slab(d, B, i, M * N, ((1, M * N),)), dt_)


def _parts(n: int, P: int) -> int:
    pn = min(P, n)
    return pn if n % pn == 0 else 1


def _slab(t: TileRef, batches: int, i: int, size: int, dims) -> TileRef:
    """Batch i of a [batches, ...] block in the default layout, read through `dims`."""
    per = batches // t.pn  # batches per partition
    x = t.tile
    off = x.off + (i % per) * size * _size(t.dtype)
    return TileRef(Tile(x.space, x.dtype, x.reg, off, x.p0 + i // per, 1, dims), t.dtype)


def _dot2d(
    ops, op: Op, a: TileRef, b: TileRef, c: TileRef, d: TileRef, mkn, in_place: bool = False
) -> None:
    """d = a^T-chunks @ b + c; `in_place`: d is c, a PSUM tile, and every matmul accumulates."""
    low = ops.low
    M, K, N = mkn
    dt = scalar_dtype(op.operands[0].type)
    same = scalar_dtype(op.operands[1].type) is dt
    # integers: fp32, exact below 2**24
    pe_dt = dt if dt in _PE_DTYPES or (dt in _PE_FP8 and same) else DType.F32
    P = low.target.partitions
    pm = d.pn  # result rows on partitions: {p * rm + i}
    rm = M // pm
    rk = K // b.pn  # contraction rows per partition of b (and of a, stored as [K, M])
    pk = b.pn
    bank = low.target.psum_bank_bytes
    nmax = min(low.target.pe_max_moving, bank // 4)
    if pk > P or pm > low.target.pe_cols:
        raise UnsupportedOnAccelError(op.loc, f"dot of shape [{M}, {K}] x [{K}, {N}]")
    stat = low.scratch(1, pe_dt, pk, pm) if pe_dt is not dt else None
    mov = low.scratch(2, pe_dt, pk, min(N, nmax)) if pe_dt is not dt else None
    for i in range(rm):
        for n0 in range(0, N, nmax):
            nn = min(nmax, N - n0)
            acc_ps = TileRef(_psum(_next_bank(low) * bank, pm, nn), DType.F32)
            if in_place:
                acc_ps = TileRef(d.view((1, nn), off=(i * N + n0) * 4), DType.F32)
            for j in range(rk):  # contraction rows {q * rk + j}
                # a^T[q * rk + j, p * rm + i]: partition q, free (j * M + i) + p * rm
                st = a.view((rm, pm), pn=pk, off=(j * M + i) * _size(dt))
                if stat is not None:
                    ops.call("accel.copy", stat, st)
                    st = stat
                b_chunk = b.view((1, nn), pn=pk, off=(j * N + n0) * _size(dt))
                if mov is not None:
                    mv = mov.view((1, nn))
                    ops.call("accel.copy", mv, b_chunk)
                    b_chunk = mv
                mode = AccMode.SET if j == 0 and not in_place else AccMode.ACC
                low.call("accel.matmul", int(mode), acc_ps, st, b_chunk)
            if in_place:
                continue
            out = d.view((1, nn), off=(i * N + n0) * _size(d.dtype))
            if c is None:
                ops.call("accel.copy", out, acc_ps)
                continue
            cin = c.view((1, nn), off=(i * N + n0) * _size(c.dtype))
            ops.call("accel.tt", int(TensorOp.ADD), out, acc_ps, cin)


def _next_bank(low) -> int:
    """The PSUM bank of a dot's next [M, N] chunk: bank 1 and the loop-accumulator banks no
    enclosing loop holds (`psum_accumulators`), in turn, so the tensor engine fills one bank
    while the vector engine still reads the last (one bank would make every chunk wait for
    the previous one's read-out)."""
    free = [1] + [b for b in PSUM_ACC_BANKS if b not in low.psum_banks_used]
    n = getattr(low, "dot_banks_issued", 0)
    low.dot_banks_issued = n + 1
    return free[n % len(free)]


def _size(dt: DType) -> int:
    return 1 if dt is DType.I1 else dt.mem_bytes


def _psum(off: int, pn: int, free: int):
    return sbuf_tile(DType.F32, off, pn, free, space="psum").tile
