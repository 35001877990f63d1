"""A `for` loop that runs once at run time: its accumulators reduced straight from the loads
(codegen/cpu/onetrip.py), bit-identical to the loop that writes them to buffers first."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl


@jl.jit
def row_stats(X, S, Q, stride, N, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    sq = tl.zeros([BLOCK], dtype=tl.float32)
    for off in range(0, N, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        x = tl.load(X + row * stride + cols, mask=cols < N, other=0.0)
        acc += x
        sq += x * x
    tl.store(S + row, tl.sum(acc, axis=0))
    tl.store(Q + row, tl.max(sq, axis=0))


@jl.jit
def row_stats_used_twice(X, S, Q, stride, N, BLOCK: tl.constexpr):
    # the same sums, but `acc` has a second use: the loop is always lowered as a loop
    row = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    sq = tl.zeros([BLOCK], dtype=tl.float32)
    for off in range(0, N, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        x = tl.load(X + row * stride + cols, mask=cols < N, other=0.0)
        acc += x
        sq += x * x
    tl.store(S + row, tl.sum(acc, axis=0))
    tl.store(Q + row, tl.max(sq, axis=0) + 0.0 * tl.min(acc, axis=0))


def _run(kernel, x, n, block):
    rows = x.shape[0]
    s = np.full(rows, np.nan, np.float32)
    q = np.full(rows, np.nan, np.float32)
    kernel[(rows,)](x, s, q, x.shape[1], n, BLOCK=block)
    return s, q


@pytest.mark.parametrize("n", [0, 1, 200, 256, 257, 700, 1024])
def test_single_and_multiple_trips_match_the_plain_loop(n):
    block = 256
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((5, max(n, 1))) * 100).astype(np.float32)
    s, q = _run(row_stats, x, n, block)
    s2, q2 = _run(row_stats_used_twice, x, n, block)
    np.testing.assert_array_equal(s, s2)
    np.testing.assert_array_equal(q, q2)
    xs = x[:, :n].astype(np.float64)
    np.testing.assert_allclose(s, xs.sum(1), rtol=1e-5, atol=1e-3)
    if n:
        # max over lanes of the per-lane sums of squares
        lanes = np.zeros((5, block))
        for off in range(0, n, block):
            part = xs[:, off : off + block] ** 2
            lanes[:, : part.shape[1]] += part
        np.testing.assert_allclose(q, lanes.max(1), rtol=1e-5)
    else:
        np.testing.assert_array_equal(q, np.zeros(5, np.float32))


def test_layer_norm_rows_shorter_than_and_equal_to_the_block():
    from tests.e2e.tutorial_kernels import layer_norm_fwd

    rng = np.random.default_rng(0)
    for n, block in ((1024, 1024), (1000, 1024), (3000, 1024)):
        x = rng.standard_normal((7, n)).astype(np.float32)
        w, b = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
        y = np.empty_like(x)
        mean, rstd = np.empty(7, np.float32), np.empty(7, np.float32)
        layer_norm_fwd[(7,)](x, y, w, b, mean, rstd, n, n, 1e-5, BLOCK_SIZE=block)
        m = x.astype(np.float64).mean(1, keepdims=True)
        v = ((x - m) ** 2).mean(1, keepdims=True)
        np.testing.assert_allclose(mean, m[:, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rstd, 1 / np.sqrt(v[:, 0] + 1e-5), rtol=1e-4)
        np.testing.assert_allclose(y, (x - m) / np.sqrt(v + 1e-5) * w + b, rtol=1e-4, atol=1e-4)
