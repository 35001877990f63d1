"""Block operations end to end against numpy: reductions, scans, dot, shapes, atomics, carries."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl


@jl.jit
def reduce_kernel(
    x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr, OP: tl.constexpr, AXIS: tl.constexpr
):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    x = tl.load(x_ptr + rm[:, None] * N + rn[None, :])
    if OP == "sum":
        r = tl.sum(x, axis=AXIS)
    elif OP == "max":
        r = tl.max(x, axis=AXIS)
    elif OP == "min":
        r = tl.min(x, axis=AXIS)
    elif OP == "argmax":
        r = tl.argmax(x, axis=AXIS)
    elif OP == "argmin":
        r = tl.argmin(x, axis=AXIS)
    else:
        r = tl.xor_sum(x, axis=AXIS)
    size = N if AXIS == 0 else M
    tl.store(o_ptr + tl.arange(0, size), r.to(o_ptr.dtype.element_ty))


_NP = {
    "sum": np.sum,
    "max": np.max,
    "min": np.min,
    "argmax": np.argmax,
    "argmin": np.argmin,
    "xor": np.bitwise_xor.reduce,
}


@pytest.mark.parametrize("op", ["sum", "max", "min", "argmax", "argmin"])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float16])
def test_reductions(op, axis, dtype):
    M, N = 8, 64
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((M, N)) * 50).astype(dtype)
    out_dt = np.int32 if op.startswith("arg") else (np.float32 if dtype == np.float16 else dtype)
    o = np.zeros(N if axis == 0 else M, out_dt)
    reduce_kernel[(1,)](x, o, M=M, N=N, OP=op, AXIS=axis)
    ref = _NP[op](x.astype(np.float64) if dtype != np.int32 else x, axis=axis)
    if op == "sum" and dtype != np.int32:
        # Triton keeps tl.sum of fp16 in fp16: every partial sum rounds to fp16
        tol = (1e-2, 0.5) if dtype == np.float16 else (1e-5, 1e-2)
        np.testing.assert_allclose(o, ref, rtol=tol[0], atol=tol[1])
    else:
        np.testing.assert_array_equal(o, ref.astype(out_dt))


def test_xor_sum_and_int8_sum_promotes():
    x = np.random.default_rng(1).integers(-100, 100, (4, 32)).astype(np.int32)
    o = np.zeros(4, np.int32)
    reduce_kernel[(1,)](x, o, M=4, N=32, OP="xor", AXIS=1)
    np.testing.assert_array_equal(o, np.bitwise_xor.reduce(x, axis=1))


@jl.jit
def sum_all(x_ptr, o_ptr, N: tl.constexpr, KEEP: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs[:, None] * N + offs[None, :])
    if KEEP:
        s = tl.sum(x, axis=1, keep_dims=True)  # [N, 1]
        tl.store(o_ptr + offs[:, None], s)
    else:
        tl.store(o_ptr, tl.sum(x))
        tl.store(o_ptr + 1, tl.max(x))
        v, i = tl.max(x, axis=1, return_indices=True)
        tl.store(o_ptr + 2 + offs, v + i.to(tl.float32) * 1000)


def test_reduce_all_axes_keep_dims_and_indices():
    N = 16
    x = np.random.default_rng(2).standard_normal((N, N)).astype(np.float32)
    o = np.zeros(N + 2, np.float32)
    sum_all[(1,)](x, o, N=N, KEEP=False)
    assert np.isclose(o[0], x.sum(), rtol=1e-5)
    assert o[1] == x.max()
    np.testing.assert_allclose(o[2:], x.max(1) + x.argmax(1) * 1000, rtol=1e-6)
    o2 = np.zeros(N, np.float32)
    sum_all[(1,)](x, o2, N=N, KEEP=True)
    np.testing.assert_allclose(o2, x.sum(1), rtol=1e-5)


@jl.jit
def _mul_combine(a, b):
    return a * b


@jl.jit
def _pair_max(v1, i1, v2, i2):
    take = v2 > v1
    return tl.where(take, v2, v1), tl.where(take, i2, i1)


@jl.jit
def custom_reduce(x_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    tl.store(o_ptr, tl.reduce(x, 0, _mul_combine))
    v, i = tl.reduce((x, offs), 0, _pair_max)
    tl.store(o_ptr + 1, v)
    tl.store(o_ptr + 2, i.to(tl.float32))
    tl.store(o_ptr + 3 + offs, tl.cumsum(x, 0))
    tl.store(o_ptr + 3 + N + offs, tl.cumprod(x, 0))
    tl.store(o_ptr + 3 + 2 * N + offs, tl.associative_scan(x, 0, _mul_combine, reverse=True))


def test_custom_reduce_and_scans():
    N = 8
    x = np.random.default_rng(3).uniform(0.5, 1.5, N).astype(np.float32)
    o = np.zeros(3 + 3 * N, np.float32)
    custom_reduce[(1,)](x, o, N=N)
    assert np.isclose(o[0], np.prod(x), rtol=1e-5)
    assert o[1] == x.max() and o[2] == x.argmax()
    np.testing.assert_allclose(o[3 : 3 + N], np.cumsum(x), rtol=1e-5)
    np.testing.assert_allclose(o[3 + N : 3 + 2 * N], np.cumprod(x), rtol=1e-5)
    np.testing.assert_allclose(o[3 + 2 * N :], np.cumprod(x[::-1])[::-1], rtol=1e-5)


@jl.jit
def dot_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, K)
    a = tl.load(a_ptr + rm[:, None] * K + rk[None, :])
    b = tl.load(b_ptr + rk[:, None] * N + rn[None, :])
    c = tl.dot(a, b)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], c)


@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (4, 8, 2), (16, 16, 16), (64, 32, 128), (2, 64, 8)])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16, np.int8, np.float64])
def test_dot_shapes_and_dtypes(M, N, K, dtype):
    rng = np.random.default_rng(4)
    if dtype == np.int8:
        a = rng.integers(-100, 100, (M, K)).astype(np.int8)
        b = rng.integers(-100, 100, (K, N)).astype(np.int8)
        c = np.zeros((M, N), np.int32)
        dot_kernel[(1,)](a, b, c, M=M, N=N, K=K)
        np.testing.assert_array_equal(c, a.astype(np.int32) @ b.astype(np.int32))
        return
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    c = np.zeros((M, N), np.float64 if dtype == np.float64 else np.float32)
    dot_kernel[(1,)](a, b, c, M=M, N=N, K=K)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-4)


@jl.jit
def batched_dot(
    a_ptr, b_ptr, c_ptr, B: tl.constexpr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr
):
    rb = tl.arange(0, B)[:, None, None]
    rm = tl.arange(0, M)[None, :, None]
    rk = tl.arange(0, K)[None, None, :]
    a = tl.load(a_ptr + rb * M * K + rm * K + rk)
    rk2 = tl.arange(0, K)[None, :, None]
    rn = tl.arange(0, N)[None, None, :]
    b = tl.load(b_ptr + rb * K * N + rk2 * N + rn)
    c = tl.dot(a, b, input_precision="tf32")
    tl.store(c_ptr + rb * M * N + rm * N + rn, c)


def test_batched_3d_dot():
    B, M, N, K = 2, 4, 16, 8
    rng = np.random.default_rng(5)
    a = rng.standard_normal((B, M, K)).astype(np.float32)
    b = rng.standard_normal((B, K, N)).astype(np.float32)
    c = np.zeros((B, M, N), np.float32)
    batched_dot[(1,)](a, b, c, B=B, M=M, N=N, K=K)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


@jl.jit
def shapes_kernel(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    x = tl.load(x_ptr + rm[:, None] * N + rn[None, :])
    t = tl.trans(x)  # [N, M]
    tl.store(o_ptr + rn[:, None] * M + rm[None, :], t)
    r = tl.reshape(x, (N, M))
    tl.store(o_ptr + M * N + rn[:, None] * M + rm[None, :], r)
    p = tl.permute(x.T, (1, 0)) + tl.broadcast_to(rm[:, None].to(tl.float32), (M, N))
    tl.store(o_ptr + 2 * M * N + rm[:, None] * N + rn[None, :], p)
    tl.store(o_ptr + 3 * M * N + tl.arange(0, M * N), tl.ravel(x))


def test_shape_ops():
    M, N = 4, 8
    x = np.arange(M * N, dtype=np.float32).reshape(M, N)
    o = np.zeros(4 * M * N, np.float32)
    shapes_kernel[(1,)](x, o, M=M, N=N)
    np.testing.assert_array_equal(o[: M * N], x.T.ravel())
    np.testing.assert_array_equal(o[M * N : 2 * M * N], x.ravel())
    np.testing.assert_array_equal(o[2 * M * N : 3 * M * N], (x + np.arange(M)[:, None]).ravel())
    np.testing.assert_array_equal(o[3 * M * N :], x.ravel())


@jl.jit
def atomics_kernel(x_ptr, cnt_ptr, mx_ptr, bits_ptr, xchg_ptr, cas_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0)
    tl.atomic_add(cnt_ptr + offs % 4, 1, mask=mask)
    tl.atomic_max(mx_ptr, tl.max(tl.where(mask, x, -1000000), axis=0))
    tl.atomic_min(mx_ptr + 1, tl.min(tl.where(mask, x, 1000000), axis=0))
    tl.atomic_or(bits_ptr, 1 << (tl.program_id(0) % 31))
    tl.atomic_and(bits_ptr + 1, ~(1 << (tl.program_id(0) % 31)))
    tl.atomic_xor(bits_ptr + 2, x, mask=mask)
    old = tl.atomic_xchg(xchg_ptr + tl.program_id(0), 7)
    tl.store(xchg_ptr + 100 + tl.program_id(0), old)
    tl.atomic_cas(cas_ptr, tl.program_id(0), tl.program_id(0) + 1)


def test_atomics_under_the_threaded_grid():
    n, BLOCK = 1000, 16
    grid = (jl.cdiv(n, BLOCK),)
    x = np.random.default_rng(6).integers(-5000, 5000, n).astype(np.int32)
    cnt = np.zeros(4, np.int32)
    mx = np.zeros(2, np.int32)
    bits = np.array([0, -1, 0], np.int32)
    xchg = np.arange(200, dtype=np.int32)
    cas = np.zeros(1, np.int32)
    for _ in range(3):  # launches are measured, then may run multi-threaded
        cnt[:] = 0
        cas[:] = 0
        atomics_kernel[grid](x, cnt, mx, bits, xchg, cas, n, BLOCK=BLOCK)
    np.testing.assert_array_equal(cnt, np.bincount(np.arange(n) % 4))
    assert mx[0] == x.max() and mx[1] == min(0, x.min())
    progs = grid[0]
    assert bits[0] == np.bitwise_or.reduce([1 << (p % 31) for p in range(progs)])
    assert (xchg[:progs] == 7).all()
    # program p swaps p -> p+1 only after program p-1 did: a chain that ends at the number of
    # programs that saw their turn; with threads it is at least 1 and at most `progs`
    assert 1 <= cas[0] <= progs
    assert bits[1] == ~np.bitwise_or.reduce([1 << (p % 31) for p in range(progs)])
    # xor of every element, applied three times (once per launch)
    assert bits[2] == np.bitwise_xor.reduce(x)


@jl.jit
def while_block_kernel(x_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    i = 0
    while tl.max(x, axis=0) > 1.0:
        x = x * 0.5
        i += 1
    tl.store(o_ptr + offs, x)
    tl.store(o_ptr + N, i.to(tl.float32))


def test_while_with_block_carry():
    x = np.array([3.0, 10.0, 0.5, 7.0], np.float32)
    o = np.zeros(5, np.float32)
    while_block_kernel[(1,)](x, o, N=4)
    np.testing.assert_allclose(o[:4], x / 16)
    assert o[4] == 4


@jl.jit
def nested_dot_kernel(
    a_ptr, b_ptr, o_ptr, R, K, M: tl.constexpr, N: tl.constexpr, BK: tl.constexpr
):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, BK)
    total = tl.zeros((M, N), tl.float32)
    for r in range(R):
        acc = tl.zeros((M, N), tl.float32)
        for k in range(K):
            a = tl.load(a_ptr + rm[:, None] * (K * BK) + k * BK + rk[None, :])
            b = tl.load(b_ptr + (k * BK + rk[:, None]) * N + rn[None, :])
            acc = tl.dot(a, b, acc)
        total += acc * (r + 1)
    tl.store(o_ptr + rm[:, None] * N + rn[None, :], total)


@pytest.mark.parametrize("R,K", [(0, 3), (1, 1), (3, 2), (2, 0)])
def test_nested_loops_with_peeled_accumulators(R, K):
    M, N, BK = 8, 16, 4
    rng = np.random.default_rng(7)
    a = rng.standard_normal((M, K * BK)).astype(np.float32)
    b = rng.standard_normal((K * BK, N)).astype(np.float32)
    o = np.full((M, N), np.nan, np.float32)
    nested_dot_kernel[(1,)](a, b, o, R, K, M=M, N=N, BK=BK)
    ref = (a @ b) * sum(r + 1 for r in range(R)) if K else np.zeros((M, N))
    np.testing.assert_allclose(o, ref, rtol=1e-5, atol=1e-4)


@jl.jit
def div_kernel(x_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    d = tl.load(x_ptr + N)  # a uniform divisor
    tl.store(o_ptr + offs, tl.math.div_rn(x, d))
    tl.store(o_ptr + N + offs, tl.softmax(x))
    tl.store(o_ptr + 2 * N + offs, tl.fdiv(x, d, ieee_rounding=True))
    tl.store(o_ptr + 3 * N + offs, x / d)


def test_exact_division_and_softmax():
    N = 64
    x = np.random.default_rng(8).uniform(0.1, 3, N + 1).astype(np.float32)
    o = np.zeros(4 * N, np.float32)
    div_kernel[(1,)](x, o, N=N)
    exact = x[:N] / x[N]
    np.testing.assert_array_equal(o[:N], exact)  # IEEE-rounded, bit for bit
    np.testing.assert_array_equal(o[2 * N : 3 * N], exact)
    e = np.exp(x[:N] - x[:N].max())
    np.testing.assert_allclose(o[N : 2 * N], e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(o[3 * N :], exact, rtol=3e-7)  # reciprocal multiply: <= 2 ulp
