"""`num_stages` on the accelerator: a launch option that reaches the accel compile options
(`CompileOptions.num_stages`) and the compile cache key, in memory and on disk."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl


@jl.jit
def _copy_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


def test_num_stages_reaches_the_accel_compile_options(monkeypatch):
    import jitlang.compiler as compiler

    seen = []
    real = compiler.compile_accel
    monkeypatch.setattr(
        compiler,
        "compile_accel",
        lambda fn, opts, t: seen.append(opts.num_stages) or real(fn, opts, t),
    )
    x = np.arange(300, dtype=np.float32)
    for stages in (None, 2, 3):
        out = np.zeros_like(x)
        k = _copy_kernel[(3,)](x, out, 300, BLOCK=128, target="accel", num_stages=stages)
        assert k.metadata["num_stages"] == stages
        np.testing.assert_array_equal(out, x)
    assert seen == [None, 2, 3]  # three compilations: num_stages is in the kernel cache key
    # the disk cache keys by it too: a fresh in-memory cache finds each build, none other's
    _copy_kernel.cache.clear()
    for stages in (3, 2):
        k = _copy_kernel[(3,)](
            x, np.zeros_like(x), 300, BLOCK=128, target="accel", num_stages=stages
        )
        assert k.metadata["num_stages"] == stages
    assert seen == [None, 2, 3]


def test_num_stages_is_checked_and_the_cpu_ignores_it():
    x = np.arange(300, dtype=np.float32)
    out = np.zeros_like(x)
    _copy_kernel[(3,)](x, out, 300, BLOCK=128, num_stages=4)  # Triton's option: ignored
    np.testing.assert_array_equal(out, x)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="num_stages must be an integer >= 1"):
            _copy_kernel[(3,)](x, out, 300, BLOCK=128, target="accel", num_stages=bad)
