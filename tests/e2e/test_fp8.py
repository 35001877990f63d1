"""fp8 types (tl.float8e4nv, float8e5, float8e4b8, float8e5b16 = ml_dtypes' e4m3fn, e5m2,
e4m3fnuz, e5m2fnuz): storage, conversions bit-exact with ml_dtypes, arithmetic in the fp8 type,
Triton's promotion rules, dot with fp32 accumulation; the interpreter agrees with the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.dtypes import DType, computation_type
from jitlang.errors import CompilationError

FORMATS = [
    (tl.float8e4nv, ml_dtypes.float8_e4m3fn),
    (tl.float8e5, ml_dtypes.float8_e5m2),
    (tl.float8e4b8, ml_dtypes.float8_e4m3fnuz),
    (tl.float8e5b16, ml_dtypes.float8_e5m2fnuz),
]
IDS = [str(d) for d, _ in FORMATS]


@jl.jit
def convert(x_ptr, y_ptr, z_ptr, n, DT: tl.constexpr, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    y = tl.load(x_ptr + o, mask=m).to(DT)
    tl.store(y_ptr + o, y, mask=m)
    tl.store(z_ptr + o, y.to(tl.float32), mask=m)


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**32, 1 << 16, dtype=np.uint64).astype(np.uint32).view(np.float32)
    scale = rng.choice([1e-6, 1e-3, 1.0, 100.0, 3e4, 1e6], 1 << 16)
    dense = (rng.standard_normal(1 << 16) * scale).astype(np.float32)
    edge = np.array(
        [
            0,
            -0.0,
            np.inf,
            -np.inf,
            1e-9,
            -1e-9,
            448,
            464,
            480,
            240,
            248,
            256,
            57344,
            61439,
            61440,
            1e30,
            -1e30,
            2.0**-9,
            2.0**-10,
            3 * 2.0**-11,
            2.0**-16,
            2.0**-17,
            2.0**-18,
        ],
        np.float32,
    )
    x = np.concatenate([edge, x, dense])
    return x[~np.isnan(x)]  # NaN payloads: see test_nan_stays_nan


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_f32_to_fp8_and_back_bit_exact_with_ml_dtypes(dt, npd):
    x = _inputs()
    y = np.zeros(x.size, npd)
    z = np.zeros(x.size, np.float32)
    convert[(jl.cdiv(x.size, 1024),)](x, y, z, x.size, DT=dt, BLOCK=1024)
    ref = x.astype(npd)
    np.testing.assert_array_equal(y.view(np.uint8), ref.view(np.uint8))
    back = ref.astype(np.float32)
    same = (z.view(np.uint32) == back.view(np.uint32)) | (np.isnan(z) & np.isnan(back))
    assert same.all(), x[~same][:5]


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_nan_stays_nan(dt, npd):
    x = np.array([np.nan, -np.nan, 1.0], np.float32)
    y = np.zeros(3, npd)
    z = np.zeros(3, np.float32)
    convert[(1,)](x, y, z, 3, DT=dt, BLOCK=4)
    assert np.isnan(y[:2].astype(np.float32)).all() and np.isnan(z[:2]).all()
    assert z[2] == 1.0


@jl.jit
def copy_codes(x_ptr, y_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.store(y_ptr + o, tl.load(x_ptr + o))


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_every_code_copies_bit_exactly(dt, npd):
    codes = np.arange(256, dtype=np.uint8).view(npd)
    out = np.zeros(256, npd)
    copy_codes[(1,)](codes, out, BLOCK=256)
    np.testing.assert_array_equal(out.view(np.uint8), codes.view(np.uint8))


@jl.jit
def fp8_arith(x_ptr, y_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    y = tl.load(y_ptr + o)
    r = x * y + x - 0.5
    tl.static_assert(r.dtype == x.dtype)
    tl.store(out_ptr + o, r)


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_arithmetic_stays_fp8_rounding_each_operation(dt, npd):
    rng = np.random.default_rng(1)
    x = rng.uniform(-4, 4, 64).astype(npd)
    y = rng.uniform(-4, 4, 64).astype(npd)
    out = np.zeros(64, npd)
    fp8_arith[(1,)](x, y, out, BLOCK=64)
    half = npd(0.5)
    ref = (x * y + x) - half  # ml_dtypes rounds each operation to the fp8 type
    np.testing.assert_array_equal(out.view(np.uint8), ref.view(np.uint8))


def test_promotion_rules_follow_triton():
    assert computation_type(DType.F8E5, False, DType.F8E5, False, False) is DType.F8E5
    assert computation_type(DType.F8E5, False, DType.F8E4NV, False, False) is DType.F16
    assert computation_type(DType.F8E5, False, DType.F16, False, False) is DType.F16
    assert computation_type(DType.F8E5, False, DType.BF16, False, False) is DType.F32
    assert computation_type(DType.F8E4NV, False, DType.F32, True, False) is DType.F8E4NV
    with pytest.raises(TypeError):
        computation_type(DType.F8E5, False, DType.I32, False, False)


@jl.jit
def fp8_dot(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, K)
    a = tl.load(a_ptr + rm[:, None] * K + rk[None, :])
    b = tl.load(b_ptr + rk[:, None] * N + rn[None, :])
    c = tl.dot(a, b)
    tl.static_assert(c.dtype == tl.float32)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], c)


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_dot_accumulates_in_fp32(dt, npd):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((16, 32)).astype(npd)
    b = rng.standard_normal((32, 16)).astype(npd)
    c = np.zeros((16, 16), np.float32)
    fp8_dot[(1,)](a, b, c, M=16, N=16, K=32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-5)


@jl.jit
def fp8_atomic(p):
    tl.atomic_add(p, 1.0)  # <- error


def test_fp8_atomics_are_a_compile_error():
    with pytest.raises(CompilationError, match="no fp8 atomics"):
        fp8_atomic[(1,)](np.zeros(1, ml_dtypes.float8_e5m2))


def test_torch_fp8_tensors():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0, -0.5, 448.0]).to(torch.float8_e4m3fn)
    out = torch.zeros(4, dtype=torch.float8_e4m3fn)
    copy_codes[(1,)](x, out, BLOCK=4)
    assert torch.equal(out.view(torch.uint8), x.view(torch.uint8))


def test_interpreter_agrees(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            import numpy as np, ml_dtypes
            from test_fp8 import FORMATS, convert, fp8_arith
            rng = np.random.default_rng(3)
            x = (rng.standard_normal(4096) * 50).astype(np.float32)
            for dt, npd in FORMATS:
                y = np.zeros(x.size, npd); z = np.zeros(x.size, np.float32)
                convert[(4,)](x, y, z, x.size, DT=dt, BLOCK=1024)
                np.testing.assert_array_equal(y.view(np.uint8), x.astype(npd).view(np.uint8))
                a = rng.uniform(-4, 4, 64).astype(npd); b = rng.uniform(-4, 4, 64).astype(npd)
                out = np.zeros(64, npd)
                fp8_arith[(1,)](a, b, out, BLOCK=64)
                np.testing.assert_array_equal(out.view(np.uint8), ((a * b + a) - npd(0.5)).view(np.uint8))
            print("ok")
            """
        )
    )
    env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]


@pytest.mark.parametrize("dt,npd", FORMATS, ids=IDS)
def test_accelerator_runs_fp8_as_the_cpu(dt, npd):
    # more on the accelerator in test_fp8_accel.py
    rng = np.random.default_rng(4)
    x = rng.uniform(-4, 4, 64).astype(npd)
    y = rng.uniform(-4, 4, 64).astype(npd)
    outs = [np.zeros(64, npd) for _ in range(2)]
    for out, target in zip(outs, ("cpu", "accel")):
        fp8_arith[(1,)](x, y, out, BLOCK=64, target=target)
    np.testing.assert_array_equal(outs[1].view(np.uint8), outs[0].view(np.uint8))
    np.testing.assert_array_equal(outs[1].view(np.uint8), ((x * y + x) - npd(0.5)).view(np.uint8))
