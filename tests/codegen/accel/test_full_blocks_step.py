"""Step "full_blocks" (jitlang/passes/accel_full_blocks.py, `split_loops_once`): every kernel,
not only batched ones, runs a masked row loop's full blocks without the mask. Triton's attention
forward (its K/V loop masked by `cols < N_CTX` at a run-time N_CTX) against the CPU with a
partial last block, the split done once, and its effect on the timing model."""

from __future__ import annotations

import numpy as np

import codegen.accel.target as T
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.ir import OpKind, walk
from jitlang.passes.accel_full_blocks import split_loops_once
from jitlang.passes.dce import dce
from jitlang.testing import cross_check
from jitlang.verifier import verify
from tests.codegen.accel.test_act_ts import _run, _without
from tests.e2e import tutorial_kernels as tk
from tests.irutil import kernel_ir


def _attn_args(heads, n_ctx, d, seed=0):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((heads, n_ctx, d)).astype(np.float16) for _ in range(3))
    return q, k, v, 0.3, np.zeros((heads, n_ctx, d), np.float16), d, d, d, d, n_ctx


def _for_loops(fn):
    return [op for op in walk(fn.body) if op.kind is OpKind.FOR]


def test_the_attention_loop_splits_once_into_full_blocks_and_a_tail():
    args = _attn_args(1, 40, 16)
    meta = dict(HEAD_DIM=16, BLOCK_M=16, BLOCK_N=16)
    fn = optimize_tile_ir(kernel_ir(tk.attn_fwd, *args, **meta), CompileOptions(target="accel"))
    assert len(_for_loops(fn)) == 1
    selects = sum(op.kind is OpKind.SELECT for op in walk(fn.body))
    fn = dce(split_loops_once(fn))
    verify(fn)
    full, tail = _for_loops(fn)
    # the full loop has no `where(cols < N_CTX, ...)` and unmasked K/V loads; the tail keeps them
    assert not any(op.kind is OpKind.SELECT for op in walk(full.regions[0]))
    assert sum(op.kind is OpKind.SELECT for op in walk(tail.regions[0])) == selects
    loads = [op for op in walk(full.regions[0]) if op.kind is OpKind.LOAD]
    assert loads and all(len(op.operands) == 1 for op in loads)
    # a second run leaves the tail (it runs once at most) alone
    fn = dce(split_loops_once(fn))
    assert len(_for_loops(fn)) == 2


def test_attention_with_a_partial_last_block_matches_the_cpu():
    # N_CTX 200 = 3 full blocks of 64 and a partial one of 8: both loops run
    args = _attn_args(2, 200, 32, seed=4)
    meta = dict(HEAD_DIM=32, BLOCK_M=64, BLOCK_N=64)
    cross_check(tk.attn_fwd, (4, 2), *args, targets=("cpu", "accel"), **meta)


def test_full_blocks_halves_the_modelled_attention():
    # 4 heads x 512 x 64 fp16 on nc-v2, timing only: the row mask went to every partition
    # through an SBUF->SBUF DMA each K/V iteration, on the loop's critical path
    args = _attn_args(4, 512, 64)
    args = tuple(np.zeros_like(a) if isinstance(a, np.ndarray) else a for a in args)
    meta = dict(HEAD_DIM=64, BLOCK_M=128, BLOCK_N=128)
    grid = (4, 4)
    _, off = _run(tk.attn_fwd, grid, args, _without("full_blocks"), **meta)
    _, on = _run(tk.attn_fwd, grid, args, T.OPT_STEPS, **meta)
    assert on["time_ns"] < 0.7 * off["time_ns"], (off["time_ns"], on["time_ns"])
