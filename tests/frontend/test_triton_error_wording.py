"""Error texts that Triton users (and Triton's own tests) match on: bitwise operators on floats,
sliced indexing, expand_dims axes and program_id axes use Triton's wording, still with the
kernel's file:line:col and a caret."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError


@jl.jit
def bitwise_on_float(x_ptr, y_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    tl.store(y_ptr + o, x & 3)


@jl.jit
def sliced(x_ptr, BLOCK: tl.constexpr):
    x_ptr[10:]


@jl.jit
def expand_bad_axis(x_ptr, AXIS: tl.constexpr):
    tl.expand_dims(tl.arange(0, 8), AXIS)


@jl.jit
def expand_duplicate(x_ptr):
    tl.expand_dims(tl.arange(0, 8), (0, -3))


@jl.jit
def bad_pid(x_ptr):
    tl.program_id(20)


def _message(kernel, *args) -> str:
    with pytest.raises(CompilationError) as e:
        kernel[(1,)](*args)
    text = str(e.value)
    assert __file__ in text and "^" in text  # still points at the kernel's source
    return text


def test_bitwise_on_float_says_invalid_operands():
    x = np.zeros(8, np.float32)
    text = _message(bitwise_on_float, x, x, 8)
    assert "invalid operands of type block<8xfp32> and constexpr int for operator &" in text


def test_slice_index_is_unsupported_tensor_index():
    assert "unsupported tensor index: 10:" in _message(sliced, np.zeros(4, np.float32), 4)


@pytest.mark.parametrize("axis,ok", [(-3, False), (2, False), (-2, True), (1, True)])
def test_expand_dims_axis_range(axis, ok):
    x = np.zeros(4, np.float32)
    if ok:
        expand_bad_axis[(1,)](x, axis)
    else:
        assert f"invalid axis {axis}. Expected -2 <= axis < 2" in _message(expand_bad_axis, x, axis)


def test_expand_dims_duplicate_axes():
    x = np.zeros(4, np.float32)
    assert "duplicate axes, normalized axes = [0, 0]" in _message(expand_duplicate, x)


def test_program_id_axis():
    x = np.zeros(4, np.float32)
    assert "program_id axis must be 0, 1, or 2 but got 20" in _message(bad_pid, x)
