"""Vector-engine (DVE) work of row-wise kernels on target="accel": the cheaper lowerings stay exact
(numpy references, CPU cross-checks) and take the modelled DVE time they promise."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import cross_check

_spec = importlib.util.spec_from_file_location(
    "tutorial_kernels", Path(__file__).with_name("tutorial_kernels.py")
)
tk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tk)

NEG_NAN = np.array([0xFFC00001], np.uint32).view(np.float32)[0]  # sign bit set, payload


def _nan_ref(f, x, axis=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return f(x, axis).astype(x.dtype)


def _specials(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    rng = np.random.default_rng(seed + 1)
    flat[rng.integers(0, flat.size, flat.size // 7)] = np.nan
    flat[rng.integers(0, flat.size, flat.size // 9)] = NEG_NAN
    flat[rng.integers(0, flat.size, 3)] = np.inf
    flat[rng.integers(0, flat.size, 3)] = -np.inf
    if x.ndim == 2:
        x[1, :] = np.nan  # a row of NaN
        x[2, :] = np.where(np.arange(x.shape[1]) % 2, -np.inf, NEG_NAN)  # -inf among NaN
        x[:, 3] = np.nan  # a column of NaN
        x[4, :] = -np.inf
    return x


@jl.jit
def extremes_2d(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :])
    L: tl.constexpr = M if AXIS == 1 else N
    tl.store(o_ptr + tl.arange(0, L), tl.max(x, AXIS))
    tl.store(o_ptr + L + tl.arange(0, L), tl.min(x, AXIS))


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("m,n", [(128, 64), (256, 32), (16, 8)])
def test_nan_skipping_max_min_2d(m, n, axis):
    """Rows on partitions (axis 1), several rows per partition and columns across partitions
    (axis 0): NaN of either sign skipped, a slice of NaN gives NaN, -inf among NaN gives -inf."""
    x = _specials((m, n), m + n + axis)
    out_len = x.shape[1 - axis]
    o = np.zeros(2 * out_len, np.float32)
    extremes_2d[(1,)](x, o, M=m, N=n, AXIS=axis, target="accel")
    ref = np.concatenate([_nan_ref(np.nanmax, x, axis), _nan_ref(np.nanmin, x, axis)])
    np.testing.assert_array_equal(o, ref)
    cross_check(extremes_2d, (1,), x, o, M=m, N=n, AXIS=axis)


@jl.jit
def extremes_1d(x_ptr, o_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(o_ptr, tl.max(x, 0))
    tl.store(o_ptr + 1, tl.min(x, 0))


@pytest.mark.parametrize("case", ["mixed", "all_nan", "neg_inf_and_nan", "no_nan"])
def test_nan_skipping_max_min_1d_across_partitions(case):
    n = 2048
    x = _specials((n,), 7)
    if case == "all_nan":
        x[:] = np.where(np.arange(n) % 3, np.nan, NEG_NAN)
    elif case == "neg_inf_and_nan":
        x[:] = np.where(np.arange(n) % 5, np.nan, -np.inf)
    elif case == "no_nan":
        x = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    o = np.zeros(2, np.float32)
    extremes_1d[(1,)](x, o, N=n, target="accel")
    ref = np.array([_nan_ref(np.nanmax, x), _nan_ref(np.nanmin, x)], np.float32)
    np.testing.assert_array_equal(o, ref)
    cross_check(extremes_1d, (1,), x, o, N=n)


def test_batched_softmax_with_nan_rows_matches_cpu():
    """The tutorial softmax, batched (one row per program, 64 programs): rows with NaN, a row of
    NaN and a row of -inf among NaN give what the CPU gives."""
    rows, cols = 64, 256
    x = np.random.default_rng(5).standard_normal((rows, cols)).astype(np.float32)
    x[3, ::17] = np.nan
    x[7, :] = np.nan
    x[9, :] = np.where(np.arange(cols) % 2, -np.inf, np.nan)
    y = np.zeros_like(x)
    args = (y, x, cols, cols, rows, cols)
    tk.softmax_kernel[(rows,)](*args, BLOCK_SIZE=cols, target="accel")
    clean = [r for r in range(rows) if r not in (3, 7, 9)]
    ref = np.exp(x[clean] - x[clean].max(1, keepdims=True))
    np.testing.assert_allclose(y[clean], ref / ref.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    cross_check(tk.softmax_kernel, (rows,), *args, BLOCK_SIZE=cols)


def test_nan_skipping_max_costs_three_dve_passes():
    """tl.max over [128, N] rows: `x >= -inf` (one tensor-scalar pass), a select against a
    stride-0 identity (a tensor-tensor pass, 2N) and nothing else of size N on the vector engine:
    both reductions run on the activation engine. The earlier lowering (x != x, a memset, a
    select and two DVE reductions) took 7N cycles."""
    m, n = 128, 2048
    x = np.zeros((m, n), np.float32)
    o = np.zeros(2 * m, np.float32)
    prof = jl.testing.profile(
        extremes_2d, (1,), x, o, M=m, N=n, AXIS=1, config="nc-v2", timing_only=True
    )
    eng = prof.summary()["engines"]
    cfg = prof.config
    dve_cycles = eng["DVE"]["busy_ns"] * cfg.dve_clock_ghz
    act_cycles = eng["ACT"]["busy_ns"] * cfg.act_clock_ghz
    # two extremes: 2 * 3N on the DVE plus small [128, 1] steps; 2 * 2N on the ACT
    assert dve_cycles < 2 * 3 * n + 2000, dve_cycles
    assert act_cycles >= 2 * 2 * n, act_cycles


@jl.jit
def row_scalars(x_ptr, s_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr):
    rows, cols = tl.arange(0, M), tl.arange(0, N)
    x = tl.load(x_ptr + rows[:, None] * N + cols[None, :])
    s = tl.load(s_ptr + rows)[:, None]
    out = o_ptr + rows[:, None] * N + cols[None, :]
    tl.store(out, x - s)
    tl.store(out + M * N, s - x)
    tl.store(out + 2 * M * N, x / s)
    tl.store(out + 3 * M * N, s / x)
    tl.store(out + 4 * M * N, s * x + s)
    tl.store(out + 5 * M * N, tl.where(x > s, x, 0.0))
    tl.store(out + 6 * M * N, tl.where(s <= x, 1.0, 2.0))


@pytest.mark.parametrize("m,n", [(128, 64), (256, 32), (64, 16), (1, 32)])
def test_row_scalar_operands_are_exact(m, n):
    """x op s[:, None] through the per-partition `ts` column (one row per partition, several
    rows per partition, a single row), both operand orders, compares included: bit-exact
    against numpy's fp32 (the engine rounds the fp64 result once, as IEEE fp32 does)."""
    rng = np.random.default_rng(m * n)
    x = rng.standard_normal((m, n)).astype(np.float32)
    s = rng.standard_normal(m).astype(np.float32)
    x[0, :3] = [0.0, -0.0, np.inf]
    s[-1] = np.nan if m > 1 else s[-1]
    o = np.zeros((7, m, n), np.float32)
    row_scalars[(1,)](x, s, o, M=m, N=n, target="accel")
    c = s[:, None]
    with np.errstate(all="ignore"):
        ref = [x - c, c - x, x / c, c / x, c * x + c, np.where(x > c, x, 0), np.where(c <= x, 1, 2)]
    np.testing.assert_array_equal(o, np.stack(ref).astype(np.float32))
    cross_check(row_scalars, (1,), x, s, o, M=m, N=n)


