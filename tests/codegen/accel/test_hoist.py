"""The accel step "hoist_loads" (jitlang/passes/accel_hoist.py) on tile IR."""

from __future__ import annotations

import numpy as np

import jitlang as jl
import jitlang.language as tl
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.ir import OpKind
from jitlang.passes.accel_hoist import hoist_invariant_loads
from jitlang.verifier import verify
from tests.codegen.accel.helpers import TARGET
from tests.irutil import kernel_ir


def _ir(jf, *args, **kw):
    return optimize_tile_ir(kernel_ir(jf, *args, **kw), CompileOptions(target="accel"))


@jl.jit
def loop_kernel(x_ptr, w_ptr, o_ptr, n, N: tl.constexpr):
    offs = tl.arange(0, N)
    for t in range(n):
        w = tl.load(w_ptr + offs)
        v = tl.load(x_ptr + t * N + offs)  # depends on t: stays
        inner = tl.load(o_ptr + offs)  # o is stored to in the loop: stays
        tl.store(o_ptr + t * N + offs, v * w + inner)


def _top(fn):
    return [op.kind for op in fn.body.ops]


def test_only_the_invariant_load_of_an_unstored_array_moves():
    x = np.zeros(64, np.float32)
    fn = _ir(loop_kernel, x, x, x, 4, N=16)
    assumed: list = []
    fn = hoist_invariant_loads(fn, assumed)
    verify(fn)
    kinds = _top(fn)
    assert kinds.index(OpKind.IF) < kinds.index(OpKind.FOR)  # n may be 0: guarded
    (loop,) = [op for op in fn.body.ops if op.kind is OpKind.FOR]
    loads = [op for op in loop.regions[0].ops if op.kind is OpKind.LOAD]
    assert len(loads) == 2
    assert assumed == [(1, 2)]  # w_ptr's load past stores through o_ptr


@jl.jit
def same_arg(x_ptr, n, N: tl.constexpr):
    offs = tl.arange(0, N)
    for t in range(n):
        tl.store(x_ptr + (t + 1) * N + offs, tl.load(x_ptr + offs) + 1)


def test_nothing_moves_past_a_store_through_the_same_argument():
    x = np.zeros(64, np.float32)
    fn = hoist_invariant_loads(_ir(same_arg, x, 3, N=16), [])
    assert OpKind.IF not in _top(fn)
    (loop,) = [op for op in fn.body.ops if op.kind is OpKind.FOR]
    assert any(op.kind is OpKind.LOAD for op in loop.regions[0].ops)


def test_the_step_is_on_by_default():
    assert "hoist_loads" in TARGET.steps
