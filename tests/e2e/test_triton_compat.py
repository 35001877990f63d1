"""Triton compatibility (issue 12): each test pins one of Triton's rules, checked against a numpy
reference on the CPU target and on the tile-IR interpreter (the definition of the semantics).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.frontend.visitor import build_kernel
from jitlang.interpreter import run_grid

BF16 = ml_dtypes.bfloat16


def _interpret(kernel, grid, *args, **kwargs) -> None:
    key, rt, values, _ = kernel._fast(*args, **kwargs)
    fn, _ = build_kernel(kernel, kernel._params(key), kernel.fn.__name__)
    fn = optimize_tile_ir(fn, CompileOptions())
    ext = kernel._extents(key, values)
    grid = tuple(grid) + (1,) * (3 - len(grid))
    run_grid(fn, grid, list(rt), [(ext[i], ext[i + 1]) for i in range(0, len(ext), 2)])


def run_both(kernel, grid, *args, **kwargs) -> dict[str, list]:
    """Launch on the CPU and on the interpreter, each on its own copies of the array arguments."""
    out = {}
    for target in ("cpu", "interpreter"):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        if target == "cpu":
            kernel[grid](*copies, **kwargs)
        else:
            _interpret(kernel, grid, *copies, **kwargs)
        out[target] = copies
    return out


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def _all_finite(dtype) -> np.ndarray:
    x = np.arange(1 << 16, dtype=np.uint16).view(dtype)
    return x[np.isfinite(x.astype(np.float32))]


# -- 1. wrong answers ----------------------------------------------------------------------------


@jl.jit
def _literal_ops(x_ptr, ne_ptr, add_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(ne_ptr + offs, x != -0.81, mask=m)
    tl.store(add_ptr + offs, x + 0.1, mask=m)


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["fp16", "bf16"])
def test_float_literal_takes_the_half_blocks_dtype(dtype):
    # Triton casts a Python float to the fp16/bf16 block's type before the op: x != -0.81 is false
    # for x = fp16(-0.81), and x + 0.1 adds fp16(0.1), which rounds differently from fp32(0.1)
    x = _all_finite(dtype)
    n = x.size
    ne, add = np.ones(n, np.bool_), np.zeros(n, dtype)
    ref_ne = x != dtype(np.float32(-0.81))
    lit = dtype(np.float32(0.1)).astype(np.float32)
    ref_add = (x.astype(np.float32) + lit).astype(dtype)
    assert not ref_ne[x == dtype(np.float32(-0.81))].any()
    for target, (_, ne_o, add_o, _) in run_both(
        _literal_ops, (jl.cdiv(n, 1024),), x, ne, add, n, BLOCK=1024
    ).items():
        np.testing.assert_array_equal(ne_o, ref_ne, err_msg=target)
        np.testing.assert_array_equal(_bits(add_o), _bits(ref_add), err_msg=target)


@jl.jit
def _shr(x_ptr, s_ptr, o_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(o_ptr + offs, tl.load(x_ptr + offs) >> tl.load(s_ptr + offs))


@pytest.mark.parametrize(
    "xt, st, ot",
    [
        (np.int32, np.uint32, np.uint32),  # signed >> unsigned: arithmetic, result uint32
        (np.int8, np.uint32, np.uint32),  # sign-extended, then arithmetic
        (np.int64, np.uint64, np.uint64),
        (np.uint32, np.int32, np.uint32),  # unsigned >> signed: logical
        (np.int16, np.int32, np.int32),
    ],
)
def test_shift_right_follows_the_left_operands_signedness(xt, st, ot):
    rng = np.random.default_rng(0)
    info = np.iinfo(xt)
    x = rng.integers(info.min, info.max, 64, endpoint=True).astype(xt)
    x[:4] = [info.min, -1 if info.min else info.max, 1, 0]
    bits = np.dtype(ot).itemsize * 8
    s = rng.integers(0, bits, 64).astype(st)
    # every x here fits int64 with its own sign, so numpy's >> on int64 is the reference
    ref = (x.astype(np.int64) >> s.astype(np.int64)).astype(ot)
    for target, (_, _, o) in run_both(_shr, (1,), x, s, np.zeros(64, ot), BLOCK=64).items():
        np.testing.assert_array_equal(o, ref, err_msg=target)
