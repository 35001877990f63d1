"""A lazy block value materialised inside a nested region (a device_print under an `if`, a loop
body) must not stand for the value outside that region: its buffer is written only when the
region runs. On the CPU both kernels below once returned stale data silently."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import cross_check


@jl.jit
def print_under_if(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(n):
        acc += tl.load(x_ptr + offs)
        if i % 2 == 1:
            tl.device_print("acc", acc)
    tl.store(o_ptr + offs, acc)


@jl.jit
def print_in_empty_loop(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs) * 2.0
    for _i in range(n):
        tl.device_print("x", x)
    tl.store(o_ptr + offs, x)


@pytest.mark.parametrize("target", ["cpu", "accel"])
def test_value_printed_under_an_if_keeps_accumulating(target, capfd):
    x = np.arange(4, dtype=np.float32)
    o = np.zeros(4, np.float32)
    print_under_if[(1,)](x, o, 4, BLOCK=4, target=target)
    np.testing.assert_array_equal(o, 4 * x)
    lines = [ln for ln in capfd.readouterr().out.splitlines() if ln.startswith("pid")]
    # printed after the second and the fourth addition
    assert [float(ln.split()[-1]) for ln in lines] == [0.0, 2.0, 4.0, 6.0, 0.0, 4.0, 8.0, 12.0]
    cross_check(print_under_if, (1,), x, o, 4, BLOCK=4)


@pytest.mark.parametrize("target", ["cpu", "accel"])
@pytest.mark.parametrize("n", [0, 1])
def test_value_materialised_in_a_loop_that_does_not_run(target, n):
    x = np.arange(4, dtype=np.float32)
    o = np.zeros(4, np.float32)
    print_in_empty_loop[(1,)](x, o, n, BLOCK=4, target=target)
    np.testing.assert_array_equal(o, 2 * x)
