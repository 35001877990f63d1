"""Matmul on the accelerator model: the backend steps that move its modelled time, each shown by
its effect on `jitlang.testing.profile` (timing-only, nc-v2) with the results still checked
against numpy on small shapes."""

from __future__ import annotations

import ml_dtypes
import numpy as np

import jitlang as jl
import jitlang.language as tl
from jitlang.ir import OpKind, walk
from jitlang.testing import profile
from tests.codegen.accel.helpers import plan_of


@jl.jit
def matmul_at(
    aT_ptr,
    b_ptr,
    c_ptr,
    M: tl.constexpr,
    N: tl.constexpr,
    K: tl.constexpr,
    BM: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    """C = A @ B with A given as its transpose [K, M] (NKI's lhsT), one [BM, BN] block per
    program."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = tl.arange(0, BM)
    rn = tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(K // BK):
        a = tl.load(aT_ptr + (k * BK + rk)[None, :] * M + (pid_m * BM + rm)[:, None])
        b = tl.load(b_ptr + (k * BK + rk)[:, None] * N + (pid_n * BN + rn)[None, :])
        acc = tl.dot(a, b, acc)
    c = c_ptr + (pid_m * BM + rm)[:, None] * N + (pid_n * BN + rn)[None, :]
    tl.store(c, acc)


def _at_args(m, k, n, dtype=ml_dtypes.bfloat16, seed=0):
    rng = np.random.default_rng(seed)
    aT = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    return aT, b, np.zeros((m, n), np.float32)


def _check(aT, b, c):
    ref = aT.astype(np.float32).T @ b.astype(np.float32)
    np.testing.assert_allclose(c, ref, rtol=2e-2, atol=2e-2)


def test_a_stationary_operand_given_transposed_is_loaded_row_by_row():
    # aT[k, m] read as a[m, k]: the [K, M] layout the PE wants is contiguous rows in HBM, so the
    # DMA loads it as it lies (no per-element descriptors, no PE transpose); before this,
    # matmul 512^3 bf16 modelled 2634.8 us
    aT, b, c = _at_args(512, 512, 512)
    meta = dict(M=512, N=512, K=512, BM=128, BN=512, BK=128)
    plan = plan_of(matmul_at, aT, b, c, **meta)
    dot = next(op for op in walk(plan.fn.body) if op.kind is OpKind.DOT)
    load = plan.producers[dot.operands[0].id]
    assert load.kind is OpKind.LOAD and plan.layouts[load.result.id].transposed
    s = profile(matmul_at, (4, 1), aT, b, c, **meta).summary()
    _check(aT, b, c)
    assert s["time_ns"] < 120e3, s["time_ns"]  # measured 57.2 us
    assert s["engines"]["PE"]["instructions"] == 4 * 4  # matmuls only: no transposes
