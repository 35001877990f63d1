"""`tl.sort` and `tl.flip` on target="accel" (codegen/accel/sort.py), checked against numpy and
cross-checked with target="cpu"."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import cross_check


@jl.jit
def sort_2d(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr, DESC: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    tl.store(o_ptr + offs, tl.sort(tl.load(x_ptr + offs), descending=DESC))


@jl.jit
def sort_1d(x_ptr, o_ptr, N: tl.constexpr, DESC: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(o_ptr + offs, tl.sort(tl.load(x_ptr + offs), descending=DESC))


@pytest.mark.parametrize("desc", [False, True])
@pytest.mark.parametrize(
    "m,n,dtype",
    [
        (4, 16, np.float32),
        (128, 8, np.int32),
        (2, 256, np.float16),
        (8, 32, ml_dtypes.bfloat16),
        (16, 4, np.uint8),
    ],
)
def test_sort_rows(m, n, dtype, desc):
    rng = np.random.default_rng(m * n)
    x = rng.integers(0, 100, (m, n)).astype(dtype)  # many ties
    if np.dtype(dtype).kind == "f" or dtype is ml_dtypes.bfloat16:
        x = (x.astype(np.float32) - 50.5).astype(dtype)
        x[0, :3] = [np.nan, np.inf, -np.inf]
    o = np.zeros_like(x)
    sort_2d[(1,)](x, o, M=m, N=n, DESC=desc, target="accel")
    ref = np.sort(x.astype(np.float32) if x.dtype.kind == "V" else x, axis=1)
    ref = np.flip(ref, 1) if desc else ref
    np.testing.assert_array_equal(o.astype(np.float32), ref.astype(np.float32))
    cross_check(sort_2d, (1,), x, o, M=m, N=n, DESC=desc)


@pytest.mark.parametrize("n", [2, 64, 1024])
def test_sort_a_1d_block_spread_over_partitions(n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    o = np.zeros_like(x)
    sort_1d[(1,)](x, o, N=n, DESC=False, target="accel")
    np.testing.assert_array_equal(o, np.sort(x))
    cross_check(sort_1d, (1,), x, o, N=n, DESC=True)


@jl.jit
def flips(x_ptr, o_ptr, A: tl.constexpr, B: tl.constexpr, C: tl.constexpr):
    offs = (
        tl.arange(0, A)[:, None, None] * B * C
        + tl.arange(0, B)[None, :, None] * C
        + tl.arange(0, C)[None, None, :]
    )
    x = tl.load(x_ptr + offs)
    tl.store(o_ptr + offs, tl.flip(x, 0))
    tl.store(o_ptr + A * B * C + offs, tl.flip(x, 1))
    tl.store(o_ptr + 2 * A * B * C + offs, tl.flip(x, 2))
    r = tl.arange(0, A * B)
    tl.store(o_ptr + 3 * A * B * C + r, tl.flip(tl.load(x_ptr + r), 0))


def test_flip_along_each_axis():
    a, b, c = 4, 8, 16
    x = np.arange(a * b * c, dtype=np.int32).reshape(a, b, c)
    o = np.zeros(4 * a * b * c, np.int32)
    flips[(1,)](x, o, A=a, B=b, C=c, target="accel")
    for ax in range(3):
        np.testing.assert_array_equal(
            o[ax * x.size : (ax + 1) * x.size].reshape(x.shape), np.flip(x, ax)
        )
    np.testing.assert_array_equal(o[3 * x.size : 3 * x.size + a * b], x.ravel()[: a * b][::-1])
    cross_check(flips, (1,), x, o, A=a, B=b, C=c)
