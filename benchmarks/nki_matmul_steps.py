"""The published record: AWS NKI's matmul tutorial, four steps, timed on the model (nc-v2).

    python benchmarks/nki_matmul_steps.py [--shape M K N] [--config nc-v2] [--json]
                                          [--only isa|jitlang]

NKI's "Matrix multiplication" tutorial takes result[M, N] = lhsT[K, M]^T @ rhs[K, N] in bf16 with
M, K, N = 4096, 8192, 8192 through four kernels on trn1 (NeuronCore-v2) and publishes their
run time and the tensor engine's utilisation:

    step                                  published       tiles (K x M, K x N, M x N)
    1 tiled, loads inside the K loop      51.80 ms 10.98%  128 x 128, 128 x 512, 128 x 512
    2 loads hoisted out of the K loop     42.96 ms 13.24%
    3 free dims blocked (2 x 2 tiles)     22.07 ms 26.51%
    4 free and contraction dims blocked    6.97 ms 85.24%  TILES_IN_BLOCK M 16, N 2, K 8

Each step is timed twice, both in timing-only emulation:
- `isa`: a hand-written ISA program with the kernel's loop structure, tile sizes and SBUF
  buffers, each load split over 4 DMA queues of 32 partitions (NKI spreads one transfer over
  up to 16 DMA engines). This isolates the timing model: it is what the model says about the
  NKI kernel itself.
- `jitlang`: the same loops written as a jitlang kernel in the Triton dialect, compiled by the
  accel backend with its default steps (`codegen.accel.target.OPT_STEPS`: loads hoisted, split
  over DMA queues, multi-buffered; PSUM accumulation). Differences between the two rows are the
  backend's code, not the model. Where the kernels differ from NKI's: steps 2 and 3 load a
  whole [K, M] panel as one block and contract it in one `tl.dot`; step 4 keeps bf16 result
  tiles as NKI's does, with its tile sizes (`step4_blocked_k`; with Triton's fp32 accumulators
  it would need 512-row K blocks, `step4_fp32_acc`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402

import jitlang as jl  # noqa: E402
import jitlang.language as tl  # noqa: E402
from isa.asm import Builder  # noqa: E402
from isa.machine import get_config  # noqa: E402
from isa.operands import Tile, hbm, ps, sb  # noqa: E402
from isa.profile import Profile  # noqa: E402
from isa.runner import run  # noqa: E402
from isa.table import AccMode, ActFn, ReduceOp, TensorOp  # noqa: E402

PUBLISHED = {  # NKI matmul tutorial, trn1: (ms, tensor engine utilisation)
    1: (51.80, 0.1098),
    2: (42.96, 0.1324),
    3: (22.07, 0.2651),
    4: (6.97, 0.8524),
}
NAMES = {
    1: "tiled",
    2: "hoist loads",
    3: "block free dims",
    4: "block free + K dims",
}
TM, TK, TN = 128, 128, 512  # gemm_stationary_fmax, pmax, gemm_moving_fmax
BF16 = 2


# --- hand-written ISA mirrors -------------------------------------------------------------------


class _Prog:
    """A Builder with the helpers the four mirrors share (unrolled: addresses are immediates)."""

    SPLIT = 4  # DMAs per tile transfer (partition slices on consecutive queues)

    def __init__(self, m: int, k: int, n: int):
        self.m, self.k, self.n = m, k, n
        self.b = Builder(file="nki_matmul_steps.py")
        for i, name in enumerate(("lhsT", "rhs", "result")):
            self.b.emit("arg", i + 1, self.b.arg(name))
        self.q = 0

    def _queues(self):
        q = self.q
        self.q = (self.q + self.SPLIT) % 16
        return q

    def load(self, sb_off: int, reg: int, hbm_elem: int, row_stride: int, rows: int, cols: int):
        """rows x cols bf16 from HBM (row stride in elements) to SBUF partitions 0..rows."""
        q0, part = self._queues(), rows // self.SPLIT
        for s in range(self.SPLIT):
            dst = sb("bf16", s * part, part, (1, cols), off=sb_off)
            off = (hbm_elem + s * part * row_stride) * BF16
            src = hbm("bf16", reg, (row_stride, part), (1, cols), off=off)
            self.b.dma_load(q0 + s, dst, src, 0.0)

    def store(self, sb_off: int, hbm_elem: int, cols: int):
        q0, part = self._queues(), TM // self.SPLIT
        for s in range(self.SPLIT):
            src = sb("bf16", s * part, part, (1, cols), off=sb_off)
            off = (hbm_elem + s * part * self.n) * BF16
            self.b.dma_store(q0 + s, hbm("bf16", 3, (self.n, part), (1, cols), off=off), src)

    def matmul(self, bank: int, first: bool, stat_off: int, mov_off: int):
        self.b.matmul(
            AccMode.SET if first else AccMode.ACC,
            ps("f32", 0, TM, (1, TN), off=2048 * bank),
            sb("bf16", 0, TK, (1, TM), off=stat_off),
            sb("bf16", 0, TK, (1, TN), off=mov_off),
        )

    def evacuate(self, bank: int, dst_off: int):
        """PSUM -> SBUF bf16 (nl.copy on the activation engine)."""
        self.b.act(
            ActFn.COPY,
            sb("bf16", 0, TM, (1, TN), off=dst_off),
            ps("f32", 0, TM, (1, TN), off=2048 * bank),
            0.0,
            1.0,
            Tile.NONE,
            ReduceOp.ADD,
        )

    def build(self):
        self.b.halt()
        return self.b.build()


def isa_step1(m: int, k: int, n: int):
    """for m, n: for k: load lhsT[k, m] and rhs[k, n]; psum += matmul. Then copy, store."""
    p = _Prog(m, k, n)
    bufs, it = 4, 0  # rotating SBUF buffers for the loads (the compiler's pipelining)
    a_base, b_base, out_base = 0, 4 * TM * BF16, 4 * TM * BF16 + 4 * TN * BF16
    for mi in range(m // TM):
        for ni in range(n // TN):
            bank = (mi * (n // TN) + ni) % 2
            for ki in range(k // TK):
                a_off = a_base + (it % bufs) * TM * BF16
                b_off = b_base + (it % bufs) * TN * BF16
                it += 1
                p.load(a_off, 1, ki * TK * m + mi * TM, m, TK, TM)
                p.load(b_off, 2, ki * TK * n + ni * TN, n, TK, TN)
                p.matmul(bank, ki == 0, a_off, b_off)
            out_off = out_base + bank * TN * BF16
            p.evacuate(bank, out_off)
            p.store(out_off, mi * TM * n + ni * TN, TN)
    return p.build()


def isa_step2(m: int, k: int, n: int):
    """for m: load all lhsT[:, m] tiles; for n: load all rhs[:, n] tiles; K matmuls."""
    p = _Prog(m, k, n)
    kt = k // TK
    a_size, b_size = kt * TM * BF16, kt * TN * BF16  # one m-column / n-column of tiles
    a_base, b_base = 0, 2 * a_size  # double-buffered
    out_base = b_base + 2 * b_size
    for mi in range(m // TM):
        a = a_base + (mi % 2) * a_size
        for ki in range(kt):
            p.load(a + ki * TM * BF16, 1, ki * TK * m + mi * TM, m, TK, TM)
        for ni in range(n // TN):
            it = mi * (n // TN) + ni
            bb = b_base + (it % 2) * b_size
            for ki in range(kt):
                p.load(bb + ki * TN * BF16, 2, ki * TK * n + ni * TN, n, TK, TN)
            bank = it % 2
            for ki in range(kt):
                p.matmul(bank, ki == 0, a + ki * TM * BF16, bb + ki * TN * BF16)
            out_off = out_base + bank * TN * BF16
            p.evacuate(bank, out_off)
            p.store(out_off, mi * TM * n + ni * TN, TN)
    return p.build()


def isa_step3(m: int, k: int, n: int, bm_tiles: int = 2, bn_tiles: int = 2):
    """Blocks of 2 x 2 output tiles: lhsT and rhs tiles of a block are loaded once."""
    p = _Prog(m, k, n)
    kt = k // TK
    a_size, b_size = bm_tiles * kt * TM * BF16, bn_tiles * kt * TN * BF16
    a_base, b_base = 0, a_size  # single buffers: 32 KiB + 128 KiB of 192 KiB per partition
    out_base = b_base + b_size
    for mb in range(m // (TM * bm_tiles)):
        for bm in range(bm_tiles):
            mi = mb * bm_tiles + bm
            for ki in range(kt):
                off = a_base + (bm * kt + ki) * TM * BF16
                p.load(off, 1, ki * TK * m + mi * TM, m, TK, TM)
        for nb in range(n // (TN * bn_tiles)):
            for bn in range(bn_tiles):
                ni = nb * bn_tiles + bn
                for ki in range(kt):
                    off = b_base + (bn * kt + ki) * TN * BF16
                    p.load(off, 2, ki * TK * n + ni * TN, n, TK, TN)
            for bm in range(bm_tiles):
                for bn in range(bn_tiles):
                    bank = (bm * bn_tiles + bn) % 2
                    for ki in range(kt):
                        stat = a_base + (bm * kt + ki) * TM * BF16
                        mov = b_base + (bn * kt + ki) * TN * BF16
                        p.matmul(bank, ki == 0, stat, mov)
                    out_off = out_base + bank * TN * BF16
                    p.evacuate(bank, out_off)
                    mi, ni = mb * bm_tiles + bm, nb * bn_tiles + bn
                    p.store(out_off, mi * TM * n + ni * TN, TN)
    return p.build()


def isa_step4(m: int, k: int, n: int, tbm: int = 16, tbn: int = 2, tbk: int = 8):
    """NKI's fully optimised kernel: for n-block: for k-block (sequential): load rhs block
    [TILE_K, BLOCK_N] x tbk; for m-block: load lhsT block [TILE_K, BLOCK_M] x tbk; for bn, bm:
    tbk matmuls into PSUM, then result_tiles[m, bm, bn] += psum (DVE). Finally the result tiles
    of each m-tile are packed to [128, BLOCK_N] and stored."""
    p = _Prog(m, k, n)
    tbm, tbn, tbk = min(tbm, m // TM), min(tbn, n // TN), min(tbk, k // TK)  # small shapes
    block_m, block_n, block_k = TM * tbm, TN * tbn, TK * tbk
    nbm = m // block_m
    res_size = nbm * tbm * tbn * TN * BF16  # result_tiles, bf16 in SBUF
    rhs_size, lhs_size = tbk * block_n * BF16, tbk * block_m * BF16
    rhs_base = res_size
    lhs_base = rhs_base + 2 * rhs_size  # double-buffered
    packed_base = lhs_base + 2 * lhs_size
    cfg_bytes = get_config("nc-v2").sbuf_bytes_per_partition
    assert packed_base + 2 * block_n * BF16 <= cfg_bytes, "step 4 buffers exceed SBUF"

    def res_off(mb, bm, bn):
        return ((mb * tbm + bm) * tbn + bn) * TN * BF16

    it = 0
    for nb in range(n // block_n):
        for i in range(nbm * tbm * tbn):  # nl.zeros
            p.b.memset(sb("bf16", 0, TM, (1, TN), off=i * TN * BF16), 0.0)
        for kb in range(k // block_k):
            rhs = rhs_base + (kb % 2) * rhs_size
            for bk in range(tbk):
                row = (kb * tbk + bk) * TK
                p.load(rhs + bk * block_n * BF16, 2, row * n + nb * block_n, n, TK, block_n)
            for mb in range(nbm):
                lhs = lhs_base + (it % 2) * lhs_size
                it += 1
                for bk in range(tbk):
                    row = (kb * tbk + bk) * TK
                    p.load(lhs + bk * block_m * BF16, 1, row * m + mb * block_m, m, TK, block_m)
                for bn in range(tbn):
                    for bm in range(tbm):
                        bank = (bn * tbm + bm) % 4
                        for bk in range(tbk):
                            stat = lhs + (bk * block_m + bm * TM) * BF16
                            mov = rhs + (bk * block_n + bn * TN) * BF16
                            p.matmul(bank, bk == 0, stat, mov)
                        r = sb("bf16", 0, TM, (1, TN), off=res_off(mb, bm, bn))
                        p.b.tt(TensorOp.ADD, r, ps("f32", 0, TM, (1, TN), off=2048 * bank), r)
        for mb in range(nbm):
            for bm in range(tbm):
                packed = packed_base + ((mb * tbm + bm) % 2) * block_n * BF16
                for bn in range(tbn):
                    dst = sb("bf16", 0, TM, (1, TN), off=packed + bn * TN * BF16)
                    p.b.copy(dst, sb("bf16", 0, TM, (1, TN), off=res_off(mb, bm, bn)))
                mi = mb * tbm + bm
                p.store(packed, mi * TM * n + nb * block_n, block_n)
    return p.build()


ISA_STEPS = {1: isa_step1, 2: isa_step2, 3: isa_step3, 4: isa_step4}


def time_isa(step: int, m: int, k: int, n: int, config: str) -> dict:
    t0 = time.perf_counter()
    binary = ISA_STEPS[step](m, k, n)
    t1 = time.perf_counter()
    args = [np.zeros((k, m), ml_dtypes.bfloat16), np.zeros((k, n), ml_dtypes.bfloat16)]
    args.append(np.zeros((m, n), ml_dtypes.bfloat16))
    res = run(binary, args, config=config, record=True, timing_only=True)
    prof = Profile.from_records(res.records, get_config(config), mode="timing-only")
    t2 = time.perf_counter()
    return _row(prof, t1 - t0, t2 - t1)


def _row(prof: Profile, build_s: float, run_s: float) -> dict:
    s = prof.summary()
    return {
        "ms": s["time_ns"] / 1e6,
        "pe_util": s["engines"]["PE"]["utilization"],
        "dma_gbps": s["dma_bytes"] / s["time_ns"],
        "instructions": s["instructions"],
        "bound": s["roofline"]["bound"],
        "build_s": build_s,
        "emulate_s": run_s,
    }


# --- the same steps as jitlang kernels (Triton dialect) -----------------------------------------


@jl.jit
def step1_tiled(
    lhsT_ptr,
    rhs_ptr,
    out_ptr,
    M: tl.constexpr,
    N: tl.constexpr,
    K: tl.constexpr,
    TILE_M: tl.constexpr,
    TILE_N: tl.constexpr,
    TILE_K: tl.constexpr,
):
    rm = tl.arange(0, TILE_M)
    rn = tl.arange(0, TILE_N)
    rk = tl.arange(0, TILE_K)
    for m in range(M // TILE_M):
        for n in range(N // TILE_N):
            acc = tl.zeros((TILE_M, TILE_N), dtype=tl.float32)
            for k in range(K // TILE_K):
                a = tl.load(lhsT_ptr + (k * TILE_K + rk)[None, :] * M + (m * TILE_M + rm)[:, None])
                b = tl.load(rhs_ptr + (k * TILE_K + rk)[:, None] * N + (n * TILE_N + rn)[None, :])
                acc = tl.dot(a, b, acc)
            out = out_ptr + (m * TILE_M + rm)[:, None] * N + (n * TILE_N + rn)[None, :]
            tl.store(out, acc.to(tl.bfloat16))


@jl.jit
def step2_hoisted(
    lhsT_ptr,
    rhs_ptr,
    out_ptr,
    M: tl.constexpr,
    N: tl.constexpr,
    K: tl.constexpr,
    TILE_M: tl.constexpr,
    TILE_N: tl.constexpr,
):
    rm = tl.arange(0, TILE_M)
    rn = tl.arange(0, TILE_N)
    rk = tl.arange(0, K)
    for m in range(M // TILE_M):
        a = tl.load(lhsT_ptr + rk[None, :] * M + (m * TILE_M + rm)[:, None])  # all K, hoisted
        for n in range(N // TILE_N):
            b = tl.load(rhs_ptr + rk[:, None] * N + (n * TILE_N + rn)[None, :])
            acc = tl.dot(a, b)  # the K loop of 128-row tiles is inside the dot
            out = out_ptr + (m * TILE_M + rm)[:, None] * N + (n * TILE_N + rn)[None, :]
            tl.store(out, acc.to(tl.bfloat16))


@jl.jit
def step3_blocked(
    lhsT_ptr,
    rhs_ptr,
    out_ptr,
    M: tl.constexpr,
    N: tl.constexpr,
    K: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    rm = tl.arange(0, BLOCK_M)
    rn = tl.arange(0, BLOCK_N)
    rk = tl.arange(0, K)
    for m in range(M // BLOCK_M):
        a = tl.load(lhsT_ptr + rk[None, :] * M + (m * BLOCK_M + rm)[:, None])
        for n in range(N // BLOCK_N):
            b = tl.load(rhs_ptr + rk[:, None] * N + (n * BLOCK_N + rn)[None, :])
            acc = tl.dot(a, b)
            out = out_ptr + (m * BLOCK_M + rm)[:, None] * N + (n * BLOCK_N + rn)[None, :]
            tl.store(out, acc.to(tl.bfloat16))


@jl.jit
def step4_blocked_k(
    lhsT_ptr,
    rhs_ptr,
    out_ptr,
    M: tl.constexpr,
    N: tl.constexpr,
    K: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # NKI keeps the result of every M row for one N block in SBUF (loop order n, k, m) so that
    # each rhs block is loaded once, as bf16 result tiles that each K block's PSUM sum is added
    # into (`(acc.to(tl.float32) + tl.dot(a, b)).to(tl.bfloat16)`: one read-out that adds and
    # rounds, step "narrow_acc"). A jitlang block holds at most 2^20 elements, so the 4096 rows
    # are four [M/4, BLOCK_N] accumulators (the kernel takes M == 4 * BLOCK_M): 64 KiB of each
    # partition's 192, with NKI's BLOCK_K = 1024.
    rm = tl.arange(0, BLOCK_M)
    rn = tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    for n in range(N // BLOCK_N):
        acc0 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.bfloat16)
        acc1 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.bfloat16)
        acc2 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.bfloat16)
        acc3 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.bfloat16)
        for k in range(K // BLOCK_K):
            b = tl.load(rhs_ptr + (k * BLOCK_K + rk)[:, None] * N + (n * BLOCK_N + rn)[None, :])
            a_rows = lhsT_ptr + (k * BLOCK_K + rk)[None, :] * M + rm[:, None]
            acc0 = (acc0.to(tl.float32) + tl.dot(tl.load(a_rows), b)).to(tl.bfloat16)
            acc1 = (acc1.to(tl.float32) + tl.dot(tl.load(a_rows + BLOCK_M), b)).to(tl.bfloat16)
            a2 = tl.load(a_rows + 2 * BLOCK_M)
            acc2 = (acc2.to(tl.float32) + tl.dot(a2, b)).to(tl.bfloat16)
            a3 = tl.load(a_rows + 3 * BLOCK_M)
            acc3 = (acc3.to(tl.float32) + tl.dot(a3, b)).to(tl.bfloat16)
        out = out_ptr + rm[:, None] * N + (n * BLOCK_N + rn)[None, :]
        tl.store(out, acc0)
        tl.store(out + BLOCK_M * N, acc1)
        tl.store(out + 2 * BLOCK_M * N, acc2)
        tl.store(out + 3 * BLOCK_M * N, acc3)


@jl.jit
def step4_fp32_acc(
    lhsT_ptr,
    rhs_ptr,
    out_ptr,
    M: tl.constexpr,
    N: tl.constexpr,
    K: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # Step 4 with Triton's fp32 accumulation (`step4_blocked_k` with fp32 result tiles; the
    # printed step-4 row before "narrow_acc": 7.78 ms). NKI keeps the result of every M row
    # for one N block in SBUF (loop order n, k, m) so that each rhs block is loaded once. A
    # jitlang block holds at most 2^20 elements, so the 4096 rows
    # are four [M/4, BLOCK_N] accumulators (the kernel takes M == 4 * BLOCK_M). They are fp32
    # (Triton's accumulation; NKI's result tiles are bf16): 128 KiB of each partition's 192,
    # so the launch takes BLOCK_K = 512 (NKI: 1024) for the rhs block and the four lhsT blocks
    # to have a buffer each (`acc += tl.dot(a, b)` accumulates into the SBUF accumulator in
    # place, one PSUM read-out per 4 matmuls).
    rm = tl.arange(0, BLOCK_M)
    rn = tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    for n in range(N // BLOCK_N):
        acc0 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        acc1 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        acc2 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        acc3 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k in range(K // BLOCK_K):
            b = tl.load(rhs_ptr + (k * BLOCK_K + rk)[:, None] * N + (n * BLOCK_N + rn)[None, :])
            a_rows = lhsT_ptr + (k * BLOCK_K + rk)[None, :] * M + rm[:, None]
            acc0 += tl.dot(tl.load(a_rows), b)
            acc1 += tl.dot(tl.load(a_rows + BLOCK_M), b)
            acc2 += tl.dot(tl.load(a_rows + 2 * BLOCK_M), b)
            acc3 += tl.dot(tl.load(a_rows + 3 * BLOCK_M), b)
        out = out_ptr + rm[:, None] * N + (n * BLOCK_N + rn)[None, :]
        tl.store(out, acc0.to(tl.bfloat16))
        tl.store(out + BLOCK_M * N, acc1.to(tl.bfloat16))
        tl.store(out + 2 * BLOCK_M * N, acc2.to(tl.bfloat16))
        tl.store(out + 3 * BLOCK_M * N, acc3.to(tl.bfloat16))


def jitlang_launch(step: int, m: int, k: int, n: int):
    """(kernel, meta) of a step; the grid is (1,): one NeuronCore runs every loop, as in NKI."""
    if step == 1:
        return step1_tiled, dict(M=m, N=n, K=k, TILE_M=TM, TILE_N=TN, TILE_K=TK)
    if step == 2:
        return step2_hoisted, dict(M=m, N=n, K=k, TILE_M=TM, TILE_N=TN)
    if step == 3:
        return step3_blocked, dict(M=m, N=n, K=k, BLOCK_M=2 * TM, BLOCK_N=2 * TN)
    bn, bk = min(2 * TN, n), min(8 * TK, k)  # NKI's BLOCK_N and BLOCK_K
    return step4_blocked_k, dict(M=m, N=n, K=k, BLOCK_M=m // 4, BLOCK_N=bn, BLOCK_K=bk)


def step4_fp32_launch(m: int, k: int, n: int):
    """(kernel, meta) of step 4 with fp32 accumulators (`step4_fp32_acc`, 512-row K blocks)."""
    bn, bk = min(2 * TN, n), min(4 * TK, k)
    return step4_fp32_acc, dict(M=m, N=n, K=k, BLOCK_M=m // 4, BLOCK_N=bn, BLOCK_K=bk)


def time_jitlang(step: int, m: int, k: int, n: int, config: str) -> dict:
    kernel, meta = jitlang_launch(step, m, k, n)
    lhsT = np.zeros((k, m), ml_dtypes.bfloat16)
    rhs = np.zeros((k, n), ml_dtypes.bfloat16)
    out = np.zeros((m, n), ml_dtypes.bfloat16)
    t0 = time.perf_counter()
    kernel.warmup(lhsT, rhs, out, target="accel", **meta)
    t1 = time.perf_counter()
    prof = jl.testing.profile(kernel, (1,), lhsT, rhs, out, config=config, timing_only=True, **meta)
    t2 = time.perf_counter()
    return _row(prof, t1 - t0, t2 - t1)


# --- report -------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--shape", type=int, nargs=3, default=(4096, 8192, 8192), metavar=("M", "K", "N")
    )
    ap.add_argument("--config", default="nc-v2")
    ap.add_argument("--only", choices=("isa", "jitlang"))
    ap.add_argument("--steps", type=int, nargs="*", default=[1, 2, 3, 4])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    m, k, n = args.shape
    out: dict = {"shape": [m, k, n], "config": args.config, "steps": {}}
    for step in args.steps:
        row: dict = {"published_ms": PUBLISHED[step][0], "published_util": PUBLISHED[step][1]}
        if args.only != "jitlang":
            row["isa"] = time_isa(step, m, k, n, args.config)
        if args.only != "isa":
            try:
                row["jitlang"] = time_jitlang(step, m, k, n, args.config)
            except Exception as e:  # reported, the other rows still print
                row["jitlang"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
        out["steps"][step] = row
        if not args.json:
            _print_row(step, row, (m, k, n) == (4096, 8192, 8192))
    if args.json:
        print(json.dumps(out, indent=1))
    return 0


def _print_row(step: int, row: dict, published_shape: bool) -> None:
    if step == 1 or not hasattr(_print_row, "done"):
        _print_row.done = True
        print(
            f"{'step':<26}{'published':>18}  {'model: ISA mirror':>30}  {'model: jitlang kernel':>30}"
        )
    pub = f"{row['published_ms']:.2f} ms {row['published_util']:.1%}" if published_shape else "-"
    cells = []
    for key in ("isa", "jitlang"):
        r = row.get(key)
        if r is None:
            cells.append("-")
        elif "error" in r:
            cells.append(r["error"][:30])
        else:
            ratio = ""
            if published_shape:
                ratio = f" ({r['ms'] / row['published_ms']:.2f}x)"
            cells.append(f"{r['ms']:.2f} ms {r['pe_util']:.1%}{ratio}")
    print(f"{step} {NAMES[step]:<24}{pub:>18}  {cells[0]:>30}  {cells[1]:>30}")
    for key in ("isa", "jitlang"):
        r = row.get(key)
        if r and "error" not in r:
            print(
                f"    {key}: {r['instructions']:,} instructions, DMA {r['dma_gbps']:.0f} GB/s, "
                f"{r['bound']}-bound by roofline, build/compile {r['build_s']:.1f} s, "
                f"timing-only emulation + model {r['emulate_s']:.1f} s"
            )


if __name__ == "__main__":
    raise SystemExit(main())
