"""Step "uniform_masks" (jitlang/passes/accel_uniform_masks.py): a region whose block masks
depend on run-time arguments only (`cols < N`, the row in one block) runs in `if <they hold
everywhere>` with them folded away. On printed IR, end to end against numpy, the CPU and the
build without the step (bits), for N at, below and above the block and at the int32 limits,
and on the timing model."""

from __future__ import annotations

import numpy as np
import pytest

import codegen.accel.target as T
import jitlang as jl
import jitlang.language as tl
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.ir import OpKind, walk
from jitlang.passes.accel_uniform_masks import version_uniform_masks
from jitlang.verifier import verify
from tests.codegen.accel.test_act_ts import _layer_norm_args, _run, _without
from tests.e2e import tutorial_kernels as tk
from tests.irutil import kernel_ir

I32_MAX, I32_MIN = 2**31 - 1, -(2**31)


def _bits_equal(a, b):
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


@jl.jit
def masked_rows(X, Y, N, K, PRED: tl.constexpr, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    """Each program scales ROWS rows of BLOCK columns; the columns are masked by a comparison
    of `cols` (or cols + K) with the run-time N, in the form PRED names."""
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK)
    if PRED == "lt":
        m = cols < N
    elif PRED == "le":
        m = cols <= N
    elif PRED == "gt":  # N > cols + K
        m = N > cols + K
    else:  # "ge": N - 1 >= cols
        m = N - 1 >= cols
    mask = m[None, :] & (rows[:, None] >= 0)
    x = tl.load(X + rows[:, None] * BLOCK + cols[None, :], mask=mask, other=-1.5)
    y = tl.where(m[None, :], x * 2.0 + 1.0, -7.0)
    tl.store(Y + rows[:, None] * BLOCK + cols[None, :], y)


def _ref(x, n, k, pred, block):
    cols = np.arange(block, dtype=np.int64)
    m = {"lt": cols < n, "le": cols <= n, "gt": n > cols + k, "ge": n - 1 >= cols}[pred]
    return np.where(m[None, :], x * np.float32(2) + np.float32(1), np.float32(-7)).astype(
        np.float32
    )


def _ir(jf, *args, **kw):
    fn = optimize_tile_ir(kernel_ir(jf, *args, **kw), CompileOptions(target="accel"))
    fn = version_uniform_masks(fn)
    verify(fn)
    return fn


def test_region_versioned_with_the_masks_folded_in_the_full_branch():
    x = np.zeros((64, 128), np.float32)
    fn = _ir(masked_rows, x, x, 100, 0, PRED="lt", ROWS=64, BLOCK=128)
    ifs = [op for op in fn.body.ops if op.kind is OpKind.IF]
    assert len(ifs) == 1 and fn.body.ops[-1].kind is OpKind.RETURN
    full, rest = ifs[0].regions
    kinds = [op.kind for op in walk(full)]
    assert OpKind.SELECT not in kinds
    (load,) = [op for op in walk(full) if op.kind is OpKind.LOAD]
    (cmp,) = [op for op in walk(full) if op.kind is OpKind.CMP]  # rows >= 0 only
    assert cmp.attr.pred.value == "ge"
    # the fallback is the region as it was
    assert OpKind.SELECT in [op.kind for op in walk(rest)]
    assert len([op for op in walk(rest) if op.kind is OpKind.CMP]) == 2
    assert len(load.operands) == 3  # still masked by the rows' (program-dependent) bound


