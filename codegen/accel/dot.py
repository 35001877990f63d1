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

from isa.table import AccMode, TensorOp
from jitlang.dtypes import DType
from jitlang.ir import Op, scalar_dtype, shape_of

from .lower import UnsupportedOnAccelError
from .tiles import TileRef, sbuf_tile

_PE_DTYPES = (DType.F32, DType.BF16, DType.F16)


def lower_dot(ops, op: Op) -> None:
    low = ops.low
    a_v, b_v, c_v = op.operands
    r = op.result
    sa, sb_ = shape_of(a_v.type), shape_of(b_v.type)
    if len(sa) != 2 or len(sb_) != 2:
        raise UnsupportedOnAccelError(op.loc, f"dot of {a_v.type} and {b_v.type} (batched dot)")
    M, K = sa
    N = sb_[1]
    d = ops.dest(r)
    a, b, c = low.tiles[a_v.id], low.tiles[b_v.id], low.tile_of(c_v, 0)
    dt = scalar_dtype(a_v.type)
    pe_dt = dt if dt in _PE_DTYPES else DType.F32  # integers: exact below 2**24
    if dt.is_bool:
        raise UnsupportedOnAccelError(op.loc, f"dot of {dt} operands")
    P = low.target.partitions
    pm = d.pn  # result rows on partitions: {p * rm + i}
    rm = M // pm
    rk = K // b.pn  # contraction rows per partition of b (and of a, stored as [K, M])
    pk = b.pn
    if not low.plan.layouts[a_v.id].transposed or a.pn != pk:
        raise UnsupportedOnAccelError(op.loc, "internal: the stationary operand is not [K, M]")
    bank = low.target.psum_bank_bytes
    nmax = min(low.target.pe_max_moving, bank // 4)
    if pk > P or pm > low.target.pe_cols:
        raise UnsupportedOnAccelError(op.loc, f"dot of shape [{M}, {K}] x [{K}, {N}]")
    stat = low.scratch(1, pe_dt, pk, pm) if pe_dt is not dt else None
    mov = low.scratch(2, pe_dt, pk, min(N, nmax)) if pe_dt is not dt else None
    for i in range(rm):
        for n0 in range(0, N, nmax):
            nn = min(nmax, N - n0)
            acc_ps = TileRef(_psum(bank, pm, nn), DType.F32)
            for j in range(rk):  # contraction rows {q * rk + j}
                # a^T[q * rk + j, p * rm + i]: partition q, free (j * M + i) + p * rm
                st = a.view((rm, pm), pn=pk, off=(j * M + i) * _size(dt))
                if stat is not None:
                    low.call("accel.copy", stat, st)
                    st = stat
                b_chunk = b.view((1, nn), pn=pk, off=(j * N + n0) * _size(dt))
                if mov is not None:
                    mv = mov.view((1, nn))
                    low.call("accel.copy", mv, b_chunk)
                    b_chunk = mv
                mode = AccMode.SET if j == 0 else AccMode.ACC
                low.call("accel.matmul", int(mode), acc_ps, st, b_chunk)
            out = d.view((1, nn), off=(i * N + n0) * _size(d.dtype))
            cin = c.view((1, nn), off=(i * N + n0) * _size(c.dtype))
            low.call("accel.tt", int(TensorOp.ADD), out, acc_ps, cin)
    ops.finish(r, d)


def _size(dt: DType) -> int:
    return 1 if dt is DType.I1 else dt.mem_bytes


def _psum(off: int, pn: int, free: int):
    return sbuf_tile(DType.F32, off, pn, free, space="psum").tile
