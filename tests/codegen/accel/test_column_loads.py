"""The "pe_transpose_loads" step: a 2-D load whose columns, not rows, are contiguous in HBM
(attention's K^T, `k[d, n]` read from a row-major [N, D] array) reads its transpose's rows and
is turned into the natural layout on the PE, instead of one DMA descriptor per element."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import codegen.accel.target as T
import jitlang as jl
import jitlang.language as tl
from jitlang.ir import OpKind, walk
from jitlang.testing import profile
from tests.codegen.accel.helpers import plan_of


@jl.jit
def qk_scores(q_ptr, k_ptr, s_ptr, n, D: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr):
    """s[m, j] = q[m, :] . k[j, :] for a [BM, BN] block, with k loaded as its transpose
    [D, BN] (columns contiguous: k is row-major [n, D]) and masked past n."""
    pid = tl.program_id(0)
    rm = tl.arange(0, BM)
    rn = pid * BN + tl.arange(0, BN)
    rd = tl.arange(0, D)
    q = tl.load(q_ptr + rm[:, None] * D + rd[None, :])
    kt = tl.load(k_ptr + rn[None, :] * D + rd[:, None], mask=rn[None, :] < n, other=0.0)
    s = tl.dot(q, kt)
    tl.store(s_ptr + rm[:, None] * n + rn[None, :], s, mask=rn[None, :] < n)


@jl.jit
def column_scale(x_ptr, y_ptr, n, R: tl.constexpr, C: tl.constexpr):
    """y[j, i] = 2 * x[i, j] + i: an elementwise use of a column-contiguous [R, C] block,
    masked with a constant fill of -1 past n columns."""
    r = tl.arange(0, R)
    c = tl.arange(0, C)
    xt = tl.load(x_ptr + c[None, :] * R + r[:, None], mask=c[None, :] < n, other=-1.0)
    y = xt * 2.0 + r[:, None].to(tl.float32)
    tl.store(y_ptr + r[:, None] * C + c[None, :], y)


def _kt_args(n, d, bm, dtype, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((bm, d)).astype(dtype)
    k = rng.standard_normal((n, d)).astype(dtype)
    return q, k, np.zeros((bm, n), np.float32)


def _modelled(kernel, grid, *args, steps, **meta) -> dict:
    old = T.OPT_STEPS
    T.OPT_STEPS = tuple(steps)
    kernel.cache.clear()
    try:
        return profile(kernel, grid, *args, timing_only=True, **meta).summary()
    finally:
        T.OPT_STEPS = old
        kernel.cache.clear()


@pytest.mark.parametrize(
    "n,d,dtype", [(256, 64, np.float16), (200, 32, ml_dtypes.bfloat16), (128, 128, np.float32)]
)
def test_a_column_contiguous_dot_operand_is_read_by_rows_and_transposed_on_the_pe(n, d, dtype):
    bm, bn = 128, 128
    q, k, s = _kt_args(n, d, bm, dtype)
    meta = dict(D=d, BM=bm, BN=bn)
    plan = plan_of(qk_scores, q, k, s, n, **meta)
    dot = next(op for op in walk(plan.fn.body) if op.kind is OpKind.DOT)
    conv = plan.producers[dot.operands[1].id]
    assert conv.kind is OpKind.CONVERT_LAYOUT
    load = plan.producers[conv.operands[0].id]
    assert load.kind is OpKind.LOAD and plan.layouts[load.result.id].transposed
    assert not plan.layouts[conv.result.id].transposed
    grid = (jl.cdiv(n, bn),)
    ref = q.astype(np.float32) @ k.astype(np.float32).T
    for target in ("cpu", "accel"):
        s[...] = 0
        qk_scores[grid](q, k, s, n, target=target, **meta)
        np.testing.assert_allclose(s, ref, rtol=2e-2, atol=2e-2)


def test_pe_transpose_loads_cuts_the_modelled_time_of_a_column_load():
    # one [64, 128] fp16 block read by columns: 8,192 per-element descriptors, each charged the
    # 512-byte minimum chunk, against 128 row reads and two PE transposes; measured on nc-v2:
    # 165.4 us without the step, 4.7 us with it
    q, k, s = _kt_args(128, 64, 128, np.float16)
    meta = dict(D=64, BM=128, BN=128)
    without = tuple(x for x in T.OPT_STEPS if x != "pe_transpose_loads")
    slow = _modelled(qk_scores, (1,), q, k, s, 128, steps=without, **meta)
    fast = _modelled(qk_scores, (1,), q, k, s, 128, steps=T.OPT_STEPS, **meta)
    assert fast["time_ns"] * 10 < slow["time_ns"], (slow["time_ns"], fast["time_ns"])
    assert fast["engines"]["PE"]["instructions"] > slow["engines"]["PE"]["instructions"]


@pytest.mark.parametrize("n", [128, 100, 0])
def test_an_elementwise_use_of_a_column_load_sees_the_natural_layout(n):
    R, C = 64, 128
    x = np.random.default_rng(2).standard_normal((C, R)).astype(np.float32)
    want = np.where(np.arange(C)[None, :] < n, x.T, -1.0) * 2.0 + np.arange(R)[:, None]
    for target in ("cpu", "accel"):
        y = np.zeros((R, C), np.float32)
        column_scale[(1,)](x, y, n, R=R, C=C, target=target)
        np.testing.assert_array_equal(y, want.astype(np.float32))


def test_a_small_or_row_contiguous_load_keeps_its_plain_dma():
    # q's rows are contiguous: loaded as it lies (the dot's own convert makes it stationary);
    # a block small enough for per-element descriptors is not worth two PE passes
    q, k, s = _kt_args(128, 64, 128, np.float16)
    plan = plan_of(qk_scores, q, k, s, 128, D=64, BM=128, BN=128)
    loads = [op for op in walk(plan.fn.body) if op.kind is OpKind.LOAD]
    assert sorted(plan.layouts[op.result.id].transposed for op in loads) == [False, True]
    x = np.zeros((8, 16), np.float32)
    plan = plan_of(column_scale, x, np.zeros((16, 8), np.float32), 8, R=16, C=8)
    assert not any(op.kind is OpKind.CONVERT_LAYOUT for op in walk(plan.fn.body))
