"""Small kernels for the accelerator end-to-end tests (cross-checked against the CPU)."""

from __future__ import annotations

import jitlang as jl
import jitlang.language as tl


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


@jl.jit
def masked_2d(x_ptr, y_ptr, out_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
    """2-D blocks, broadcasting of rows and columns, a rectangular mask; N is a run-time
    stride (gather/scatter) unless it is passed as a constexpr."""
    r = tl.program_id(0) * BM + tl.arange(0, BM)
    c = tl.program_id(1) * BN + tl.arange(0, BN)
    m = (r[:, None] < M) & (c[None, :] < N)
    x = tl.load(x_ptr + r[:, None] * N + c[None, :], mask=m, other=0.0)
    y = tl.load(y_ptr + c, mask=c < N, other=0.0)
    z = x * y[None, :] + r[:, None].to(tl.float32)
    tl.store(out_ptr + r[:, None] * N + c[None, :], z, mask=m)


@jl.jit
def row_stats(x_ptr, out_ptr, M, N: tl.constexpr, BM: tl.constexpr):
    """Free-axis (axis 1) and partition-axis (axis 0) reductions of a 2-D block."""
    r = tl.program_id(0) * BM + tl.arange(0, BM)
    c = tl.arange(0, N)
    x = tl.load(x_ptr + r[:, None] * N + c[None, :], mask=r[:, None] < M, other=0.0)
    tl.store(out_ptr + r, tl.max(x, axis=1) + tl.sum(x, axis=1), mask=r < M)
    tl.store(out_ptr + M + tl.program_id(0) * N + c, tl.sum(x, axis=0))


@jl.jit
def accumulate(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """A `for` loop with a loop-carried block and a scalar."""
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    count = 0
    for off in range(0, n, BLOCK):
        i = off + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + i, mask=i < n, other=0.0)
        count += 1
    tl.store(out_ptr + tl.arange(0, BLOCK), acc * count)


@jl.jit
def dot_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    m = tl.arange(0, M)
    n = tl.arange(0, N)
    k = tl.arange(0, K)
    a = tl.load(a_ptr + m[:, None] * K + k[None, :])
    b = tl.load(b_ptr + k[:, None] * N + n[None, :])
    tl.store(c_ptr + m[:, None] * N + n[None, :], tl.dot(a, b))


@jl.jit
def trans_kernel(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    x = tl.load(x_ptr + rm[:, None] * N + rn[None, :])
    tl.store(o_ptr + rn[:, None] * M + rm[None, :], tl.trans(x) * 2.0)
    r = tl.reshape(x, (N, M))
    tl.store(o_ptr + M * N + rn[:, None] * M + rm[None, :], r + 1.0)


@jl.jit
def scan_kernel(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr):
    """Scans along the free axis of 1-D (spread over partitions) and 2-D blocks."""
    i = tl.arange(0, M * N)
    x1 = tl.load(x_ptr + i)
    tl.store(o_ptr + i, tl.cumsum(x1, 0))
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    x2 = tl.load(x_ptr + rm[:, None] * N + rn[None, :])
    tl.store(o_ptr + M * N + rm[:, None] * N + rn[None, :], tl.cumprod(x2, 1))
    rev = tl.associative_scan(x2, 1, _max_combine, reverse=True)
    tl.store(o_ptr + 2 * M * N + rm[:, None] * N + rn[None, :], rev)


@jl.jit
def _max_combine(a, b):
    return tl.maximum(a, b)
