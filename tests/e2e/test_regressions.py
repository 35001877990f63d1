"""Regression tests for bugs found by the e2e test matrix (each named after its bug)."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl


@jl.jit
def _axpy(x_ptr, out_ptr, alpha, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * alpha, mask=mask)


@pytest.mark.parametrize(
    "bad, name",
    [
        ([1.0, 2.0], "alpha"),
        ("2.0", "alpha"),
        (object(), "alpha"),
        ({"a": 1}, "n"),
        (np.zeros(4, np.complex64), "out_ptr"),
    ],
    ids=["list", "str", "object", "dict", "complex_array"],
)
def test_bug6_unsupported_argument_type_names_the_right_parameter(bad, name):
    x = np.zeros(4, np.float32)
    args = {"x_ptr": x, "out_ptr": x, "alpha": 1.0, "n": 4}
    args[name] = bad
    with pytest.raises(TypeError, match=f"'{name}'"):
        _axpy[(1,)](args["x_ptr"], args["out_ptr"], args["alpha"], args["n"], BLOCK=32)


@jl.jit
def _kernel_returns(x_ptr, out_ptr, n):
    v = tl.load(x_ptr)
    return v  # <- error


def test_bug7_kernel_return_error_points_at_the_return():
    import inspect
    import os

    lines, start = inspect.getsourcelines(_kernel_returns.fn)
    line = start + [i for i, t in enumerate(lines) if "# <- error" in t][0]
    x = np.zeros(4, np.float32)
    with pytest.raises(jl.CompilationError) as info:
        _kernel_returns[(1,)](x, x, 4)
    assert f"{os.path.abspath(__file__)}:{line}:5" in str(info.value), str(info.value)
    assert "return v" in str(info.value)


_SCALE = tl.constexpr(3)


@jl.jit
def _uses_global_constexpr(out_ptr):
    tl.store(out_ptr, _SCALE)


def test_bug8_changed_global_constexpr_is_not_silently_stale():
    global _SCALE
    out = np.zeros(1, np.int32)
    _uses_global_constexpr[(1,)](out)
    assert out[0] == 3
    _SCALE = tl.constexpr(7)
    try:
        try:
            _uses_global_constexpr[(1,)](out)
        except Exception as e:  # Triton raises; that is acceptable too
            assert "_SCALE" in str(e), e
            return
        assert out[0] == 7, "kernel still uses the old value of the global constexpr _SCALE"
    finally:
        _SCALE = tl.constexpr(3)


@jl.jit
def _block_kernel(out_ptr, BLOCK: tl.constexpr):
    tl.store(out_ptr + tl.arange(0, BLOCK), tl.arange(0, BLOCK))


@pytest.mark.parametrize("bad", [np.zeros(3), [16], {"a": 1}], ids=["ndarray", "list", "dict"])
def test_bug9_unhashable_constexpr_value_names_the_parameter(bad):
    out = np.zeros(16, np.int32)
    with pytest.raises(TypeError, match="BLOCK") as info:
        _block_kernel[(1,)](out, BLOCK=bad)
    assert "_block_kernel" in str(info.value)


def test_bug10_numpy_integer_constexpr():
    out = np.zeros(16, np.int32)
    _block_kernel[(1,)](out, BLOCK=np.int64(16))
    np.testing.assert_array_equal(out, np.arange(16))


@jl.jit
def _builtin_print(x_ptr):
    offs = tl.arange(0, 4)
    print("pfx", tl.load(x_ptr + offs))


def test_bug11_builtin_print_with_a_prefix_is_device_print(capfd):
    _builtin_print[(1,)](np.arange(4, dtype=np.float32))
    out = capfd.readouterr().out
    line = [ln for ln in out.splitlines() if "idx (3)" in ln]
    assert line and "pfx" in line[0] and "3.0" in line[0], out


@jl.jit
def _unknown_tensor_attribute(x_ptr, out_ptr):
    x = tl.load(x_ptr + tl.arange(0, 16))
    tl.store(out_ptr + tl.arange(0, 16), x + x.foo)


def test_bug12_unknown_tensor_attribute_is_named():
    x = np.zeros(16, np.float32)
    with pytest.raises(jl.CompilationError) as info:
        _unknown_tensor_attribute[(1,)](x, x)
    headline = str(info.value).splitlines()[0]  # the message, not the quoted source line
    assert "'foo'" in headline, str(info.value)


shadowed = 5  # a module global with the name of a kernel parameter (notebooks do this)


@jl.jit
def _param_shadows_global(x_ptr, shadowed, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, tl.load(x_ptr + offs) + shadowed)


def test_parameter_named_like_a_global_is_not_a_guard():
    """A global that a parameter shadows is not read by the kernel: changing it must not make
    every launch recompile (and a profile of the launch must still see its records)."""
    global shadowed
    x = np.zeros(16, np.float32)
    for shadowed in (3, 4):
        prof = jl.testing.profile(_param_shadows_global, (1,), x, shadowed, BLOCK=16)
        assert len(prof.records) > 0
    kernel = _param_shadows_global.warmup(x, 4, BLOCK=16, grid=(1,))
    assert not kernel.guards
