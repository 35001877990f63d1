"""tl.map_elementwise: a scalar @jit function, with per-element if/else and early returns,
mapped over broadcast blocks, on the CPU and the accelerator."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError

TARGETS = ("cpu", "accel")


@jl.jit
def selu_scalar(x, alpha):
    if x > 0:
        return x
    else:
        return alpha * (tl.exp(x) - 1)


@jl.jit
def piecewise(x, y):
    if x < -1.0:
        r = -y
    elif x < 1.0:
        r = x * y
        if y > 0:
            r = r + 1.0
    else:
        return x + y, x
    return r, y


@jl.jit
def mapped(x_ptr, y_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    y = tl.load(y_ptr + o)
    tl.store(out_ptr + o, tl.map_elementwise(selu_scalar, x, 1.5))
    a, b = tl.map_elementwise(piecewise, x, y, pack=2)
    tl.store(out_ptr + BLOCK + o, a)
    tl.store(out_ptr + 2 * BLOCK + o, b)


def _ref(x, y):
    selu = np.where(x > 0, x, 1.5 * (np.exp(x) - 1))
    mid = x * y + np.where(y > 0, 1.0, 0.0)
    a = np.where(x < -1, -y, np.where(x < 1, mid, x + y))
    b = np.where(x < 1, y, x)
    return selu, a, b


@pytest.mark.parametrize("target", TARGETS)
def test_per_element_branches_and_returns(target):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 64).astype(np.float32)
    y = rng.uniform(-2, 2, 64).astype(np.float32)
    out = np.zeros(192, np.float32)
    mapped[(1,)](x, y, out, BLOCK=64, target=target)
    for got, ref in zip(np.split(out, 3), _ref(x, y)):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@jl.jit
def stores_inside(p, x):
    if x > 0:
        tl.store(p, x)
        return x
    return -x


@jl.jit
def err_side_effect(p_ptr):
    x = tl.load(p_ptr + tl.arange(0, 4))
    tl.map_elementwise(stores_inside, tl.full((4,), 0, tl.int64) + p_ptr, x)  # <- error


def test_side_effects_under_a_per_element_if_are_an_error():
    with pytest.raises(CompilationError, match="must not load, store"):
        err_side_effect[(1,)](np.zeros(4, np.float32))


@jl.jit
def err_not_jit(p_ptr):
    tl.map_elementwise(abs, tl.load(p_ptr + tl.arange(0, 4)))  # <- error


def test_first_argument_must_be_a_jit_function():
    with pytest.raises(CompilationError, match="expects a @jit function"):
        err_not_jit[(1,)](np.zeros(4, np.float32))
