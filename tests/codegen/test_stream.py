"""Streaming (non-temporal) stores on the CPU: same results as plain stores on every alignment.

The threshold is set per loaded kernel (`CpuKernel.set_stream_bytes`), so small arrays take the
streaming path here: 0 streams every whole row, a huge value never streams.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from codegen.cpu.cachesize import last_level_cache_bytes, stream_threshold
from codegen.cpu.stream import _runs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NEVER = 1 << 62
needs_x86 = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64", "i686", "i386"),
    reason="streaming stores are emitted on x86 only",
)


@jl.jit
def softmax_rows(out_ptr, in_ptr, stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(in_ptr + row * stride + cols, mask=mask, other=-float("inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(out_ptr + row * stride + cols, e / tl.sum(e, axis=0), mask=mask)


@jl.jit
def scale_tile(out_ptr, in_ptr, stride, s, R: tl.constexpr, C: tl.constexpr):
    rows = tl.program_id(0) * R + tl.arange(0, R)
    cols = tl.arange(0, C)
    offs = rows[:, None] * stride + cols[None, :]
    tl.store(out_ptr + offs, tl.load(in_ptr + offs) * s + cols[None, :])


@jl.jit
def add_flat(out_ptr, x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + tl.load(y_ptr + offs, mask=mask), mask=mask)


@jl.jit
def copy_cs(out_ptr, in_ptr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(in_ptr + offs), cache_modifier=".cs")


@jl.jit
def persistent_copy(out_ptr, in_ptr, n_rows, BLOCK: tl.constexpr):
    for r in range(tl.program_id(0), n_rows, tl.num_programs(0)):
        cols = tl.arange(0, BLOCK)
        tl.store(out_ptr + r * BLOCK + cols, tl.load(in_ptr + r * BLOCK + cols) + 1.0)


@jl.jit
def shift_rows(out_ptr, in_ptr, n_cols, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    offs = tl.program_id(0) * n_cols + cols
    tl.store(out_ptr + offs, tl.load(in_ptr + offs, mask=mask) + 1, mask=mask)


@jl.jit
def add_and_count(x_ptr, out_ptr, counter_ptr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs) * 2.0)
    tl.atomic_add(counter_ptr, 1)


def _view(n: int, skew: int, dtype=np.float32) -> np.ndarray:
    """A 1-D array of n elements starting `skew` elements past a 64-byte boundary."""
    item = np.dtype(dtype).itemsize
    buf = np.zeros(n + 128, dtype)  # room for 63 bytes of alignment and a 63-element skew
    start = (-buf.ctypes.data % 64) // item + skew
    return buf[start : start + n]


def _twice(kernel, grid, *args, **kw):
    """Launch once never streaming and once always streaming, each on the output's initial
    contents; both outputs (the first argument)."""
    initial = args[0].copy()
    k = kernel[grid](*args, **kw)
    k.native.set_stream_bytes(NEVER)
    args[0][...] = initial
    kernel[grid](*args, **kw)
    plain = args[0].copy()
    args[0][...] = initial
    k.native.set_stream_bytes(0)
    kernel[grid](*args, **kw)
    out = args[0].copy()
    k.native.set_stream_bytes(stream_threshold())
    return plain, out


@needs_x86
def test_streamed_kernels_carry_nontemporal_stores_and_a_fence():
    x = np.zeros((4, 256), np.float32)
    k = softmax_rows.warmup(x, x, 256, 256, BLOCK=256, grid=(4,))
    assert "!nontemporal" in k.asm["llir"]
    assert "llvm.x86.sse.sfence" in k.asm["llir"]
    assert "movnt" in k.asm["asm"]


@pytest.mark.parametrize("skew", range(16))
def test_softmax_rows_every_alignment(skew):
    rows, cols = 6, 512
    rng = np.random.default_rng(skew)
    x = _view(rows * cols, skew).reshape(rows, cols)
    x[...] = rng.standard_normal((rows, cols), dtype=np.float32) * 4
    y = _view(rows * cols, (skew * 7) % 16).reshape(rows, cols)
    plain, streamed = _twice(softmax_rows, (rows,), y, x, cols, cols, BLOCK=cols)
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    np.testing.assert_allclose(streamed, e / e.sum(1, keepdims=True), rtol=2e-6, atol=1e-9)
    np.testing.assert_array_equal(streamed, plain)


def test_partial_rows_fall_back_and_leave_the_rest_alone():
    rows, cols, block = 5, 300, 512
    x = np.random.default_rng(1).standard_normal((rows, cols)).astype(np.float32)
    y = np.full((rows, cols), -7.0, np.float32)
    plain, streamed = _twice(softmax_rows, (rows,), y, x, cols, cols, BLOCK=block)
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    np.testing.assert_allclose(streamed, e / e.sum(1, keepdims=True), rtol=2e-6, atol=1e-9)
    np.testing.assert_array_equal(streamed, plain)


@pytest.mark.parametrize("skew", [0, 3, 15])
def test_two_dimensional_tiles_with_a_row_stride(skew):
    R, C, stride, tiles = 4, 256, 300, 3
    rng = np.random.default_rng(skew)
    src = _view(R * tiles * stride, skew)
    src[...] = rng.standard_normal(src.size).astype(np.float32)
    out = _view(R * tiles * stride, 15 - skew)
    out[...] = 5.0
    plain, streamed = _twice(scale_tile, (tiles,), out, src, stride, 0.5, R=R, C=C)
    want = np.full(out.size, 5.0, np.float32).reshape(-1, stride)
    s2 = src.reshape(-1, stride)
    want[:, :C] = s2[:, :C] * np.float32(0.5) + np.arange(C, dtype=np.float32)
    np.testing.assert_array_equal(streamed.reshape(-1, stride), want)
    np.testing.assert_array_equal(streamed, plain)


@pytest.mark.parametrize("n", [1 << 14, (1 << 14) - 5])
def test_neighbouring_programs_share_boundary_lines(n):
    """Each program's row starts mid-line: the plain head and tail stores of neighbours meet."""
    rng = np.random.default_rng(n)
    x, yv = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    xs, ys, out = _view(n, 1), _view(n, 2), _view(n, 5)
    xs[...], ys[...] = x, yv
    plain, streamed = _twice(add_flat, (jl.cdiv(n, 512),), out, xs, ys, n, BLOCK=512)
    np.testing.assert_array_equal(streamed, x + yv)
    np.testing.assert_array_equal(plain, x + yv)


