"""tl.extra.libdevice (also spelled tl.extra.cuda.libdevice / tl.extra.hip.libdevice): the
functions with an equivalent on jitlang's targets against numpy, on the CPU and the
accelerator; the rest fail at the kernel line, by name."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.errors import CompilationError
from jitlang.language.extra import libdevice
from jitlang.language.extra.cuda import libdevice as cuda_libdevice

N = 64


@jl.jit
def unary_kernel(x_ptr, o_ptr, FN: tl.constexpr, N: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(o_ptr + offs, FN(tl.load(x_ptr + offs)))


@jl.jit
def binary_kernel(x_ptr, y_ptr, o_ptr, FN: tl.constexpr, N: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(o_ptr + offs, FN(tl.load(x_ptr + offs), tl.load(y_ptr + offs)))


@jl.jit
def spelled_kernel(x_ptr, o_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    y = tl.extra.cuda.libdevice.exp(x) + tl.extra.libdevice.log1p(x) + cuda_libdevice.pow(x, 2.0)
    tl.store(o_ptr + offs, y)


_RNG = np.random.default_rng(0)
_X = np.concatenate(
    [
        np.array([0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-7, -1e-7, 3.0, -3.0, 1.0], np.float32),
        _RNG.uniform(-4, 4, N - 12).astype(np.float32),
    ]
)
_POS = np.abs(_X) + np.float32(1e-3)
_SMALL = np.concatenate([_X[:12], _RNG.uniform(-1e-3, 1e-3, N - 12).astype(np.float32)])


def _np_round(x):  # halves away from zero
    return np.copysign(np.floor(np.abs(x) + 0.5), x).astype(x.dtype)


UNARY = [
    # name, input, reference, rtol
    ("fabs", _X, np.abs, 0),
    ("exp", _X, np.exp, 2e-6),
    ("exp2", _X, np.exp2, 2e-6),
    ("log", _POS, np.log, 2e-6),
    ("log2", _POS, np.log2, 2e-6),
    ("sqrt", _POS, np.sqrt, 1e-7),
    ("rsqrt", _POS, lambda x: 1 / np.sqrt(x), 2e-6),
    ("sin", _X, np.sin, 2e-6),
    ("cos", _X, np.cos, 2e-6),
    ("tanh", _X, np.tanh, 2e-6),
    ("erf", _X, lambda x: np.vectorize(__import__("math").erf)(x).astype(np.float32), 2e-6),
    ("floor", _X, np.floor, 0),
    ("ceil", _X, np.ceil, 0),
    ("trunc", _X, np.trunc, 0),
    ("round", _X, _np_round, 0),
    ("rint", _X, np.rint, 0),
    ("nearbyint", _X, np.rint, 0),
    ("exp10", _X, lambda x: np.power(10.0, x.astype(np.float64)), 2e-6),
    ("log10", _POS, np.log10, 2e-6),
    ("log1p", _SMALL, np.log1p, 2e-6),
    ("expm1", _SMALL, np.expm1, 2e-6),
    ("sinh", _X, np.sinh, 4e-6),
    ("cosh", _X, np.cosh, 4e-6),
    ("tan", _X, np.tan, 4e-6),
    ("rcp_rn", _POS, lambda x: 1 / x, 0),
    ("saturatef", _X, lambda x: np.clip(x, 0, 1) + np.float32(0), 0),  # -0 -> +0
    ("signbit", _X, np.signbit, 0),
    ("isnan", np.where(_X > 1, np.nan, _X).astype(np.float32), np.isnan, 0),
    ("isinf", np.where(_X > 1, np.inf, _X).astype(np.float32), np.isinf, 0),
    ("isfinited", np.where(_X > 1, -np.inf, _X).astype(np.float32), np.isfinite, 0),
]

BINARY = [
    ("pow", _POS, _X, np.power, 2e-5),
    ("pow", np.round(_X), np.array([2.0, 3.0, -1.0, 0.0] * (N // 4), np.float32), np.power, 2e-6),
    ("fmax", _X, _X[::-1].copy(), np.fmax, 0),
    ("fmin", _X, np.where(_X > 2, np.nan, _X[::-1]).astype(np.float32), np.fmin, 0),
    ("fmod", _X, np.full(N, 1.25, np.float32), np.fmod, 0),
    ("copysign", _X, _X[::-1].copy(), np.copysign, 0),
    ("add_rn", _X, _POS, np.add, 0),
    ("mul_rn", _X, _POS, np.multiply, 0),
    ("div_rn", _X, _POS, np.divide, 0),
    ("fast_dividef", _X, _POS, np.divide, 2e-7),
]


def _check(out, ref, rtol):
    ref = np.asarray(ref)
    if ref.dtype == bool:
        np.testing.assert_array_equal(out.astype(bool), ref)
        return
    ref = ref.astype(np.float32)
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=1e-30 if rtol else 0)
    if rtol == 0:  # exact functions keep the sign of zero
        np.testing.assert_array_equal(np.signbit(out), np.signbit(ref))


@pytest.mark.parametrize("target", ["cpu", "accel"])
@pytest.mark.parametrize("case", UNARY, ids=[c[0] for c in UNARY])
def test_unary(case, target):
    name, x, ref, rtol = case
    with np.errstate(all="ignore"):
        want = ref(x)
    out = np.zeros(N, np.int8 if np.asarray(want).dtype == bool else np.float32)
    unary_kernel[(1,)](x, out, getattr(libdevice, name), N, target=target)
    _check(out, want, rtol)


@pytest.mark.parametrize("target", ["cpu", "accel"])
@pytest.mark.parametrize("case", BINARY, ids=[f"{c[0]}{i}" for i, c in enumerate(BINARY)])
def test_binary(case, target):
    name, x, y, ref, rtol = case
    out = np.zeros(N, np.float32)
    binary_kernel[(1,)](x, y, out, getattr(libdevice, name), N, target=target)
    with np.errstate(all="ignore"):
        _check(out, ref(x, y), rtol)


@pytest.mark.parametrize("target", ["cpu", "accel"])
def test_every_spelling_reaches_the_same_functions(target):
    x = _POS
    out = np.zeros(N, np.float32)
    spelled_kernel[(1,)](x, out, N, target=target)
    np.testing.assert_allclose(out, np.exp(x) + np.log1p(x) + x * x, rtol=1e-5)


def test_a_function_without_equivalent_fails_at_its_line():
    @jl.jit
    def k(x_ptr, N: tl.constexpr):
        offs = tl.arange(0, N)
        tl.store(x_ptr + offs, libdevice.atan2(tl.load(x_ptr + offs), 1.0))

    with pytest.raises(CompilationError, match="libdevice.atan2 has no equivalent") as e:
        k[(1,)](np.zeros(8, np.float32), 8)
    assert "test_libdevice.py:" in str(e.value) and "atan2(" in str(e.value)


def test_cuda_only_helpers_fail_at_their_line():
    @jl.jit
    def k(x_ptr):
        tl.store(x_ptr, tl.extra.cuda.globaltimer())

    with pytest.raises(CompilationError, match="tl.extra.cuda.globaltimer has no equivalent"):
        k[(1,)](np.zeros(1, np.int64))


def test_integers_are_refused_with_a_hint():
    @jl.jit
    def k(x_ptr, N: tl.constexpr):
        offs = tl.arange(0, N)
        tl.store(x_ptr + offs, libdevice.exp(tl.load(x_ptr + offs)))

    with pytest.raises(CompilationError, match="takes floating-point values"):
        k[(1,)](np.zeros(8, np.int32), 8)
