"""End-to-end kernels on target="accel" (the emulated tile accelerator), each checked against
numpy and cross-checked against target="cpu"."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import cross_check
from tests.codegen.accel import test_layout as LT
from tests.e2e import test_blocks as B
from tests.e2e import test_control_flow as CF
from tests.e2e import test_elementwise_ops as T
from tests.e2e import test_random as R
from tests.e2e.accel_kernels import (
    accumulate,
    add_kernel,
    dot_kernel,
    masked_2d,
    row_stats,
    scan_kernel,
    trans_kernel,
)
from tests.e2e.tutorial_kernels import attn_fwd, layer_norm_fwd, matmul_kernel, softmax_kernel


@pytest.mark.parametrize("n,block", [(1, 128), (1000, 256), (4096, 1024), (70001, 4096)])
def test_vector_add(n, block):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    out = np.full_like(x, -7.0)
    add_kernel[(jl.cdiv(n, block),)](x, y, out, n, BLOCK=block, target="accel")
    np.testing.assert_array_equal(out, x + y)
    fresh = np.zeros_like(x)
    report = cross_check(add_kernel, (jl.cdiv(n, block),), x, y, fresh, n, BLOCK=block)
    assert report["out_ptr"]["max_abs"] == 0.0


def test_vector_add_leaves_memory_past_the_mask_alone():
    x = np.arange(300, dtype=np.float32)
    out = np.full(400, 5.0, np.float32)
    add_kernel[(3,)](x, x, out, 300, BLOCK=128, target="accel")
    np.testing.assert_array_equal(out[:300], 2 * x)
    np.testing.assert_array_equal(out[300:], 5.0)


def test_inputs_are_not_copied_back():
    x = np.arange(256, dtype=np.float32)
    y = np.ones(256, np.float32)
    out = np.zeros(256, np.float32)
    k = add_kernel[(1,)](x, y, out, 256, BLOCK=256, target="accel")
    assert k.native.stored == {2}  # only out_ptr is stored to


def test_asm_views():
    x = np.zeros(256, np.float32)
    k = add_kernel.warmup(x, x, x, 256, BLOCK=256, target="accel")
    assert "@accel.dma.load" in k.asm["llir"]
    text = k.asm["accel"]
    assert "dma.load" in text and "tl.store(out_ptr + offs, x + y, mask=mask)" in text
    assert "sbuf[128x2]" in k.asm["tile"]


def test_cross_check_names_the_array_and_index():
    x = np.arange(64, dtype=np.float32)
    out = np.zeros(64, np.float32)
    with pytest.raises(AssertionError, match=r"'out_ptr'.*first at index \(0,\)"):
        # the two runs see different inputs: the check must fail, naming the array
        cross_check(_shifting_kernel(), (1,), x, x, out, 64, BLOCK=64, targets=("cpu", "accel"))


def _shifting_kernel():
    class Shifting:
        arg_names = ["x_ptr", "y_ptr", "out_ptr", "n", "BLOCK"]
        calls = 0

        def __getitem__(self, grid):
            def run(x, y, out, n, BLOCK, target):
                Shifting.calls += 1
                add_kernel[grid](x, y + Shifting.calls, out, n, BLOCK=BLOCK, target=target)

            return run

    return Shifting()


# -- elementwise math, comparisons and casts (the CPU's own elementwise kernels) --------------
EW_INTS = ["int8", "int32", "uint8"]


@pytest.mark.parametrize("dtype", EW_INTS)
def test_int_binops(dtype):
    for op in T.ARITH + T.BITWISE + T.COMPARE:
        x, y = T._int_operands(op, dtype, 300)
        out = np.zeros(300, dtype=T._ref_binop(op, x[:1], y[:1]).dtype)
        cross_check(T._binop, (5,), x, y, out, 300, BLOCK=64, OP=op)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_float_binops(dtype):
    for op in ["add", "sub", "mul", "truediv", "mod"] + T.COMPARE:
        x, y = T._floats(dtype, 300, 1), T._floats(dtype, 300, 2)
        out = np.zeros(300, dtype=T._ref_binop(op, x[:1], y[:1]).dtype)
        cross_check(T._binop, (5,), x, y, out, 300, BLOCK=64, OP=op)


def test_math_functions():
    for fn, (_ref, (lo, hi)) in T.MATH.items():
        x = np.random.default_rng(0).uniform(lo, hi, 300).astype(np.float32)
        out = np.zeros(300, np.float32)
        cross_check(T._math, (5,), x, out, 300, BLOCK=64, FN=fn)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "float32"])
def test_minmax_where_fma(dtype):
    rng = np.random.default_rng(0)
    for fn in ["minimum", "maximum", "where", "where_scalar", "min_literal", "clamp", "fma"]:
        if fn == "clamp" and dtype != "float32":
            continue
        x = (rng.standard_normal(300) * 10).astype(dtype)
        y = (rng.standard_normal(300) * 10).astype(dtype)
        out = np.zeros(300, dtype)
        cross_check(T._minmax, (5,), x, y, out, 300, BLOCK=64, FN=fn, NAN=False)


@pytest.mark.parametrize(
    "src,dst",
    [
        ("float32", "int32"),
        ("int32", "float16"),
        ("uint8", "float32"),
        ("float32", "bool"),
        ("int16", "int8"),
    ],
)
def test_casts(src, dst):
    x = (np.random.default_rng(0).standard_normal(300) * 100).astype(src)
    out = np.zeros(300, dst)
    cross_check(_cast_kernel, (5,), x, out, 300, BLOCK=64)


@jl.jit
def _cast_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n)
    tl.store(out_ptr + offs, x.to(out_ptr.dtype.element_ty), mask=offs < n)


# -- 2-D blocks, broadcasting, masks, reductions, loops, dot ----------------------------------
@pytest.mark.parametrize("M,N,BM,BN", [(10, 10, 16, 16), (100, 70, 32, 64), (300, 5, 256, 8)])
@pytest.mark.parametrize("constexpr_n", [False, True])
def test_2d_broadcast_and_rectangular_masks(M, N, BM, BN, constexpr_n):
    rng = np.random.default_rng(M)
    x = rng.standard_normal((M, N), dtype=np.float32)
    y = rng.standard_normal(N, dtype=np.float32)
    out = np.zeros_like(x)
    grid = (jl.cdiv(M, BM), jl.cdiv(N, BN))
    n = jl.language.constexpr(N) if constexpr_n else N
    cross_check(masked_2d, grid, x, y, out, M, n, BM=BM, BN=BN)
    np.testing.assert_allclose(out, x * y[None, :] + np.arange(M)[:, None], rtol=1e-6)


@pytest.mark.parametrize("M,N,BM", [(5, 16, 8), (300, 32, 256)])
def test_free_and_partition_axis_reductions(M, N, BM):
    x = np.random.default_rng(1).standard_normal((M, N), dtype=np.float32)
    out = np.zeros(M + jl.cdiv(M, BM) * N, np.float32)
    cross_check(row_stats, (jl.cdiv(M, BM),), x, out, M, N=N, BM=BM)
    np.testing.assert_allclose(out[:M], x.max(1) + x.sum(1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [1, 1000, 4096])
def test_for_loop_with_carried_block(n):
    x = np.random.default_rng(2).standard_normal(n, dtype=np.float32)
    out = np.zeros(256, np.float32)
    cross_check(accumulate, (1,), x, out, n, BLOCK=256)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int8"])
@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (16, 16, 16), (64, 32, 128), (256, 64, 256)])
def test_dot(dtype, M, N, K):
    npdt = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((M, K)) * 3).astype(npdt)
    b = (rng.standard_normal((K, N)) * 3).astype(npdt)
    c = np.full((M, N), 7, np.int32 if dtype == "int8" else np.float32)
    cross_check(dot_kernel, (1,), a, b, c, M=M, N=N, K=K)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-3 * np.abs(ref).max())


# -- the tutorial kernels ---------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 7), (37, 781), (300, 1024)])
def test_tutorial_softmax(shape):
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    y = np.zeros_like(x)
    rows, cols = shape
    grid = (min(rows, 8),)
    cross_check(
        softmax_kernel, grid, y, x, cols, cols, rows, cols, BLOCK_SIZE=jl.next_power_of_2(cols)
    )
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "M,N,K,dtype", [(64, 64, 64, "float16"), (100, 77, 130, "float16"), (70, 50, 90, "float32")]
)
@pytest.mark.parametrize("activation", ["", "leaky_relu"])
def test_tutorial_matmul(M, N, K, dtype, activation):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    c = np.zeros((M, N), np.float16)
    BM, BN, BK = 32, 32, 32
    grid = (jl.cdiv(M, BM) * jl.cdiv(N, BN),)
    meta = dict(BLOCK_SIZE_M=BM, BLOCK_SIZE_N=BN, BLOCK_SIZE_K=BK, GROUP_SIZE_M=4)
    cross_check(
        matmul_kernel, grid, a, b, c, M, N, K, K, 1, N, 1, N, 1, ACTIVATION=activation, **meta
    )
    ref = a.astype(np.float32) @ b.astype(np.float32)
    if activation:
        ref = np.where(ref >= 0, ref, 0.01 * ref)
    np.testing.assert_allclose(c.astype(np.float32), ref, rtol=2e-3, atol=2e-2)


def test_tutorial_layer_norm_forward():
    M, N = 13, 300
    rng = np.random.default_rng(4)
    x = rng.standard_normal((M, N), dtype=np.float32)
    w, b = rng.standard_normal(N, dtype=np.float32), rng.standard_normal(N, dtype=np.float32)
    y = np.zeros_like(x)
    mean, rstd = np.zeros(M, np.float32), np.zeros(M, np.float32)
    cross_check(layer_norm_fwd, (M,), x, y, w, b, mean, rstd, N, N, 1e-5, BLOCK_SIZE=128)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_tutorial_attention_forward(dtype):
    H, N_CTX, D = 2, 100, 32
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((H, N_CTX, D)).astype(dtype) for _ in range(3))
    out = np.zeros_like(q)
    grid = (jl.cdiv(N_CTX, 32), H)
    cross_check(
        attn_fwd, grid, q, k, v, 0.5, out, D, D, D, D, N_CTX, HEAD_DIM=D, BLOCK_M=32, BLOCK_N=32
    )


@pytest.mark.parametrize("op", ["sum", "max", "min", "argmax", "argmin"])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_block_reductions(op, axis, dtype):
    x = (np.random.default_rng(0).standard_normal((8, 64)) * 50).astype(dtype)
    x[3, 5] = x[3, 9] = x.max() + 1  # ties: the first index wins
    out_dt = np.int32 if op.startswith("arg") else np.dtype(dtype)
    o = np.zeros(64 if axis == 0 else 8, out_dt)
    cross_check(B.reduce_kernel, (1,), x, o, M=8, N=64, OP=op, AXIS=axis)


def test_xor_reduction_uses_the_bitwise_reduce_instruction():
    x = np.random.default_rng(1).integers(0, 1 << 30, (8, 64)).astype(np.int32)
    o = np.zeros(64, np.int32)
    k = B.reduce_kernel.warmup(x, o, M=8, N=64, OP="xor", AXIS=0, target="accel")
    assert "preduce xor" in k.asm["accel"]
    cross_check(B.reduce_kernel, (1,), x, o, M=8, N=64, OP="xor", AXIS=0)


def test_uniform_divisor_used_by_several_ops():
    """A loaded scalar feeding several fused `ts` ops stays live until the last one."""
    x = np.random.default_rng(2).standard_normal(65).astype(np.float32) + 3
    o = np.zeros(4 * 64, np.float32)
    cross_check(B.div_kernel, (1,), x, o, N=64)


@pytest.mark.parametrize("M,N", [(4, 8), (64, 32), (256, 64), (32, 512)])
def test_transpose_and_reshape(M, N):
    x = np.random.default_rng(3).standard_normal((M, N)).astype(np.float32)
    o = np.zeros(2 * M * N, np.float32)
    cross_check(trans_kernel, (1,), x, o, M=M, N=N)
    np.testing.assert_array_equal(o[: M * N].reshape(N, M), 2 * x.T)
    np.testing.assert_array_equal(o[M * N :], x.ravel() + 1)


def test_shape_ops_kernel():
    x = np.arange(32, dtype=np.float32).reshape(4, 8)
    o = np.zeros(4 * 32, np.float32)
    cross_check(B.shapes_kernel, (1,), x, o, M=4, N=8)


# -- Philox random numbers: bit-identical to the CPU ------------------------------------------
@pytest.mark.parametrize("seed", [0, 42, 2**31 + 7])
def test_randint4x_bit_identical(seed):
    out = np.zeros(4 * 300, np.uint32)
    report = cross_check(R.randint4x_kernel, (3,), out, seed, 300, 11, BLOCK=128)
    assert report["out_ptr"]["max_abs"] == 0.0


@pytest.mark.parametrize("kind", ["randint", "rand", "randn"])
def test_rand_randn(kind):
    out = np.zeros(200, np.uint32 if kind == "randint" else np.float32)
    cross_check(R.one_kernel, (2,), out, 1234, 200, KIND=kind, BLOCK=128)


# -- errors: located, no compiler traceback ---------------------------------------------------
@pytest.mark.parametrize("form,words", [(0, "n too small"), (1, "x too big")])
def test_device_assert(form, words):
    from runtime.cpu_driver import DeviceAssertionError

    x = np.arange(4, dtype=np.float32)
    with pytest.raises(DeviceAssertionError, match=words) as info:
        CF._asserts[(1,)](x, 5, FORM=form, target="accel")
    assert "test_control_flow.py:" in str(info.value) and "program 0" in str(info.value)
    CF._asserts[(1,)](x * 0, 500, FORM=form, target="accel")


def test_out_of_bounds_access_names_the_line_and_program():
    x = np.zeros(100, np.float32)
    with pytest.raises(jl.OutOfBoundsError, match=r"accel_kernels.py:\d+:\d+: .*program 1"):
        # no mask: the second program reads past the end of x
        add_kernel[(2,)](x, x, np.zeros(200, np.float32), 10**6, BLOCK=64, target="accel")


def test_unsupported_ops_are_located_compile_errors():
    out = np.zeros(4, np.float32)
    with pytest.raises(jl.CompilationError, match="device_print of a block of pointers") as info:
        _printing[(1,)](out, target="accel")
    assert "test_accel.py:" in str(info.value) and "tl.device_print" in str(info.value)
    files = []
    tb = info.value.__traceback__
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    assert not [f for f in files if "/codegen/" in f or "/passes/" in f]


@jl.jit
def _printing(out_ptr):
    tl.device_print("x", out_ptr + tl.arange(0, 4))
    tl.store(out_ptr + tl.arange(0, 4), 1.0)


def test_profile_of_a_launch():
    n = 4096
    x = np.ones(n, np.float32)
    out = np.zeros(n, np.float32)
    prof = jl.testing.profile(add_kernel, (4,), x, x, out, n, BLOCK=1024, config="nc-v3")
    summary = prof.summary()
    assert summary and np.array_equal(out, 2 * x)
    v2 = jl.testing.profile(add_kernel, (4,), x, x, out, n, BLOCK=1024).summary()
    assert v2 != summary  # two generations, two timings


@pytest.mark.parametrize("M,N", [(2, 8), (64, 16), (256, 32)])
def test_scans(M, N):
    x = np.random.default_rng(4).uniform(0.9, 1.1, (M, N)).astype(np.float32)
    o = np.zeros(3 * M * N, np.float32)
    cross_check(scan_kernel, (1,), x, o, M=M, N=N)
    np.testing.assert_allclose(o[: M * N], np.cumsum(x.ravel()), rtol=1e-4)


def test_accel_binaries_come_back_from_the_disk_cache(monkeypatch):
    import runtime.accel_driver as drv

    x = np.arange(96, dtype=np.float32)
    out = np.zeros_like(x)
    add_kernel[(1,)](x, x, out, 96, BLOCK=128, target="accel")  # compiled (or cached) once
    add_kernel.cache.clear()  # forget the in-memory kernel: the next launch reads the disk

    def no_build(*a, **k):
        raise AssertionError("rebuilt instead of loading the cached binary")

    monkeypatch.setattr(drv, "_build", no_build)
    out[:] = 0
    add_kernel[(1,)](x, x, out, 96, BLOCK=128, target="accel")
    np.testing.assert_array_equal(out, 2 * x)


def test_dot_with_transposing_load_and_explicit_convert():
    x = np.random.default_rng(6).standard_normal((32, 32)).astype(np.float32)
    y = np.random.default_rng(7).standard_normal((32, 32)).astype(np.float32)
    out = np.zeros((32, 32), np.float32)
    cross_check(LT.dots, (1,), x, y, out, N=32)
    np.testing.assert_allclose(out, x @ y + (2 * y) @ y, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("seed", [2, 7, 11, 16, 23, 30, 45])
def test_random_elementwise_kernels(tmp_path, seed):
    """The CPU's differential-test generator: a scalar argument used by several fused vector
    engine ops and a materialised splat must stay live until the last of them."""
    from tests.e2e import test_differential as D

    is_float = seed % 2 == 1
    kern = D._load(tmp_path, f"acc{seed}", D._kernel_source(seed, is_float))
    rng = np.random.default_rng(seed)
    dt = np.float32 if is_float else np.int32
    if is_float:
        x, y = rng.standard_normal(100).astype(dt), rng.standard_normal(100).astype(dt)
        s = float(rng.uniform(-2, 2))
    else:
        x, y = (rng.integers(-1000, 1000, 100).astype(dt) for _ in range(2))
        s = int(rng.integers(-50, 50))
    try:
        cross_check(kern, (4,), x, y, np.zeros(100, dt), s, 100, BLOCK=32)
    except TypeError as e:  # a generated int/float mix the language rejects
        pytest.skip(str(e))
