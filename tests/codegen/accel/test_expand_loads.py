"""Step "expand_loads" (jitlang/passes/accel_expand_loads.py): `expand_dims(load(...))`, the
load's only use, is a load in the expanded shape, so the partition broadcast reads the loaded
tile with no vector-engine copy in between. On printed IR, end to end against numpy, the CPU
and the build without the step (bits), and on the timing model."""

from __future__ import annotations

import numpy as np

import jitlang as jl
import jitlang.language as tl
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.ir import OpKind, shape_of, walk
from jitlang.passes.accel_expand_loads import expand_loads
from jitlang.verifier import verify
from tests.codegen.accel.test_act_ts import _layer_norm_args, _run, _without
from tests.e2e import tutorial_kernels as tk
from tests.irutil import kernel_ir

# the build with and without the step (it is not among the default steps yet)
OFF = _without("expand_loads")
ON = OFF + ("expand_loads",)


def _bits_equal(a, b):
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


@jl.jit
def scale_rows(X, W, Y, n, TWICE: tl.constexpr, R: tl.constexpr, C: tl.constexpr):
    """Y = X * w[None, :] + (w[:, None] summed, when TWICE: a second use of w keeps its load)."""
    rows = tl.program_id(0) * R + tl.arange(0, R)
    cols = tl.arange(0, C)
    w = tl.load(W + cols, mask=cols < n, other=2.0)
    x = tl.load(X + rows[:, None] * C + cols[None, :])
    y = x * w[None, :]
    if TWICE:
        y += tl.sum(w, axis=0)
    tl.store(Y + rows[:, None] * C + cols[None, :], y)


def _ir(jf, *args, **kw):
    fn = optimize_tile_ir(kernel_ir(jf, *args, **kw), CompileOptions(target="accel"))
    fn = expand_loads(fn)
    verify(fn)
    return fn


def test_the_load_takes_the_expanded_shape_only_when_the_expand_is_its_one_use():
    x, w = np.zeros((128, 64), np.float32), np.zeros(64, np.float32)
    fn = _ir(scale_rows, x, w, x, 50, TWICE=False, R=128, C=64)
    loads = [op for op in walk(fn.body) if op.kind is OpKind.LOAD]
    assert sorted(shape_of(op.result.type) for op in loads) == [(1, 64), (128, 64)]
    wl = [op for op in loads if shape_of(op.result.type) == (1, 64)][0]
    assert all(shape_of(v.type) == (1, 64) for v in wl.operands)  # pointer, mask, other
    assert not any(
        op.kind is OpKind.EXPAND_DIMS and op.operands[0].id == wl.result.id for op in walk(fn.body)
    )
    fn = _ir(scale_rows, x, w, x, 50, TWICE=True, R=128, C=64)
    shapes = sorted(shape_of(op.result.type) for op in walk(fn.body) if op.kind is OpKind.LOAD)
    assert shapes == [(64,), (128, 64)]  # w is also summed: left as it is


def test_scale_rows_bits_with_and_without_the_step_numpy_and_cpu():
    rng = np.random.default_rng(3)
    R, C = 128, 64
    x = rng.standard_normal((512, C)).astype(np.float32)
    x[2, 3], x[5, :] = np.nan, np.inf
    w = rng.standard_normal(C).astype(np.float32)
    w[7] = -0.0
    for n, twice in ((64, False), (50, False), (33, True)):
        args = (x, w, np.zeros_like(x), n)
        meta = dict(TWICE=twice, R=R, C=C)
        grid = (512 // R,)
        (_, _, y0), _ = _run(scale_rows, grid, args, OFF, **meta)
        (_, _, y1), _ = _run(scale_rows, grid, args, ON, **meta)
        _bits_equal(y0, y1)
        wm = np.where(np.arange(C) < n, w, np.float32(2))
        with np.errstate(invalid="ignore"):  # inf * -0.0
            want = x * wm[None, :]
            if twice:
                want = want + wm.sum(dtype=np.float32)
        np.testing.assert_allclose(y1, want, rtol=1e-6, atol=1e-6)
        y_cpu = np.zeros_like(x)
        scale_rows[grid](x, w, y_cpu, n, **meta)
        np.testing.assert_allclose(y1, y_cpu, rtol=1e-6, atol=1e-6)


def test_layer_norm_bits_unchanged_and_the_weight_copies_gone():
    args = _layer_norm_args(512, 512, seed=2)
    meta = dict(BLOCK_SIZE=512)
    grid = (512,)
    outs0, s0 = _run(tk.layer_norm_fwd, grid, args, OFF, **meta)
    outs1, s1 = _run(tk.layer_norm_fwd, grid, args, ON, **meta)
    for a, b in zip(outs0[1:], outs1[1:]):
        _bits_equal(a, b)
    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    tk.layer_norm_fwd[grid](*cpu, **meta)
    np.testing.assert_allclose(outs1[1], cpu[1], rtol=1e-5, atol=1e-5)
    # w[None, :] and b[None, :]: one [1, 512] copy each per program fewer on the vector engine
    d0, d1 = (s["engines"]["DVE"] for s in (s0, s1))
    assert d1["instructions"] < d0["instructions"], (d0, d1)
    assert d1["busy_ns"] < d0["busy_ns"], (d0, d1)
    assert s1["time_ns"] < s0["time_ns"], (s0["time_ns"], s1["time_ns"])
