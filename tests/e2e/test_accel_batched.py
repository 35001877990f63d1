"""Batched (3-D) `dot` on target="accel" (codegen/accel/dot.py `_batched`), checked against
numpy and cross-checked with target="cpu"."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import cross_check


@jl.jit
def bmm(
    a_ptr,
    b_ptr,
    c_ptr,
    o_ptr,
    B: tl.constexpr,
    M: tl.constexpr,
    K: tl.constexpr,
    N: tl.constexpr,
    ACC: tl.constexpr,
):
    rb = tl.arange(0, B)[:, None, None]
    rm = tl.arange(0, M)[None, :, None]
    rk = tl.arange(0, K)[None, :, None]
    rn = tl.arange(0, N)[None, None, :]
    a = tl.load(a_ptr + rb * M * K + rm * K + tl.arange(0, K)[None, None, :])
    b = tl.load(b_ptr + rb * K * N + rk * N + rn)
    if ACC:
        c = tl.load(c_ptr + rb * M * N + rm * N + rn)
        r = tl.dot(a, b, c)
    else:
        r = tl.dot(a, b)
    tl.store(o_ptr + rb * M * N + rm * N + rn, r)


@pytest.mark.parametrize(
    "bmkn,dtype,acc",
    [
        ((2, 16, 32, 8), np.float32, False),
        ((4, 32, 64, 16), ml_dtypes.bfloat16, True),
        ((2, 64, 128, 32), np.float32, True),
        ((8, 16, 16, 16), np.int8, False),
    ],
)
def test_batched_dot(bmkn, dtype, acc):
    bs, m, k, n = bmkn
    rng = np.random.default_rng(m + k)
    a = rng.integers(-4, 5, (bs, m, k)).astype(dtype)
    b = rng.integers(-4, 5, (bs, k, n)).astype(dtype)
    odt = np.int32 if dtype == np.int8 else np.float32
    c = rng.integers(-4, 5, (bs, m, n)).astype(odt)
    o = np.zeros((bs, m, n), odt)
    bmm[(1,)](a, b, c, o, B=bs, M=m, K=k, N=n, ACC=acc, target="accel")
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64)) + (c if acc else 0)
    np.testing.assert_array_equal(o, ref.astype(odt))
    cross_check(bmm, (1,), a, b, c, o, B=bs, M=m, K=k, N=n, ACC=acc)
