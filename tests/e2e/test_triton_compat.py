"""Triton compatibility (issue 12): each test pins one of Triton's rules, checked against a numpy
reference on the CPU target and on the tile-IR interpreter (the definition of the semantics).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.frontend.visitor import build_kernel
from jitlang.interpreter import run_grid

BF16 = ml_dtypes.bfloat16


def _interpret(kernel, grid, *args, **kwargs) -> None:
    key, rt, values, _ = kernel._fast(*args, **kwargs)
    fn, _ = build_kernel(kernel, kernel._params(key), kernel.fn.__name__)
    fn = optimize_tile_ir(fn, CompileOptions())
    ext = kernel._extents(key, values)
    grid = tuple(grid) + (1,) * (3 - len(grid))
    run_grid(fn, grid, list(rt), [(ext[i], ext[i + 1]) for i in range(0, len(ext), 2)])


def run_both(kernel, grid, *args, **kwargs) -> dict[str, list]:
    """Launch on the CPU and on the interpreter, each on its own copies of the array arguments."""
    out = {}
    for target in ("cpu", "interpreter"):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        if target == "cpu":
            kernel[grid](*copies, **kwargs)
        else:
            _interpret(kernel, grid, *copies, **kwargs)
        out[target] = copies
    return out


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def _all_finite(dtype) -> np.ndarray:
    x = np.arange(1 << 16, dtype=np.uint16).view(dtype)
    return x[np.isfinite(x.astype(np.float32))]


# -- 1. wrong answers ----------------------------------------------------------------------------


@jl.jit
def _literal_ops(x_ptr, ne_ptr, add_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(ne_ptr + offs, x != -0.81, mask=m)
    tl.store(add_ptr + offs, x + 0.1, mask=m)


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["fp16", "bf16"])
def test_float_literal_takes_the_half_blocks_dtype(dtype):
    # Triton casts a Python float to the fp16/bf16 block's type before the op: x != -0.81 is false
    # for x = fp16(-0.81), and x + 0.1 adds fp16(0.1), which rounds differently from fp32(0.1)
    x = _all_finite(dtype)
    n = x.size
    ne, add = np.ones(n, np.bool_), np.zeros(n, dtype)
    ref_ne = x != dtype(np.float32(-0.81))
    lit = dtype(np.float32(0.1)).astype(np.float32)
    ref_add = (x.astype(np.float32) + lit).astype(dtype)
    assert not ref_ne[x == dtype(np.float32(-0.81))].any()
    for target, (_, ne_o, add_o, _) in run_both(
        _literal_ops, (jl.cdiv(n, 1024),), x, ne, add, n, BLOCK=1024
    ).items():
        np.testing.assert_array_equal(ne_o, ref_ne, err_msg=target)
        np.testing.assert_array_equal(_bits(add_o), _bits(ref_add), err_msg=target)


@jl.jit
def _shr(x_ptr, s_ptr, o_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(o_ptr + offs, tl.load(x_ptr + offs) >> tl.load(s_ptr + offs))


@pytest.mark.parametrize(
    "xt, st, ot",
    [
        (np.int32, np.uint32, np.uint32),  # signed >> unsigned: arithmetic, result uint32
        (np.int8, np.uint32, np.uint32),  # sign-extended, then arithmetic
        (np.int64, np.uint64, np.uint64),
        (np.uint32, np.int32, np.uint32),  # unsigned >> signed: logical
        (np.int16, np.int32, np.int32),
    ],
)
def test_shift_right_follows_the_left_operands_signedness(xt, st, ot):
    rng = np.random.default_rng(0)
    info = np.iinfo(xt)
    x = rng.integers(info.min, info.max, 64, endpoint=True).astype(xt)
    x[:4] = [info.min, -1 if info.min else info.max, 1, 0]
    bits = np.dtype(ot).itemsize * 8
    s = rng.integers(0, bits, 64).astype(st)
    # every x here fits int64 with its own sign, so numpy's >> on int64 is the reference
    ref = (x.astype(np.int64) >> s.astype(np.int64)).astype(ot)
    for target, (_, _, o) in run_both(_shr, (1,), x, s, np.zeros(64, ot), BLOCK=64).items():
        np.testing.assert_array_equal(o, ref, err_msg=target)


@jl.jit
def _argminmax(x_ptr, o_ptr, AXIS: tl.constexpr, M: tl.constexpr, N: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + offs)
    L: tl.constexpr = N if AXIS == 0 else M
    tl.store(o_ptr + tl.arange(0, L), tl.argmax(x, AXIS))
    tl.store(o_ptr + L + tl.arange(0, L), tl.argmin(x, AXIS))
    v, i = tl.max(x, AXIS, return_indices=True)
    tl.store(o_ptr + 2 * L + tl.arange(0, L), i)


def _nan_arg(x: np.ndarray, axis: int, is_max: bool) -> np.ndarray:
    """Triton's argmax/argmin: NaN is skipped, ties go to the lowest index, and an all-NaN slice
    gives its last index."""
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    out = np.empty(x.shape[:-1], np.int32)
    for i, row in enumerate(x):
        if np.isnan(row).all():
            out[i] = row.size - 1
        else:
            out[i] = np.nanargmax(row) if is_max else np.nanargmin(row)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("axis", [0, 1])
def test_argmax_argmin_skip_nan(dtype, axis):
    rng = np.random.default_rng(1)
    m, n = 16, 32
    x = rng.integers(-3, 4, (m, n)).astype(dtype)  # small range: many ties
    x[rng.random((m, n)) < 0.3] = np.nan
    x[0, :] = np.nan  # an all-NaN row and column
    x[:, 0] = np.nan
    x[1, 1:3] = [-np.inf, np.inf]
    length = n if axis == 0 else m
    ref = np.concatenate([_nan_arg(x, axis, True), _nan_arg(x, axis, False)])
    ref = np.concatenate([ref, ref[:length]])
    o = np.zeros(3 * length, np.int32)
    for target, (_, out) in run_both(_argminmax, (1,), x, o, AXIS=axis, M=m, N=n).items():
        np.testing.assert_array_equal(out, ref, err_msg=target)


@jl.jit
def _umulhi(x_ptr, y_ptr, o_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(o_ptr + offs, tl.umulhi(tl.load(x_ptr + offs), tl.load(y_ptr + offs)))


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int64, np.uint64])
def test_umulhi_is_the_unsigned_high_half(dtype):
    rng = np.random.default_rng(2)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, 64, endpoint=True, dtype=dtype)
    y = rng.integers(info.min, info.max, 64, endpoint=True, dtype=dtype)
    x[:4], y[:4] = [-1 if info.min else info.max, info.min, info.max, 1], [info.max, -1 % 7, 2, 0]
    bits = np.dtype(dtype).itemsize * 8
    mask = (1 << bits) - 1
    hi = [((int(a) & mask) * (int(c) & mask)) >> bits for a, c in zip(x, y)]
    ref = np.array(hi, dtype=np.uint64).astype(np.dtype(f"u{bits // 8}")).view(dtype)
    o = np.zeros(64, dtype)
    for target, (_, _, out) in run_both(_umulhi, (1,), x, y, o, BLOCK=64).items():
        np.testing.assert_array_equal(out, ref, err_msg=target)


@jl.jit
def _ranges(o_ptr, START: tl.constexpr, END: tl.constexpr, STEP: tl.constexpr):
    a = 0
    for i in tl.static_range(START, END, STEP):
        a += i
    b = 0
    for i in tl.static_range(START, END, step=STEP):
        b += i * 2
    c = 0
    for i in tl.range(START, END, step=STEP, num_stages=2):
        c += i * 3
    tl.store(o_ptr, a)
    tl.store(o_ptr + 1, b)
    tl.store(o_ptr + 2, c)


@pytest.mark.parametrize("start, end, step", [(0, 10, 3), (1, 17, 4), (10, -2, -3), (5, 5, 2)])
def test_static_range_honours_step(start, end, step):
    s = sum(range(start, end, step))
    ref = np.array([s, 2 * s, 3 * s], np.int32)
    o = np.zeros(3, np.int32)
    for target, (out,) in run_both(_ranges, (1,), o, START=start, END=end, STEP=step).items():
        np.testing.assert_array_equal(out, ref, err_msg=target)


# a block is loaded, then stored over the same array in another element order: Triton reads the
# whole block first, so no element may be overwritten before it is read


@jl.jit
def _store_transposed(x_ptr, N: tl.constexpr):
    i = tl.arange(0, N)[:, None]
    j = tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + i * N + j)
    tl.store(x_ptr + j * N + i, x)


@jl.jit
def _store_dot_plus_input_transposed(x_ptr, w_ptr, N: tl.constexpr):
    i = tl.arange(0, N)[:, None]
    j = tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + i * N + j)
    y = tl.dot(x, tl.load(w_ptr + i * N + j)) + x
    tl.store(x_ptr + j * N + i, y)


@jl.jit
def _store_flipped(x_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(x_ptr + (N - 1 - offs), tl.load(x_ptr + offs) * 2)


@jl.jit
def _store_shifted_in_loop(x_ptr, N: tl.constexpr, BLOCK: tl.constexpr):
    ptrs = x_ptr + tl.arange(0, BLOCK)
    for _ in range(0, N, BLOCK):
        x = tl.load(ptrs)
        tl.store(ptrs + 1, x + 1)
        ptrs += BLOCK


def _shifted_in_loop_ref(x, w):
    r = x.copy()
    for t in range(0, 256, 64):
        r[t + 1 : t + 65] = r[t : t + 64].copy() + 1
    return r


@pytest.mark.parametrize(
    "kernel, ref, size, kwargs",
    [
        (_store_transposed, lambda x, w: x.T, (16, 16), {"N": 16}),
        (_store_dot_plus_input_transposed, lambda x, w: (x @ w + x).T, (16, 16), {"N": 16}),
        (_store_flipped, lambda x, w: (x * 2)[::-1], (64,), {"N": 64}),
        (_store_shifted_in_loop, _shifted_in_loop_ref, (257,), {"N": 256, "BLOCK": 64}),
    ],
    ids=["transposed", "dot_plus_input_transposed", "flipped", "shifted_in_loop"],
)
def test_store_over_its_own_input_in_another_order(kernel, ref, size, kwargs):
    rng = np.random.default_rng(3)
    x = rng.integers(-4, 5, size).astype(np.float32)  # small integers: dot is exact
    w = rng.integers(-4, 5, (16, 16)).astype(np.float32)
    args = (x, w) if kernel is _store_dot_plus_input_transposed else (x,)
    expected = ref(x, w)
    for target, out in run_both(kernel, (1,), *args, **kwargs).items():
        np.testing.assert_array_equal(out[0], expected, err_msg=target)


# -- 2. launcher ---------------------------------------------------------------------------------


@jl.jit
def _option_named_params(out_ptr, num_stages, type, num_warps: tl.constexpr, target, int):
    tl.store(out_ptr, num_stages)
    tl.store(out_ptr + 1, type)
    tl.store(out_ptr + 2, num_warps)
    tl.store(out_ptr + 3, target)
    tl.store(out_ptr + 4, int)


def test_parameters_named_like_launch_options_take_the_argument():
    # Triton binds kernel parameters first; only the remaining keywords are launch options
    out = np.zeros(5, np.int32)
    _option_named_params[(1,)](out, 3, 7, num_warps=8, target=11, int=13)
    np.testing.assert_array_equal(out, [3, 7, 8, 11, 13])
    out[:] = 0
    _interpret(_option_named_params, (1,), out, 3, 7, num_warps=8, target=11, int=13)
    np.testing.assert_array_equal(out, [3, 7, 8, 11, 13])
    _axpy_like[(1,)](out, 2, num_stages=4, num_warps=2)  # still launch options here
    assert out[0] == 2


@jl.jit
def _every_option_is_a_param(
    out_ptr,
    target,
    num_warps,
    num_stages,
    num_ctas,
    maxnreg,
    debug,
    enable_fp_fusion,
    launch_cooperative_grid,
    launch_pdl,
    sanitize_overflow,
):
    tl.store(out_ptr, target + num_warps + num_stages + num_ctas + maxnreg + debug)
    tl.store(
        out_ptr + 1, enable_fp_fusion + launch_cooperative_grid + launch_pdl + sanitize_overflow
    )


def test_every_launch_option_name_can_be_a_parameter():
    out = np.zeros(2, np.int32)
    _every_option_is_a_param[(1,)](out, *range(2, 12))
    np.testing.assert_array_equal(out, [2 + 3 + 4 + 5 + 6 + 7, 8 + 9 + 10 + 11])


@jl.jit
def _axpy_like(out_ptr, v):
    tl.store(out_ptr, v)


@jl.jit
def _store_scalar(out_ptr, v):
    tl.store(out_ptr, v)


def test_numpy_float64_scalar_is_typed_like_a_python_float():
    # np.float64 is a Python float, which Triton types fp32
    out = np.zeros(1, np.float64)
    k = _store_scalar.warmup(out, np.float64(0.1))
    assert "%v: fp32" in k.asm["tile"].splitlines()[0]
    _store_scalar[(1,)](out, np.float64(0.1))
    assert out[0] == np.float64(np.float32(0.1))


# -- 3. valid code that was rejected -------------------------------------------------------------


@jl.jit
def _unsigned_with_literal(x_ptr, o_ptr, f_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(o_ptr + offs, x % 7)
    tl.store(o_ptr + BLOCK + offs, x // 7)
    tl.store(o_ptr + 2 * BLOCK + offs, x + 1)  # stays unsigned: wraps like uint arithmetic
    tl.store(f_ptr + offs, x / 7)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_unsigned_arithmetic_with_a_python_int(dtype):
    # a Python int is the same kind (integer) as an unsigned block: it takes the block's type
    info = np.iinfo(dtype)
    x = np.array([0, 1, 6, 7, 100, info.max, info.max // 2 + 1, info.max - 6], dtype)
    ref = np.concatenate([x % dtype(7), x // dtype(7), x + dtype(1)])
    o, f = np.zeros(24, dtype), np.zeros(8, np.float32)
    for target, (_, out, fo) in run_both(_unsigned_with_literal, (1,), x, o, f, BLOCK=8).items():
        np.testing.assert_array_equal(out, ref, err_msg=target)
        ref_f = x.astype(np.float32) / np.float32(7)  # fp32 division (not IEEE-exact on the CPU)
        np.testing.assert_allclose(fo, ref_f, rtol=3e-7, err_msg=target)


@jl.jit
def _unsigned_minus_negative(x_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, tl.load(x_ptr + offs) % -3)


def test_unsigned_with_a_negative_python_int_is_rejected():
    with pytest.raises(jl.CompilationError, match="out of range for uint32"):
        _unsigned_minus_negative[(1,)](np.zeros(8, np.uint32), BLOCK=8)


@jl.jit
def _atomic_floats(acc_ptr, v_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    v = tl.load(v_ptr + offs, mask=m)
    tl.atomic_add(acc_ptr + offs % 4, v, mask=m)  # many programs, four hot addresses
    tl.atomic_max(acc_ptr + 4 + offs % 4, v, mask=m)
    tl.atomic_min(acc_ptr + 8 + offs % 4, v, mask=m)


@pytest.mark.parametrize("dtype", [np.float16, BF16, np.float32], ids=["fp16", "bf16", "fp32"])
def test_half_precision_atomics(dtype):
    n = 4096
    v = np.random.default_rng(4).integers(-4, 5, n).astype(dtype)  # sums stay exact
    acc = np.zeros(12, dtype)
    acc[4:8], acc[8:] = -100, 100
    ref = acc.astype(np.float64).copy()
    for lane in range(4):
        ref[lane] += v[lane::4].astype(np.float64).sum()
        ref[4 + lane] = v[lane::4].astype(np.float64).max()
        ref[8 + lane] = v[lane::4].astype(np.float64).min()
    for target, (out, _, _) in run_both(
        _atomic_floats, (jl.cdiv(n, 128),), acc, v, n, BLOCK=128
    ).items():
        np.testing.assert_array_equal(out.astype(np.float64), ref, err_msg=target)


@jl.jit
def _atomic_cas_float(x_ptr, old_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    old = tl.atomic_cas(x_ptr + offs, tl.full((BLOCK,), 1.5, tl.float32), offs.to(tl.float32))
    tl.store(old_ptr + offs, old)


def test_float_atomic_cas_compares_bits():
    x = np.array([1.5, 2.0, 1.5, -0.0, np.nan, 1.5, 0.0, 3.0], np.float32)
    ref = np.where(x == 1.5, np.arange(8, dtype=np.float32), x)
    for target, (out, old) in run_both(
        _atomic_cas_float, (1,), x, np.zeros(8, np.float32), BLOCK=8
    ).items():
        np.testing.assert_array_equal(out, ref, err_msg=target)
        np.testing.assert_array_equal(old, x, err_msg=target)


@jl.jit
def _introspection(x_ptr, s, o_ptr, M: tl.constexpr, N: tl.constexpr, DT: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + offs)
    y = x.to(DT)
    tl.static_assert(x.shape == y.shape and x.shape == (M, N) and x.shape == [M, N])
    tl.static_assert(len(x.shape) == 2 and x.shape[-1] % 4 == 0, f"N={N} must divide by 4")
    tl.static_assert(x.dtype == tl.float32 and y.dtype == DT and x.dtype != y.dtype)
    tl.static_assert(s.dtype == tl.int32 and s.dtype.is_int_signed() and x.dtype.is_fp32())
    tl.static_assert(x.type.scalar == tl.float32 and x.type.shape == (M, N))
    tl.static_assert(str(y.dtype) == "fp16" and y.dtype.fp_mantissa_width == 10)
    tl.static_assert(tl.constexpr(M) == M and x_ptr.dtype.element_ty == tl.float32)
    tl.store(o_ptr + offs, y)


def test_static_assert_on_shape_and_dtype():
    x = np.arange(32, dtype=np.float32).reshape(4, 8)
    o = np.zeros((4, 8), np.float16)
    for target, (_, _, out) in run_both(
        _introspection, (1,), x, 3, o, M=4, N=8, DT=tl.float16
    ).items():
        np.testing.assert_array_equal(out, x.astype(np.float16), err_msg=target)
    with pytest.raises(jl.CompilationError, match="N=6 must divide by 4"):
        _introspection[(1,)](x, 3, np.zeros((4, 6), np.float16), M=4, N=6, DT=tl.float16)


@jl.jit
def _expand_negative(x_ptr, o_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    a = tl.expand_dims(x, -1)  # [N, 1]
    b = tl.expand_dims(x, -2)  # [1, N]
    c = tl.expand_dims(x, (-1, -2))  # [N, 1, 1]: axes wrap against the result's rank
    d = tl.expand_dims(x, (0, -1))  # [1, N, 1]
    tl.static_assert(a.shape == (N, 1) and b.shape == (1, N))
    tl.static_assert(c.shape == (N, 1, 1) and d.shape == (1, N, 1))
    i = tl.arange(0, N)
    tl.store(
        o_ptr + i[:, None] * N + i[None, :], a + b + tl.reshape(c, (N, 1)) + tl.reshape(d, (1, N))
    )


def test_expand_dims_negative_axes_on_rank_1():
    x = np.arange(8, dtype=np.float32)
    ref = 2 * (x[:, None] + x[None, :])
    for target, (_, out) in run_both(
        _expand_negative, (1,), x, np.zeros((8, 8), np.float32), N=8
    ).items():
        np.testing.assert_array_equal(out, ref, err_msg=target)


@jl.jit
def _join_scalars(o_ptr, a, b):
    j = tl.join(a, b)
    tl.static_assert(j.shape == (2,))
    tl.store(o_ptr + tl.arange(0, 2), j)
    tl.store(o_ptr + 2 + tl.arange(0, 2), tl.join(a, 7))


def test_join_of_scalars():
    for target, (out, _, _) in run_both(_join_scalars, (1,), np.zeros(4, np.int32), 3, -4).items():
        np.testing.assert_array_equal(out, [3, -4, 3, 7], err_msg=target)


@jl.jit
def _one_element_conditions(x_ptr, o_ptr):
    x = tl.load(x_ptr + tl.arange(0, 1))  # a block of one element
    if x > 0:
        r = 1
    else:
        r = 2
    n = tl.zeros((1, 1), tl.int32)
    while n < x.to(tl.int32)[:, None]:
        n += 1
    tl.store(o_ptr, r)
    tl.store(o_ptr + 1, 3 if x < 0 else 4)
    tl.store(o_ptr + 2, tl.sum(n))
    tl.store(o_ptr + 3, x.item().to(tl.int32) + 10)


@pytest.mark.parametrize("x, ref", [(3.0, [1, 4, 3, 13]), (-2.0, [2, 3, 0, 8])])
def test_if_on_a_one_element_block(x, ref):
    for target, (_, out) in run_both(
        _one_element_conditions, (1,), np.array([x], np.float32), np.zeros(4, np.int32)
    ).items():
        np.testing.assert_array_equal(out, ref, err_msg=target)


# -- 4. crashes inside LLVM, internal errors -----------------------------------------------------


@jl.jit
def _dot_out_dtype(a_ptr, c_ptr, N: tl.constexpr, OUT: tl.constexpr, ACC: tl.constexpr):
    i = tl.arange(0, N)
    a = tl.load(a_ptr + i[:, None] * N + i[None, :])
    if ACC:
        c = tl.dot(a, a, tl.zeros((N, N), OUT))
    else:
        c = tl.dot(a, a, out_dtype=OUT)
    tl.store(c_ptr + i[:, None] * N + i[None, :], c)


@pytest.mark.parametrize(
    "dtype, out, acc",
    [
        (np.int8, tl.int32, False),
        (np.int8, tl.float32, False),  # Triton: int8 dots give int32 whatever out_dtype says
        (np.int8, tl.int64, True),
        (np.int8, tl.float32, True),
        (np.float64, tl.float32, False),  # fp64 dots give fp64
        (np.float64, tl.float32, True),
        (np.float32, tl.float64, True),
        (np.float16, tl.float16, False),
    ],
)
def test_dot_int8_and_fp64_with_any_out_dtype_or_acc(dtype, out, acc):
    # these crashed inside LLVM (mismatched operand types in the micro-kernel)
    a = np.random.default_rng(5).integers(-4, 5, (16, 16)).astype(dtype)
    ref = a.astype(np.int64) @ a.astype(np.int64)
    c = np.zeros((16, 16), np.float64)
    for target, (_, cout) in run_both(_dot_out_dtype, (1,), a, c, N=16, OUT=out, ACC=acc).items():
        np.testing.assert_array_equal(cout, ref, err_msg=target)


_ROLL_SCAN = """
import sys
import ml_dtypes
import numpy as np
import jitlang as jl
import jitlang.language as tl


