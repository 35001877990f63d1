"""Block pointers and tensor descriptors on the accelerator: a window whose offsets are provably
non-negative (`pid * BLOCK`, constants) is bounds-checked by upper bounds only, so its loads and
stores are access-pattern DMAs (no gather/scatter, no vector-engine address work); windows at
offsets that may be negative keep the full `0 <= offs < shape` check and read padding there.
Every result is compared with numpy and with the CPU target."""

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import profile


@jl.jit
def bp_copy(X, Y, M, N, BM: tl.constexpr, BN: tl.constexpr):
    p = tl.make_block_ptr(X, (M, N), (N, 1), (tl.program_id(0) * BM, 0), (BM, BN), (1, 0))
    x = tl.load(p, boundary_check=(0, 1), padding_option="zero")
    q = tl.make_block_ptr(Y, (M, N), (N, 1), (tl.program_id(0) * BM, 0), (BM, BN), (1, 0))
    tl.store(q, x * 2, boundary_check=(0, 1))


@jl.jit
def desc_copy(X, Y, M, N, BM: tl.constexpr, BN: tl.constexpr):
    a = tl.make_tensor_descriptor(X, [M, N], [N, 1], [BM, BN])
    d = tl.make_tensor_descriptor(Y, [M, N], [N, 1], [BM, BN])
    x = a.load([tl.program_id(0) * BM, tl.program_id(1) * BN])
    d.store([tl.program_id(0) * BM, tl.program_id(1) * BN], x * 2)


@jl.jit
def bp_shifted(X, Y, M, N, S, BM: tl.constexpr, BN: tl.constexpr):
    # a window S rows up (S may be negative: the rows above the tensor read NaN padding),
    # stored through a window at a provably non-negative offset
    p = tl.make_block_ptr(X, (M, N), (N, 1), (tl.program_id(0) * BM, 0), (BM, BN), (1, 0))
    p = tl.advance(p, (S, 0))
    x = tl.load(p, boundary_check=(0, 1), padding_option="nan")
    q = tl.make_block_ptr(Y, (M, N), (N, 1), (tl.program_id(0) * BM, 0), (BM, BN), (1, 0))
    tl.store(q, x, boundary_check=(0, 1))


def _ref_copy(x):
    return x * 2


def _run(kernel, grid, x, *rest, **meta):
    out = {}
    for target in ("cpu", "accel"):
        y = np.full_like(x, -7.0)
        kernel[grid](x, y, *rest, target=target, **meta)
        out[target] = y
    return out


@pytest.mark.parametrize("M,N", [(128, 64), (100, 60), (1, 17)])
def test_block_ptr_load_store_are_access_patterns(M, N):
    rng = np.random.default_rng(M * N)
    x = rng.standard_normal((M, N)).astype(np.float32)
    grid = (-(-M // 64),)
    out = _run(bp_copy, grid, x, M, N, BM=64, BN=64)
    np.testing.assert_array_equal(out["cpu"], _ref_copy(x))
    np.testing.assert_array_equal(out["accel"], out["cpu"])
    y = np.zeros_like(x)
    counts = profile(bp_copy, grid, x, y, M, N, BM=64, BN=64).engine_counts
    np.testing.assert_array_equal(y, _ref_copy(x))
    # one load and one store DMA per program; no gather/scatter index work
    assert counts["DMA"] == 2 * grid[0], counts
    assert counts["DVE"] == 0 and counts["POOL"] == 0, counts


@pytest.mark.parametrize("M,N", [(128, 128), (70, 90)])
def test_tensor_descriptor_load_store_are_access_patterns(M, N):
    rng = np.random.default_rng(M + N)
    x = rng.standard_normal((M, N)).astype(np.float32)
    grid = (-(-M // 32), -(-N // 64))
    out = _run(desc_copy, grid, x, M, N, BM=32, BN=64)
    np.testing.assert_array_equal(out["cpu"], x * 2)
    np.testing.assert_array_equal(out["accel"], out["cpu"])
    y = np.zeros_like(x)
    counts = profile(desc_copy, grid, x, y, M, N, BM=32, BN=64).engine_counts
    np.testing.assert_array_equal(y, x * 2)
    assert counts["DMA"] == 2 * grid[0] * grid[1], counts
    assert counts["DVE"] == 0 and counts["POOL"] == 0, counts


@pytest.mark.parametrize("S", [-5, -64, 0, 3, 70])
def test_block_ptr_negative_offsets_read_padding(S):
    M, N = 100, 48
    rng = np.random.default_rng(abs(S) + 1)
    x = rng.standard_normal((M, N)).astype(np.float32)
    ref = np.full((M, N), np.nan, np.float32)
    for r in range(M):
        src = r + S
        if 0 <= src < M:
            ref[r] = x[src]
    out = _run(bp_shifted, (2,), x, M, N, S, BM=64, BN=64)
    np.testing.assert_array_equal(out["cpu"], ref)
    np.testing.assert_array_equal(out["accel"], ref)


def test_lower_bound_kept_for_possibly_negative_offsets():
    # the advanced window's offset pid*BM + S is a run-time value that may be negative: its
    # mask keeps `offs >= 0` (the store's window, at pid*BM, has upper bounds only)
    k = bp_shifted.warmup(
        np.zeros((100, 48), np.float32), np.zeros((100, 48), np.float32), 100, 48, -5,
        BM=64, BN=64, target="cpu",
    )
    tile = k.asm["tile"]
    assert tile.count("cmp ge") == 1, tile
