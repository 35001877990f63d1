"""`kernel[grid](..., target="accel", config=...)`: the accelerator machine a launch compiles
for and runs on (jitlang/jit.py launch options -> runtime/accel_driver.py)."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.testing import cross_check
from tests.e2e.tutorial_kernels import matmul_kernel, softmax_kernel


@jl.jit
def axpy(x_ptr, y_ptr, o_ptr, a, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(o_ptr + offs, a * tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), m)


@pytest.mark.parametrize("config", ["nc-v2", "nc-v3", "NC-V3", "trn2"])
def test_a_launch_runs_on_the_named_machine(config):
    n = 1000
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    out = np.zeros_like(x)
    axpy[(4,)](x, x, out, 2.0, n, BLOCK=256, target="accel", config=config)
    np.testing.assert_allclose(out, 3 * x, rtol=1e-6)
    k = axpy.warmup(x, x, out, 2.0, n, BLOCK=256, target="accel", config=config)
    want = "nc-v3" if config.lower() in ("nc-v3", "trn2") else "nc-v2"
    assert k.native.meta["config"] == want
    assert k.native.emulator.config.name == want


def test_each_machine_is_its_own_compiled_kernel():
    x = np.zeros(64, np.float32)
    k2 = axpy.warmup(x, x, x, 1.0, 64, BLOCK=64, target="accel")
    k3 = axpy.warmup(x, x, x, 1.0, 64, BLOCK=64, target="accel", config="nc-v3")
    assert k2 is not k3
    assert k2 is axpy.warmup(x, x, x, 1.0, 64, BLOCK=64, target="accel", config="nc-v2")
    # the CPU ignores config=: one argument list runs on both targets
    assert axpy.warmup(x, x, x, 1.0, 64, BLOCK=64, target="cpu", config="nc-v3").target == "cpu"


@pytest.mark.parametrize("config", ["nc-v2", "nc-v3"])
def test_tutorial_kernels_cross_check_on_both_generations(config):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 256)).astype(np.float32)
    y = np.zeros_like(x)
    cross_check(softmax_kernel, (64,), y, x, 256, 256, 64, 256, BLOCK_SIZE=256, config=config)
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum(1, keepdims=True), rtol=1e-5)
    a = rng.standard_normal((128, 64)).astype(np.float16)
    b = rng.standard_normal((64, 128)).astype(np.float16)
    c = np.zeros((128, 128), np.float16)  # the tutorial kernel stores float16
    meta = dict(BLOCK_SIZE_M=64, BLOCK_SIZE_N=64, BLOCK_SIZE_K=32, GROUP_SIZE_M=2)
    args = (a, b, c, 128, 128, 64, 64, 1, 128, 1, 128, 1)
    cross_check(matmul_kernel, (4,), *args, ACTIVATION="", config=config, **meta)
    ref = a.astype(np.float32) @ b.astype(np.float32)
    np.testing.assert_allclose(c.astype(np.float32), ref, rtol=2e-3, atol=2e-2)


def test_an_unknown_machine_is_a_value_error_listing_the_known_ones():
    x = np.zeros(64, np.float32)
    with pytest.raises(ValueError, match=r"unknown accelerator config 'nc-v9'; known: .*nc-v3"):
        axpy[(1,)](x, x, x, 1.0, 64, BLOCK=64, target="accel", config="nc-v9")


@jl.jit
def shadows_config(o_ptr, config: tl.constexpr):
    tl.store(o_ptr, config)


def test_a_kernel_parameter_named_config_takes_the_argument():
    out = np.zeros(1, np.int32)
    shadows_config[(1,)](out, config=7, target="accel")
    assert out[0] == 7
