"""tl.dot_scaled (microscaled matmul) against a numpy model of Triton's interpreter: operands
decoded to fp32 (e2m1 nibbles low first, e4m3/e5m2 bytes, bf16/fp16), times their e8m0 scales
(2**(s - 127) per group of 32 along K; 255 is NaN; 0 is 2**-127, or 0 when a format is fp16),
then an fp32 matmul plus the accumulator."""

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
from jitlang.errors import CompilationError


@jl.jit
def mx_kernel(a_ptr, sa_ptr, b_ptr, sb_ptr, c_ptr, o_ptr,
              AR: tl.constexpr, AC: tl.constexpr, BR: tl.constexpr, BC: tl.constexpr,
              M: tl.constexpr, N: tl.constexpr, G: tl.constexpr, AF: tl.constexpr,
              BF: tl.constexpr, APACK: tl.constexpr, BPACK: tl.constexpr,
              SCALED_B: tl.constexpr, ACC: tl.constexpr):  # fmt: skip
    a = tl.load(a_ptr + tl.arange(0, AR)[:, None] * AC + tl.arange(0, AC)[None, :])
    b = tl.load(b_ptr + tl.arange(0, BR)[:, None] * BC + tl.arange(0, BC)[None, :])
    sa = tl.load(sa_ptr + tl.arange(0, M)[:, None] * G + tl.arange(0, G)[None, :])
    om = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    if SCALED_B:
        sb = tl.load(sb_ptr + tl.arange(0, N)[:, None] * G + tl.arange(0, G)[None, :])
    else:
        sb = None
    if ACC:
        c = tl.dot_scaled(a, sa, AF, b, sb, BF, acc=tl.load(c_ptr + om),
                          lhs_k_pack=APACK, rhs_k_pack=BPACK)  # fmt: skip
    else:
        c = tl.dot_scaled(a, sa, AF, b, sb, BF, lhs_k_pack=APACK, rhs_k_pack=BPACK)
    tl.store(o_ptr + om, c)


_LUT = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float32)


def _e2m1(codes):
    return np.where(codes & 8, -_LUT[codes & 7], _LUT[codes & 7]).astype(np.float32)


def _unpack(x, axis):
    pair = np.stack([_e2m1(x & 15), _e2m1(x >> 4)], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] *= 2
    return pair.reshape(shape)


def _scale(s, fp16):
    bits = s.astype(np.int32) << 23
    if not fp16:
        bits = np.maximum(bits, 0x00400000)
    f = bits.view(np.float32).copy()
    f[s == 255] = np.nan
    return f


def _decode(x, fmt, axis):
    if fmt == "e2m1":
        return _unpack(x, axis)
    npd = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}.get(fmt)
    if npd is not None:
        return x.view(npd).astype(np.float32)
    return x.astype(np.float32)


def _operand(rng, fmt, rows, cols, pack_axis):
    if fmt == "e2m1":
        shape = [rows, cols]
        shape[pack_axis] //= 2
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if fmt in ("e4m3", "e5m2"):
        x = rng.integers(0, 256, (rows, cols), dtype=np.uint8)
        npd = ml_dtypes.float8_e4m3fn if fmt == "e4m3" else ml_dtypes.float8_e5m2
        bad = ~np.isfinite(x.view(npd).astype(np.float32))
        x[bad] = 0x38  # keep NaN/inf out of the products (tested through the scales)
        return x
    npd = ml_dtypes.bfloat16 if fmt == "bf16" else np.float16
    return rng.uniform(-2, 2, (rows, cols)).astype(npd)


CASES = [
    # (AF, BF, lhs_k_pack, rhs_k_pack, scaled rhs, acc)
    ("e2m1", "e2m1", True, True, True, False),
    ("e2m1", "e2m1", False, False, True, True),
    ("e4m3", "e5m2", True, True, True, True),
    ("bf16", "e2m1", True, True, False, False),
    ("e2m1", "fp16", True, True, True, False),
]


