"""Torch CPU tensors as kernel arguments (skipped when torch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl

torch = pytest.importorskip("torch")


@jl.jit
def axpy(x_ptr, y_ptr, out_ptr, a, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m)
    tl.store(out_ptr + offs, a * x + y, mask=m)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_torch_tensors(dtype):
    tdt = getattr(torch, dtype)
    x = torch.randn(1000).to(tdt)
    y = torch.randn(1000).to(tdt)
    out = torch.empty_like(x)
    axpy[(jl.cdiv(1000, 128),)](x, y, out, 2.0, 1000, BLOCK=128)
    ref = (2.0 * x.double() + y.double()).to(tdt)
    tol = 1e-6 if dtype in ("float32", "float64") else 1e-2
    assert torch.allclose(out.double(), ref.double(), rtol=tol, atol=tol)


def test_torch_and_numpy_mixed_and_bad_device():
    x = torch.arange(16, dtype=torch.float32)
    y = np.ones(16, np.float32)
    out = np.empty(16, np.float32)
    axpy[(1,)](x, y, out, 3.0, 16, BLOCK=16)
    assert (out == 3 * np.arange(16) + 1).all()
    with pytest.raises(TypeError, match="x_ptr"):
        axpy[(1,)](x.to(torch.complex64), y, out, 3.0, 16, BLOCK=16)


@jl.jit
def _add_one(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=m) + 1, mask=m)


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64"])
def test_torch_unsigned_tensors(dtype):
    tdt = getattr(torch, dtype)
    x = torch.tensor([0, 1, 7, 100], dtype=tdt)
    _add_one[(1,)](x, 4, BLOCK=8)
    assert x.tolist() == [1, 2, 8, 101]
