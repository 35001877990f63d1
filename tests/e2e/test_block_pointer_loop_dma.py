"""Block pointers carried by `for` loops and advanced each iteration (issue 12): the carried
offsets are proven non-negative by induction (non-negative start, every advance adds a
non-negative amount; the induction variable of `range(lb, ub, step)` with lb >= 0 < step), so
their boundary checks keep only upper bounds, and the fields the loop leaves unchanged (shape,
strides) stay the constants they were, so accel moves every window with access-pattern DMAs.
Advances by a negative or run-time amount keep the full `0 <= offs < shape` check. Results
are compared with numpy and with the CPU target, ragged edges included."""

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import profile


@jl.jit
def bp_matmul(A, B, C, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    pm = tl.program_id(0)
    pn = tl.program_id(1)
    a_ptr = tl.make_block_ptr(A, (M, K), (K, 1), (pm * BM, 0), (BM, BK), (1, 0))
    b_ptr = tl.make_block_ptr(B, (K, N), (N, 1), (0, pn * BN), (BK, BN), (1, 0))
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for _k in range(0, K, BK):
        a = tl.load(a_ptr, boundary_check=(0, 1), padding_option="zero")
        b = tl.load(b_ptr, boundary_check=(0, 1), padding_option="zero")
        acc += tl.dot(a, b)
        a_ptr = tl.advance(a_ptr, (0, BK))
        b_ptr = tl.advance(b_ptr, (BK, 0))
    c_ptr = tl.make_block_ptr(C, (M, N), (N, 1), (pm * BM, pn * BN), (BM, BN), (1, 0))
    tl.store(c_ptr, acc, boundary_check=(0, 1))


@jl.jit
def bp_rows(X, Y, M, N, BM: tl.constexpr, BN: tl.constexpr):
    # one program walks all row blocks; the store's window is made from the induction variable
    p = tl.make_block_ptr(X, (M, N), (N, 1), (0, 0), (BM, BN), (1, 0))
    for r in range(0, M, BM):
        x = tl.load(p, boundary_check=(0, 1), padding_option="zero")
        q = tl.make_block_ptr(Y, (M, N), (N, 1), (r, 0), (BM, BN), (1, 0))
        tl.store(q, x * 3, boundary_check=(0, 1))
        p = tl.advance(p, (BM, 0))


@jl.jit
def bp_rows_back(X, Y, M, N, BM: tl.constexpr, BN: tl.constexpr):
    # walks from the last block up by -BM: the first window starts above row 0 when BM does
    # not divide M, so the lower bound must stay
    start = ((M + BM - 1) // BM - 1) * BM
    p = tl.make_block_ptr(X, (M, N), (N, 1), (start, 0), (BM, BN), (1, 0))
    q = tl.make_block_ptr(Y, (M, N), (N, 1), (start, 0), (BM, BN), (1, 0))
    for _r in range(0, M, BM):
        x = tl.load(p, boundary_check=(0, 1), padding_option="zero")
        tl.store(q, x + 1, boundary_check=(0, 1))
        p = tl.advance(p, (-BM, 0))
        q = tl.advance(q, (-BM, 0))


@jl.jit
def bp_rows_step(X, Y, M, N, S, BM: tl.constexpr, BN: tl.constexpr):
    # advances by a run-time amount S (negative S reads NaN padding above the tensor)
    p = tl.make_block_ptr(X, (M, N), (N, 1), (0, 0), (BM, BN), (1, 0))
    q = tl.make_block_ptr(Y, (M, N), (N, 1), (0, 0), (BM, BN), (1, 0))
    for _r in range(0, M, BM):
        x = tl.load(p, boundary_check=(0, 1), padding_option="nan")
        tl.store(q, x, boundary_check=(0, 1))
        p = tl.advance(p, (S, 0))
        q = tl.advance(q, (BM, 0))


def _both(kernel, grid, *args, out_index, **meta):
    res = {}
    for target in ("cpu", "accel"):
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        kernel[grid](*a, target=target, **meta)
        res[target] = a[out_index]
    return res


@pytest.mark.parametrize("M,N,K", [(256, 256, 256), (200, 130, 190), (64, 64, 40)])
def test_block_ptr_matmul_loop_is_access_patterns(M, N, K):
    rng = np.random.default_rng(M + N + K)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = np.full((M, N), -7.0, np.float32)
    grid = (-(-M // 128), -(-N // 128))
    meta = dict(BM=128, BN=128, BK=64)
    out = _both(bp_matmul, grid, a, b, c, M, N, K, out_index=2, **meta)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out["cpu"], ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["accel"], ref, rtol=1e-4, atol=1e-4)
    counts = profile(bp_matmul, grid, a, b, c, M, N, K, **meta).engine_counts
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4)
    # no per-element index or mask work (before the loop proof: 248 DVE and 24 POOL
    # instructions per program at 256^3); what is left is the accumulator's handling
    assert counts["POOL"] == 0, counts
    assert counts["DVE"] <= 8 * grid[0] * grid[1], counts


@pytest.mark.parametrize("M,N", [(256, 64), (100, 60), (3, 17)])
def test_block_ptr_row_loop_is_access_patterns(M, N):
    rng = np.random.default_rng(M * N)
    x = rng.standard_normal((M, N)).astype(np.float32)
    y = np.full_like(x, -7.0)
    out = _both(bp_rows, (1,), x, y, M, N, out_index=1, BM=32, BN=64)
    np.testing.assert_array_equal(out["cpu"], x * 3)
    np.testing.assert_array_equal(out["accel"], x * 3)
    counts = profile(bp_rows, (1,), x, y, M, N, BM=32, BN=64).engine_counts
    np.testing.assert_array_equal(y, x * 3)
    # one load and one store DMA per row block; no index or mask work on the vector engines
    blocks = -(-M // 32)
    # one load and one store DMA per row block, one multiply (ACT or DVE) per block; no index
    # or mask work
    assert counts["DMA"] == 2 * blocks, counts
    assert counts["DVE"] + counts["ACT"] == blocks and counts["POOL"] == 0, counts


@pytest.mark.parametrize("M,N", [(100, 60), (96, 64)])
def test_negative_advance_keeps_lower_bound(M, N):
    rng = np.random.default_rng(M)
    x = rng.standard_normal((M, N)).astype(np.float32)
    y = np.full_like(x, -7.0)
    out = _both(bp_rows_back, (1,), x, y, M, N, out_index=1, BM=32, BN=64)
    np.testing.assert_array_equal(out["cpu"], x + 1)
    np.testing.assert_array_equal(out["accel"], x + 1)
    tile = bp_rows_back.warmup(x, y, M, N, BM=32, BN=64, target="cpu").asm["tile"]
    assert tile.count("cmp ge") == 2, tile  # the load's and the store's row checks


@pytest.mark.parametrize("S", [-5, 0, 32, 7])
def test_runtime_advance_keeps_lower_bound(S):
    M, N, BM = 100, 48, 32
    rng = np.random.default_rng(abs(S) + 3)
    x = rng.standard_normal((M, N)).astype(np.float32)
    ref = np.full((M, N), -7.0, np.float32)
    for blk in range(-(-M // BM)):
        for i in range(BM):
            r, src = blk * BM + i, blk * S + i
            if r < M:
                ref[r] = x[src] if 0 <= src < M else np.nan
    y = np.full_like(x, -7.0)
    out = _both(bp_rows_step, (1,), x, y, M, N, S, out_index=1, BM=BM, BN=64)
    np.testing.assert_array_equal(out["cpu"], ref)
    np.testing.assert_array_equal(out["accel"], ref)
    tile = bp_rows_step.warmup(x, y, M, N, S, BM=BM, BN=64, target="cpu").asm["tile"]
    assert tile.count("cmp ge") == 1, tile  # the load through p; the store's q is proven
