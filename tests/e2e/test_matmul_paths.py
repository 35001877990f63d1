"""The CPU dot micro-kernel and its next-panel prefetch (codegen/cpu/dot.py) against numpy, on
every path: ragged M/N/K (leftover row tiles, masked K tails, wrapped `% M` rows), fp16/bf16
inputs with fp32 accumulation, `tl.dot` with an accumulator, operands transposed through their
strides, and a grid with more programs than threads (the prefetch distance is measured per
program). The whole file runs again under a forced AVX2 target (`JITLANG_CPU=x86-64-v3`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from tests.e2e.tutorial_kernels import matmul_kernel

ROOT = Path(__file__).resolve().parents[2]


def _tutorial(a, b, BM, BN, BK, a_strides=None, b_strides=None):
    """C = A @ B (fp16 out, as the tutorial) with the tutorial kernel; strides in elements."""
    M, K = a.shape if a_strides is None else (a.shape[1], a.shape[0])
    N = b.shape[1] if b_strides is None else b.shape[0]
    sa = a_strides or (K, 1)
    sb = b_strides or (N, 1)
    c = np.full((M, N), np.nan, np.float16)
    grid = (jl.cdiv(M, BM) * jl.cdiv(N, BN),)
    matmul_kernel[grid](
        a, b, c, M, N, K, sa[0], sa[1], sb[0], sb[1], N, 1,
        BLOCK_SIZE_M=BM, BLOCK_SIZE_N=BN, BLOCK_SIZE_K=BK, GROUP_SIZE_M=8, ACTIVATION="",
    )  # fmt: skip
    return c


def _check(c, ref):
    # fp16 output: half an ulp of fp16 relative, plus the fp32 accumulation over K
    np.testing.assert_allclose(c.astype(np.float64), ref, rtol=2e-3, atol=2e-2)


@pytest.mark.parametrize(
    "M,N,K,blocks",
    [
        (256, 256, 256, (64, 64, 32)),  # every tile full, 8 K iterations
        (200, 136, 100, (64, 64, 32)),  # ragged M, N (rows wrap % M) and a masked K tail
        (97, 40, 70, (32, 32, 16)),  # leftover row tiles in every program, K tail of 6
        (130, 256, 33, (128, 128, 32)),  # K = one full block and a 1-wide tail
        (64, 64, 8, (64, 64, 32)),  # one K iteration, mostly masked
    ],
)
def test_tutorial_matmul_fp32(M, N, K, blocks):
    rng = np.random.default_rng(M + N + K)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    _check(_tutorial(a, b, *blocks), a.astype(np.float64) @ b)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_tutorial_matmul_half_inputs(dtype):
    rng = np.random.default_rng(3)
    M, N, K = 150, 96, 80
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    ref = a.astype(np.float64) @ b.astype(np.float64)  # the products of the rounded inputs
    _check(_tutorial(a, b, 64, 32, 32), ref)


def test_tutorial_matmul_transposed_operands():
    """A and B passed as the storage of A^T and B^T, with their strides swapped: the loads
    gather along K (A) and N (B), so the prefetch runs along the other axis."""
    rng = np.random.default_rng(4)
    M, N, K = 128, 80, 90  # M, K multiples of 16: the rows wrap `% M`, still contiguous
    at = rng.standard_normal((K, M)).astype(np.float32)  # A = at.T
    bt = rng.standard_normal((N, K)).astype(np.float32)  # B = bt.T
    c = _tutorial(at, bt, 32, 32, 32, a_strides=(1, M), b_strides=(1, K))
    _check(c, at.T.astype(np.float64) @ bt.T)


def test_many_programs_per_thread():
    """More programs than threads: each thread's programs follow one another, and a program's
    first K iteration prefetches at the distance its predecessor measured."""
    rng = np.random.default_rng(6)
    M, N, K = 320, 320, 160
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    _check(_tutorial(a, b, 32, 32, 32), a.astype(np.float64) @ b)


@jl.jit
def dot_acc_loop(a, b, c, out, K, M: tl.constexpr, N: tl.constexpr, BK: tl.constexpr):
    """out = c + A @ B with the accumulator loaded from memory and a K loop of
    pointer offsets computed from the induction variable (not carried pointers)."""
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, BK)
    acc = tl.load(c + rm[:, None] * N + rn[None, :])
    for k0 in range(0, K, BK):
        x = tl.load(a + rm[:, None] * K + (k0 + rk)[None, :], mask=(k0 + rk)[None, :] < K)
        y = tl.load(b + (k0 + rk)[:, None] * N + rn[None, :], mask=(k0 + rk)[:, None] < K)
        acc = tl.dot(x, y, acc)
    tl.store(out + rm[:, None] * N + rn[None, :], acc)


@pytest.mark.parametrize("K", [16, 50, 96])
def test_dot_with_loaded_accumulator(K):
    rng = np.random.default_rng(K)
    M, N = 22, 48
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = rng.standard_normal((M, N)).astype(np.float32)
    out = np.empty_like(c)
    dot_acc_loop[(1,)](a, b, c, out, K, M=M, N=N, BK=16)
    np.testing.assert_allclose(out, c + a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)


def _compiled(kernel, *args, **kw):
    return kernel.warmup(*args, **kw)


def test_prefetch_only_inside_loops():
    """The K loop's dot prefetches its operands' next panels; a dot outside any loop does not
    (it runs once: there is no next panel)."""
    a = np.zeros((128, 128), np.float32)
    b = np.zeros((128, 128), np.float32)
    c = np.zeros((128, 128), np.float16)
    k = _compiled(
        matmul_kernel, a, b, c, 128, 128, 128, 128, 1, 128, 1, 128, 1,
        BLOCK_SIZE_M=64, BLOCK_SIZE_N=64, BLOCK_SIZE_K=32, GROUP_SIZE_M=8, ACTIVATION="",
        grid=(4,),
    )  # fmt: skip
    assert "@llvm.prefetch" in k.asm["llir"]
    x = np.zeros((16, 16), np.float32)
    once = _compiled(dot_once, x, x, x, grid=(1,))
    assert "@llvm.prefetch" not in once.asm["llir"]


@jl.jit
def dot_once(a, b, c):
    r = tl.arange(0, 16)
    x = tl.load(a + r[:, None] * 16 + r[None, :])
    y = tl.load(b + r[:, None] * 16 + r[None, :])
    tl.store(c + r[:, None] * 16 + r[None, :], tl.dot(x, y))


@jl.jit
def dot_const_acc(a, b, out, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr, INIT: tl.constexpr):
    """A constant accumulator starts in the micro-kernel's registers (no buffer of it)."""
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, K)
    x = tl.load(a + rm[:, None] * K + rk[None, :])
    y = tl.load(b + rk[:, None] * N + rn[None, :])
    acc = tl.dot(x, y, tl.full((M, N), INIT, tl.float32))
    acc = tl.dot(x, y, acc)  # and a second dot accumulating onto the first's buffer
    tl.store(out + rm[:, None] * N + rn[None, :], acc)


