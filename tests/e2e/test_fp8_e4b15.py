"""tl.float8e4b15: Triton's fp8 with 4 exponent bits of bias 15 and 3 mantissa bits (no inf, no
NaN, largest value 1.875). ml_dtypes has no such type, so arrays are uint8 codes seen through
`jl.reinterpret(codes, tl.float8e4b15)`, and jitlang.dtypes has the host conversions.
Conversions follow Triton's compiled cast (python/triton/language/extra/cuda/utils.py): decoding
is exact; encoding goes through fp16 rounding toward zero, saturates magnitudes above 1.75 (inf
and NaN included) to 1.75 and rounds to nearest with ties away from zero. Here it is checked
against an emulation of that PTX routine's bit operations, written independently of the code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.dtypes import DType, computation_type, float32_to_fp8e4b15, fp8e4b15_to_float32

CODES = np.arange(256, dtype=np.uint8)


def _value(code: int) -> float:
    """The number a code stands for, from the format's definition."""
    s, e, m = code >> 7, (code >> 3) & 15, code & 7
    mag = (m / 8) * 2.0**-14 if e == 0 else (1 + m / 8) * 2.0 ** (e - 15)
    return -mag if s else mag


def _ptx_encode(x: np.ndarray) -> np.ndarray:
    """fp32 -> code as Triton's compiled cast does: cvt.rtz.f16.f32, then the bit routine of
    convert_float16_to_fp8e4b15 (clear the sign, min with 1.75 (0x3f00), *2 + 0x80, sign back
    in, keep the high byte)."""
    x = np.asarray(x, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        h = x.astype(np.float16)  # to nearest; step back toward zero where that rounded up
    up = np.abs(h.astype(np.float32)) > np.abs(x)
    hb = h.view(np.uint16).copy()
    hb[up] -= 1  # |h| decreases by one fp16 ulp (inf becomes 65504, also above 1.75)
    hb[np.isnan(x)] = (x.view(np.uint32)[np.isnan(x)] >> 16).astype(np.uint16) | 0x7E00
    a = hb & 0x7FFF
    a_val = a.view(np.float16)
    a = np.where(np.isnan(a_val) | (a_val > np.float16(1.75)), 0x3F00, a).astype(np.uint32)
    a = a * 2 + 0x80
    b = (hb.astype(np.uint32) & 0x8000) | a
    return ((b >> 8) & 0xFF).astype(np.uint8)


@jl.jit
def decode(x_ptr, y_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.store(y_ptr + o, tl.load(x_ptr + o).to(tl.float32))


@jl.jit
def encode(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    tl.store(y_ptr + o, tl.load(x_ptr + o, mask=m).to(tl.float8e4b15), mask=m)


@jl.jit
def encode_f16(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    tl.store(y_ptr + o, tl.load(x_ptr + o, mask=m).to(tl.float8e4b15), mask=m)


@jl.jit
def copy_and_bits(x_ptr, y_ptr, z_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    tl.store(y_ptr + o, x)
    tl.store(z_ptr + o, x.to(tl.uint8, bitcast=True))


def test_every_code_copies_and_bitcasts_exactly():
    # a copy keeps 0x7f/0xff (+-1.875), though a cast or arithmetic saturates at 1.75
    y = np.zeros(256, np.uint8)
    z = np.zeros(256, np.uint8)
    copy_and_bits[(1,)](
        jl.reinterpret(CODES, tl.float8e4b15), jl.reinterpret(y, tl.float8e4b15), z, BLOCK=256
    )
    np.testing.assert_array_equal(y, CODES)
    np.testing.assert_array_equal(z, CODES)


def test_dtype_reports_triton_format():
    assert tl.float8e4b15.fp_mantissa_width == 3 and tl.float8e4b15.exponent_bias == 15
    assert tl.float8e4b15.primitive_bitwidth == 8 and tl.float8e4b15.is_fp8()
    assert tl.float8e4b15.is_fp8e4b15() and str(tl.dtype("fp8e4b15")) == "fp8e4b15"


def test_every_code_decodes_exactly():
    want = np.array([_value(c) for c in range(256)], np.float32)
    out = np.zeros(256, np.float32)
    decode[(1,)](jl.reinterpret(CODES, tl.float8e4b15), out, BLOCK=256)
    np.testing.assert_array_equal(out.view(np.uint32), want.view(np.uint32))
    np.testing.assert_array_equal(fp8e4b15_to_float32(CODES).view(np.uint32), want.view(np.uint32))
    assert out.max() == 1.875 and np.isfinite(out).all()


def _encode_inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    every_f16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    vals = fp8e4b15_to_float32(CODES)
    mids = (vals[:-1].astype(np.float64) + vals[1:]) / 2  # ties between neighbours
    return np.concatenate(
        [
            every_f16.astype(np.float32),
            mids.astype(np.float32),
            np.nextafter(mids.astype(np.float32), np.float32(0)),
            rng.integers(0, 2**32, 1 << 14, dtype=np.uint64).astype(np.uint32).view(np.float32),
            (rng.standard_normal(1 << 14) * rng.choice([1e-6, 1e-4, 1.0], 1 << 14)).astype(
                np.float32
            ),
        ]
    ).astype(np.float32)


def test_encode_matches_tritons_compiled_cast():
    x = _encode_inputs()
    want = _ptx_encode(x)
    out = np.zeros(x.size, np.uint8)
    encode[(jl.cdiv(x.size, 1024),)](x, jl.reinterpret(out, tl.float8e4b15), x.size, BLOCK=1024)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(float32_to_fp8e4b15(x), want)


def test_encode_from_f16_and_saturation():
    x = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    out = np.zeros(x.size, np.uint8)
    encode_f16[(64,)](x, jl.reinterpret(out, tl.float8e4b15), x.size, BLOCK=1024)
    np.testing.assert_array_equal(out, _ptx_encode(x.astype(np.float32)))
    special = np.array([np.inf, -np.inf, np.nan, 1.8, 1e30, -2.0, 1.75, -0.0], np.float32)
    assert list(float32_to_fp8e4b15(special)) == [0x7E, 0xFE, 0x7E, 0x7E, 0x7E, 0xFE, 0x7E, 0x80]


def test_codes_round_trip_except_the_largest():
    # Triton's compiled cast saturates at 1.75: 0x7f and 0xff (+-1.875) never come out
    back = float32_to_fp8e4b15(fp8e4b15_to_float32(CODES))
    keep = (CODES & 0x7F) != 0x7F
    np.testing.assert_array_equal(back[keep], CODES[keep])
    assert list(back[~keep]) == [0x7E, 0xFE]


@jl.jit
def arith(x_ptr, y_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + o)
    y = tl.load(y_ptr + o)
    r = x * y + x - 0.5
    tl.static_assert(r.dtype == tl.float8e4b15)
    tl.store(out_ptr + o, r)


def test_arithmetic_rounds_each_operation_to_e4b15():
    rng = np.random.default_rng(1)
    x = float32_to_fp8e4b15(rng.uniform(-1.5, 1.5, 256).astype(np.float32))
    y = float32_to_fp8e4b15(rng.uniform(-1.5, 1.5, 256).astype(np.float32))
    out = np.zeros(256, np.uint8)
    f8 = tl.float8e4b15
    arith[(1,)](jl.reinterpret(x, f8), jl.reinterpret(y, f8), jl.reinterpret(out, f8), BLOCK=256)

    def rnd(v):
        return fp8e4b15_to_float32(float32_to_fp8e4b15(v))

    xf, yf = fp8e4b15_to_float32(x), fp8e4b15_to_float32(y)
    want = float32_to_fp8e4b15(rnd(rnd(xf * yf) + xf) - rnd(np.float32(0.5)))
    np.testing.assert_array_equal(out, want)


@jl.jit
def abs_kernel(x_ptr, z_ptr, SIZE: tl.constexpr):
    o = tl.arange(0, SIZE)
    tl.store(z_ptr + o, tl.abs(tl.load(x_ptr + o)))


def test_abs_clears_the_sign_bit_of_every_code():
    # Triton's tl.abs of float8e4b15 is `x & 0x7f`: +-1.875 stays 1.875 (no rounding to 1.75);
    # the torch int8 tensor is Triton's own test's input (test_abs_fp8)
    torch = pytest.importorskip("torch")
    x = torch.tensor(range(-128, 128), dtype=torch.int8)
    out = torch.empty_like(x)
    f8 = tl.float8e4b15
    abs_kernel[(1,)](jl.reinterpret(x, f8), jl.reinterpret(out, f8), 256)
    assert torch.equal(out, x & 0x7F)


def test_promotion_with_other_fp8_is_fp16():
    assert computation_type(DType.F8E4B15, False, DType.F8E4B15, False, False) is DType.F8E4B15
    assert computation_type(DType.F8E4B15, False, DType.F8E5, False, False) is DType.F16


@jl.jit
def dot_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, K)
    a = tl.load(a_ptr + rm[:, None] * K + rk[None, :])
    b = tl.load(b_ptr + rk[:, None] * N + rn[None, :])
    c = tl.dot(a, b)
    tl.static_assert(c.dtype == tl.float32)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], c)


def test_dot_accumulates_in_fp32():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (16, 32)).astype(np.uint8)
    b = rng.integers(0, 256, (32, 16)).astype(np.uint8)
    c = np.zeros((16, 16), np.float32)
    f8 = tl.float8e4b15
    dot_kernel[(1,)](jl.reinterpret(a, f8), jl.reinterpret(b, f8), c, M=16, N=16, K=32)
    ref = fp8e4b15_to_float32(a).astype(np.float64) @ fp8e4b15_to_float32(b).astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-6)


