"""Grid-stride (persistent) kernels on the CPU run their programs in lockstep: round k runs
iteration k of every program of a call (codegen.cpu.lower.lockstep_loop), so a persistent softmax
walks rows in order. Each program still runs its own iterations in order, which these kernels
check: a chain whose iteration k reads what iteration k - 1 of the same program wrote."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from codegen.cpu.lower import lockstep_loop
from jitlang.compiler import CompileOptions, optimize_tile_ir
from tests.codegen.test_lower import _llvm, kernel_ir
from tests.e2e.tutorial_kernels import softmax_kernel


@jl.jit
def chain(x_ptr, n, BLOCK: tl.constexpr):
    # row i = row i - P + 1 for rows P.., in each program's own order
    pid = tl.program_id(0)
    P = tl.num_programs(0)
    cols = tl.arange(0, BLOCK)
    for i in range(pid + P, n, P):
        prev = tl.load(x_ptr + (i - P) * BLOCK + cols)
        tl.store(x_ptr + i * BLOCK + cols, prev + 1.0)


@jl.jit
def not_lockstep(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    # a store before the loop: programs are not interleaved
    pid = tl.program_id(0)
    tl.store(o_ptr + pid, pid)
    for i in range(pid, n, tl.num_programs(0)):
        tl.store(x_ptr + i * BLOCK + tl.arange(0, BLOCK), tl.zeros([BLOCK], tl.float32) + i)


def _softmax_ref(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("programs", [1, 3, 8, 64, 200, 300])
def test_persistent_softmax_any_grid(programs):
    rows, cols = 200, 96
    x = np.random.default_rng(programs).standard_normal((rows, cols)).astype(np.float32)
    y = np.full_like(x, np.nan)
    softmax_kernel[(programs,)](y, x, cols, cols, rows, cols, BLOCK_SIZE=128, target="cpu")
    np.testing.assert_allclose(y, _softmax_ref(x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("programs", [1, 2, 5, 16])
def test_each_program_keeps_its_iteration_order(programs):
    n, block = 40, 16
    x = np.zeros((n, block), np.float32)
    x[:programs] = np.arange(programs, dtype=np.float32)[:, None]
    chain[(programs,)](x, n, BLOCK=block, target="cpu")
    want = (np.arange(n) % programs + np.arange(n) // programs).astype(np.float32)
    np.testing.assert_array_equal(x, np.repeat(want[:, None], block, axis=1))


@pytest.mark.parametrize(
    "jf,args,const,lock",
    [
        (softmax_kernel, "softmax", {"BLOCK_SIZE": 128}, True),
        (chain, "chain", {"BLOCK": 16}, True),
        (not_lockstep, "not", {"BLOCK": 16}, False),
    ],
)
def test_which_kernels_run_in_lockstep(jf, args, const, lock):
    x = np.zeros((8, 128), np.float32)
    o = np.zeros(8, np.int32)
    a = {"softmax": (x, x, 128, 128, 8, 128), "chain": (x, 8), "not": (x, o, 8)}[args]
    fn = optimize_tile_ir(kernel_ir(jf, *a, **const), CompileOptions())
    assert (lockstep_loop(fn) is not None) is lock
    assert "round" in _llvm(jf, *a, **const) if lock else True


def test_a_kernel_with_a_store_before_its_loop_is_exact():
    n, block = 10, 16
    x = np.zeros((n, block), np.float32)
    o = np.zeros(4, np.int32)
    not_lockstep[(4,)](x, o, n, BLOCK=block, target="cpu")
    np.testing.assert_array_equal(o, np.arange(4))
    np.testing.assert_array_equal(x, np.repeat(np.arange(n, dtype=np.float32)[:, None], block, 1))
