"""Triton's tutorial kernels, unchanged but for imports, on odd sizes, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as triton
from tests.e2e.tutorial_kernels import (
    attn_fwd,
    layer_norm_bwd_dwdb,
    layer_norm_bwd_dx_fused,
    layer_norm_fwd,
    matmul_kernel,
    softmax_kernel,
)


@pytest.mark.parametrize("shape", [(1, 7), (37, 781), (300, 1024), (5, 2000)])
def test_fused_softmax(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = np.empty_like(x)
    n_rows, n_cols = shape
    block = triton.next_power_of_2(n_cols)
    softmax_kernel[(min(n_rows, 8),)](
        y, x, x.strides[0] // 4, y.strides[0] // 4, n_rows, n_cols, BLOCK_SIZE=block
    )
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("M,N,K", [(64, 64, 64), (100, 77, 130), (257, 128, 96)])
@pytest.mark.parametrize("activation", ["", "leaky_relu"])
def test_matmul_fp16(M, N, K, activation):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, K)).astype(np.float16)
    b = rng.standard_normal((K, N)).astype(np.float16)
    c = np.empty((M, N), np.float16)
    BM, BN, BK = 32, 32, 32
    grid = lambda meta: (
        triton.cdiv(M, meta["BLOCK_SIZE_M"]) * triton.cdiv(N, meta["BLOCK_SIZE_N"]),
    )  # noqa: E731
    matmul_kernel[grid](
        a,
        b,
        c,
        M,
        N,
        K,
        K,
        1,
        N,
        1,
        N,
        1,
        BLOCK_SIZE_M=BM,
        BLOCK_SIZE_N=BN,
        BLOCK_SIZE_K=BK,
        GROUP_SIZE_M=4,
        ACTIVATION=activation,
    )
    ref = a.astype(np.float32) @ b.astype(np.float32)
    if activation:
        ref = np.where(ref >= 0, ref, 0.01 * ref)
    np.testing.assert_allclose(
        c.astype(np.float32), ref.astype(np.float16).astype(np.float32), rtol=2e-3, atol=2e-2
    )


def test_matmul_fp32_odd_blocks():
    rng = np.random.default_rng(2)
    M, N, K = 70, 50, 90
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = np.empty((M, N), np.float16)
    grid = (triton.cdiv(M, 16) * triton.cdiv(N, 8),)
    matmul_kernel[grid](
        a,
        b,
        c,
        M,
        N,
        K,
        K,
        1,
        N,
        1,
        N,
        1,
        BLOCK_SIZE_M=16,
        BLOCK_SIZE_N=8,
        BLOCK_SIZE_K=4,
        GROUP_SIZE_M=2,
        ACTIVATION="",
    )
    np.testing.assert_allclose(
        c.astype(np.float32), (a @ b).astype(np.float16).astype(np.float32), rtol=2e-3, atol=2e-2
    )


def _layer_norm_ref(x, w, b, eps):
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    return (x - mean) * rstd * w + b, mean[:, 0], rstd[:, 0]


@pytest.mark.parametrize("M,N,block", [(3, 10, 16), (64, 1000, 256), (17, 4096, 1024)])
def test_layer_norm_forward(M, N, block):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((M, N), dtype=np.float32)
    w = rng.standard_normal(N, dtype=np.float32)
    b = rng.standard_normal(N, dtype=np.float32)
    y = np.empty_like(x)
    mean = np.empty(M, np.float32)
    rstd = np.empty(M, np.float32)
    layer_norm_fwd[(M,)](x, y, w, b, mean, rstd, N, N, 1e-5, BLOCK_SIZE=block)
    ry, rmean, rrstd = _layer_norm_ref(x.astype(np.float64), w, b, 1e-5)
    np.testing.assert_allclose(y, ry, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean, rmean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-4)


@pytest.mark.parametrize("M,N", [(7, 33), (200, 500)])
def test_layer_norm_backward_with_spin_lock(M, N):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((M, N), dtype=np.float32)
    w = rng.standard_normal(N, dtype=np.float32)
    b = rng.standard_normal(N, dtype=np.float32)
    dy = rng.standard_normal((M, N), dtype=np.float32)
    y, mean, rstd = _layer_norm_ref(x.astype(np.float64), w, b, 1e-5)
    mean = mean.astype(np.float32)
    rstd = rstd.astype(np.float32)
    GROUP = 8
    block_n = triton.next_power_of_2(N)
    locks = np.zeros(2 * GROUP, np.int32)
    _dw = np.zeros((GROUP, N), np.float32)
    _db = np.zeros((GROUP, N), np.float32)
    dx = np.empty_like(x)
    layer_norm_bwd_dx_fused[(M,)](
        dx, dy, _dw, _db, x, w, mean, rstd, locks, N, N, GROUP_SIZE_M=GROUP, BLOCK_SIZE_N=block_n
    )
    dw = np.empty(N, np.float32)
    db = np.empty(N, np.float32)
    layer_norm_bwd_dwdb[(triton.cdiv(N, 32),)](
        _dw, _db, dw, db, min(GROUP, M), N, BLOCK_SIZE_M=8, BLOCK_SIZE_N=32
    )
    xd = x.astype(np.float64)
    xhat = (xd - mean[:, None]) * rstd[:, None]
    wdy = w * dy
    c1 = (xhat * wdy).sum(axis=1, keepdims=True) / N
    c2 = wdy.sum(axis=1, keepdims=True) / N
    ref_dx = (wdy - (xhat * c1 + c2)) * rstd[:, None]
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dw, (dy * xhat).sum(axis=0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-3, atol=1e-3)
    assert (locks[:GROUP] == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_fused_attention_forward(dtype):
    rng = np.random.default_rng(5)
    H, N_CTX, D = 2, 100, 32
    q = rng.standard_normal((H, N_CTX, D)).astype(dtype)
    k = rng.standard_normal((H, N_CTX, D)).astype(dtype)
    v = rng.standard_normal((H, N_CTX, D)).astype(dtype)
    o = np.empty_like(q)
    scale = 0.5
    grid = (triton.cdiv(N_CTX, 32), H)
    attn_fwd[grid](q, k, v, scale, o, D, D, D, D, N_CTX, HEAD_DIM=D, BLOCK_M=32, BLOCK_N=16)
    qf, kf, vf = (t.astype(np.float64) for t in (q, k, v))
    s = qf @ kf.transpose(0, 2, 1) * scale
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    tol = 1e-4 if dtype == np.float32 else 2e-2
    np.testing.assert_allclose(o.astype(np.float64), p @ vf, rtol=tol, atol=tol)
