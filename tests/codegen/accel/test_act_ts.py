"""Step "act_ts": fp32 `x + s`, `x - s`, `s - x`, `x * s` on the activation engine.

The activation engine computes round(round(x * scale) + bias) in fp32; with scale +-1 or bias
-0.0 that is one rounding, as the vector engine's `ts`: every test compares bits with the build
without the step (and values with numpy and the CPU target).
"""

from __future__ import annotations

import numpy as np

import codegen.accel.target as T
import jitlang as jl
import jitlang.language as tl
from jitlang.testing import profile
from tests.e2e import tutorial_kernels as tk


def _without(*names):
    return tuple(s for s in T.OPT_STEPS if s not in names)


def _run(kernel, grid, args, steps, **meta):
    """Copies of the arrays after a launch compiled with `steps`, and its profile summary."""
    old = T.OPT_STEPS
    T.OPT_STEPS = tuple(steps)
    kernel.cache.clear()
    try:
        outs = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        kernel[grid](*outs, target="accel", **meta)
        fresh = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        s = profile(kernel, grid, *fresh, timing_only=True, **meta).summary()
        return [a for a in outs if isinstance(a, np.ndarray)], s
    finally:
        T.OPT_STEPS = old
        kernel.cache.clear()


def _layer_norm_args(rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * 3 + 1).astype(np.float32)
    y = np.zeros_like(x)
    w = rng.standard_normal(cols).astype(np.float32)
    b = rng.standard_normal(cols).astype(np.float32)
    mean, rstd = np.zeros(rows, np.float32), np.zeros(rows, np.float32)
    return (x, y, w, b, mean, rstd, cols, cols, 1e-5)


def test_layer_norm_bits_unchanged_and_the_vector_engine_relieved():
    args = _layer_norm_args(512, 512)
    meta = dict(BLOCK_SIZE=512)
    grid = (512,)
    (_, y0, _, _, m0, r0), s0 = _run(tk.layer_norm_fwd, grid, args, _without("act_ts"), **meta)
    (_, y1, _, _, m1, r1), s1 = _run(tk.layer_norm_fwd, grid, args, T.OPT_STEPS, **meta)
    for a, b in ((y0, y1), (m0, m1), (r0, r1)):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    x, _, w, b, *_ = args
    mu = x.astype(np.float64).mean(1, keepdims=True)
    sd = 1 / np.sqrt(((x - mu) ** 2).mean(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y1, (x - mu) * sd * w + b, rtol=1e-4, atol=1e-4)
    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    tk.layer_norm_fwd[grid](*cpu, **meta)
    np.testing.assert_allclose(y1, cpu[1], rtol=1e-5, atol=1e-5)
    # x - mean, x_hat * rstd and the two `0 + ...` sums leave the vector engine
    dve0, dve1 = (s["engines"]["DVE"]["busy_ns"] for s in (s0, s1))
    assert dve1 < 0.75 * dve0, (dve0, dve1)
    assert s1["time_ns"] < 0.98 * s0["time_ns"], (s0["time_ns"], s1["time_ns"])


def test_softmax_bits_unchanged():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((256, 384)) * 4).astype(np.float32)
    x[5, :7] = -np.inf
    y = np.zeros_like(x)
    args = (y, x, 384, 384, 256, 384)
    grid = (256,)
    (y0, _), _ = _run(tk.softmax_kernel, grid, args, _without("act_ts"), BLOCK_SIZE=512)
    (y1, _), _ = _run(tk.softmax_kernel, grid, args, T.OPT_STEPS, BLOCK_SIZE=512)
    np.testing.assert_array_equal(y0.view(np.uint32), y1.view(np.uint32))
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(y1, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)


@jl.jit
def scalar_ops(x_ptr, o_ptr, s, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    base = o_ptr + offs * 0 + pid * BLOCK * 7 + tl.arange(0, BLOCK)
    tl.store(base, x + s)
    tl.store(base + BLOCK, x - s)
    tl.store(base + 2 * BLOCK, s - x)
    tl.store(base + 3 * BLOCK, x * s)
    tl.store(base + 4 * BLOCK, x - 0.75)
    tl.store(base + 5 * BLOCK, tl.zeros([BLOCK], dtype=tl.float32) + x)
    tl.store(base + 6 * BLOCK, 2.5 - x)


def test_scalar_forms_exact_with_zeros_inf_and_nan():
    rng = np.random.default_rng(7)
    block, progs = 256, 4
    x = rng.standard_normal(block * progs).astype(np.float32)
    x[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 0.75]
    for s in (np.float32(-0.0), np.float32(0.0), np.float32(1.3), np.float32(-np.inf)):
        o = np.zeros(block * progs * 7, np.float32)
        args = (x, o, s, x.size)
        (_, o0), _ = _run(scalar_ops, (progs,), args, _without("act_ts"), BLOCK=block)
        (_, o1), _ = _run(scalar_ops, (progs,), args, T.OPT_STEPS, BLOCK=block)
        np.testing.assert_array_equal(o0.view(np.uint32), o1.view(np.uint32), err_msg=str(s))
        oc = np.zeros_like(o)
        scalar_ops[(progs,)](x, oc, s, x.size, BLOCK=block)
        np.testing.assert_array_equal(o1.view(np.uint32), oc.view(np.uint32), err_msg=str(s))
        xs = x.reshape(progs, 1, block)
        with np.errstate(all="ignore"):
            ref = np.concatenate(
                [xs + s, xs - s, s - xs, xs * s, xs - np.float32(0.75), 0 + xs, 2.5 - xs], 1
            ).astype(np.float32)
        np.testing.assert_array_equal(o1.reshape(progs, 7, block), ref)
