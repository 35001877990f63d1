"""End-to-end kernels on target="accel" (the emulated tile accelerator), each checked against
numpy and cross-checked against target="cpu"."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
from jitlang.testing import cross_check
from tests.e2e.accel_kernels import add_kernel


@pytest.mark.parametrize("n,block", [(1, 128), (1000, 256), (4096, 1024), (70001, 4096)])
def test_vector_add(n, block):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    out = np.full_like(x, -7.0)
    add_kernel[(jl.cdiv(n, block),)](x, y, out, n, BLOCK=block, target="accel")
    np.testing.assert_array_equal(out, x + y)
    fresh = np.zeros_like(x)
    report = cross_check(add_kernel, (jl.cdiv(n, block),), x, y, fresh, n, BLOCK=block)
    assert report["out_ptr"]["max_abs"] == 0.0


def test_vector_add_leaves_memory_past_the_mask_alone():
    x = np.arange(300, dtype=np.float32)
    out = np.full(400, 5.0, np.float32)
    add_kernel[(3,)](x, x, out, 300, BLOCK=128, target="accel")
    np.testing.assert_array_equal(out[:300], 2 * x)
    np.testing.assert_array_equal(out[300:], 5.0)


def test_inputs_are_not_copied_back():
    x = np.arange(256, dtype=np.float32)
    y = np.ones(256, np.float32)
    out = np.zeros(256, np.float32)
    k = add_kernel[(1,)](x, y, out, 256, BLOCK=256, target="accel")
    assert k.native.stored == {2}  # only out_ptr is stored to


def test_asm_views():
    x = np.zeros(256, np.float32)
    k = add_kernel.warmup(x, x, x, 256, BLOCK=256, target="accel")
    assert "@accel.dma.load" in k.asm["llir"]
    text = k.asm["accel"]
    assert "dma.load" in text and "tl.store(out_ptr + offs, x + y, mask=mask)" in text
    assert "sbuf[128x2]" in k.asm["tile"]


def test_cross_check_names_the_array_and_index():
    x = np.arange(64, dtype=np.float32)
    out = np.zeros(64, np.float32)
    with pytest.raises(AssertionError, match=r"'out_ptr'.*first at index \(0,\)"):
        # the two runs see different inputs: the check must fail, naming the array
        cross_check(_shifting_kernel(), (1,), x, x, out, 64, BLOCK=64, targets=("cpu", "accel"))


def _shifting_kernel():
    class Shifting:
        arg_names = ["x_ptr", "y_ptr", "out_ptr", "n", "BLOCK"]
        calls = 0

        def __getitem__(self, grid):
            def run(x, y, out, n, BLOCK, target):
                Shifting.calls += 1
                add_kernel[grid](x, y + Shifting.calls, out, n, BLOCK=BLOCK, target=target)

            return run

    return Shifting()