@jl.jit
def roll(a1, b1_last, b1_cur, a2, b2_last, b2_cur):
    return a1 + a2, tl.where(a2 == 1, b1_cur, 0) + b2_last, b2_cur


@jl.jit
def kernel(X, Z, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr, REV: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(X + offs)
    _, z, _ = tl.associative_scan((1 + 0 * x, 0 * x, x), axis=AXIS, combine_fn=roll, reverse=REV)
    tl.store(Z + offs, z)


bad = 0
for dt in (np.int32, np.float32, ml_dtypes.bfloat16):
    for m, n in ((8, 32), (32, 16), (1, 64)):
        for axis in (0, 1):
            for rev in (False, True):
                x = np.random.default_rng(6).integers(-5, 5, (m, n)).astype(dt)
                z = np.zeros_like(x)
                kernel[(1,)](x, z, M=m, N=n, AXIS=axis, REV=rev)
                xin = np.flip(x, axis) if rev else x
                ref = np.roll(xin, 1, axis=axis)
                (ref[:1] if axis == 0 else ref[:, :1])[...] = 0
                ref = np.flip(ref, axis) if rev else ref
                bad += not np.array_equal(z.astype(np.float32), ref.astype(np.float32))
print("mismatches", bad)
"""


def test_scan_with_a_rolled_tuple_combine_runs_in_a_subprocess(tmp_path):
    # Triton's test_scan2d 'roll' combine aborted the whole process inside LLVM: run it in a child
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "roll_scan.py"
    script.write_text(_ROLL_SCAN)
    root = Path(jl.__file__).resolve().parent.parent
    r = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=root
    )
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"
    assert "mismatches 0" in r.stdout, r.stdout


@jl.jit
def _victim(x_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, tl.load(x_ptr + offs) + 1)


def _break_llvm_module(monkeypatch):
    from llvmlite import ir

    from codegen.cpu import lower

    original = lower.CpuLowering.lower

    def lower_then_break(self):
        mod = original(self)
        f32, f64 = ir.FloatType(), ir.DoubleType()
        fabs = ir.Function(mod, ir.FunctionType(f32, [f64]), "llvm.fabs.f32")  # wrong signature
        bad = ir.Function(mod, ir.FunctionType(f32, [f64]), "jl_broken")
        b = ir.IRBuilder(bad.append_basic_block())
        b.ret(b.call(fabs, [bad.args[0]]))
        return mod

    monkeypatch.setattr(lower.CpuLowering, "lower", lower_then_break)


def test_llvm_failure_becomes_an_internal_compiler_error(monkeypatch, tmp_path):
    import inspect

    monkeypatch.setenv("JITLANG_CACHE_DIR", str(tmp_path))
    _break_llvm_module(monkeypatch)
    with pytest.raises(jl.InternalCompilerError) as info:
        _victim[(1,)](np.zeros(8, np.float32), BLOCK=8)
    msg = str(info.value)
    line = inspect.getsourcelines(_victim.fn)[1] + 1  # the `def` line, after the decorator
    assert f"{__file__}:{line}:" in msg, msg
    assert "_victim" in msg and "report" in msg, msg
    assert isinstance(info.value.__cause__, Exception)
    assert isinstance(info.value, jl.CompilationError)


def test_exception_in_a_compiler_stage_becomes_an_internal_compiler_error(monkeypatch):
    from jitlang.frontend import semantic

    @jl.jit
    def victim2(x_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(x_ptr + offs, tl.load(x_ptr + offs) * 3)

    def broken(*args, **kwargs):
        raise KeyError("a compiler bug")

    monkeypatch.setattr(semantic, "arange", broken)
    with pytest.raises(jl.InternalCompilerError, match="KeyError.*a compiler bug"):
        victim2[(1,)](np.zeros(8, np.float32), BLOCK=8)


def test_launch_errors_are_not_internal_errors():
    x = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match="unknown target") as info:
        _victim[(1,)](x, BLOCK=8, target="gpu")
    assert not isinstance(info.value, jl.InternalCompilerError)
    with pytest.raises(TypeError, match="complex64"):
        _victim[(1,)](np.zeros(8, np.complex64), BLOCK=8)


# -- 5. names Triton kernels use -----------------------------------------------------------------


@jl.jit
def _names(x_ptr, y_ptr, o_ptr, i_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    y = tl.load(y_ptr + offs)
    tl.assume(N > 0)
    tl.assume(offs >= 0)
    tl.debug_barrier()
    tl.static_assert(
        N.dtype == tl.int32 and (2**40).dtype == tl.int64 and (0.5).dtype == tl.float32
    )
    tl.store(o_ptr + offs, tl.maximum(x, y, propagate_nan=tl.PropagateNan.ALL))
    tl.store(o_ptr + N + offs, tl.maximum(x, y, propagate_nan=tl.PropagateNan.NONE))
    tl.store(o_ptr + 2 * N + offs, x.cast(tl.float16).to(tl.float32) + N.to(tl.float32))
    tl.store(o_ptr + 3 * N + offs, tl.where(x == x, tl.abs(x).sqrt_rn() * 0, 0) + x)
    tl.store(o_ptr + 4 * N + tl.arange(0, 2 * N), tl.interleave(x, y))
    tl.store(o_ptr + 6 * N, tl.sum(x[None, :], 1).item())
    tl.store(i_ptr.to(tl.pi32_t) + offs, offs)


def test_cheap_triton_names():
    n = 8
    x = np.array([1, np.nan, 3, -1, 0, 2, np.nan, 5], np.float32)
    y = np.array([0, 4, np.nan, 2, 0, 1, np.nan, -5], np.float32)
    ref = np.concatenate(
        [
            np.maximum(x, y),
            np.fmax(x, y),
            x.astype(np.float16).astype(np.float32) + n,
            x,
            np.stack([x, y], -1).reshape(-1),
            [np.sum(x)],
        ]
    )
    o = np.zeros(6 * n + 1, np.float32)
    for target, (_, _, out, idx) in run_both(
        _names, (1,), x, y, o, np.zeros(n, np.int32), N=n
    ).items():
        np.testing.assert_array_equal(out, ref.astype(np.float32), err_msg=target)
        np.testing.assert_array_equal(idx, np.arange(n), err_msg=target)


def test_triton_error_names():
    assert issubclass(jl.CompilationError, jl.TritonError)
    assert issubclass(jl.InternalCompilerError, jl.TritonError)
    assert issubclass(jl.OutOfResources, jl.TritonError)
    assert issubclass(jl.InterpreterError, jl.TritonError)
    from jitlang.errors import StaticAssertionError

    assert jl.CompileTimeAssertionFailure is StaticAssertionError

    @jl.jit
    def k(N: tl.constexpr):
        tl.static_assert(N > 1)

    with pytest.raises(jl.CompileTimeAssertionFailure):
        k[(1,)](N=1)
    with pytest.raises(jl.TritonError):
        k[(1,)](N=0)


@jl.jit
def _optional_bias(x_ptr, bias_ptr, o_ptr, scale, N: tl.constexpr):
    offs = tl.arange(0, N)
    y = tl.load(x_ptr + offs)
    if bias_ptr is not None:
        y += tl.load(bias_ptr + offs)
    if scale is not None:
        y *= scale
    tl.store(o_ptr + offs, y)


def test_none_argument_is_a_constexpr():
    # Triton specializes a None argument as the constexpr None
    x, bias = np.arange(8, dtype=np.float32), np.full(8, 10, np.float32)
    for args, ref in [
        ((x, None, None), x),
        ((x, bias, None), x + 10),
        ((x, None, 2.0), x * 2),
        ((x, bias, 3.0), (x + 10) * 3),
    ]:
        a, bb, sc = args
        for target, out in run_both(
            _optional_bias, (1,), a, bb, np.zeros(8, np.float32), sc, N=8
        ).items():
            np.testing.assert_array_equal(out[2], ref, err_msg=target)


@jl.jit
def _histogram(x_ptr, o_ptr, N: tl.constexpr, BINS: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(o_ptr + tl.arange(0, BINS), tl.histogram(x, BINS))


def test_histogram():
    x = np.random.default_rng(7).integers(0, 16, 128).astype(np.int32)
    for target, (_, out) in run_both(
        _histogram, (1,), x, np.zeros(16, np.int32), N=128, BINS=16
    ).items():
        np.testing.assert_array_equal(out, np.bincount(x, minlength=16), err_msg=target)


@jl.jit
def _gather(
    src_ptr, idx_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr, J: tl.constexpr, AXIS: tl.constexpr
):
    src = tl.load(src_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :])
    if AXIS == 1:
        offs = tl.arange(0, M)[:, None] * J + tl.arange(0, J)[None, :]
    else:
        offs = tl.arange(0, J)[:, None] * N + tl.arange(0, N)[None, :]
    tl.store(o_ptr + offs, tl.gather(src, tl.load(idx_ptr + offs), AXIS))


@pytest.mark.parametrize("axis", [0, 1])
def test_gather(axis):
    rng = np.random.default_rng(8)
    m, n, j = 8, 16, 4
    src = rng.standard_normal((m, n)).astype(np.float32)
    src[0, 0] = -0.0
    shape = (m, j) if axis == 1 else (j, n)
    idx = rng.integers(0, n if axis == 1 else m, shape).astype(np.int32)
    idx[0, 0] = 0
    ref = np.take_along_axis(src, idx, axis)
    for target, (_, _, out) in run_both(
        _gather, (1,), src, idx, np.zeros(shape, np.float32), M=m, N=n, J=j, AXIS=axis
    ).items():
        np.testing.assert_array_equal(out.view(np.uint32), ref.view(np.uint32), err_msg=target)