def test_masks_of_programs_or_loops_or_only_of_accesses_are_left_alone():
    x = np.zeros(4096, np.float32)

    @jl.jit
    def per_program(X, Y, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(Y + offs, tl.load(X + offs, mask=offs < n, other=0.0), mask=offs < n)

    @jl.jit
    def row_loop(X, Y, n, BLOCK: tl.constexpr):
        for off in range(0, n, BLOCK):
            cols = off + tl.arange(0, BLOCK)
            tl.store(Y + cols, tl.load(X + cols, mask=cols < n), mask=cols < n)

    @jl.jit
    def only_bounds(X, Y, n, BLOCK: tl.constexpr):  # the mask becomes DMA bounds: free
        cols = tl.arange(0, BLOCK)
        tl.store(Y + cols, tl.load(X + cols, mask=cols < n, other=1.0) * 2, mask=cols < n)

    for jf in (per_program, row_loop, only_bounds):
        fn = _ir(jf, x, x, 1000, BLOCK=256)
        assert not any(op.kind is OpKind.IF for op in walk(fn.body)), jf.fn.__name__


@pytest.mark.parametrize(
    "pred,n,k",
    [
        ("lt", 128, 0),  # full: the folded branch
        ("lt", 127, 0),  # one column short: the original
        ("lt", 5, 0),
        ("lt", 0, 0),
        ("lt", -3, 0),
        ("lt", I32_MAX, 0),
        ("lt", I32_MIN, 0),  # 127 - N wraps in int32: the condition must not
        ("le", 127, 0),
        ("le", 126, 0),
        ("gt", 130, 2),
        ("gt", 129, 2),
        ("gt", I32_MIN, 0),
        ("ge", 128, 0),
        ("ge", 77, 0),
        ("ge", I32_MIN + 1, 0),
    ],
)
def test_masked_rows_match_numpy_cpu_and_the_build_without_the_step(pred, n, k):
    rows, block = 256, 128
    rng = np.random.default_rng(n & 0xFFFF)
    x = rng.standard_normal((rows, block)).astype(np.float32)
    x[3, 5], x[4, 6], x[5, 7] = np.nan, np.inf, -np.inf
    y = np.zeros_like(x)
    meta = dict(PRED=pred, ROWS=64, BLOCK=block)
    grid = (rows // 64,)
    (_, y0), _ = _run(masked_rows, grid, (x, y, n, k), _without("uniform_masks"), **meta)
    (_, y1), _ = _run(masked_rows, grid, (x, y, n, k), T.OPT_STEPS, **meta)
    _bits_equal(y0, y1)
    want = _ref(x, n, k, pred, block)
    _bits_equal(y1, want)
    y_cpu = np.zeros_like(x)
    masked_rows[grid](x, y_cpu, n, k, **meta)
    _bits_equal(y_cpu, want)


@pytest.mark.parametrize("cols", [512, 500, 333])
def test_layer_norm_bits_unchanged_ragged_rows_and_special_values(cols):
    """The tutorial's layer norm with BLOCK_SIZE 512: N = 512 runs the folded branch, 500 and
    333 (ragged, not a multiple of anything useful) the masked one."""
    args = _layer_norm_args(384, cols, seed=cols)
    x = args[0]
    x[1, :] = np.nan
    x[2, 7] = np.inf
    x[3, :] = -0.0
    x[4, 9] = -np.inf
    meta = dict(BLOCK_SIZE=512)
    grid = (384,)
    with np.errstate(all="ignore"):
        outs0, s0 = _run(tk.layer_norm_fwd, grid, args, _without("uniform_masks"), **meta)
        outs1, s1 = _run(tk.layer_norm_fwd, grid, args, T.OPT_STEPS, **meta)
        for a, b in zip(outs0[1:], outs1[1:]):
            _bits_equal(a, b)
        _, y1, w, b, m1, r1 = outs1
        cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        tk.layer_norm_fwd[grid](*cpu, **meta)
        np.testing.assert_allclose(y1, cpu[1], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(m1, cpu[4], rtol=1e-5, atol=1e-6)
        x64 = x.astype(np.float64)
        mu = x64.mean(1, keepdims=True)
        sd = 1 / np.sqrt(((x64 - mu) ** 2).mean(1, keepdims=True) + 1e-5)
        np.testing.assert_allclose(y1[5:], ((x64 - mu) * sd * w + b)[5:], rtol=1e-4, atol=1e-4)
    assert np.isnan(y1[1]).all() and np.isnan(y1[2]).all() and np.isnan(y1[4]).all()
    if cols == 512:  # the mask, its `where` and the masked load's fill leave the vector engine
        d0, d1 = (s["engines"]["DVE"] for s in (s0, s1))
        assert d1["instructions"] < d0["instructions"], (d0, d1)
        assert d1["busy_ns"] < 0.8 * d0["busy_ns"], (d0, d1)
        assert s1["time_ns"] < s0["time_ns"], (s0["time_ns"], s1["time_ns"])
    else:  # the masked branch runs: the same work as before
        assert s1["time_ns"] <= s0["time_ns"] * 1.01, (s0["time_ns"], s1["time_ns"])


def test_layer_norm_4096x1024_on_nc_v3_modelled():
    """The issue's shape, timing-only on nc-v3: the step removes the `cols < N` select and the
    mask build from every group of rows."""
    x = np.zeros((4096, 1024), np.float32)
    args = (x, np.zeros_like(x), np.ones(1024, np.float32), np.zeros(1024, np.float32))
    args += (np.zeros(4096, np.float32), np.zeros(4096, np.float32), 1024, 1024, 1e-5)
    times = {}
    for name, steps in (("without", _without("uniform_masks")), ("with", T.OPT_STEPS)):
        old = T.OPT_STEPS
        T.OPT_STEPS = steps
        tk.layer_norm_fwd.cache.clear()
        try:
            prof = jl.testing.profile(
                tk.layer_norm_fwd, (4096,), *args, config="nc-v3", timing_only=True,
                BLOCK_SIZE=1024,
            )  # fmt: skip
            times[name] = prof.summary()
        finally:
            T.OPT_STEPS = old
            tk.layer_norm_fwd.cache.clear()
    t0, t1 = times["without"]["time_ns"], times["with"]["time_ns"]
    assert t1 < 0.9 * t0, (t0, t1)
    d0, d1 = (times[k]["engines"]["DVE"]["busy_ns"] for k in ("without", "with"))
    assert d1 < 0.8 * d0, (d0, d1)


@jl.jit
def masked_row_with_branch(X, Flag, Y, S, N, BLOCK: tl.constexpr):
    """`cols < N` on a run-time N around an `if` that yields two values (the tutorial layer
    norm backward's first-writer branch has this shape): the folded copy of the region must
    clone and fold the multi-result `if` too."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(X + row * BLOCK + cols, mask=mask, other=0.0)
    a = tl.where(mask, x * 2.0, 0.0)
    b = tl.where(mask, x + 1.0, 0.0)
    if tl.load(Flag + row) == 0:
        a = a + 1.0
        b = b * 3.0
    else:
        a = a - tl.load(X + cols, mask=mask, other=0.0)
        b = b + 0.5
    tl.store(Y + row * BLOCK + cols, a * b, mask=mask)
    tl.store(S + row, tl.sum(a, axis=0))


@pytest.mark.parametrize("n", [128, 100])
def test_region_with_a_two_result_if_matches_numpy_cpu_and_the_build_without(n):
    rows, block = 8, 128
    rng = np.random.default_rng(n)
    x = rng.standard_normal((rows, block)).astype(np.float32)
    flag = (np.arange(rows) % 2).astype(np.int32)
    y, s = np.zeros_like(x), np.zeros(rows, np.float32)
    outs = {}
    for name, steps in (("without", _without("uniform_masks")), ("with", T.OPT_STEPS)):
        old, T.OPT_STEPS = T.OPT_STEPS, tuple(steps)  # data-dependent branch: no timing-only run
        masked_row_with_branch.cache.clear()
        try:
            yo, so = y.copy(), s.copy()
            masked_row_with_branch[(rows,)](x, flag, yo, so, n, BLOCK=block, target="accel")
            outs[name] = (yo, so)
        finally:
            T.OPT_STEPS = old
    (y0, s0), (y1, s1) = outs["without"], outs["with"]
    _bits_equal(y0, y1)
    _bits_equal(s0, s1)
    m = np.arange(block) < n
    a = np.where(m, x * 2, 0).astype(np.float32)
    b = np.where(m, x + 1, 0).astype(np.float32)
    first = (flag == 0)[:, None]
    a2 = np.where(first, a + 1, a - np.where(m, x[0], 0)).astype(np.float32)
    b2 = np.where(first, b * 3, b + np.float32(0.5)).astype(np.float32)
    want = np.where(m, a2 * b2, 0).astype(np.float32)
    np.testing.assert_allclose(y1, want, rtol=1e-6)
    np.testing.assert_allclose(s1, a2.sum(1), rtol=1e-5, atol=1e-5)
    y_cpu, s_cpu = np.zeros_like(x), np.zeros(rows, np.float32)
    masked_row_with_branch[(rows,)](x, flag, y_cpu, s_cpu, n, BLOCK=block)
    np.testing.assert_allclose(y_cpu, want, rtol=1e-6)
