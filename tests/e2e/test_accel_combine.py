"""Reductions and scans through the accel backend's general combine (codegen/accel/combine.py):
combine regions, tuple (pair) combines, blocks of rank 3, scans along axis 0; each kernel is
checked against numpy and cross-checked between target="cpu" and target="accel"."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import cross_check


@jl.jit
def _pair_max(v1, i1, v2, i2):
    take = v2 > v1
    return tl.where(take, v2, v1), tl.where(take, i2, i1)


@jl.jit
def _first(a, b):
    return a


@jl.jit
def _last_nonzero(a, b):
    return tl.where(b != 0, b, a)


@jl.jit
def _max2(a, b):
    return tl.maximum(a, b)


@jl.jit
def _affine(a1, b1, a2, b2):
    # composition of x -> a*x + b maps: associative, not commutative
    return a1 * a2, b1 * a2 + b2


@jl.jit
def pair_argmax_2d(x_ptr, v_ptr, i_ptr, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr):
    rm = tl.arange(0, M)[:, None]
    rn = tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + rm * N + rn)
    idx = (rm * 0 + rn) if AXIS == 1 else (rm + rn * 0)
    v, i = tl.reduce((x, idx), AXIS, _pair_max)
    L: tl.constexpr = M if AXIS == 1 else N
    tl.store(v_ptr + tl.arange(0, L), v)
    tl.store(i_ptr + tl.arange(0, L), i)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("m,n", [(4, 16), (128, 8), (16, 256)])
def test_pair_reduce_argmax(m, n, axis):
    x = np.random.default_rng(m * n + axis).permutation(m * n).astype(np.float32).reshape(m, n)
    ln = m if axis == 1 else n
    v, i = np.zeros(ln, np.float32), np.zeros(ln, np.int32)
    pair_argmax_2d[(1,)](x, v, i, M=m, N=n, AXIS=axis, target="accel")
    np.testing.assert_array_equal(v, x.max(axis))
    np.testing.assert_array_equal(i, x.argmax(axis))
    cross_check(pair_argmax_2d, (1,), x, v, i, M=m, N=n, AXIS=axis)


@jl.jit
def reduce_3d(
    x_ptr, o_ptr, f_ptr, A: tl.constexpr, B: tl.constexpr, C: tl.constexpr, AXIS: tl.constexpr
):
    ra = tl.arange(0, A)[:, None, None]
    rb = tl.arange(0, B)[None, :, None]
    rc = tl.arange(0, C)[None, None, :]
    x = tl.load(x_ptr + ra * B * C + rb * C + rc)
    s = tl.sum(x, AXIS)
    f = tl.reduce(x, AXIS, _first)
    if AXIS == 0:
        offs = tl.arange(0, B)[:, None] * C + tl.arange(0, C)[None, :]
    elif AXIS == 1:
        offs = tl.arange(0, A)[:, None] * C + tl.arange(0, C)[None, :]
    else:
        offs = tl.arange(0, A)[:, None] * B + tl.arange(0, B)[None, :]
    tl.store(o_ptr + offs, s)
    tl.store(f_ptr + offs, f)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_rank3_reductions(axis):
    a, b, c = 4, 8, 16
    x = np.random.default_rng(axis).integers(-50, 50, (a, b, c)).astype(np.float32)
    shape = [a, b, c]
    del shape[axis]
    o, f = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    reduce_3d[(1,)](x, o, f, A=a, B=b, C=c, AXIS=axis, target="accel")
    np.testing.assert_array_equal(o, x.sum(axis))
    np.testing.assert_array_equal(f, np.take(x, 0, axis))
    cross_check(reduce_3d, (1,), x, o, f, A=a, B=b, C=c, AXIS=axis)


@jl.jit
def scans_2d(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr, REV: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + offs)
    tl.store(o_ptr + offs, tl.cumsum(x, AXIS, reverse=REV))
    tl.store(o_ptr + M * N + offs, tl.associative_scan(x, AXIS, _last_nonzero, reverse=REV))
    tl.store(o_ptr + 2 * M * N + offs, tl.associative_scan(x, AXIS, _max2, reverse=REV))


def _np_last_nonzero(x, axis, rev):
    x = np.flip(x, axis) if rev else x
    out = np.empty_like(x)
    acc = np.take(x, 0, axis)
    for k in range(x.shape[axis]):
        cur = np.take(x, k, axis)
        acc = np.where(cur != 0, cur, acc) if k else cur
        idx = [slice(None)] * x.ndim
        idx[axis] = k
        out[tuple(idx)] = acc
    return np.flip(out, axis) if rev else out


@pytest.mark.parametrize("rev", [False, True])
@pytest.mark.parametrize("axis", [0, 1])
def test_scans_any_axis(axis, rev):
    m, n = 16, 8
    x = np.random.default_rng(5).integers(-3, 3, (m, n)).astype(np.int32)
    o = np.zeros((3, m, n), np.int32)
    scans_2d[(1,)](x, o, M=m, N=n, AXIS=axis, REV=rev, target="accel")
    flip = (lambda a: np.flip(a, axis)) if rev else (lambda a: a)
    np.testing.assert_array_equal(o[0], flip(np.cumsum(flip(x), axis)))
    np.testing.assert_array_equal(o[1], _np_last_nonzero(x, axis, rev))
    np.testing.assert_array_equal(o[2], flip(np.maximum.accumulate(flip(x), axis)))
    cross_check(scans_2d, (1,), x, o, M=m, N=n, AXIS=axis, REV=rev)


@jl.jit
def affine_scan(a_ptr, b_ptr, oa_ptr, ob_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    a, b = tl.associative_scan((tl.load(a_ptr + offs), tl.load(b_ptr + offs)), 0, _affine)
    tl.store(oa_ptr + offs, a)
    tl.store(ob_ptr + offs, b)


@jl.jit
def affine_reduce(a_ptr, b_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    ra, rb = tl.reduce((tl.load(a_ptr + offs), tl.load(b_ptr + offs)), 0, _affine)
    tl.store(o_ptr, ra)
    tl.store(o_ptr + 1, rb)


@pytest.mark.parametrize("n", [8, 64, 256])
def test_non_commutative_tuple_scan_and_reduce(n):
    rng = np.random.default_rng(1)
    a = rng.integers(-2, 3, n).astype(np.int32)
    b = rng.integers(-5, 6, n).astype(np.int32)
    oa, ob = np.zeros(n, np.int32), np.zeros(n, np.int32)
    affine_scan[(1,)](a, b, oa, ob, N=n, target="accel")
    ra, rb, wa, wb = [], [], 1, 0
    for x, y in zip(a.tolist(), b.tolist(), strict=True):  # sequential composition, wrapping
        wa, wb = (wa * x) & 0xFFFFFFFF, (wb * x + y) & 0xFFFFFFFF
        ra.append(wa)
        rb.append(wb)
    ra = np.array(ra, np.uint32).view(np.int32)
    rb = np.array(rb, np.uint32).view(np.int32)
    # the first element is the scan's start, not 1*a0 + 0
    ra[0], rb[0] = a[0], b[0]
    np.testing.assert_array_equal(oa, ra)
    np.testing.assert_array_equal(ob, rb)
    cross_check(affine_scan, (1,), a, b, oa, ob, N=n)
    # the reduction folds in order too, on both targets (the CPU's vector reduction once folded
    # lane i with lane i + w/2, out of order for a non-commutative combine)
    for target in ("accel", "cpu"):
        o = np.zeros(2, np.int32)
        affine_reduce[(1,)](a, b, o, N=n, target=target)
        np.testing.assert_array_equal(o, [ra[-1], rb[-1]], err_msg=target)
    cross_check(affine_reduce, (1,), a, b, o, N=n)


@jl.jit
def split_item(x_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs * 2)
    y = tl.load(x_ptr + offs * 2 + 1)
    lo, hi = tl.split(tl.join(x, y))
    tl.store(o_ptr + offs, hi - lo)
    tl.store(o_ptr + N, tl.load(x_ptr + 3 + tl.arange(0, 1)).item())


def test_split_and_item():
    n = 32
    x = np.random.default_rng(2).standard_normal(2 * n).astype(np.float32)
    o = np.zeros(n + 1, np.float32)
    split_item[(1,)](x, o, N=n, target="accel")
    np.testing.assert_array_equal(o[:n], x[1::2] - x[0::2])
    assert o[n] == x[3]
    cross_check(split_item, (1,), x, o, N=n)


def test_a_combine_whose_working_tiles_do_not_fit_is_a_compile_error():
    from jitlang.passes.accel_memory import OutOfChipMemoryError

    m, n = 512, 128  # a scan along axis 0 works on whole columns: 256 KiB on one partition
    x = np.zeros((m, n), np.int32)
    with pytest.raises(OutOfChipMemoryError) as e:
        scans_2d[(1,)](
            x, np.zeros((3, m, n), np.int32), M=m, N=n, AXIS=0, REV=False, target="accel"
        )
    msg = str(e.value)
    assert "test_accel_combine.py:" in msg and "scan of block<512x128xint32>" in msg
    assert "hint: use smaller blocks" in msg


@jl.jit
def max_with_index(x_ptr, v_ptr, i_ptr, M: tl.constexpr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :])
    v, i = tl.max(x, 1, return_indices=True)
    tl.store(v_ptr + tl.arange(0, M), v)
    tl.store(i_ptr + tl.arange(0, M), i)


def test_argmax_skips_nan_and_gives_an_all_nan_row_its_last_index():
    m, n = 4, 8
    x = np.full((m, n), np.nan, np.float32)  # row 0: NaN only
    x[1, 3], x[1, 5] = -np.inf, -np.inf  # NaN before a -inf: the -inf is the max
    x[2] = np.arange(n)
    x[2, 7] = np.nan
    x[3, ::2] = 1.0
    v, i = np.zeros(m, np.float32), np.zeros(m, np.int32)
    max_with_index[(1,)](x, v, i, M=m, N=n, target="accel")
    np.testing.assert_array_equal(i, [7, 3, 6, 0])
    np.testing.assert_array_equal(v, [np.nan, -np.inf, 6.0, 1.0])
    cross_check(max_with_index, (1,), x, v, i, M=m, N=n)


@jl.jit
def _roll(a1, b1_last, b1_cur, a2, b2_last, b2_cur):
    return a1 + a2, tl.where(a2 == 1, b1_cur, 0) + b2_last, b2_cur


@jl.jit
def roll_scan(X, Z, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(X + offs)
    _, z, _ = tl.associative_scan((1 + 0 * x, 0 * x, x), axis=AXIS, combine_fn=_roll)
    tl.store(Z + offs, z)


@pytest.mark.parametrize("axis", [0, 1])
def test_three_way_tuple_scan_with_a_constant_from_the_kernel(axis):
    # the combine's 0 is CSE'd with the kernel's float 0: a [1, 1] tile spread per step
    x = np.random.default_rng(6).integers(-5, 5, (8, 32)).astype(np.float32)
    z = np.zeros_like(x)
    roll_scan[(1,)](x, z, M=8, N=32, AXIS=axis, target="accel")
    ref = np.roll(x, 1, axis=axis)
    (ref[:1] if axis == 0 else ref[:, :1])[...] = 0
    np.testing.assert_array_equal(z, ref)
    cross_check(roll_scan, (1,), x, z, M=8, N=32, AXIS=axis)
