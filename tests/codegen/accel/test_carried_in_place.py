"""Loop-carried blocks updated in place (jitlang/passes/accel_memory.py `_in_place_chains`,
`_loop_to_loop`): the element-wise chain from a loop's carried block to its yield, and a loop
whose init is the previous loop's result, share the carried buffer, so no vector-engine copy is
made per iteration or between the loops; checked on the plan, against numpy, inside an outer
loop (where sharing would be wrong), and on the timing model. A carried block the body never
reads still has its buffer."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.ir import OpKind
from jitlang.testing import cross_check, profile
from tests.codegen.accel.helpers import memory_of


@jl.jit
def two_loops(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], tl.float32)
    for i in range(n):
        acc = (acc + tl.load(x_ptr + i * BLOCK + cols)) * 0.5
    for i in range(n):
        acc = tl.maximum(acc, tl.load(x_ptr + i * BLOCK + cols) - 1.0)
    tl.store(o_ptr + cols, acc)


def _ref(x, n, block):
    acc = np.zeros(block, np.float32)
    for i in range(n):
        acc = (acc + x[i * block : (i + 1) * block]) * np.float32(0.5)
    for i in range(n):
        acc = np.maximum(acc, x[i * block : (i + 1) * block] - np.float32(1.0))
    return acc


def test_the_chain_and_the_next_loop_share_the_carried_buffer():
    x = np.zeros(8 * 256, np.float32)
    plan, mem = memory_of(two_loops, x, x, 8, BLOCK=256)
    loops = [op for op in plan.fn.body.ops if op.kind is OpKind.FOR]
    buf = mem.buffers[loops[0].regions[0].args[1].id]
    for loop in loops:
        body = loop.regions[0]
        assert mem.buffers[body.args[1].id] == buf
        assert mem.buffers[body.terminator.operands[0].id] == buf  # the yield: no copy
        assert mem.buffers[loop.results[0].id] == buf


def test_in_place_results_equal_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 3, 8):
        x = rng.standard_normal(n * 256).astype(np.float32)
        o = np.zeros(256, np.float32)
        two_loops[(1,)](x, o, n, target="accel", BLOCK=256)
        np.testing.assert_array_equal(o, _ref(x, n, 256))


@jl.jit
def nested(x_ptr, o_ptr, m, n, BLOCK: tl.constexpr):
    # the inner loops start from `first` on every outer iteration: their buffer must not be
    # first's, which the inner loop overwrites
    cols = tl.arange(0, BLOCK)
    first = tl.zeros([BLOCK], tl.float32)
    for i in range(n):
        first += tl.load(x_ptr + i * BLOCK + cols)
    for j in range(m):
        acc = first
        for i in range(n):
            acc = acc + tl.load(x_ptr + i * BLOCK + cols) * 2.0
        tl.store(o_ptr + j * BLOCK + cols, acc)


def test_an_init_read_by_every_outer_iteration_keeps_its_buffer():
    rng = np.random.default_rng(1)
    n, m, b = 3, 4, 128
    x = rng.standard_normal(n * b).astype(np.float32)
    o = np.zeros(m * b, np.float32)
    nested[(1,)](x, o, m, n, target="accel", BLOCK=b)
    rows = x.reshape(n, b)
    first = np.zeros(b, np.float32)
    for r in rows:
        first = first + r
    acc = first.copy()
    for r in rows:
        acc = acc + r * np.float32(2.0)
    np.testing.assert_array_equal(o, np.tile(acc, m))


def test_no_copies_on_the_vector_engine():
    # before: a copy at each iteration's yield and one between the loops; the zeros are
    # written straight into the carried buffer
    x = np.zeros(8 * 256, np.float32)
    o = np.zeros(256, np.float32)
    p = profile(two_loops, (1,), x, o, 8, BLOCK=256, timing_only=True)
    dve = [r.mnemonic for r in p.records if r.engine.name == "DVE"]
    assert "copy" not in dve, dve


@jl.jit
def overwritten_carry(a, c, n, M: tl.constexpr, DOT: tl.constexpr):
    """acc2's incoming value is never read in the body (overwritten each iteration): it still
    needs a buffer, holding its init when the loop runs no iteration."""
    r = tl.arange(0, M)
    acc1 = tl.zeros((M, M), dtype=tl.float32)
    acc2 = tl.full((M, M), 3.0, dtype=tl.float32)
    for k in range(n):
        x = tl.load(a + k * M * M + r[:, None] * M + r[None, :])
        if DOT:
            d = tl.dot(x, x)
            acc1 = acc1 + d
            acc2 = acc1 + d
        else:
            acc1 = acc1 + x
            acc2 = acc1 * 2.0
    tl.store(c + r[:, None] * M + r[None, :], acc2)


@pytest.mark.parametrize("n", [0, 1, 3])
@pytest.mark.parametrize("dot", [False, True])
def test_a_carried_block_the_body_never_reads_keeps_its_buffer(n, dot):
    # was "internal: value %acc2 ... was not computed" at the store (review of 2026-12-02)
    rng = np.random.default_rng(n)
    a = (rng.integers(-4, 4, (3, 128, 128)) / 4).astype(np.float32)
    out = np.zeros((128, 128), np.float32)
    cross_check(overwritten_carry, (1,), a, out, n, M=128, DOT=dot, targets=("cpu", "accel"))
    want = np.full((128, 128), 3.0, np.float32)
    acc1 = np.zeros((128, 128), np.float64)
    for k in range(n):
        x = a[k].astype(np.float64)
        d = x @ x if dot else x
        acc1 = acc1 + d
        want = (acc1 + d if dot else acc1 * 2.0).astype(np.float32)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-4)