def test_accelerator_runs_it_as_the_cpu():
    # more on the accelerator in test_fp8_accel.py
    rng = np.random.default_rng(5)
    x = float32_to_fp8e4b15(rng.uniform(-1.5, 1.5, 64).astype(np.float32))
    y = float32_to_fp8e4b15(rng.uniform(-1.5, 1.5, 64).astype(np.float32))
    f8 = tl.float8e4b15
    outs = [np.zeros(64, np.uint8) for _ in range(2)]
    for out, target in zip(outs, ("cpu", "accel")):
        arith[(1,)](
            jl.reinterpret(x, f8),
            jl.reinterpret(y, f8),
            jl.reinterpret(out, f8),
            BLOCK=64,
            target=target,
        )
    np.testing.assert_array_equal(outs[1], outs[0])


@jl.jit
def e4b15_sum(x_ptr, out_ptr, BLOCK: tl.constexpr):
    o = tl.arange(0, BLOCK)
    tl.store(out_ptr, tl.sum(tl.load(x_ptr + o), axis=0))


def test_interpreter_agrees_with_the_cpu(tmp_path):
    """Every code decoded, the encode inputs, arithmetic, bitcasts and dot, run under
    JITLANG_INTERPRET=1, equal the CPU's results; a reduction of it is refused at its line."""
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            import numpy as np, jitlang as jl, jitlang.language as tl
            from jitlang.interpreter import InterpreterError
            import test_fp8_e4b15 as T
            f8 = tl.float8e4b15
            out = np.zeros(256, np.float32)
            T.decode[(1,)](jl.reinterpret(T.CODES, f8), out, BLOCK=256)
            np.save(sys.argv[1] + "/decode.npy", out)
            x = T._encode_inputs()
            codes = np.zeros(x.size, np.uint8)
            T.encode[(jl.cdiv(x.size, 1024),)](x, jl.reinterpret(codes, f8), x.size, BLOCK=1024)
            np.save(sys.argv[1] + "/encode.npy", codes)
            rng = np.random.default_rng(1)
            a = rng.integers(0, 256, 256).astype(np.uint8)
            b = rng.integers(0, 256, 256).astype(np.uint8)
            r = np.zeros(256, np.uint8)
            T.arith[(1,)](jl.reinterpret(a, f8), jl.reinterpret(b, f8), jl.reinterpret(r, f8),
                          BLOCK=256)
            np.save(sys.argv[1] + "/arith.npy", r)
            c = np.zeros((16, 16), np.float32)
            T.dot_kernel[(1,)](jl.reinterpret(a[:128].reshape(16, 8).repeat(4, 1), f8),
                               jl.reinterpret(b[:128].reshape(8, 16).repeat(4, 0), f8), c,
                               M=16, N=16, K=32)
            np.save(sys.argv[1] + "/dot.npy", c)
            z = np.zeros(256, np.uint8)
            T.abs_kernel[(1,)](jl.reinterpret(T.CODES, f8), jl.reinterpret(z, f8), 256)
            np.save(sys.argv[1] + "/abs.npy", z)
            y = np.zeros(256, np.uint8); z = np.zeros(256, np.uint8)
            T.copy_and_bits[(1,)](jl.reinterpret(T.CODES, f8), jl.reinterpret(y, f8), z, BLOCK=256)
            np.save(sys.argv[1] + "/copy.npy", np.stack([y, z]))
            try:
                T.e4b15_sum[(1,)](jl.reinterpret(a, f8), jl.reinterpret(r[:1], f8), BLOCK=256)
            except InterpreterError as e:
                print("refused:", e)
            """
        )
    )
    env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "refused:" in r.stdout, r.stdout + r.stderr[-3000:]
    assert "test_fp8_e4b15.py:" in r.stdout and "not supported by the interpreter" in r.stdout
    f8 = tl.float8e4b15
    out = np.zeros(256, np.float32)
    decode[(1,)](jl.reinterpret(CODES, f8), out, BLOCK=256)
    np.testing.assert_array_equal(
        np.load(tmp_path / "decode.npy").view(np.uint32), out.view(np.uint32)
    )
    x = _encode_inputs()
    np.testing.assert_array_equal(np.load(tmp_path / "encode.npy"), _ptx_encode(x))
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, 256).astype(np.uint8)
    b = rng.integers(0, 256, 256).astype(np.uint8)
    res = np.zeros(256, np.uint8)
    arith[(1,)](jl.reinterpret(a, f8), jl.reinterpret(b, f8), jl.reinterpret(res, f8), BLOCK=256)
    np.testing.assert_array_equal(np.load(tmp_path / "arith.npy"), res)
    c = np.zeros((16, 16), np.float32)
    dot_kernel[(1,)](
        jl.reinterpret(a[:128].reshape(16, 8).repeat(4, 1), f8),
        jl.reinterpret(b[:128].reshape(8, 16).repeat(4, 0), f8),
        c,
        M=16,
        N=16,
        K=32,
    )
    np.testing.assert_allclose(np.load(tmp_path / "dot.npy"), c, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.load(tmp_path / "abs.npy"), CODES & 0x7F)
    np.testing.assert_array_equal(np.load(tmp_path / "copy.npy"), np.stack([CODES, CODES]))
