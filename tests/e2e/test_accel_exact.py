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


@jl.jit
def floor_ceil(x_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    tl.store(o_ptr + offs, tl.floor(x))
    tl.store(o_ptr + N + offs, tl.ceil(x))


def test_floor_ceil_of_specials():
    """floor/ceil of +-inf are +-inf and of NaN NaN (the lowering's fmod(x, 1) is NaN there),
    large values (no fractional bits) and the largest float stay as they are."""
    x = np.array(
        [np.inf, -np.inf, np.nan, 3.0e38, -3.4028235e38, 2.0**23 + 1, -2.5, 0.75], np.float32
    )
    o = np.zeros(2 * x.size, np.float32)
    floor_ceil[(1,)](x, o, N=x.size, target="accel")
    np.testing.assert_array_equal(o, np.concatenate([np.floor(x), np.ceil(x)]))
    cross_check(floor_ceil, (1,), x, o, N=x.size)


@jl.jit
def maxmin_rows(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :])
    L: tl.constexpr = M if AXIS == 1 else N
    tl.store(o_ptr + tl.arange(0, L), tl.max(x, AXIS))
    tl.store(o_ptr + L + tl.arange(0, L), tl.min(x, AXIS))
    tl.store(o_ptr + 2 * L, tl.max(tl.max(x, 1), 0))


@pytest.mark.parametrize("axis", [0, 1])
def test_max_and_min_skip_nan_and_a_slice_of_nan_gives_nan(axis):
    x = np.random.default_rng(axis).standard_normal((8, 8)).astype(np.float32)
    x[1, :] = np.nan
    x[:, 2] = np.nan
    x[3, 4], x[5, 6] = -np.inf, np.inf
    out_len = x.shape[1 - axis]
    o = np.zeros(2 * out_len + 1, np.float32)
    maxmin_rows[(1,)](x, o, M=8, N=8, AXIS=axis, target="accel")
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.concatenate([np.nanmax(x, axis), np.nanmin(x, axis), [np.nanmax(x)]])
    np.testing.assert_array_equal(o, ref.astype(np.float32))
    cross_check(maxmin_rows, (1,), x, o, M=8, N=8, AXIS=axis)


@jl.jit
def atomic_extremes(x_ptr, o_ptr, N: tl.constexpr):
    v = tl.load(x_ptr + tl.arange(0, N))
    tl.atomic_max(o_ptr + tl.arange(0, N) % 1, v)  # every lane on one address
    tl.atomic_min(o_ptr + 1 + tl.arange(0, N) % 1, v)


def test_float_atomic_max_and_min_keep_the_old_value_against_nan():
    x = np.array([np.nan, 2.0, np.inf, -np.inf, np.nan, -3.0, 0.5, np.nan], np.float32)
    o = np.array([0.0, 0.0], np.float32)
    atomic_extremes[(1,)](x, o, N=8, target="accel")
    np.testing.assert_array_equal(o, [np.inf, -np.inf])
    cross_check(atomic_extremes, (1,), x, np.zeros(2, np.float32), N=8)