@jl.jit
def minus_row_max(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + offs)
    s = tl.sum(x, 1)
    tl.store(o_ptr + offs, x - s[:, None])


def test_row_scalar_operand_costs_one_dve_pass():
    """x - s[:, None] on [128, N]: one tensor-scalar pass (N cycles) beside the row sum's N, where
    a materialised broadcast costs a copy (N) and a tensor-tensor pass (2N) more."""
    m, n = 128, 2048
    x, o = np.zeros((m, n), np.float32), np.zeros((m, n), np.float32)
    prof = jl.testing.profile(minus_row_max, (1,), x, o, M=m, N=n, timing_only=True)
    dve_cycles = prof.summary()["engines"]["DVE"]["busy_ns"] * prof.config.dve_clock_ghz
    assert dve_cycles < 2 * n + 1000, dve_cycles


@jl.jit
def row_sums(x_ptr, o_ptr, s_ptr, M: tl.constexpr, N: tl.constexpr, EXPS: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + offs)
    y = x * x + x  # vector-engine work (tensor-tensor: no activation-engine form)
    for _ in tl.static_range(EXPS):  # activation-engine work ahead of the sums
        y = tl.exp(y)
    tl.store(o_ptr + offs, y)
    tl.store(s_ptr + tl.arange(0, M), tl.sum(x, 1))
    tl.store(s_ptr + M + tl.arange(0, M), tl.max(x, 1, propagate_nan=True))