@pytest.mark.parametrize("dtype", [np.int8, np.float16, np.float64])
def test_every_line_offset_of_other_element_sizes(dtype):
    """Heads and tails of every length a row can have (a row may start at any element of a
    cache line): 1-, 2- and 8-byte elements have other chunk widths than float32."""
    item = np.dtype(dtype).itemsize
    rows, cols = 3, 1024 // item
    for skew in range(64 // item):
        x = _view(rows * cols, skew, dtype)
        x[...] = (np.arange(x.size) % 97).astype(dtype)
        y = _view(rows * cols, (skew * 5 + 3) % (64 // item), dtype)
        y[...] = 0
        plain, streamed = _twice(shift_rows, (rows,), y, x, cols, BLOCK=cols)
        np.testing.assert_array_equal(streamed, x + dtype(1), err_msg=f"skew {skew}")
        np.testing.assert_array_equal(plain, streamed)


@needs_x86
def test_streamed_edges_take_no_masked_stores():
    """A streamed row's head and tail are plain stores (masked AVX2 stores are slow on AMD):
    a kernel with no masked store of its own has none in its assembly, on AVX2 (`vmaskmov`)
    and AVX-512 (a `{%k}` store)."""
    x = np.zeros((4, 1024), np.float32)
    k = persistent_copy.warmup(x, x, 4, BLOCK=1024, grid=(2,))
    asm = k.asm["asm"]
    assert "movnt" in asm
    assert "vmaskmov" not in asm
    assert not [ln for ln in asm.splitlines() if "{%k" in ln and ln.strip().startswith("vmov")]


@pytest.mark.parametrize("lanes", [4, 8, 16, 32, 64])
def test_edge_runs_cover_each_part_with_aligned_powers_of_two(lanes):
    for count in range(1, lanes):
        for first in (0, lanes - count):  # a prefix, a suffix
            runs = _runs(first, count)
            covered = [i for at, w in runs for i in range(at, at + w)]
            assert covered == list(range(first, first + count))
            assert all(w & (w - 1) == 0 and at % w == 0 for at, w in runs)
            assert len(runs) <= 2 * max(1, (count).bit_length())


def test_half_precision_outputs():
    rows, cols = 3, 1024
    x = np.random.default_rng(3).standard_normal((rows, cols)).astype(np.float32)
    y = np.zeros((rows, cols), np.float16)
    plain, streamed = _twice(softmax_rows, (rows,), y, x, cols, cols, BLOCK=cols)
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    np.testing.assert_allclose(streamed, e / e.sum(1, keepdims=True), rtol=2e-3, atol=1e-6)
    np.testing.assert_array_equal(streamed, plain)


def test_grid_stride_loops_count_their_iterations():
    rows, block = 40, 256
    x = _view(rows * block, 9).reshape(rows, block)
    x[...] = np.arange(x.size, dtype=np.float32).reshape(rows, block)
    y = _view(rows * block, 4).reshape(rows, block)
    k = persistent_copy[(3,)](y, x, rows, BLOCK=block)
    # program 0 estimates 3 programs x 14 iterations x 1 KiB: streams at 40 KiB, not at 48 KiB
    for limit in (48 << 10, 40 << 10):
        y[...] = 0
        k.native.set_stream_bytes(limit)
        persistent_copy[(3,)](y, x, rows, BLOCK=block)
        np.testing.assert_array_equal(y, x + 1)
    k.native.set_stream_bytes(stream_threshold())


@needs_x86
def test_kernels_with_atomics_never_stream():
    x = np.ones(1024, np.float32)
    out = np.zeros_like(x)
    counter = np.zeros(1, np.int32)
    k = add_and_count[(2,)](x, out, counter, BLOCK=512)
    assert "nontemporal" not in k.asm["llir"]
    np.testing.assert_array_equal(out, 2 * x)
    assert counter[0] == 2


@needs_x86
def test_cache_streaming_modifier_streams_small_launches_too():
    x = _view(1024, 3)
    x[...] = np.arange(1024, dtype=np.float32)
    y = _view(1024, 6)
    k = copy_cs[(4,)](y, x, BLOCK=256)
    k.native.set_stream_bytes(1 << 62)  # would never stream by size
    y[...] = 0
    copy_cs[(4,)](y, x, BLOCK=256)
    np.testing.assert_array_equal(y, x)
    assert "!nontemporal" in k.asm["llir"]


def test_threshold_is_half_the_last_level_cache():
    assert last_level_cache_bytes() >= 1 << 20
    assert stream_threshold() == last_level_cache_bytes() // 2


@pytest.mark.skipif(bool(os.environ.get("JITLANG_CPU")), reason="already under a forced CPU")
def test_streaming_under_forced_avx2(tmp_path):
    env = dict(os.environ, JITLANG_CPU="x86-64-v3", JITLANG_CACHE_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
