"""Step "act_accum": a free-axis sum of an fp32 result an `act` just wrote is that act's
accumulator, not a pass of its own.

The accumulator reduces the act's fp32 result in groups of consecutive free elements exactly as
a `reduce` (or an accumulating `act copy`) of the stored result does, so every test compares
bits with the build without the step, values with numpy and the CPU target, and the modelled
effect (fewer activation-engine instructions and busy time).
"""

from __future__ import annotations

import numpy as np

import codegen.accel.target as T
import jitlang as jl
import jitlang.language as tl
from tests.codegen.accel.test_act_ts import _layer_norm_args, _run, _without
from tests.e2e import tutorial_kernels as tk


def _bits_equal(a, b):
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def test_layer_norm_bits_unchanged_and_two_act_passes_saved():
    args = _layer_norm_args(512, 512, seed=1)
    meta = dict(BLOCK_SIZE=512)
    grid = (512,)
    (_, y0, _, _, m0, r0), s0 = _run(tk.layer_norm_fwd, grid, args, _without("act_accum"), **meta)
    (_, y1, _, _, m1, r1), s1 = _run(tk.layer_norm_fwd, grid, args, T.OPT_STEPS, **meta)
    for a, b in ((y0, y1), (m0, m1), (r0, r1)):
        _bits_equal(a, b)
    x, _, w, b, *_ = args
    mu = x.astype(np.float64).mean(1, keepdims=True)
    sd = 1 / np.sqrt(((x - mu) ** 2).mean(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y1, (x - mu) * sd * w + b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m1, mu[:, 0], rtol=1e-5, atol=1e-6)
    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    tk.layer_norm_fwd[grid](*cpu, **meta)
    np.testing.assert_allclose(y1, cpu[1], rtol=1e-5, atol=1e-5)
    # the mean's and the variance's `0 + ...` act carries the row sum: two ACT passes fewer
    # per group of rows, the vector engine unchanged
    a0, a1 = (s["engines"]["ACT"] for s in (s0, s1))
    assert a1["instructions"] < a0["instructions"], (a0, a1)
    assert a1["busy_ns"] < 0.85 * a0["busy_ns"], (a0, a1)
    assert s1["engines"]["DVE"]["busy_ns"] <= s0["engines"]["DVE"]["busy_ns"]
    assert s1["time_ns"] < s0["time_ns"], (s0["time_ns"], s1["time_ns"])


def test_softmax_bits_unchanged():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((256, 384)) * 4).astype(np.float32)
    x[7, :5] = -np.inf
    y = np.zeros_like(x)
    args = (y, x, 384, 384, 256, 384)
    grid = (256,)
    (y0, _), s0 = _run(tk.softmax_kernel, grid, args, _without("act_accum"), BLOCK_SIZE=512)
    (y1, _), s1 = _run(tk.softmax_kernel, grid, args, T.OPT_STEPS, BLOCK_SIZE=512)
    _bits_equal(y0, y1)
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(y1, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert s1["time_ns"] <= s0["time_ns"], (s0["time_ns"], s1["time_ns"])


@jl.jit
def _row_sums(X, S, Q, E, scale, R: tl.constexpr, C: tl.constexpr):
    rows = tl.arange(0, R)[:, None]
    cols = tl.arange(0, C)[None, :]
    x = tl.load(X + rows * C + cols)
    tl.store(S + tl.arange(0, R), tl.sum(x * scale, axis=1))
    tl.store(Q + tl.arange(0, R), tl.sum(x * x, axis=1))
    tl.store(E + tl.arange(0, R), tl.sum(tl.exp(x), axis=1))


def test_row_sums_of_act_results_with_special_values():
    rng = np.random.default_rng(5)
    R, C = 128, 256
    x = rng.standard_normal((R, C)).astype(np.float32)
    x[0, 3] = np.nan
    x[1, 4] = np.inf
    x[2, 5], x[2, 6] = np.inf, -np.inf
    x[3, :] = -0.0
    x[4, :8] = np.float32(1e-40)  # subnormal
    x[5, 9] = 3e38  # x * scale and x * x overflow to inf
    x[6, :] = np.float32(1 + 2**-23)  # sums whose rounding the order decides
    args = (x, np.zeros(R, np.float32), np.zeros(R, np.float32), np.zeros(R, np.float32), 3.0)
    meta = dict(R=R, C=C)
    # (step "square_sums" off in both: with it the square of x * x carries its sum too)
    without = _without("act_accum", "square_sums")
    (_, s0, q0, e0), st0 = _run(_row_sums, (1,), args, without, **meta)
    (_, s1, q1, e1), st1 = _run(_row_sums, (1,), args, _without("square_sums"), **meta)
    for a, b in ((s0, s1), (q0, q1), (e0, e1)):
        _bits_equal(a, b)
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):  # the NaN and inf rows
        ref = [
            (x * np.float32(3)).astype(np.float64).sum(1),
            (x * x).astype(np.float64).sum(1),
            np.exp(x64).sum(1),
        ]
    for got, want in zip((s1, q1, e1), ref):
        np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-5, atol=1e-30)
    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    _row_sums[(1,)](*cpu, **meta)
    for got, want in zip((s1, q1, e1), cpu[1:4]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-30)
    # the sums of x * scale and x * x ride on the act copy that computed their terms (the sum
    # of exp(x) stays a pass of its own: only copies take an accumulator)
    n0, n1 = (sum(st["engines"][e]["instructions"] for e in ("ACT", "DVE")) for st in (st0, st1))
    assert n1 == n0 - 1, (st0["engines"], st1["engines"])
    assert st1["time_ns"] < st0["time_ns"]