def _run(case, target, seed=0, mnk=(16, 32, 64)):
    af, bf, apack, bpack, scaled_b, acc = case
    m, n, k = mnk
    rng = np.random.default_rng(seed)
    a = _operand(rng, af, m, k, 1 if apack else 0)
    b = _operand(rng, bf, k, n, 0 if bpack else 1)
    sa = rng.integers(120, 134, (m, k // 32), dtype=np.uint8)
    sb = rng.integers(120, 134, (n, k // 32), dtype=np.uint8)
    sa[0, 0], sa[1, 1], sb[2, 0] = 0, 255, 0  # 2**-127 (or 0), NaN, 2**-127
    c = rng.standard_normal((m, n)).astype(np.float32)
    fp16 = "fp16" in (af, bf)
    A = _decode(a, af, 1 if apack else 0) * np.repeat(_scale(sa, fp16), 32, 1)
    B = _decode(b, bf, 0 if bpack else 1)
    if scaled_b:
        B = B * np.repeat(_scale(sb, fp16), 32, 1).T
    ref = A @ B + (c if acc else 0)
    o = np.zeros((m, n), np.float32)
    mx_kernel[(1,)](a, sa, b, sb, c, o, AR=a.shape[0], AC=a.shape[1], BR=b.shape[0],
                    BC=b.shape[1], M=m, N=n, G=k // 32, AF=af, BF=bf, APACK=apack, BPACK=bpack,
                    SCALED_B=scaled_b, ACC=acc, target=target)  # fmt: skip
    return o, ref


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_dot_scaled_matches_the_interpreter_model(case):
    o, ref = _run(case, "cpu")
    assert np.isnan(o[1]).all() and not np.isnan(o[2:]).any()  # a NaN scale poisons its row
    np.testing.assert_allclose(o, ref, rtol=2e-6, atol=1e-6 * np.nanmax(np.abs(ref)))


def test_dot_scaled_bad_format_is_an_error_at_the_line():
    case = ("e3m3", "e2m1", True, True, True, False)
    with pytest.raises(CompilationError, match="lhs_format must be one of"):
        _run(case, "cpu")


def test_dot_scaled_on_the_interpreter(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            import numpy as np
            from test_dot_scaled import CASES, _run
            for case in CASES:
                o, ref = _run(case, "cpu")
                np.testing.assert_allclose(o, ref, rtol=2e-6, atol=1e-6 * np.nanmax(np.abs(ref)))
            print("ok")
            """
        )
    )
    env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr


@pytest.mark.parametrize("mnk", [(16, 32, 64), (128, 64, 128)], ids=["small", "128"])
@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_dot_scaled_on_the_accelerator(case, mnk):
    o, ref = _run(case, "accel", mnk=mnk)
    cpu, _ = _run(case, "cpu", mnk=mnk)
    nan = np.isnan(ref)
    assert np.isnan(o[1]).all() and (np.isnan(o) == nan).all() and (np.isnan(cpu) == nan).all()
    tol = dict(rtol=2e-6, atol=1e-6 * np.nanmax(np.abs(ref)))
    np.testing.assert_allclose(o, ref, **tol)
    np.testing.assert_allclose(o, cpu, **tol)  # fp32 sums in another order


@jl.jit
def _asm_kernel(x_ptr, BLOCK: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, BLOCK))
    y = tl.inline_asm_elementwise(
        "shl.b32 $0, $1, 3;", "=r,r", [x], dtype=tl.int32, is_pure=True, pack=1
    )
    tl.store(x_ptr + tl.arange(0, BLOCK), y)


@pytest.mark.parametrize("target", ["cpu", "accel"])
def test_inline_asm_is_refused_at_its_line_as_triton_interpreter_does(target):
    x = np.zeros(16, np.int32)
    with pytest.raises(CompilationError, match="GPU assembly") as e:
        _asm_kernel[(1,)](x, BLOCK=16, target=target)
    assert "tl.inline_asm_elementwise(" in str(e.value)  # the source line, with its caret
