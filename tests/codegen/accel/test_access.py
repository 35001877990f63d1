"""Access analysis (jitlang/passes/accel_access.py): which loads become access-pattern DMAs."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.ir import OpKind, walk
from tests.codegen.accel.helpers import plan_of


def _kinds(plan) -> list[str]:
    return [plan.access[id(op)].kind for op in walk(plan.fn.body) if op.kind is OpKind.LOAD]


@jl.jit
def wrapped_rows(x_ptr, o_ptr, M: tl.constexpr, BM: tl.constexpr, OFF: tl.constexpr):
    rows = (tl.program_id(0) * BM + OFF + tl.arange(0, BM)) % M
    tl.store(o_ptr + tl.arange(0, BM), tl.load(x_ptr + rows))


@pytest.mark.parametrize(
    "m,bm,off,kind",
    [
        (256, 64, 0, "ap"),  # pid * 64 % 256 + i never wraps inside a block
        (256, 64, 64, "ap"),  # the offset keeps the multiple of 64
        (200, 64, 0, "gather"),  # 64 does not divide 200: a block may wrap
        (256, 64, 32, "gather"),  # a block straddles the wrap
        (64, 64, 0, "ap"),  # the block alone
    ],
)
def test_a_remainder_is_affine_only_when_no_block_can_wrap(m, bm, off, kind):
    x = np.zeros(m, np.float32)
    assert _kinds(plan_of(wrapped_rows, x, x, M=m, BM=bm, OFF=off)) == [kind]


@jl.jit
def carried_ptrs(x_ptr, o_ptr, n, BK: tl.constexpr, STEP: tl.constexpr):
    ptrs = x_ptr + tl.arange(0, BK)
    acc = tl.zeros((BK,), tl.float32)
    for _ in range(0, n, STEP):
        acc += tl.load(ptrs)
        ptrs += BK
    tl.store(o_ptr + tl.arange(0, BK), acc)


@pytest.mark.parametrize("step,kind", [(1, "ap"), (2, "ap"), (3, "gather")])
def test_a_pointer_advanced_by_a_constant_each_iteration_is_affine(step, kind):
    # in iteration i the pointer is x_ptr + (i / step) * 16: affine when step divides 16 (the
    # loop is unrolled by multi_buffer: the copies and the remainder loop's load alike)
    x = np.zeros(256, np.float32)
    assert set(_kinds(plan_of(carried_ptrs, x, x, 4, BK=16, STEP=step))) == {kind}


def test_carried_pointers_and_wrapped_rows_give_the_right_data():
    x = np.arange(256, dtype=np.float32)
    o = np.zeros(16, np.float32)
    for step in (1, 2, 3):
        carried_ptrs[(1,)](x, o, 12, BK=16, STEP=step, target="accel")
        trips = len(range(0, 12, step))
        np.testing.assert_array_equal(o, x[: 16 * trips].reshape(trips, 16).sum(0))
    o2 = np.zeros(64, np.float32)
    wrapped_rows[(3,)](x, o2, M=256, BM=64, OFF=64, target="accel")  # the last program's block
    np.testing.assert_array_equal(o2, x[(2 * 64 + 64 + np.arange(64)) % 256])


def test_a_carried_pointer_block_that_only_feeds_access_patterns_is_not_computed():
    x = np.zeros(256, np.float32)
    plan = plan_of(carried_ptrs, x, x, 4, BK=16, STEP=1)
    loop = next(op for op in walk(plan.fn.body) if op.kind is OpKind.FOR)
    ptrs, acc = loop.regions[0].args[1:]
    if "ptr" not in str(ptrs.type):
        ptrs, acc = acc, ptrs
    assert ptrs.id not in plan.needed and acc.id in plan.needed