@pytest.mark.parametrize("M,N,K,init", [(13, 32, 8, 0.0), (6, 16, 5, -2.5), (40, 24, 16, 1e3)])
def test_dot_with_constant_accumulator(M, N, K, init):
    rng = np.random.default_rng(M)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    out = np.empty((M, N), np.float32)
    dot_const_acc[(1,)](a, b, out, M=M, N=N, K=K, INIT=init)
    ref = init + 2 * (a.astype(np.float64) @ b)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.skipif(
    bool(os.environ.get("JITLANG_CPU")), reason="already running under a forced CPU"
)
def test_this_file_under_forced_avx2(tmp_path):
    env = dict(os.environ, JITLANG_CPU="x86-64-v3", JITLANG_CACHE_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout


def test_carried_pointer_blocks_are_byte_offsets_not_address_buffers():
    """The tutorial's `a_ptrs += BLOCK_K * stride` starts from `(pid*BM + arange) % M`, which the
    lowering materialises once before the K loop (hoist.py): the loop carries a byte offset from
    that start, not a [BM*BK] buffer of i64 addresses rewritten every iteration."""
    a = np.zeros((128, 128), np.float32)
    c = np.zeros((128, 128), np.float16)
    k = _compiled(
        matmul_kernel, a, a, c, 128, 128, 128, 128, 1, 128, 1, 128, 1,
        BLOCK_SIZE_M=64, BLOCK_SIZE_N=64, BLOCK_SIZE_K=32, GROUP_SIZE_M=8, ACTIVATION="",
        grid=(4,),
    )  # fmt: skip
    assert "alloca [2048 x i64]" not in k.asm["llir"]


@jl.jit
def row_panels(a, b, out, M, N: tl.constexpr, K: tl.constexpr, BM: tl.constexpr, BK: tl.constexpr):
    """out = a @ b by row panels: an outer loop over panels whose rows `(j*BM + arange) % M` are
    materialised before each inner K loop (a new start per outer iteration, wrapped rows)."""
    rn = tl.arange(0, N)
    for j in range(0, tl.cdiv(M, BM)):
        rm = (j * BM + tl.arange(0, BM)) % M
        rk = tl.arange(0, BK)
        ap = a + rm[:, None] * K + rk[None, :]
        bp = b + rk[:, None] * N + rn[None, :]
        acc = tl.zeros((BM, N), dtype=tl.float32)
        for _k in range(0, K, BK):
            acc += tl.dot(tl.load(ap), tl.load(bp))
            ap += BK
            bp += BK * N
        rows = j * BM + tl.arange(0, BM)
        tl.store(out + rows[:, None] * N + rn[None, :], acc, mask=rows[:, None] < M)


def test_pointer_start_rematerialised_per_outer_iteration():
    M, N, K, BM, BK = 70, 32, 64, 16, 16
    rng = np.random.default_rng(7)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    out = np.full((M, N), np.nan, np.float32)
    row_panels[(1,)](a, b, out, M, N=N, K=K, BM=BM, BK=BK)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
