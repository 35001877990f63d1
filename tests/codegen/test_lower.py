"""CPU code generation: LLVM IR validity (parsed back by LLVM) and the access strategy chosen."""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from codegen.cpu.engine import host_target_machine
from codegen.cpu.lower import lanes_for, lower_to_llvm
from codegen.cpu.target import CpuTarget, cpu_target
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.passes.axisinfo import analyze
from tests.irutil import kernel_ir

AVX2 = CpuTarget(cpu="x86-64-v3", vector_bytes=32, vector_registers=16)


def _llvm(jf, *args, target=None, **kw) -> str:
    fn = optimize_tile_ir(kernel_ir(jf, *args, **kw), CompileOptions())
    mod, _ = lower_to_llvm(fn, analyze(fn), fn.name, False, target or cpu_target())
    text = str(mod)
    host_target_machine()  # initializes LLVM
    parsed = llvm.parse_assembly(text)
    parsed.verify()
    return text


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(
        out_ptr + offs,
        tl.load(x_ptr + offs, mask=mask) + tl.load(y_ptr + offs, mask=mask),
        mask=mask,
    )


@jl.jit
def gather_kernel(x_ptr, idx_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    idx = tl.load(idx_ptr + offs)
    tl.store(out_ptr + offs * 3, tl.load(x_ptr + idx))


@jl.jit
def math_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(out_ptr + offs, tl.exp(x) + tl.log(x) + tl.sin(x))


X = np.zeros(256, np.float32)
I = np.zeros(256, np.int32)


def test_contiguous_masked_access_becomes_masked_vector_ops():
    text = _llvm(add_kernel, X, X, X, 100, BLOCK=256)
    w = cpu_target().max_lanes
    assert f"llvm.masked.load.v{w}f32" in text
    assert f"llvm.masked.store.v{w}f32" in text
    assert "gather" not in text and "scatter" not in text


def test_unknown_addresses_become_gathers_and_scatters():
    text = _llvm(gather_kernel, X, I, X, BLOCK=256)
    w = cpu_target().max_lanes
    assert f"llvm.masked.gather.v{w}f32" in text
    assert f"llvm.masked.scatter.v{w}f32" in text


def test_math_uses_our_vector_routines_not_libm():
    text = _llvm(math_kernel, X, X, BLOCK=256)
    assert "@expf" not in text and "@llvm.exp." not in text
    assert "jl." in text  # internal vecmath functions


def test_block_is_processed_in_a_chunk_loop_not_one_giant_vector():
    text = _llvm(add_kernel, X, X, X, 100, BLOCK=4096)
    assert "<4096 x" not in text
    assert "d0.header" in text  # the chunk loop


def test_lane_choice():
    assert lanes_for((1024,), 16) == 16
    assert lanes_for((1024,), 8) == 8
    assert lanes_for((8,), 16) == 8
    assert lanes_for((4, 1), 16) == 1
    assert lanes_for((3, 12), 16) == 4


@jl.jit
def masked_2d(p, out, N, BN: tl.constexpr, D: tl.constexpr):
    rn = tl.arange(0, BN)
    rd = tl.arange(0, D)
    offs = rn[:, None] * D + rd[None, :]
    x = tl.load(p + offs, mask=(rn[:, None] < N) & (rd[None, :] < D), other=-1.0)
    tl.store(out + offs, x, mask=rn[:, None] < N)


def test_masked_accesses_never_exceed_one_register():
    """LLVM 22 miscompiles masked accesses wider than an AVX2 register (issue 10): none is
    emitted, whatever the element type."""
    import re

    for dt, widest in ((np.float32, 8), (np.float64, 4), (np.float16, 16)):
        x = np.zeros(16 * 32, dt)
        text = _llvm(masked_2d, x, x, 13, BN=16, D=32, target=AVX2)
        lanes = [int(n) for n in re.findall(r"llvm\.masked\.\w+\.v(\d+)", text)]
        assert lanes and max(lanes) <= widest, (dt, sorted(set(lanes)))


def test_full_chunks_take_plain_vector_accesses():
    """A masked contiguous access tests its chunk's mask: all lanes on -> a plain vector
    load/store; the masked intrinsic only for the partial chunk."""
    text = _llvm(add_kernel, X, X, X, 100, BLOCK=256)
    w = cpu_target().max_lanes
    assert f"load <{w} x float>" in text
    assert f"store <{w} x float>" in text


@jl.jit
def data_mask(x_ptr, m_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = tl.load(m_ptr + offs) > 0
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m), mask=m)


def test_other_masks_are_tested_lane_by_lane():
    text = _llvm(data_mask, X, I, X, BLOCK=256)
    assert "llvm.vector.reduce.and" in text


def test_bounds_masks_are_tested_from_one_lane():
    """`offs < n` (offs stepping by one, n uniform): a full chunk is one scalar compare of its
    last lane, and the vector mask is only built for the partial chunk."""
    text = _llvm(add_kernel, X, X, X, 100, BLOCK=256)
    assert "llvm.vector.reduce.and" not in text
    assert "icmp slt i64" in text


@jl.jit
def mask_forms(x_ptr, out_ptr, n, lo, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = (offs < n) & (n > offs) & (offs >= lo) & (offs <= n - 1)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m, other=-1.0), mask=m)


@pytest.mark.parametrize(
    "n,lo", [(0, 0), (1, 0), (7, 3), (8, 0), (9, 2), (16, 8), (37, 9), (64, 0)]
)
def test_mask_forms_against_numpy(n, lo):
    x = np.arange(64, dtype=np.float32)
    out = np.full(64, 7.0, np.float32)
    mask_forms[(1,)](x, out, n, lo, BLOCK=64)
    i = np.arange(64)
    m = (i < n) & (i >= lo)
    np.testing.assert_array_equal(out, np.where(m, x, 7.0))
