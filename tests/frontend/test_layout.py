"""Layout pass: dot tiling by the cost model, convert_layout for strided dot operands."""

from __future__ import annotations

import numpy as np

import jitlang as jl
import jitlang.language as tl
from codegen.cpu.target import CpuTarget, cpu_target
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.ir import DotTiling, OpKind, walk
from jitlang.passes.layout import choose_tiling, infer_layouts
from jitlang.printer import print_function
from jitlang.verifier import verify
from tests.irutil import kernel_ir


@jl.jit
def dot_bt(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, K)
    a = tl.load(a_ptr + rm[:, None] * K + rk[None, :])
    bt = tl.load(b_ptr + rn[:, None] * K + rk[None, :])  # B stored transposed: [N, K]
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], tl.dot(a, tl.trans(bt)))


AVX512 = CpuTarget(cpu="x86-64-v4", vector_bytes=64, vector_registers=32)
AVX2 = CpuTarget(cpu="x86-64-v3", vector_bytes=32, vector_registers=16)


def test_tiling_cost_model():
    t = AVX512
    assert choose_tiling(128, 128, 4, t) == choose_tiling(64, 64, 4, t)
    tl_ = choose_tiling(96, 128, 4, t)
    assert (tl_.mr, tl_.nv, tl_.lanes) == (6, 4, 16)
    assert choose_tiling(128, 128, 8, t).lanes == 8  # fp64: 8 lanes per 512-bit register
    assert choose_tiling(1, 1, 4, t).lanes == 1
    for m, n in ((128, 128), (96, 64), (16, 16), (4, 8)):
        tt = choose_tiling(m, n, 4, t)
        assert tt.mr <= m and n % (tt.nv * tt.lanes) == 0
        assert tt.mr * tt.nv + tt.nv <= t.vector_registers - t.reserved_registers


def test_tiling_follows_the_target():
    """AVX2: 8 fp32 lanes and 16 registers, so the micro-kernel fits without spills."""
    t = AVX2
    assert choose_tiling(128, 128, 4, t) == DotTiling(6, 2, 8)  # 12 accumulators, 2 B vectors
    for m, n in ((128, 128), (96, 64), (64, 64), (16, 16)):
        tt = choose_tiling(m, n, 4, t)
        assert tt.lanes == 8
        assert tt.mr * tt.nv + tt.nv <= t.vector_registers - t.reserved_registers
    assert choose_tiling(64, 64, 8, t).lanes == 4
    host = cpu_target()
    assert choose_tiling(64, 64, 4, host).lanes == host.vector_bytes // 4


def test_strided_dot_operand_gets_convert_layout():
    x = np.zeros(64 * 64, np.float32)
    fn = optimize_tile_ir(kernel_ir(dot_bt, x, x, x, M=32, N=32, K=16), CompileOptions())
    fn = verify(infer_layouts(fn, cpu_target()))
    text = print_function(fn)
    assert "convert_layout" in text
    dots = [op for op in walk(fn.body) if op.kind is OpKind.DOT]
    assert dots[0].attr.tiling is not None
    assert "tiling=DotTiling(mr=" in text


def test_dot_with_transposed_operand_is_correct_and_gather_free():
    M, N, K = 32, 48, 16
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K)).astype(np.float32)
    bt = rng.standard_normal((N, K)).astype(np.float32)
    c = np.zeros((M, N), np.float32)
    k = dot_bt[(1,)](a, bt, c, M=M, N=N, K=K)
    np.testing.assert_allclose(c, a @ bt.T, rtol=1e-5, atol=1e-5)
    # the transposing copy (convert_layout) may gather once; the K loop reads dense vectors
    llir = k.asm["llir"]
    body = llir[llir.index("\nkk.body:") : llir.index("\nkk.exit:")]
    assert "gather" not in body and "fmul" not in body
    assert "llvm.fma.v" in body
