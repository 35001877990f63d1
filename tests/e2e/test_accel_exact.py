"""Bit-exact corners on target="accel": transposes of 32-bit integers (through the PE's fp32 in
16-bit halves) and the sign of zero through the activation engine and floor/ceil."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import cross_check


@jl.jit
def trans_kernel(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr):
    rm, rn = tl.arange(0, M), tl.arange(0, N)
    x = tl.load(x_ptr + rm[:, None] * N + rn[None, :])
    tl.store(o_ptr + rn[:, None] * M + rm[None, :], tl.trans(x))


@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
@pytest.mark.parametrize("m,n", [(16, 32), (128, 256)])
def test_transposes_of_32_bit_integers_are_exact(m, n, dtype):
    info = np.iinfo(dtype)
    x = np.random.default_rng(m).integers(info.min, info.max, (m, n), endpoint=True, dtype=dtype)
    x[0, :4] = [info.min, info.max, (1 << 24) + 1, 0]
    o = np.zeros((n, m), dtype)
    trans_kernel[(1,)](x, o, M=m, N=n, target="accel")
    np.testing.assert_array_equal(o, x.T)
    cross_check(trans_kernel, (1,), x, o, M=m, N=n)


@jl.jit
def signs(x_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    tl.store(o_ptr + offs, tl.sin(x))
    tl.store(o_ptr + N + offs, tl.sqrt(x))
    tl.store(o_ptr + 2 * N + offs, tl.floor(x))
    tl.store(o_ptr + 3 * N + offs, tl.ceil(x))


def test_negative_zero_keeps_its_sign():
    x = np.array([-0.0, 0.0, -0.5, 0.5, -1.5, 2.0, -0.0, 3.25], np.float32)
    o = np.zeros(4 * x.size, np.float32)
    with np.errstate(invalid="ignore"):
        ref = np.concatenate([np.sin(x), np.sqrt(x), np.floor(x), np.ceil(x)])
    signs[(1,)](x, o, N=x.size, target="accel")
    np.testing.assert_array_equal(np.signbit(o), np.signbit(ref))
    np.testing.assert_allclose(o, ref, rtol=1e-6, equal_nan=True)
