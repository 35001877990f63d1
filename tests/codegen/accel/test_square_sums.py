"""Step "square_sums" (jitlang/passes/accel_square_sums.py, codegen/accel/tileops.py): `0.0 +
x * x` reads as `x * x`, and a row sum of an activation-engine `square` is its accumulator. On
printed IR, end to end against numpy, the CPU and the build without the step (bits, special
values included), and on the timing model."""

from __future__ import annotations

import numpy as np

import codegen.accel.target as T
import jitlang as jl
import jitlang.language as tl
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.ir import BinaryOp, OpKind, walk
from jitlang.passes.accel_square_sums import drop_zero_adds
from jitlang.verifier import verify
from tests.codegen.accel.test_act_ts import _layer_norm_args, _run, _without
from tests.e2e import tutorial_kernels as tk
from tests.irutil import kernel_ir


def _bits_equal(a, b):
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


@jl.jit
def sums(X, S, P, Z, R: tl.constexpr, C: tl.constexpr):
    """Per row: sum(0 + x * x), sum(0 + x * (x + 1)) and sum(-0.0 + x * x)."""
    rows = tl.arange(0, R)[:, None]
    cols = tl.arange(0, C)[None, :]
    x = tl.load(X + rows * C + cols)
    acc = tl.zeros((R, C), tl.float32)
    tl.store(S + tl.arange(0, R), tl.sum(acc + x * x, axis=1))
    tl.store(P + tl.arange(0, R), tl.sum(acc + x * (x + 1.0), axis=1))
    neg = tl.full((R, C), -0.0, tl.float32)
    tl.store(Z + tl.arange(0, R), tl.sum(x * x + neg, axis=1))


def _adds(fn):
    return [op for op in walk(fn.body) if op.kind is OpKind.BINARY and op.attr.op is BinaryOp.ADD]


def test_only_a_positive_zero_plus_a_square_goes():
    x = np.zeros((8, 16), np.float32)
    s = np.zeros(8, np.float32)
    fn = optimize_tile_ir(kernel_ir(sums, x, s, s, s, R=8, C=16), CompileOptions(target="accel"))
    before = len(_adds(fn))
    fn = drop_zero_adds(fn)
    verify(fn)
    # `acc + x * x` goes; `acc + x * (x + 1)` (no square), `x + 1` and `x * x + -0.0` stay
    assert len(_adds(fn)) == before - 1 == 3


def test_row_sums_of_squares_bits_with_special_values():
    rng = np.random.default_rng(8)
    R, C = 128, 256
    x = rng.standard_normal((R, C)).astype(np.float32)
    x[0, 3] = np.nan
    x[1, 4] = np.inf
    x[2, :] = -0.0
    x[3, :8] = np.float32(1e-40)  # subnormal squares flush to +0 or stay tiny
    x[4, 9] = 3e38  # the square overflows to inf
    x[5, :] = np.float32(1 + 2**-23)
    x[6, :] = 0.0
    args = (x, np.zeros(R, np.float32), np.zeros(R, np.float32), np.zeros(R, np.float32))
    meta = dict(R=R, C=C)
    outs0, st0 = _run(sums, (1,), args, _without("square_sums"), **meta)
    outs1, st1 = _run(sums, (1,), args, T.OPT_STEPS, **meta)
    for a, b in zip(outs0[1:], outs1[1:]):
        _bits_equal(a, b)
    cpu = [a.copy() for a in args]
    sums[(1,)](*cpu, **meta)
    with np.errstate(all="ignore"):
        sq = (x * x).astype(np.float64).sum(1).astype(np.float32)
        pr = (x * (x + np.float32(1))).astype(np.float64).sum(1).astype(np.float32)
    for got, want, c in zip(outs1[1:], (sq, pr, sq), cpu[1:]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-30)
        np.testing.assert_allclose(got, c, rtol=1e-5, atol=1e-30)
    assert np.isnan(outs1[1][0]) and np.isinf(outs1[1][1]) and np.isinf(outs1[1][4])
    assert outs1[1][2] == 0 and not np.signbit(outs1[1][2])
    # the zero add is gone and the square carries the sum: fewer ACT/DVE instructions
    n0, n1 = (sum(st["engines"][e]["instructions"] for e in ("ACT", "DVE")) for st in (st0, st1))
    assert n1 < n0, (st0["engines"], st1["engines"])
    assert st1["time_ns"] < st0["time_ns"]


def test_layer_norm_bits_unchanged_and_the_variance_sum_rides_on_the_square():
    args = _layer_norm_args(512, 512, seed=6)
    args[0][3, :] = -0.0
    args[0][4, 5] = np.nan
    meta = dict(BLOCK_SIZE=512)
    grid = (512,)
    outs0, s0 = _run(tk.layer_norm_fwd, grid, args, _without("square_sums"), **meta)
    outs1, s1 = _run(tk.layer_norm_fwd, grid, args, T.OPT_STEPS, **meta)
    for a, b in zip(outs0[1:], outs1[1:]):
        _bits_equal(a, b)
    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    tk.layer_norm_fwd[grid](*cpu, **meta)
    np.testing.assert_allclose(outs1[1], cpu[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs1[5], cpu[5], rtol=1e-5, atol=1e-5)
    a0, a1 = (s["engines"]["ACT"] for s in (s0, s1))
    assert a1["instructions"] < a0["instructions"], (a0, a1)
    assert a1["busy_ns"] < a0["busy_ns"], (a0, a1)
    assert s1["time_ns"] < s0["time_ns"], (s0["time_ns"], s1["time_ns"])
