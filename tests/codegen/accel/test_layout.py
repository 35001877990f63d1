"""The accel layout pass: partitions per block, convert_layout where consumers disagree, access
kinds, values folded into access patterns, and the fp64/int64 limit."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.ir import OpKind, walk
from jitlang.passes.accel_layout import AccelLayout, TargetLimitError
from tests.codegen.accel.helpers import plan_of
from tests.e2e.accel_kernels import add_kernel


def _results(plan, kind):
    return [op.result for op in walk(plan.fn.body) if op.kind is kind]


def test_vector_add_layouts_and_access_patterns():
    x = np.zeros(4096, np.float32)
    plan = plan_of(add_kernel, x, x, x, 4096, BLOCK=1024)
    loads = _results(plan, OpKind.LOAD)
    assert [plan.layouts[v.id] for v in loads] == [AccelLayout(128, 8)] * 2
    assert {a.kind for a in plan.access.values()} == {"ap"}
    # pointers, offsets and the mask only feed access patterns: nothing computes them
    for op in walk(plan.fn.body):
        if op.kind in (OpKind.PTR_ADD, OpKind.SPLAT, OpKind.CMP, OpKind.MAKE_RANGE):
            assert op.result.id not in plan.needed
    assert plan.converts == 0


@jl.jit
def outer(x_ptr, y_ptr, out_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    a = tl.load(x_ptr + i)
    b = tl.load(y_ptr + i) * 2.0
    tl.store(out_ptr + i[:, None] * N + i[None, :], a[:, None] + b[None, :])


def test_rows_are_produced_on_one_partition_and_conflicts_convert():
    x = np.zeros(64, np.float32)
    plan = plan_of(outer, x, x, np.zeros(64 * 64, np.float32), N=64)
    loads = _results(plan, OpKind.LOAD)
    # a feeds a[:, None] (rows on partitions), b only feeds b[None, :] (one partition)
    assert plan.layouts[loads[0].id] == AccelLayout(64, 1)
    assert plan.layouts[loads[1].id] == AccelLayout(1, 64)
    sums = [r for r in _results(plan, OpKind.BINARY) if r.type.shape == (64, 64)]
    assert plan.layouts[sums[-1].id] == AccelLayout(64, 64)


@jl.jit
def mixed(x_ptr, out_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    a = tl.load(x_ptr + i)
    tl.store(out_ptr + i[:, None] * N + i[None, :], a[:, None] + a[None, :])


def test_a_value_wanted_both_ways_gets_a_convert_layout():
    x = np.zeros(32, np.float32)
    plan = plan_of(mixed, x, np.zeros(32 * 32, np.float32), N=32)
    converts = [
        op
        for op in walk(plan.fn.body)
        if op.kind is OpKind.CONVERT_LAYOUT and op.result.id in plan.needed
    ]
    assert len(converts) == 1  # (the index range converts too, but only feeds addresses)
    assert converts[0].attr.kind == "accel:p1"
    assert plan.layouts[converts[0].result.id] == AccelLayout(1, 32)


@jl.jit
def masked_2d(x_ptr, out_ptr, M, N: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr):
    r = tl.arange(0, BM)
    c = tl.arange(0, BN)
    m = (r[:, None] < M) & (c[None, :] < N)
    x = tl.load(x_ptr + r[:, None] * N + c[None, :], mask=m, other=0.0)
    tl.store(out_ptr + r[:, None] * N + c[None, :], x, mask=m)


def test_rectangular_masks_become_per_dimension_bounds():
    x = np.zeros(100, np.float32)
    plan = plan_of(masked_2d, x, x, 10, N=10, BM=16, BN=16)
    (load,) = [op for op in walk(plan.fn.body) if op.kind is OpKind.LOAD]
    acc = plan.access[id(load)]
    assert acc.kind == "ap" and sorted(b.dim for b in acc.bounds) == [0, 1]
    assert acc.ptr.off.dims == (10, 1)


@jl.jit
def gathered(x_ptr, idx_ptr, out_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    j = tl.load(idx_ptr + i)
    tl.store(out_ptr + i, tl.load(x_ptr + j))


def test_data_dependent_pointers_gather():
    x = np.zeros(64, np.float32)
    plan = plan_of(gathered, x, np.zeros(64, np.int32), x, N=64)
    kinds = [plan.access[id(op)].kind for op in walk(plan.fn.body) if op.kind is OpKind.LOAD]
    assert kinds == ["ap", "gather"]


@jl.jit
def wide(x_ptr, out_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    tl.store(out_ptr + i, tl.load(x_ptr + i) * 2)


def test_fp64_blocks_are_a_compile_error_naming_line_and_dtype():
    x = np.zeros(16, np.float64)
    with pytest.raises(TargetLimitError, match=r"test_layout.py:\d+:\d+: .*fp64") as e:
        plan_of(wide, x, x, N=16)
    assert "tl.load(x_ptr + i) * 2" in str(e.value)


def test_fp64_error_reaches_the_user_without_compiler_frames():
    x = np.zeros(16, np.float64)
    with pytest.raises(jl.CompilationError) as e:
        wide[(1,)](x, x, N=16, target="accel")
    files = [tb.tb_frame.f_code.co_filename for tb in _frames(e.value)]
    assert not [f for f in files if "/passes/" in f or "/codegen/accel/" in f and "tests" not in f]
    assert "int32" in str(e.value) or "float32" in str(e.value)


def _frames(err):
    tb = err.__traceback__
    while tb is not None:
        yield tb
        tb = tb.tb_next


@jl.jit
def dots(a_ptr, b_ptr, c_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    a = tl.load(a_ptr + i[:, None] * N + i[None, :])
    b = tl.load(b_ptr + i[:, None] * N + i[None, :])
    c = tl.dot(a, b)  # a straight from memory: its DMA transposes it
    d = tl.dot(b * 2.0, b)  # a computed operand: an explicit convert_layout (PE transposes)
    tl.store(c_ptr + i[:, None] * N + i[None, :], c + d)


def test_dot_stationary_operands_lie_as_k_by_m():
    x = np.zeros((16, 16), np.float32)
    plan = plan_of(dots, x, x, x, N=16)
    d1, d2 = [op for op in walk(plan.fn.body) if op.kind is OpKind.DOT]
    load_a = plan.producers[d1.operands[0].id]
    assert load_a.kind is OpKind.LOAD and plan.access[id(load_a)].kind == "ap"
    a1 = plan.layouts[load_a.result.id]
    assert a1.transposed and a1.pn == 16 and str(a1) == "sbuf[16x16T]"  # K on partitions
    conv = plan.producers[d2.operands[0].id]
    assert conv.kind is OpKind.CONVERT_LAYOUT and conv.attr.kind == "accel:p16T"


def test_a_large_stationary_load_is_transposed_on_the_pe_not_by_its_dma():
    # a transposing DMA costs a descriptor per element (DMA_TRANSPOSE_MAX)
    x = np.zeros((64, 64), np.float32)
    plan = plan_of(dots, x, x, x, N=64)
    d1 = next(op for op in walk(plan.fn.body) if op.kind is OpKind.DOT)
    conv = plan.producers[d1.operands[0].id]
    assert conv.kind is OpKind.CONVERT_LAYOUT and conv.attr.kind == "accel:p64T"
    assert not plan.layouts[conv.operands[0].id].transposed


def test_a_loop_invariant_conversion_runs_once_before_the_loop():
    """Triton's attention: `q`, loaded before the K/V loop, is the stationary operand of
    `tl.dot(q, k)` in every iteration; its transposing convert_layout runs before the loop(s)
    (full blocks, tail), not in them. Values against the CPU are covered by
    tests/codegen/accel/test_full_blocks_step.py."""
    from tests.e2e import tutorial_kernels as tk

    q = np.zeros((1, 40, 16), np.float16)
    args = (q, q, q, 0.3, q, 16, 16, 16, 16, 40)
    plan = plan_of(tk.attn_fwd, *args, HEAD_DIM=16, BLOCK_M=16, BLOCK_N=16)
    loops = [op for op in plan.fn.body.ops if op.kind is OpKind.FOR]
    assert len(loops) >= 2  # full blocks (unrolled by multi_buffer, a remainder) and the tail
    (q_load,) = [op for op in plan.fn.body.ops if op.kind is OpKind.LOAD]
    before = [
        op
        for op in plan.fn.body.ops
        if op.kind is OpKind.CONVERT_LAYOUT and op.operands[0] is q_load.result
    ]
    assert before and plan.layouts[before[0].result.id].transposed
    for loop in loops:
        inside = [op for op in walk(loop.regions[0]) if op.kind is OpKind.CONVERT_LAYOUT]
        assert all(op.operands[0] is not q_load.result for op in inside)
