"""Names of recent Triton releases: tl.add/sub/mul, tl.atomic_load/atomic_store, tl.swizzle2d,
TRITON_MAX_TENSOR_NUMEL, and the tensor methods logical_and/logical_or, store, atomic_load,
atomic_store and a block pointer's .advance, on the CPU and the accelerator."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError

TARGETS = ("cpu", "accel")


@jl.jit
def arith_fns(x_ptr, y_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    y = tl.load(y_ptr + o)
    tl.store(out_ptr + o, tl.add(tl.mul(x, y), tl.sub(x, 3)))
    tl.store(out_ptr + BLOCK + o, tl.add(x, 1, sanitize_overflow=False) * 0 + BLOCK)


@pytest.mark.parametrize("target", TARGETS)
def test_add_sub_mul_functions(target):
    x = np.arange(16, dtype=np.int32) - 5
    y = np.arange(16, dtype=np.int32) * 7
    out = np.zeros(32, np.int32)
    arith_fns[(1,)](x, y, out, BLOCK=16, target=target)
    np.testing.assert_array_equal(out[:16], x * y + x - 3)
    np.testing.assert_array_equal(out[16:], np.full(16, 16))


@jl.jit
def atomics_load_store(flag_ptr, data_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.atomic_store(data_ptr + o, o * 2, sem="release")
    v = tl.atomic_load(data_ptr + o, sem="acquire")
    flag_ptr.atomic_store(1)
    f = flag_ptr.atomic_load()
    tl.store(out_ptr + o, v + f)


@pytest.mark.parametrize("target", TARGETS)
def test_atomic_load_and_store(target):
    flag = np.zeros(1, np.int32)
    data = np.zeros(8, np.int32)
    out = np.zeros(8, np.int32)
    atomics_load_store[(1,)](flag, data, out, BLOCK=8, target=target)
    np.testing.assert_array_equal(data, np.arange(8) * 2)
    assert flag[0] == 1
    np.testing.assert_array_equal(out, np.arange(8) * 2 + 1)


@jl.jit
def err_atomic_load_release(p):
    tl.atomic_load(p, sem="release")  # <- error


def test_atomic_load_rejects_release():
    with pytest.raises(CompilationError, match="memory semantics 'release'"):
        err_atomic_load_release[(1,)](np.zeros(1, np.int32))


def _swizzle_ref(i, j, size_i, size_j, size_g):
    ij = i * size_j + j
    group = ij // (size_g * size_j)
    off_i = group * size_g
    rows = min(size_i - off_i, size_g)
    ij %= size_g * size_j
    return off_i + ij % rows, ij // rows


@jl.jit
def swizzle(out_i, out_j, SI: tl.constexpr, SJ: tl.constexpr, G: tl.constexpr):
    pid = tl.program_id(0)
    i, j = tl.swizzle2d(pid // SJ, pid % SJ, SI, SJ, G)
    tl.store(out_i + pid, i)
    tl.store(out_j + pid, j)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("si,sj,g", [(5, 3, 2), (8, 4, 4), (7, 7, 3)])
def test_swizzle2d_is_a_permutation_in_groups(target, si, sj, g):
    oi = np.zeros(si * sj, np.int32)
    oj = np.zeros(si * sj, np.int32)
    swizzle[(si * sj,)](oi, oj, SI=si, SJ=sj, G=g, target=target)
    ref = [_swizzle_ref(p // sj, p % sj, si, sj, g) for p in range(si * sj)]
    np.testing.assert_array_equal(oi, [r[0] for r in ref])
    np.testing.assert_array_equal(oj, [r[1] for r in ref])
    assert sorted(zip(oi.tolist(), oj.tolist())) == [(a, b) for a in range(si) for b in range(sj)]


@jl.jit
def methods(x_ptr, y_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    y = tl.load(y_ptr + o)
    (out_ptr + o).store(x.logical_and(y).to(tl.int32) + 2 * x.logical_or(y).to(tl.int32))
    p = tl.make_block_ptr(x_ptr, (BLOCK,), (1,), (0,), (BLOCK // 2,), (0,))
    p = p.advance((BLOCK // 2,))
    (out_ptr + BLOCK + tl.arange(0, BLOCK // 2)).store(
        tl.load(p), mask=tl.arange(0, BLOCK // 2) < 3
    )


@pytest.mark.parametrize("target", TARGETS)
def test_tensor_methods_logical_store_advance(target):
    x = np.array([0, 1, 0, 5, 0, 2, 3, 0], np.int32)
    y = np.array([0, 0, 7, 1, 0, 0, 1, 1], np.int32)
    out = np.full(12, -1, np.int32)
    methods[(1,)](x, y, out, BLOCK=8, target=target)
    np.testing.assert_array_equal(out[:8], (x != 0) & (y != 0) | 2 * ((x != 0) | (y != 0)))
    np.testing.assert_array_equal(out[8:], [0, 2, 3, -1])


def test_max_tensor_numel():
    assert tl.TRITON_MAX_TENSOR_NUMEL == 1 << 20


@jl.jit
def topk_kernel(x_ptr, out_ptr, out2_ptr, R: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    r = tl.arange(0, R)[:, None]
    c = tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + r * N + c)
    k = tl.arange(0, K)[None, :]
    tl.store(out_ptr + r * K + k, tl.topk(x, K))
    tl.store(out2_ptr + r * K + k, tl.topk(x, K, descending=False))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("k", [1, 4, 16])
def test_topk(target, k):
    rng = np.random.default_rng(k)
    x = rng.standard_normal((4, 16)).astype(np.float32)
    out = np.zeros((4, k), np.float32)
    out2 = np.zeros((4, k), np.float32)
    topk_kernel[(1,)](x, out, out2, R=4, N=16, K=k, target=target)
    s = np.sort(x, axis=1)
    np.testing.assert_array_equal(out, s[:, ::-1][:, :k])
    np.testing.assert_array_equal(out2, s[:, :k])


@jl.jit
def misc_names(x_ptr, out_ptr, n):
    i = 0
    acc = 0.0
    while tl.condition(i < n, disable_licm=True):
        acc += tl.load(x_ptr + i)
        i += 1
    pair = tl.tuple((acc, i))
    if tl.target_info.is_cuda():
        acc = -1.0
    tl.store(out_ptr, tl.expect_zero(pair[0], False) + pair[1])


@pytest.mark.parametrize("target", TARGETS)
def test_condition_tuple_target_info_expect_zero(target):
    x = np.arange(5, dtype=np.float32)
    out = np.zeros(1, np.float32)
    misc_names[(1,)](x, out, 5, target=target)
    assert out[0] == 10 + 5
