"""Program batching on target="accel" (jitlang/passes/accel_batch.py, the driver's grid
handling): kernels written one row (or one block) per program run B program ids per program.
Results match the unbatched build and numpy on ragged grids (grid not a multiple of B, rows
not a multiple of 128): bit for bit where the arithmetic is exact (element-wise, max/argmax,
sums of small integers); a float sum of a row is added up in another order once the row lies
along a partition instead of across partitions, so there the builds agree to a few ulp.
Kernels the pass cannot prove batchable run unbatched; the modelled time drops."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.passes.accel_batch import batchable
from jitlang.testing import cross_check

_spec = importlib.util.spec_from_file_location(
    "tutorial_kernels", Path(__file__).with_name("tutorial_kernels.py")
)
tk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tk)


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y, mask=mask)


@jl.jit
def row_stats(x_ptr, out_ptr, idx_ptr, n_cols, stride, BLOCK: tl.constexpr):
    """A scalar store per program, a max, a carried loop value and a uniform loop."""
    row = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for off in range(0, n_cols, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + row * stride + cols, mask=cols < n_cols, other=0.0)
    tl.store(out_ptr + row, tl.sum(acc, axis=0) * (row % 3 + 1))
    cols = tl.arange(0, BLOCK)
    v = tl.load(x_ptr + row * stride + cols, mask=cols < n_cols, other=-1.0)
    tl.store(idx_ptr + row, tl.max(v, axis=0).to(tl.int32))


@jl.jit
def grid_stride_sum(x_ptr, out_ptr, n_rows, n_cols, BLOCK: tl.constexpr):
    """Each program sums rows pid, pid + G, ... into its own output: a loop-carried value of
    a loop whose trip count differs per program."""
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    total = tl.zeros([BLOCK], dtype=tl.float32)
    for r in range(pid, n_rows, tl.num_programs(0)):
        total += tl.load(x_ptr + r * n_cols + cols, mask=cols < n_cols, other=0.0)
    tl.store(out_ptr + pid * BLOCK + cols, total)


@jl.jit
def atomic_rows(x_ptr, out_ptr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    tl.atomic_add(out_ptr, tl.sum(tl.load(x_ptr + pid * BLOCK + tl.arange(0, BLOCK)), axis=0))


@jl.jit
def first_program_only(x_ptr, out_ptr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    if pid == 0:
        tl.store(out_ptr + tl.arange(0, BLOCK), tl.load(x_ptr + tl.arange(0, BLOCK)))


def _run_both(kernel, grid, make_args, **meta):
    """(batched outputs, unbatched outputs): the same launch through both builds."""
    outs = []
    for batching in (True, False):
        args = make_args()
        compiled = kernel.warmup(*args, target="accel", **meta)
        native = compiled.native
        native.batching = batching
        try:
            kernel[grid](*args, target="accel", **meta)
        finally:
            native.batching = True
        if batching:
            assert native.batched is not None and native.batch_error is None
            assert native._batched is not None and native._batched.batch in (128, 256)
        outs.append([a.copy() for a in args if isinstance(a, np.ndarray)])
    return outs


def _close(got, want):
    """Equal up to the order of a float sum: a few ulp."""
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(np.float32).eps, atol=1e-30)


def _softmax_ref(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("rows,cols", [(300, 200), (129, 64)])
def test_softmax_batched_matches_unbatched_and_numpy(rows, cols):
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    block = jl.next_power_of_2(cols)

    def make():
        return (np.zeros_like(x), x, cols, cols, rows, cols)

    batched, plain = _run_both(tk.softmax_kernel, (rows,), make, BLOCK_SIZE=block)
    _close(batched[0], plain[0])
    np.testing.assert_allclose(batched[0], _softmax_ref(x), rtol=1e-5, atol=1e-6)


def test_softmax_fewer_programs_than_rows():
    """The tutorial's grid-stride loop with a grid smaller than the rows (and not a multiple
    of 128): programs run several rows, lanes finish at different iterations."""
    rows, cols, grid = 700, 96, 200
    x = np.random.default_rng(1).standard_normal((rows, cols)).astype(np.float32)

    def make():
        return (np.zeros_like(x), x, cols, cols, rows, cols)

    batched, plain = _run_both(tk.softmax_kernel, (grid,), make, BLOCK_SIZE=128)
    _close(batched[0], plain[0])
    np.testing.assert_allclose(batched[0], _softmax_ref(x), rtol=1e-5, atol=1e-6)


def test_layer_norm_batched_matches_unbatched_and_numpy():
    rows, cols = 200, 300
    rng = np.random.default_rng(3)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    w, b = (
        rng.standard_normal(cols).astype(np.float32),
        rng.standard_normal(cols).astype(np.float32),
    )

    def make():
        y, mean, rstd = np.zeros_like(x), np.zeros(rows, np.float32), np.zeros(rows, np.float32)
        return (x, y, w, b, mean, rstd, cols, cols, 1e-5)

    batched, plain = _run_both(tk.layer_norm_fwd, (rows,), make, BLOCK_SIZE=128)
    for got, want in zip(batched, plain, strict=True):
        _close(got, want)
    mu = x.mean(axis=1, keepdims=True)
    rs = 1 / np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(batched[1], (x - mu) * rs * w + b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(batched[4], mu[:, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "n",
    [
        1000 * 37 + 5,  # the last block is partial; the grid is not a multiple of 128
        256 * 45,  # whole blocks: the last batch's lanes below the grid all pass `offs < n`
    ],
)
def test_vector_add_batched_ragged(n):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)

    def make():
        return (x, y, np.zeros_like(x), n)

    batched, plain = _run_both(add_kernel, (jl.cdiv(n, 256),), make, BLOCK_SIZE=256)
    np.testing.assert_array_equal(batched[2], plain[2])
    np.testing.assert_array_equal(batched[2], x + y)


def test_scalar_stores_argmax_and_carried_loops():
    rows, cols = 150, 100
    x = np.random.default_rng(5).integers(-50, 50, (rows, cols)).astype(np.float32)

    def make():
        return (x, np.zeros(rows, np.float32), np.zeros(rows, np.int32), cols, cols)

    batched, plain = _run_both(row_stats, (rows,), make, BLOCK=32)
    for got, want in zip(batched, plain, strict=True):
        np.testing.assert_array_equal(got, want)
    scale = np.arange(rows) % 3 + 1
    np.testing.assert_allclose(batched[1], x.sum(axis=1) * scale, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(batched[2], x[:, :32].max(axis=1).astype(np.int32))


def test_grid_stride_loop_carried_values():
    rows, cols, grid = 333, 20, 130
    x = np.random.default_rng(6).integers(-50, 50, (rows, cols)).astype(np.float32)

    def make():
        return (x, np.zeros((grid, 32), np.float32), rows, cols)

    batched, plain = _run_both(grid_stride_sum, (grid,), make, BLOCK=32)
    np.testing.assert_array_equal(batched[1], plain[1])
    want = np.zeros((grid, 32), np.float32)
    for p in range(grid):
        want[p, :cols] = x[p::grid].sum(axis=0)
    np.testing.assert_allclose(batched[1], want, rtol=1e-5, atol=1e-5)


def _tile_ir(kernel, *args, **meta):
    from jitlang.compiler import CompileOptions, optimize_tile_ir
    from jitlang.frontend.visitor import build_kernel

    values, _ = kernel._bind(args, dict(meta))
    key, _ = kernel._specialize(values)
    fn, _ = build_kernel(kernel, kernel._params(key), kernel.fn.__name__)
    return optimize_tile_ir(fn, CompileOptions(target="accel"))


def test_unbatchable_kernels_run_unbatched():
    x = np.arange(64 * 16, dtype=np.float32)
    out = np.zeros(1, np.float32)
    why = batchable(_tile_ir(atomic_rows, x, out, BLOCK=16))
    assert why is not None and "atomic" in why
    o2 = np.zeros(16, np.float32)
    why = batchable(_tile_ir(first_program_only, x, o2, BLOCK=16))
    assert why is not None and "condition" in why
    atomic_rows[(64,)](x, out, BLOCK=16, target="accel")
    assert out[0] == x.sum()
    assert atomic_rows.warmup(x, out, BLOCK=16, target="accel").native.batched is None
    first_program_only[(64,)](x, o2, BLOCK=16, target="accel")
    np.testing.assert_array_equal(o2, x[:16])


def test_tutorial_kernels_cross_check():
    rows, cols = 160, 96
    x = np.random.default_rng(7).standard_normal((rows, cols)).astype(np.float32)
    y = np.zeros_like(x)
    cross_check(tk.softmax_kernel, (rows,), y, x, cols, cols, rows, cols, BLOCK_SIZE=128)
    w, b = np.ones(cols, np.float32), np.zeros(cols, np.float32)
    mean, rstd = np.zeros(rows, np.float32), np.zeros(rows, np.float32)
    cross_check(
        tk.layer_norm_fwd, (rows,), x, y, w, b, mean, rstd, cols, cols, 1e-5, BLOCK_SIZE=128
    )


def test_batching_cuts_modelled_time():
    rows, cols = 1024, 256
    x, y = np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.float32)
    args = (y, x, cols, cols, rows, cols)
    native = tk.softmax_kernel.warmup(*args, target="accel", BLOCK_SIZE=cols).native
    times = {}
    for batching in (False, True):
        native.batching = batching
        try:
            prof = jl.testing.profile(
                tk.softmax_kernel, (rows,), *args, timing_only=True, BLOCK_SIZE=cols
            )
        finally:
            native.batching = True
        times[batching] = prof.summary()["time_ns"]
    assert times[True] * 4 < times[False], times


@jl.jit
def triangle_2d(w_ptr, o_ptr, BLOCK: tl.constexpr):
    """A uniform pointer under a per-program mask, a second grid axis and num_programs(0) in
    arithmetic."""
    pid = tl.program_id(0)
    col = tl.program_id(1)
    cols = tl.arange(0, BLOCK)
    w = tl.load(w_ptr + cols, mask=cols < pid, other=0.0)
    scale = (tl.num_programs(0) - pid).to(tl.float32)
    base = (col * tl.num_programs(0) + pid) * BLOCK
    tl.store(o_ptr + base + cols, w * scale + col)


def test_uniform_pointer_per_program_mask_and_2d_grid():
    block, g0, g1 = 16, 40, 3
    w = np.arange(block, dtype=np.float32) + 1

    def make():
        return (w, np.zeros((g1, g0, block), np.float32))

    batched, plain = _run_both(triangle_2d, (g0, g1), make, BLOCK=block)
    np.testing.assert_array_equal(batched[1], plain[1])
    want = np.zeros((g1, g0, block), np.float32)
    for c in range(g1):
        for p in range(g0):
            want[c, p] = np.where(np.arange(block) < p, w, 0) * (g0 - p) + c
    np.testing.assert_array_equal(batched[1], want)


@jl.jit
def tiles_2d(x_ptr, o_ptr, s_ptr, flag, R: tl.constexpr, C: tl.constexpr):
    """A 2-D block per program: a scan along one axis, a sum along the other, an `if` on a
    uniform argument whose results vary per program."""
    pid = tl.program_id(0)
    r = tl.arange(0, R)[:, None]
    c = tl.arange(0, C)[None, :]
    x = tl.load(x_ptr + pid * R * C + r * C + c)
    if flag > 0:
        y = tl.cumsum(x, axis=1)
    else:
        y = x * 2.0
    tl.store(o_ptr + pid * R * C + r * C + c, y)
    tl.store(s_ptr + pid * C + tl.arange(0, C), tl.sum(y, axis=0))


@pytest.mark.parametrize("flag", [1, 0])
def test_2d_blocks_scan_and_uniform_if(flag):
    g, rr, cc = 50, 4, 8
    x = np.random.default_rng(8).integers(-9, 9, (g, rr, cc)).astype(np.float32)

    def make():
        return (x, np.zeros_like(x), np.zeros((g, cc), np.float32), flag)

    batched, plain = _run_both(tiles_2d, (g,), make, R=rr, C=cc)
    for got, want in zip(batched, plain, strict=True):
        np.testing.assert_array_equal(got, want)
    y = np.cumsum(x, axis=2) if flag else x * 2
    np.testing.assert_array_equal(batched[1], y)
    np.testing.assert_array_equal(batched[2], y.sum(axis=1))