def test_row_reductions_go_to_the_freer_engine():
    """Float sums and max of [128, N] rows: after vector-engine work they are the accumulator
    of an activation-engine copy, after activation-engine work (12 exps) they stay on the vector
    engine; the results are the same either way (the fp64 sum of the fp32 values, rounded
    once)."""
    m, n = 128, 512
    cycles, placed = {}, {}
    for exps in (0, 12):
        x = np.random.default_rng(exps).standard_normal((m, n)).astype(np.float32) * 0.1
        x[5, 7] = np.nan
        o, s = np.zeros((m, n), np.float32), np.zeros(2 * m, np.float32)
        row_sums[(1,)](x, o, s, M=m, N=n, EXPS=exps, target="accel")
        ref = np.concatenate([x.astype(np.float64).sum(1), x.max(1)]).astype(np.float32)
        np.testing.assert_array_equal(s, ref)
        asm = row_sums.warmup(x, o, s, M=m, N=n, EXPS=exps, target="accel").asm["asm"]
        lines = [ln.split() for ln in asm.splitlines()]
        on_act = sum(1 for w in lines if w[:2] == ["act", "copy,"] and w[-1] in ("add", "max"))
        on_dve = sum(1 for w in lines if w[:1] == ["reduce"])
        placed[exps] = (on_act, on_dve)
        prof = jl.testing.profile(row_sums, (1,), x, o, s, M=m, N=n, EXPS=exps, timing_only=True)
        eng, cfg = prof.summary()["engines"], prof.config
        cycles[exps] = (
            round(eng["ACT"]["busy_ns"] * cfg.act_clock_ghz),
            round(eng["DVE"]["busy_ns"] * cfg.dve_clock_ghz),
        )
    assert placed[0] == (2, 0), (placed, cycles)  # both reductions on the activation engine
    assert placed[12] == (0, 2), (placed, cycles)  # behind 12 exps: on the vector engine
    (act0, dve0), (act12, dve12) = cycles[0], cycles[12]
    assert act12 - act0 == 12 * n - 2 * n and dve12 == dve0 + 2 * n, cycles


@jl.jit
def squares(x_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr, EXPS: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + offs)
    y = x
    for _ in tl.static_range(EXPS):  # activation-engine work ahead of the square
        y = tl.exp(y)
    tl.store(o_ptr + offs, x * x)
    tl.store(o_ptr + M * N + offs, y)


def test_square_goes_to_the_freer_engine_and_stays_exact():
    """x * x of fp32: the activation engine's square (N cycles instead of the vector engine's
    2N) unless that engine is busier; bit-exact either way (subnormal, overflowing, signed
    zero, inf and NaN inputs included)."""
    m, n = 128, 256
    x = np.random.default_rng(1).standard_normal((m, n)).astype(np.float32) * 1e3
    x[0, :8] = [-0.0, 1e-23, -3e-20, 2e19, -np.inf, np.nan, 1.5e-45, 3.4e38]
    cycles = {}
    for exps in (0, 12):
        o = np.zeros((2, m, n), np.float32)
        squares[(1,)](x, o, M=m, N=n, EXPS=exps, target="accel")
        with np.errstate(over="ignore", under="ignore"):
            np.testing.assert_array_equal(o[0], x * x)
        cross_check(squares, (1,), x, o, M=m, N=n, EXPS=exps)
        prof = jl.testing.profile(squares, (1,), x, o, M=m, N=n, EXPS=exps, timing_only=True)
        eng = prof.summary()["engines"]
        cycles[exps] = round(eng["DVE"]["busy_ns"] * prof.config.dve_clock_ghz)
    assert cycles[0] == 0 and cycles[12] == 2 * n, cycles


@jl.jit
def scale_shift(x_ptr, w_ptr, b_ptr, o_ptr, M: tl.constexpr, N: tl.constexpr):
    cols = tl.arange(0, N)
    offs = tl.arange(0, M)[:, None] * N + cols[None, :]
    w = tl.load(w_ptr + cols)[None, :]
    b = tl.load(b_ptr + cols)[None, :]
    tl.store(o_ptr + offs, tl.load(x_ptr + offs) * w + b)


@pytest.mark.parametrize("m", [128, 256, 8])
def test_row_broadcast_by_gpsimd_alone(m):
    """A [1, N] row broadcast to [M, N]: with one row per partition the GpSimd broadcast writes
    the block itself (no vector-engine copy after it); several rows per partition keep the
    copy. Exact against numpy and the CPU."""
    n = 512
    rng = np.random.default_rng(m)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((m, n), n, n))
    o = np.zeros((m, n), np.float32)
    scale_shift[(1,)](x, w, b, o, M=m, N=n, target="accel")
    np.testing.assert_array_equal(o, x * w + b)
    cross_check(scale_shift, (1,), x, w, b, o, M=m, N=n)
    if m == 128:
        prof = jl.testing.profile(scale_shift, (1,), x, w, b, o, M=m, N=n, timing_only=True)
        dve = prof.summary()["engines"]["DVE"]["busy_ns"] * prof.config.dve_clock_ghz
        # x * w and + b (2N each); w and b load as [1, N] rows (step expand_loads), so there
        # are no expand_dims copies, and no [128, N] copies after the broadcasts
        assert round(dve) == 2 * 2 * n, dve
