"""The accelerator's documented dtype limits are compile errors naming the line, the dtype and
the way out (DESIGN.md: the machine holds at most 32-bit elements)."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.passes.accel_layout import TargetLimitError


@jl.jit
def store_scalar(out_ptr, v):
    tl.store(out_ptr, v)


@jl.jit
def copy_block(x_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(o_ptr + offs, tl.load(x_ptr + offs))


def test_an_fp64_scalar_store_is_a_limit_error():
    out = np.zeros(1, np.float64)
    with pytest.raises(TargetLimitError) as e:
        store_scalar[(1,)](out, 0.5, target="accel")
    msg = str(e.value)
    assert "test_accel_limits.py:16:" in msg and "fp64 scalar" in msg and "hint:" in msg
    store_scalar[(1,)](out, 0.5, target="cpu")
    assert out[0] == 0.5


def test_int64_scalars_are_fine():
    out = np.zeros(1, np.int64)
    store_scalar[(1,)](out, 2**40 + 3, target="accel")
    assert out[0] == 2**40 + 3


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.uint64])
def test_64_bit_blocks_are_limit_errors(dtype):
    x = np.arange(8).astype(dtype)
    with pytest.raises(TargetLimitError) as e:
        copy_block[(1,)](x, x.copy(), N=8, target="accel")
    assert "test_accel_limits.py:" in str(e.value) and "at most 32-bit" in str(e.value)
