"""The program-batching pass (jitlang/passes/accel_batch.py) on printed tile IR: what it
rewrites, the verifier after it, and every reason it leaves a kernel alone."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.ir import BlockType, OpKind, walk
from jitlang.passes.accel_batch import (
    BATCH_PARAM,
    NotBatchable,
    batch_programs,
    batchable,
)
from jitlang.passes.accel_batch_masks import version_masks
from jitlang.printer import print_function
from jitlang.verifier import verify
from tests.irutil import kernel_ir

X = np.zeros(4096, np.float32)


def _ir(jf, *args, **kw):
    return optimize_tile_ir(kernel_ir(jf, *args, **kw), CompileOptions(target="accel"))


@jl.jit
def row_max(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    v = tl.load(x_ptr + row * BLOCK + cols, mask=cols < n, other=0.0)
    tl.store(o_ptr + row, tl.max(v, axis=0))


@jl.jit
def add(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(o_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + 1.0, mask=offs < n)


@jl.jit
def strided(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    for r in range(tl.program_id(0), n, tl.num_programs(0)):
        tl.store(o_ptr + r * BLOCK + cols, tl.load(x_ptr + r * BLOCK + cols))


def test_rows_on_a_leading_batch_dimension():
    fn = batch_programs(_ir(row_max, X, X, 16, BLOCK=32), 128)
    verify(fn)
    assert fn.params[-1].name == BATCH_PARAM
    text = print_function(fn)
    assert "reduce axis=1 max" in text
    loads = [op for op in walk(fn.body) if op.kind is OpKind.LOAD]
    stores = [op for op in walk(fn.body) if op.kind is OpKind.STORE]
    assert loads[0].result.type == BlockType((128, 32), loads[0].result.type.elem)
    # the scalar store of each program is a [128] store, masked by the lanes below the grid
    assert stores[0].operands[0].type.shape == (128,) and len(stores[0].operands) == 3


def test_grid_stride_loop_runs_the_first_lane_trip_count():
    fn = batch_programs(_ir(strided, X, X, 100, BLOCK=16), 64)
    verify(fn)
    loop = next(op for op in walk(fn.body) if op.kind is OpKind.FOR)
    assert loop.regions[0].args[0].type == loop.operands[0].type  # a scalar induction variable
    store = next(op for op in walk(loop.regions[0]) if op.kind is OpKind.STORE)
    assert store.operands[0].type.shape == (64, 16) and len(store.operands) == 3


def test_flat_block_masks_are_versioned():
    fn = batch_programs(_ir(add, X, X, 1000, BLOCK=64), 128)
    fn = version_masks(fn)
    verify(fn)
    ifs = [op for op in walk(fn.body) if op.kind is OpKind.IF]
    assert len(ifs) == 2  # the load and the store
    then_load = next(op for op in ifs[0].regions[0].ops if op.kind is OpKind.LOAD)
    else_load = next(op for op in ifs[0].regions[1].ops if op.kind is OpKind.LOAD)
    assert then_load.operands[1] is not else_load.operands[1]  # the lanes' mask only


@jl.jit
def atomic_k(x_ptr, o_ptr, BLOCK: tl.constexpr):
    tl.atomic_add(o_ptr, tl.sum(tl.load(x_ptr + tl.program_id(0) * BLOCK + tl.arange(0, BLOCK))))


@jl.jit
def if_k(x_ptr, o_ptr, BLOCK: tl.constexpr):
    if tl.program_id(0) == 1:
        tl.store(o_ptr + tl.arange(0, BLOCK), tl.load(x_ptr + tl.arange(0, BLOCK)))


@jl.jit
def shared_k(x_ptr, o_ptr, BLOCK: tl.constexpr):
    v = tl.load(x_ptr + tl.program_id(0) * BLOCK + tl.arange(0, BLOCK))
    tl.store(o_ptr + tl.arange(0, BLOCK), v)


@jl.jit
def bound_k(x_ptr, o_ptr, BLOCK: tl.constexpr):
    for i in range(0, tl.program_id(0)):
        tl.store(
            o_ptr + tl.program_id(0) * BLOCK + tl.arange(0, BLOCK),
            tl.zeros([BLOCK], tl.float32) + i,
        )


@jl.jit
def print_k(x_ptr, BLOCK: tl.constexpr):
    tl.device_print("x", tl.load(x_ptr + tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)))


@jl.jit
def no_pid_k(x_ptr, o_ptr, BLOCK: tl.constexpr):
    tl.store(o_ptr + tl.arange(0, BLOCK), tl.load(x_ptr + tl.arange(0, BLOCK)))


@pytest.mark.parametrize(
    "jf,args,reason",
    [
        (atomic_k, (X, X), "atomic"),
        (if_k, (X, X), "condition varies"),
        (shared_k, (X, X), "shares"),
        (bound_k, (X, X), "loop bound varies"),
        (print_k, (X,), "print"),
        (no_pid_k, (X, X), "does not use program_id(0)"),
    ],
)
def test_not_batchable(jf, args, reason):
    fn = _ir(jf, *args, BLOCK=16)
    why = batchable(fn)
    assert why is not None and reason in why, why
    with pytest.raises(NotBatchable):
        batch_programs(fn, 128)


@jl.jit
def row_loop(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    acc = tl.zeros([BLOCK], tl.float32)
    for off in range(0, n, BLOCK):
        acc += tl.load(x_ptr + tl.program_id(0) * n + off + tl.arange(0, BLOCK))
    tl.store(o_ptr + tl.program_id(0) * BLOCK + tl.arange(0, BLOCK), acc)


def test_two_groups_side_by_side():
    fn = batch_programs(_ir(strided, X, X, 100, BLOCK=16), 64, copies=2)
    verify(fn)
    loop = next(op for op in walk(fn.body) if op.kind is OpKind.FOR)
    body = loop.regions[0].ops
    loads = [op for op in body if op.kind is OpKind.LOAD]
    stores = [op for op in body if op.kind is OpKind.STORE]
    assert len(loads) == len(stores) == 2  # one per group, each its own [64, 16] tile
    assert all(op.result.type.shape == (64, 16) for op in loads)
    # group 0 loads, then group 1 loads, before either stores (op by op, side by side)
    assert body.index(loads[1]) < body.index(stores[0])


def test_two_groups_carry_their_own_loop_values():
    fn = batch_programs(_ir(row_loop, X, X, 64, BLOCK=16), 128, copies=2)
    verify(fn)
    loop = next(op for op in walk(fn.body) if op.kind is OpKind.FOR)
    assert len(loop.results) == 2  # each group carries its own accumulator
