"""End to end: every element type through loads, stores, arithmetic, casts and bitcasts.

Float-to-int casts saturate (NaN -> 0), as LLVM's fptosi.sat and Triton on GPUs do.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl

BLOCK = 64
BF16 = ml_dtypes.bfloat16
ALL = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
ALL += ["float16", "bfloat16", "float32", "float64"]
TL = {
    "bool": tl.int1,
    "int8": tl.int8,
    "int16": tl.int16,
    "int32": tl.int32,
    "int64": tl.int64,
    "uint8": tl.uint8,
    "uint16": tl.uint16,
    "uint32": tl.uint32,
    "uint64": tl.uint64,
    "float16": tl.float16,
    "bfloat16": tl.bfloat16,
    "float32": tl.float32,
    "float64": tl.float64,
}


def _np(dtype: str):
    return BF16 if dtype == "bfloat16" else np.dtype(dtype)


def _values(dtype: str, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(n) < 0.5
    if dtype in ("float16", "bfloat16", "float32", "float64"):
        return (rng.standard_normal(n) * 8).astype(_np(dtype))
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), n, endpoint=True).astype(dtype)


def _grid(n):
    return (jl.cdiv(n, BLOCK),)


@jl.jit
def _copy(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


@pytest.mark.parametrize("n", [BLOCK, 999])
@pytest.mark.parametrize("dtype", ALL)
def test_load_store(dtype, n):
    x = _values(dtype, n)
    out = np.zeros(n + 5, _np(dtype))
    _copy[_grid(n)](x, out, n, BLOCK=BLOCK)
    np.testing.assert_array_equal(out[:n].view(np.uint8), x.view(np.uint8))
    assert not out[n:].astype(np.float64).any(), "wrote past the mask"


@jl.jit
def _arith(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x * y + x - y, mask=mask)


@pytest.mark.parametrize("dtype", ALL[1:])
def test_arith(dtype):
    n = 300
    x, y = _values(dtype, n, 1), _values(dtype, n, 2)
    out = np.zeros(n, _np(dtype))
    _arith[_grid(n)](x, y, out, n, BLOCK=BLOCK)
    if dtype in ("float16", "bfloat16"):
        # each op rounds to the half type
        x32, y32 = x.astype(np.float32), y.astype(np.float32)
        xy = (x32 * y32).astype(_np(dtype)).astype(np.float32)
        t = (xy + x32).astype(_np(dtype)).astype(np.float32)
        expected = (t - y32).astype(_np(dtype))
        np.testing.assert_array_equal(out.astype(np.float32), expected.astype(np.float32))
    else:
        with np.errstate(all="ignore"):
            expected = x * y + x - y
        np.testing.assert_allclose(out, expected, rtol=1e-6 if "float" in dtype else 0)


@jl.jit
def _cast(x_ptr, out_ptr, n, BLOCK: tl.constexpr, DST: tl.constexpr, BITCAST: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x.to(DST, bitcast=BITCAST), mask=mask)


@pytest.mark.parametrize("src", ALL)
@pytest.mark.parametrize(
    "dst",
    [
        "bool",
        "int8",
        "int32",
        "int64",
        "uint8",
        "uint32",
        "float16",
        "bfloat16",
        "float32",
        "float64",
    ],
)
def test_cast_in_range(src, dst):
    """Values every destination can hold (small, non-negative where unsigned)."""
    n = 100
    x = _values(src, n)
    if src != "bool" and dst.startswith("uint") or dst == "uint8":
        x = np.abs(x.astype(np.float64)).astype(_np(src))
    out = np.zeros(n, _np(dst))
    _cast[_grid(n)](x, out, n, BLOCK=BLOCK, DST=TL[dst], BITCAST=False)
    if dst == "bool":
        expected = x.astype(np.float64) != 0
    elif (
        src in ("float16", "bfloat16", "float32", "float64")
        and not dst.startswith("float")
        and dst != "bfloat16"
    ):
        expected = np.trunc(x.astype(np.float64)).astype(dst)
    else:
        expected = x.astype(np.float64).astype(_np(dst)) if src != "bool" else x.astype(_np(dst))
        if src in ("int64", "uint64", "int32") and dst in ("float16", "bfloat16", "float32"):
            expected = x.astype(_np(dst))
    np.testing.assert_array_equal(out.astype(np.float64), expected.astype(np.float64))


@pytest.mark.parametrize("src", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize(
    "dst", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
)
def test_float_to_int_saturates(src, dst):
    info = np.iinfo(dst)
    vals = [np.nan, np.inf, -np.inf, 1e30, -1e30, 3.7, -3.7, 0.0, -0.0, 300.0, -300.0]
    vals += [9.3e18, 1.8e19, -9.3e18, 4e9, -3e9, 70000.0, -40000.0, 255.9, 127.9, -128.9]
    with np.errstate(over="ignore"):
        x = np.array(vals, np.float64).astype(_np(src))
    out = np.full(len(vals), 7, dst)
    _cast[_grid(len(vals))](x, out, len(vals), BLOCK=BLOCK, DST=TL[dst], BITCAST=False)
    expected = [
        0
        if np.isnan(v)
        else max(info.min, min(info.max, int(v) if np.isfinite(v) else int(np.sign(v)) * 2**70))
        for v in x.astype(np.float64)
    ]
    assert [int(v) for v in out] == expected


def test_int_to_float_large():
    x = np.array([2**62 + 1, -(2**63), 2**31 - 1, 16777217], np.int64)
    out = np.zeros(4, np.float32)
    _cast[(1,)](x, out, 4, BLOCK=BLOCK, DST=tl.float32, BITCAST=False)
    np.testing.assert_array_equal(out, x.astype(np.float32))
    u = np.array([2**64 - 1, 2**63, 1], np.uint64)
    outd = np.zeros(3, np.float64)
    _cast[(1,)](u, outd, 3, BLOCK=BLOCK, DST=tl.float64, BITCAST=False)
    np.testing.assert_array_equal(outd, u.astype(np.float64))


@pytest.mark.parametrize(
    "src, dst",
    [
        ("float32", "int32"),
        ("int32", "float32"),
        ("float16", "int16"),
        ("int16", "float16"),
        ("bfloat16", "int16"),
        ("int16", "bfloat16"),
        ("float64", "int64"),
        ("uint32", "int32"),
        ("float32", "uint32"),
    ],
)
def test_bitcast(src, dst):
    n = 150
    x = _values(src, n)
    x[:3] = np.array([-1, 0, 1]).astype(_np(src))
    if dst == "bfloat16":
        x = np.abs(x)  # negative int16 are NaN patterns: test_bitcast_keeps_nan_payloads
    out = np.zeros(n, _np(dst))
    _cast[_grid(n)](x, out, n, BLOCK=BLOCK, DST=TL[dst], BITCAST=True)
    np.testing.assert_array_equal(out.view(np.uint8), x.view(np.uint8))


def test_bf16_rounding_to_nearest_even():
    x = np.array(
        [1.0 + 2**-8, 1.0 + 3 * 2**-8, 1.0 + 2**-8 + 2**-20, 3.0e38, np.nan, -0.0], np.float32
    )
    out = np.zeros(6, BF16)
    _cast[(1,)](x, out, 6, BLOCK=BLOCK, DST=tl.bfloat16, BITCAST=False)
    np.testing.assert_array_equal(
        out.view(np.uint16)[[0, 1, 2, 3, 5]], x.astype(BF16).view(np.uint16)[[0, 1, 2, 3, 5]]
    )
    assert np.isnan(out[4].astype(np.float32))


@jl.jit
def _scalar_arg(x_ptr, out_ptr, s, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) + s, mask=mask)


@pytest.mark.parametrize(
    "xd, s, outd, expected",
    [
        (
            "int8",
            3,
            "int32",
            130,
        ),  # a run-time int argument is int32, not weak: int8 + int32 -> int32
        ("int8", 5, "int32", 132),
        ("float16", 2.0, "float32", 65504.0 + 2.0),  # a float argument is fp32: fp16 + fp32 -> fp32
        ("int32", 0.5, "float32", 127.5),
        ("uint8", np.uint8(200), "int32", 71),  # uint8 + uint8 wraps
        ("int64", np.int64(2**40), "int64", 2**40 + 127),
        ("float32", np.float64(0.25), "float64", 127.25),
    ],
)
def test_scalar_argument_types(xd, s, outd, expected):
    base = 65504.0 if xd == "float16" else 127
    x = np.full(70, base, xd)
    out = np.zeros(70, outd)
    _scalar_arg[_grid(70)](x, out, s, 70, BLOCK=BLOCK)
    np.testing.assert_array_equal(out, np.full(70, expected, outd))


@jl.jit
def _to_float(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, (x + 1).to(tl.float32) / 2, mask=mask)


@pytest.mark.parametrize(
    "dtype", ["bool", "int8", "uint16", "int64", "float16", "bfloat16", "float64"]
)
def test_mixed_to_float(dtype):
    x = _values(dtype, 200, 5)
    out = np.zeros(200, np.float32)
    _to_float[_grid(200)](x, out, 200, BLOCK=BLOCK)
    if dtype == "bool":
        one = x.astype(np.int32) + 1  # bool + int literal -> int32
    elif dtype in ("float16", "bfloat16"):
        one = (x.astype(np.float32) + 1).astype(_np(dtype))
    else:
        one = x + np.array(1, dtype)
    np.testing.assert_allclose(out, one.astype(np.float32) / 2, rtol=1e-6)


@pytest.mark.parametrize(
    "src, dst, bits",
    [
        (
            "int16",
            "bfloat16",
            [-92, 0x7F81, -1, 5, 0x7FC1, -32767],
        ),  # signalling/quiet NaN payloads
        ("int16", "float16", [-92, 0x7C01, -1, 5, 0x7E01, -32767]),
        ("int32", "float32", [0x7F800001, -1, 0x7FC00001, 7]),
    ],
)
def test_bitcast_keeps_nan_payloads(src, dst, bits):
    x = np.array(bits, np.int64).astype(src)
    out = np.zeros(len(bits), _np(dst))
    _cast[(1,)](x, out, len(bits), BLOCK=BLOCK, DST=TL[dst], BITCAST=True)
    np.testing.assert_array_equal(out.view(src), x)


def test_fp64_to_fp16_rounds_once():
    # via f32 these double-round (to 1.0, or to the tie's even neighbour); directly they do not
    x = np.array(
        [
            1 + 2**-11 + 2**-40,
            1 + 2**-11 - 2**-40,
            1 + 3 * 2**-11,
            65519.99,
            65520.0,
            1e-8,
            -2.5e-8,
            3.14159,
        ],
        np.float64,
    )
    out = np.zeros(x.size, np.float16)
    _cast[(1,)](x, out, x.size, BLOCK=BLOCK, DST=tl.float16, BITCAST=False)
    with np.errstate(over="ignore"):  # 65520 rounds to inf
        expected = x.astype(np.float16)
    np.testing.assert_array_equal(out.view(np.uint16), expected.view(np.uint16))
