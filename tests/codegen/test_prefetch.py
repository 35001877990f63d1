"""Software prefetch in `for` loops (codegen/cpu/prefetch.py): a grid-stride row loop prefetches
the row it will load AHEAD iterations later; loads whose offsets move with the loop do not. A
pure grid-stride kernel runs its programs in lockstep instead (rows in order, no loop
prefetch). A large contiguous 1-D load prefetches where the thread's program after next will
read it (the distance measured between consecutive programs at run time)."""

from __future__ import annotations

import numpy as np

import jitlang as jl
import jitlang.language as tl
from tests.codegen.test_lower import _llvm


@jl.jit
def rows_persistent(out_ptr, in_ptr, stride, n_rows, n_cols, BLOCK: tl.constexpr):
    for row in range(tl.program_id(0), n_rows, tl.num_programs(0)):
        cols = tl.arange(0, BLOCK)
        x = tl.load(in_ptr + row * stride + cols, mask=cols < n_cols, other=0.0)
        tl.store(out_ptr + row * stride + cols, x - tl.max(x, axis=0), mask=cols < n_cols)


@jl.jit
def rows_counted(out_ptr, in_ptr, count_ptr, stride, n_rows, n_cols, BLOCK: tl.constexpr):
    # a store after the loop: not run in lockstep (codegen.cpu.lower.lockstep_loop), so the row
    # loop keeps its prefetches
    done = 0
    for row in range(tl.program_id(0), n_rows, tl.num_programs(0)):
        cols = tl.arange(0, BLOCK)
        x = tl.load(in_ptr + row * stride + cols, mask=cols < n_cols, other=0.0)
        tl.store(out_ptr + row * stride + cols, x - tl.max(x, axis=0), mask=cols < n_cols)
        done += 1
    tl.store(count_ptr + tl.program_id(0), done)


@jl.jit
def column_loop(out_ptr, in_ptr, n, BLOCK: tl.constexpr):
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for off in range(0, n, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        acc += tl.load(in_ptr + cols, mask=cols < n, other=0.0)
    tl.store(out_ptr + tl.arange(0, BLOCK), acc)


def test_grid_stride_row_loop_prefetches_its_next_rows():
    x = np.zeros((8, 64), np.float32)
    text = _llvm(rows_counted, x, x, np.zeros(2, np.int32), 64, 8, 64, BLOCK=64)
    calls = [ln for ln in text.splitlines() if "call" in ln and "llvm.prefetch" in ln]
    assert calls, "no prefetch in the row loop"
    assert all(", i32 0, i32 3, i32 1)" in c for c in calls)  # read, keep in all levels, data


def test_loop_moving_its_offsets_leaves_it_to_the_hardware():
    x = np.zeros(256, np.float32)
    assert "llvm.prefetch" not in _llvm(column_loop, x, x, 256, BLOCK=64)


def test_a_pure_grid_stride_kernel_runs_in_lockstep_without_prefetches():
    x = np.zeros((8, 64), np.float32)
    text = _llvm(rows_persistent, x, x, 64, 8, 64, BLOCK=64)
    assert "llvm.prefetch" not in text and "round" in text


def test_prefetching_kernel_still_exact_with_fewer_programs_than_rows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 50)).astype(np.float32)
    y = np.zeros_like(x)
    count = np.zeros(3, np.int32)
    rows_counted[(3,)](y, x, count, 50, 37, 50, BLOCK=64)
    np.testing.assert_array_equal(y, x - x.max(axis=1, keepdims=True))
    np.testing.assert_array_equal(count, [13, 12, 12])


def test_lockstep_kernel_still_exact_with_fewer_programs_than_rows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 50)).astype(np.float32)
    y = np.zeros_like(x)
    rows_persistent[(3,)](y, x, 50, 37, 50, BLOCK=64)
    np.testing.assert_array_equal(y, x - x.max(axis=1, keepdims=True))


@jl.jit
def row_scale(out_ptr, in_ptr, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(in_ptr + row * stride + cols)
    tl.store(out_ptr + row * stride + cols, x * 3.0)


def test_large_row_loads_prefetch_programs_ahead_small_ones_do_not():
    x = np.zeros((8, 256), np.float32)
    assert "llvm.prefetch" in _llvm(row_scale, x, x, 256, BLOCK=256)  # 1 KiB rows
    assert "llvm.prefetch" not in _llvm(row_scale, x, x, 256, BLOCK=64)  # 256 B rows


def test_program_ahead_prefetch_keeps_results_exact():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 300)).astype(np.float32)
    y = np.zeros_like(x)
    k = row_scale[(50,)](y, x, 300, BLOCK=256)
    for limit in (1 << 62, 0):  # a small launch, then one treated as large (prefetching)
        y[...] = 0
        k.native.set_stream_bytes(limit)
        row_scale[(50,)](y, x, 300, BLOCK=256)
        np.testing.assert_array_equal(y[:, :256], x[:, :256] * np.float32(3))
        np.testing.assert_array_equal(y[:, 256:], 0)
