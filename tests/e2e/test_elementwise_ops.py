"""End to end: every Python operator and elementwise tl.* function against numpy.

Each kernel is compiled once per (dtype, constexpr) specialization and run on a grid of one
program and on a grid of many programs whose last block is partial (mask).
"""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl

BLOCK = 64
SIZES = [BLOCK, 1000]  # one program; many programs with a masked tail

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOAT_DTYPES = ["float16", "float32", "float64"]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _ints(dtype: str, n: int, seed: int = 0, lo=None, hi=None) -> np.ndarray:
    info = np.iinfo(dtype)
    lo = max(info.min, -1000 if lo is None else lo)
    hi = min(info.max, 1000 if hi is None else hi)
    return _rng(seed).integers(lo, hi, n, endpoint=True).astype(dtype)


def _floats(dtype, n: int, seed: int = 0, scale: float = 10.0) -> np.ndarray:
    return (_rng(seed).standard_normal(n) * scale).astype(dtype)


def _launch(kernel, n, *args, **meta):
    kernel[(jl.cdiv(n, BLOCK),)](*args, n, BLOCK=BLOCK, **meta)


# --------------------------------------------------------------------------------------------
# binary operators
# --------------------------------------------------------------------------------------------


@jl.jit
def _binop(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr, OP: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask, other=1)
    if OP == "add":
        z = x + y
    elif OP == "sub":
        z = x - y
    elif OP == "mul":
        z = x * y
    elif OP == "truediv":
        z = x / y
    elif OP == "floordiv":
        z = x // y
    elif OP == "mod":
        z = x % y
    elif OP == "and":
        z = x & y
    elif OP == "or":
        z = x | y
    elif OP == "xor":
        z = x ^ y
    elif OP == "shl":
        z = x << y
    elif OP == "shr":
        z = x >> y
    elif OP == "eq":
        z = x == y
    elif OP == "ne":
        z = x != y
    elif OP == "lt":
        z = x < y
    elif OP == "le":
        z = x <= y
    elif OP == "gt":
        z = x > y
    else:
        z = x >= y
    tl.store(out_ptr + offs, z, mask=mask)


def _c_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C truncating integer division (Python's // floors)."""
    q = np.abs(a.astype(object)) // np.abs(b.astype(object))
    sign = np.sign(a.astype(object)) * np.sign(b.astype(object))
    return (q * sign).astype(a.dtype)


def _ref_binop(op: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op == "add":
            return x + y
        if op == "sub":
            return x - y
        if op == "mul":
            return x * y
        if op == "truediv":
            return x.astype(np.float32) / y.astype(np.float32)
        if op == "floordiv":
            return _c_div(x, y)
        if op == "mod":
            return np.fmod(x, y)
        if op == "and":
            return x & y
        if op == "or":
            return x | y
        if op == "xor":
            return x ^ y
        if op in ("shl", "shr"):
            bits = x.dtype.itemsize * 8
            big = y.astype(np.int64) >= bits
            safe = np.where(big, 0, y).astype(x.dtype)
            if op == "shl":
                return np.where(big, 0, x << safe).astype(x.dtype)
            sign = np.where(x < 0, -1, 0).astype(x.dtype)
            return np.where(big, sign, x >> safe).astype(x.dtype)
        cmp = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal}
        cmp |= {"gt": np.greater, "ge": np.greater_equal}
        return cmp[op](x, y)


ARITH = ["add", "sub", "mul", "floordiv", "mod", "truediv"]
BITWISE = ["and", "or", "xor", "shl", "shr"]
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]


def _int_operands(op: str, dtype: str, n: int):
    x = _ints(dtype, n, seed=1)
    if op in ("shl", "shr"):
        y = _rng(2).integers(0, np.iinfo(dtype).bits + 3, n).astype(dtype)
    elif op in COMPARE:
        y = np.where(_rng(3).random(n) < 0.3, x, _ints(dtype, n, seed=2)).astype(dtype)
    else:
        y = _ints(dtype, n, seed=2)
        y[y == 0] = 3
        if op in ("floordiv", "mod") and np.iinfo(dtype).min < 0:
            y[:8] = np.array([-7, 7, -7, 7, -3, 3, -1, 1], dtype=dtype)
            x[:8] = np.array([17, -17, -17, 17, -10, -10, 5, -5], dtype=dtype)
    return x, y


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("op", ARITH + BITWISE + COMPARE)
def test_int_binop(op, dtype):
    n = 1000
    x, y = _int_operands(op, dtype, n)
    expected = _ref_binop(op, x, y)
    out = np.zeros(n, expected.dtype)
    _launch(_binop, n, x, y, out, OP=op)
    np.testing.assert_array_equal(out, expected, err_msg=f"{dtype} {op}")


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv", "mod"] + COMPARE)
def test_float_binop(op, dtype, n):
    x = _floats(dtype, n, seed=1)
    y = _floats(dtype, n, seed=2)
    y[::5] = x[::5]
    y[y == 0] = 1
    if op == "mod":
        x[:4] = np.array([5.5, -5.5, 5.5, -5.5], dtype)
        y[:4] = np.array([2.0, 2.0, -2.0, -2.0], dtype)
    with np.errstate(all="ignore"):
        if op == "truediv":
            # fp16 / fp16 computes in fp32 (no native half division); others keep their type
            ct = np.float64 if dtype == "float64" else np.float32
            expected = (x.astype(ct) / y.astype(ct)).astype(ct)
        elif op == "mod":
            ct = np.float64 if dtype == "float64" else np.float32
            expected = np.fmod(x.astype(ct), y.astype(ct))
        else:
            expected = _ref_binop(op, x, y)
    out = np.zeros(n, expected.dtype)
    _launch(_binop, n, x, y, out, OP=op)
    rtol = 1e-3 if dtype == "float16" else 1e-6
    np.testing.assert_allclose(out, expected, rtol=rtol, err_msg=f"{dtype} {op}")


def test_c_semantics_of_int_div_and_mod():
    x = np.array([7, -7, 7, -7, 1, -1, 0, 9], np.int32)
    y = np.array([2, 2, -2, -2, 3, 3, 5, -4], np.int32)
    q = np.zeros(8, np.int32)
    r = np.zeros(8, np.int32)
    _launch(_binop, 8, x, y, q, OP="floordiv")
    _launch(_binop, 8, x, y, r, OP="mod")
    np.testing.assert_array_equal(q, [3, -3, -3, 3, 0, 0, 0, -2])
    np.testing.assert_array_equal(r, [1, -1, 1, -1, 1, -1, 0, 1])


def test_float_mod_is_fmod():
    x = np.array([5.5, -5.5, 5.5, -5.5, 0.25], np.float32)
    y = np.array([2.0, 2.0, -2.0, -2.0, 1.0], np.float32)
    out = np.zeros(5, np.float32)
    _launch(_binop, 5, x, y, out, OP="mod")
    np.testing.assert_array_equal(out, [1.5, -1.5, 1.5, -1.5, 0.25])


def test_shifts_by_bit_width_or_more():
    x = np.array([1, 5, -8, -8, 3, 1], np.int32)
    y = np.array([31, 32, 33, 40, 0, 100], np.int32)
    left = np.zeros(6, np.int32)
    right = np.zeros(6, np.int32)
    _launch(_binop, 6, x, y, left, OP="shl")
    _launch(_binop, 6, x, y, right, OP="shr")
    np.testing.assert_array_equal(left, [-(2**31), 0, 0, 0, 3, 0])
    np.testing.assert_array_equal(right, [0, 0, -1, -1, 3, 0])
    ux = np.array([2**32 - 1, 8, 8], np.uint32)
    uy = np.array([32, 3, 64], np.uint32)
    ur = np.zeros(3, np.uint32)
    _launch(_binop, 3, ux, uy, ur, OP="shr")
    np.testing.assert_array_equal(ur, [0, 1, 0])


# --------------------------------------------------------------------------------------------
# type promotion
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xd, yd, op, x, y, expected, outd",
    [
        # int8 + int32 -> int32: 127 + 1 does not wrap
        ("int8", "int32", "add", 127, 1, 128, "int32"),
        # int8 + int8 stays int8 and wraps
        ("int8", "int8", "add", 100, 100, -56, "int32"),
        # uint32 vs int32 -> uint32: -1 becomes 2**32 - 1
        ("int32", "uint32", "lt", -1, 1, False, "bool"),
        ("int32", "uint32", "add", -1, 3, 2, "int64"),
        # uint8 vs int32 -> int32
        ("uint8", "int32", "sub", 1, 2, -1, "int32"),
        # int8 vs uint8 -> uint8
        ("int8", "uint8", "add", -1, 0, 255, "int32"),
        # fp16 * fp32 -> fp32: 300 * 300 overflows fp16 but not fp32
        ("float16", "float32", "mul", 300, 300, 90000.0, "float32"),
        # fp16 * fp16 stays fp16 -> inf
        ("float16", "float16", "mul", 300, 300, np.inf, "float32"),
        # int / int -> fp32 true division
        ("int32", "int32", "truediv", 7, 2, 3.5, "float32"),
        ("int8", "int8", "truediv", -7, 2, -3.5, "float32"),
        # int + float -> float
        ("int32", "float32", "add", 3, 0.5, 3.5, "float32"),
        # fp16 + fp64 -> fp64
        ("float16", "float64", "add", 1, 0.25, 1.25, "float64"),
    ],
)
def test_promotion(xd, yd, op, x, y, expected, outd):
    xs = np.full(70, x, xd)
    ys = np.full(70, y, yd)
    out = np.zeros(70, outd)
    with np.errstate(all="ignore"):
        _launch(_binop, 70, xs, ys, out, OP=op)
    np.testing.assert_array_equal(out, np.full(70, expected, outd))


@jl.jit
def _literal_ops(x_ptr, out_ptr, n, BLOCK: tl.constexpr, OP: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    if OP == "add1":
        z = x + 1
    elif OP == "radd1":
        z = 1 + x
    elif OP == "mul2f":
        z = x * 2.0
    elif OP == "div2":
        z = x / 2
    elif OP == "addf":
        z = x + 0.5
    elif OP == "floordiv_lit":
        z = x // 2
    else:
        z = x % -3
    tl.store(out_ptr + offs, z, mask=mask)


@pytest.mark.parametrize(
    "xd, op, x, expected, outd",
    [
        ("int8", "add1", 127, -128, "int32"),  # weak literal: stays int8 and wraps
        ("int8", "radd1", 127, -128, "int32"),
        ("uint8", "add1", 255, 0, "int32"),  # Triton's kinds: uint is integral, stays uint8
        ("int16", "add1", 32767, -32768, "int32"),
        ("float16", "mul2f", 40000.0, np.inf, "float32"),  # stays fp16 -> overflows
        ("int32", "div2", 7, 3.5, "float32"),
        ("int32", "addf", 3, 3.5, "float32"),  # float literal with int block -> fp32
        ("int32", "floordiv_lit", -7, -3, "int32"),
        ("int32", "mod_lit", -7, -1, "int32"),
        ("int32", "mod_lit", 7, 1, "int32"),
    ],
)
def test_literal_weak_typing(xd, op, x, expected, outd):
    xs = np.full(100, x, xd)
    out = np.zeros(100, outd)
    _launch(_literal_ops, 100, xs, out, OP=op)
    np.testing.assert_array_equal(out, np.full(100, expected, outd))


def test_literal_keeps_dtype_in_ir():
    x = np.zeros(8, np.int8)
    k = _literal_ops.warmup(x, np.zeros(8, np.int32), 8, BLOCK=BLOCK, OP="add1")
    assert "block<64xint8>" in k.asm["tile"]
    assert "binary add" in k.asm["tile"]
    h = np.zeros(8, np.float16)
    k = _literal_ops.warmup(h, np.zeros(8, np.float32), 8, BLOCK=BLOCK, OP="mul2f")
    mul = [line for line in k.asm["tile"].splitlines() if "binary mul %x" in line]
    assert mul and all("fp16" in line for line in mul), k.asm["tile"]


# --------------------------------------------------------------------------------------------
# unary operators, chained comparisons, and/or/not
# --------------------------------------------------------------------------------------------


@jl.jit
def _unop(x_ptr, out_ptr, n, BLOCK: tl.constexpr, OP: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    if OP == "neg":
        z = -x
    elif OP == "pos":
        z = +x
    elif OP == "invert":
        z = ~x
    else:
        z = not x
    tl.store(out_ptr + offs, z, mask=mask)


@pytest.mark.parametrize(
    "dtype", ["int8", "int32", "int64", "uint8", "uint32", "float16", "float32"]
)
@pytest.mark.parametrize("op", ["neg", "pos", "invert"])
def test_unary(op, dtype):
    if op == "invert" and dtype.startswith("float"):
        return  # a compile error; tests/frontend/test_errors.py covers it
    n = 300
    x = _ints(dtype, n) if not dtype.startswith("float") else _floats(dtype, n)
    out = np.zeros(n, dtype)
    _launch(_unop, n, x, out, OP=op)
    with np.errstate(all="ignore"):
        expected = {"neg": -x, "pos": x, "invert": ~x if op == "invert" else x}[op]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", ["int32", "float32", "bool"])
def test_not(dtype):
    n = 200
    x = (_rng().integers(0, 3, n)).astype(dtype)
    out = np.zeros(n, np.bool_)
    _launch(_unop, n, x, out, OP="not")
    np.testing.assert_array_equal(out, x == 0)


@jl.jit
def _logic(x_ptr, y_ptr, out_ptr, s, n, BLOCK: tl.constexpr, OP: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    if OP == "chain":
        z = x < y < 10
    elif OP == "chain3":
        z = 0 <= x < y <= 50
    elif OP == "and":
        z = (x > 0) and (y > 0)
    elif OP == "or":
        z = (x > 0) or (y > 0)
    elif OP == "bitand":
        z = (x > 0) & (y > 0)
    elif OP == "scalar_and":
        z = (x > 0) & ((s > 0) and (s < 10))
    elif OP == "scalar_or":
        z = (x > 0) | ((s < 0) or (s > 10))
    else:
        z = (x > 0) & (not (s > 0))
    tl.store(out_ptr + offs, z, mask=mask)


@pytest.mark.parametrize("a", [-5, 5, 20])
@pytest.mark.parametrize(
    "op", ["chain", "chain3", "and", "or", "bitand", "scalar_and", "scalar_or", "scalar_not"]
)
def test_logic(op, a):
    if a != 5 and not op.startswith("scalar"):
        return
    n = 500
    x = _rng(1).integers(-20, 60, n).astype(np.int32)
    y = _rng(2).integers(-20, 60, n).astype(np.int32)
    out = np.zeros(n, np.bool_)
    _launch(_logic, n, x, y, out, a, OP=op)
    expected = {
        "chain": (x < y) & (y < 10),
        "chain3": (0 <= x) & (x < y) & (y <= 50),
        "and": (x > 0) & (y > 0),
        "or": (x > 0) | (y > 0),
        "bitand": (x > 0) & (y > 0),
        "scalar_and": (x > 0) & (0 < a < 10),
        "scalar_or": (x > 0) | (a < 0 or a > 10),
        "scalar_not": (x > 0) & (not a > 0),
    }[op]
    np.testing.assert_array_equal(out, expected)


# --------------------------------------------------------------------------------------------
# tl.* elementwise functions
# --------------------------------------------------------------------------------------------


@jl.jit
def _math(x_ptr, out_ptr, n, BLOCK: tl.constexpr, FN: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=1)
    if FN == "abs":
        z = tl.abs(x)
    elif FN == "exp":
        z = tl.exp(x)
    elif FN == "exp2":
        z = tl.exp2(x)
    elif FN == "log":
        z = tl.log(x)
    elif FN == "log2":
        z = tl.log2(x)
    elif FN == "sqrt":
        z = tl.sqrt(x)
    elif FN == "rsqrt":
        z = tl.rsqrt(x)
    elif FN == "sin":
        z = tl.sin(x)
    elif FN == "cos":
        z = tl.cos(x)
    elif FN == "floor":
        z = tl.floor(x)
    elif FN == "ceil":
        z = tl.ceil(x)
    elif FN == "erf":
        z = tl.erf(x)
    elif FN == "sigmoid":
        z = tl.sigmoid(x)
    else:
        z = tl.math.exp(x)
    tl.store(out_ptr + offs, z, mask=mask)


def _erf(x):
    import math

    return np.vectorize(math.erf)(x.astype(np.float64))


MATH = {
    "abs": (np.abs, (-10, 10)),
    "exp": (np.exp, (-20, 20)),
    "exp2": (np.exp2, (-20, 20)),
    "log": (np.log, (0.01, 100)),
    "log2": (np.log2, (0.01, 100)),
    "sqrt": (np.sqrt, (0, 100)),
    "rsqrt": (lambda v: 1 / np.sqrt(v), (0.01, 100)),
    "sin": (np.sin, (-10, 10)),
    "cos": (np.cos, (-10, 10)),
    "floor": (np.floor, (-10, 10)),
    "ceil": (np.ceil, (-10, 10)),
    "erf": (_erf, (-4, 4)),
    "sigmoid": (lambda v: 1 / (1 + np.exp(-v)), (-20, 20)),
    "tl.math.exp": (np.exp, (-5, 5)),
}


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn", list(MATH))
def test_math(fn, dtype, n):
    ref, (lo, hi) = MATH[fn]
    x = _rng(4).uniform(lo, hi, n).astype(dtype)
    out = np.zeros(n, dtype)
    _launch(_math, n, x, out, FN=fn)
    expected = ref(x.astype(np.float64)).astype(dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=1e-6 if dtype == "float32" else 1e-14)


@pytest.mark.parametrize("fn", ["exp", "sqrt", "abs", "floor"])
def test_math_fp16_keeps_half(fn):
    x = _rng(5).uniform(0.1, 5, 100).astype(np.float16)
    out = np.zeros(100, np.float16)
    _launch(_math, 100, x, out, FN=fn)
    expected = MATH[fn][0](x.astype(np.float32)).astype(np.float16)
    np.testing.assert_allclose(out.astype(np.float32), expected.astype(np.float32), rtol=2e-3)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
def test_abs_int(dtype):
    x = _ints(dtype, 200)
    out = np.zeros(200, dtype)
    _launch(_math, 200, x, out, FN="abs")
    np.testing.assert_array_equal(out, np.abs(x))


@jl.jit
def _minmax(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr, FN: tl.constexpr, NAN: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    if FN == "minimum":
        z = tl.minimum(x, y, propagate_nan=NAN)
    elif FN == "maximum":
        z = tl.maximum(x, y, propagate_nan=NAN)
    elif FN == "where":
        z = tl.where(x > y, x, y * 2)
    elif FN == "clamp":
        z = tl.clamp(x, -1.0, 1.0, propagate_nan=NAN)
    elif FN == "fma":
        z = tl.fma(x, y, x)
    elif FN == "where_scalar":
        z = tl.where(x > 0, x, 0)
    else:
        z = tl.minimum(x, 3)
    tl.store(out_ptr + offs, z, mask=mask)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["int32", "uint8", "float32", "float64"])
@pytest.mark.parametrize("fn", ["minimum", "maximum", "where", "where_scalar", "min_literal"])
def test_minmax_where(fn, dtype, n):
    if dtype.startswith("float"):
        x, y = _floats(dtype, n, 1), _floats(dtype, n, 2)
    else:
        x, y = _ints(dtype, n, 1, hi=100), _ints(dtype, n, 2, hi=100)
    out = np.zeros(n, dtype)
    _launch(_minmax, n, x, y, out, FN=fn, NAN=False)
    with np.errstate(all="ignore"):
        expected = {
            "minimum": np.minimum(x, y),
            "maximum": np.maximum(x, y),
            "where": np.where(x > y, x, (y * 2).astype(dtype)),
            "where_scalar": np.where(x > 0, x, 0).astype(dtype),
            "min_literal": np.minimum(x, 3).astype(dtype),
        }[fn]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("fn", ["minimum", "maximum"])
@pytest.mark.parametrize("propagate", [False, True])
def test_minmax_nan(fn, propagate):
    nan = np.nan
    x = np.array([nan, 1.0, nan, 2.0, -0.5], np.float32)
    y = np.array([1.0, nan, nan, 3.0, 0.5], np.float32)
    out = np.zeros(5, np.float32)
    _launch(_minmax, 5, x, y, out, FN=fn, NAN=propagate)
    if propagate:
        expected = np.minimum(x, y) if fn == "minimum" else np.maximum(x, y)
    else:
        expected = np.fmin(x, y) if fn == "minimum" else np.fmax(x, y)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("propagate", [False, True])
def test_clamp(propagate):
    x = np.array([-3.0, -1.0, 0.25, 1.0, 7.0, np.nan] + [0.5] * 70, np.float32)
    out = np.zeros_like(x)
    _launch(_minmax, x.size, x, x, out, FN="clamp", NAN=propagate)
    expected = np.clip(x, -1, 1)
    if not propagate:
        expected[5] = out[5]  # Triton leaves NaN handling of clamp without propagate_nan open
    np.testing.assert_array_equal(out, expected)


def test_fma():
    x, y = _floats(np.float64, 500, 1), _floats(np.float64, 500, 2)
    out = np.zeros(500)
    _launch(_minmax, 500, x, y, out, FN="fma", NAN=False)
    exact = x.astype(np.longdouble) * y + x  # fused: one rounding of the exact x*y+x
    err = np.abs(out - exact)
    assert np.all(err <= 1e-15 * np.abs(x * y) + 1e-300), err.max()


@jl.jit
def _misc(x_ptr, out_ptr, k, n, BLOCK: tl.constexpr, FN: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    if FN == "cdiv":
        z = tl.cdiv(x, k)
    elif FN == "cdiv_const":
        z = x * 0 + tl.cdiv(BLOCK + 3, 8)
    elif FN == "full":
        z = x + tl.full((BLOCK,), 7, tl.int32)
    elif FN == "zeros":
        z = x + tl.zeros((BLOCK,), tl.int32) + 1
    elif FN == "zeros_like":
        z = tl.zeros_like(x) + 2
    elif FN == "arange_start":
        z = x * 0 + tl.arange(5, 5 + BLOCK)
    elif FN == "hints":
        o = tl.multiple_of(pid * BLOCK, 16)
        o2 = tl.max_contiguous(tl.multiple_of(o + tl.arange(0, BLOCK), BLOCK), BLOCK)
        z = tl.load(x_ptr + o2, mask=o2 < n) + 1
    elif FN == "cast":
        z = tl.cast(x.to(tl.float32) * 1.5, tl.int32)
    else:
        tl.static_assert(BLOCK >= 16, "BLOCK too small")
        tl.static_assert(BLOCK % 16 == 0)
        z = x
    tl.store(out_ptr + offs, z, mask=mask)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(
    "fn",
    [
        "cdiv",
        "cdiv_const",
        "full",
        "zeros",
        "zeros_like",
        "arange_start",
        "hints",
        "cast",
        "static_assert",
    ],
)
def test_misc(fn, n):
    x = _rng(6).integers(0, 100, n).astype(np.int32)
    out = np.zeros(n, np.int32)
    _launch(_misc, n, x, out, 7, FN=fn)
    idx = np.arange(n) % BLOCK
    expected = {
        "cdiv": (x + 6) // 7,
        "cdiv_const": np.full(n, (BLOCK + 3 + 7) // 8),
        "full": x + 7,
        "zeros": x + 1,
        "zeros_like": np.full(n, 2),
        "arange_start": idx + 5,
        "hints": x + 1,
        "cast": (x * 1.5).astype(np.int32),
        "static_assert": x,
    }[fn]
    np.testing.assert_array_equal(out, expected.astype(np.int32))


def test_static_print(capsys):
    @jl.jit
    def k(x_ptr, BLOCK: tl.constexpr):
        tl.static_print("static-print-marker", BLOCK)
        tl.store(x_ptr + tl.arange(0, BLOCK), tl.arange(0, BLOCK))

    x = np.zeros(16, np.int32)
    k[(1,)](x, BLOCK=16)
    assert "static-print-marker 16" in capsys.readouterr().out
    np.testing.assert_array_equal(x, np.arange(16))
    k[(1,)](x, BLOCK=16)  # cached: static_print runs at compile time only
    assert "static-print-marker" not in capsys.readouterr().out


def test_device_print(capfd):
    @jl.jit
    def k(x_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.device_print("val: ", tl.load(x_ptr + offs))

    x = np.arange(4, dtype=np.int32) * 10
    k[(1,)](x, BLOCK=4)
    out = capfd.readouterr().out
    lines = [line for line in out.splitlines() if "val:" in line]
    assert len(lines) == 4, out
    assert "pid (0, 0, 0) idx (3) val: 30" in out, out
    assert "pid (0, 0, 0) idx (0) val: 0" in out, out


def test_device_print_scalar(capfd):
    @jl.jit
    def k(x_ptr):
        tl.device_print("pid: ", tl.program_id(0))

    k[(2,)](np.zeros(1, np.int32))
    out = capfd.readouterr().out
    assert "pid (1, 0, 0) pid: 1" in out, out


# --------------------------------------------------------------------------------------------
# full-range integers, NaN comparisons, overflow corner cases
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize(
    "op", ["add", "sub", "mul", "xor", "lt", "ge", "eq", "shr", "floordiv", "mod"]
)
def test_int_full_range(op, dtype):
    info = np.iinfo(dtype)
    rng = _rng(11)
    n = 257
    x = rng.integers(info.min, info.max, n, endpoint=True, dtype=dtype)
    y = rng.integers(info.min, info.max, n, endpoint=True, dtype=dtype)
    x[:4] = [info.min, info.max, info.min, 0]
    y[:4] = [info.max, info.min, info.min, info.max]
    if op == "shr":
        y = (y.astype(np.uint64) % np.uint64(info.bits)).astype(dtype)
    if op in ("floordiv", "mod"):
        y[y == 0] = 1
    expected = _ref_binop(op, x, y)
    out = np.zeros(n, expected.dtype)
    _launch(_binop, n, x, y, out, OP=op)
    np.testing.assert_array_equal(out, expected, err_msg=f"{dtype} {op}")


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
def test_int_min_div_minus_one_wraps(dtype):
    info = np.iinfo(dtype)
    x = np.array([info.min, info.min, 5], dtype)
    y = np.array([-1, 1, -1], dtype)
    q = np.zeros(3, dtype)
    r = np.zeros(3, dtype)
    _launch(_binop, 3, x, y, q, OP="floordiv")
    _launch(_binop, 3, x, y, r, OP="mod")
    np.testing.assert_array_equal(q, np.array([info.min, info.min, -5], dtype))
    np.testing.assert_array_equal(r, [0, 0, 0])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("op", COMPARE)
def test_float_compare_nan_and_signed_zero(op, dtype):
    nan, inf = np.nan, np.inf
    x = np.array([nan, 1.0, nan, -0.0, inf, -inf, 2.0], dtype)
    y = np.array([1.0, nan, nan, 0.0, inf, inf, 2.0], dtype)
    out = np.zeros(7, np.bool_)
    _launch(_binop, 7, x, y, out, OP=op)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(out, _ref_binop(op, x, y))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_division_special_values(dtype):
    x = np.array([1.0, -1.0, 0.0, np.inf, 5.0, -7.5, 7.5], dtype)
    y = np.array([0.0, 0.0, 0.0, np.inf, -0.0, 2.0, -2.0], dtype)
    out = np.zeros(7, dtype)
    mod = np.zeros(7, dtype)
    _launch(_binop, 7, x, y, out, OP="truediv")
    _launch(_binop, 7, x, y, mod, OP="mod")
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, x / y)
        np.testing.assert_array_equal(mod, np.fmod(x, y))


@jl.jit
def _scalar_math(x_ptr, out_ptr, FN: tl.constexpr):
    pid = tl.program_id(0)
    v = tl.load(x_ptr + pid)
    if FN == "exp":
        r = tl.exp(v)
    elif FN == "sqrt":
        r = tl.sqrt(v)
    elif FN == "max":
        r = tl.maximum(v, 1.5)
    elif FN == "where":
        r = tl.where(v > 1, v, -v)
    else:
        r = -v // 1 if v > 2 else v
    tl.store(out_ptr + pid, r)


@pytest.mark.parametrize("fn", ["exp", "sqrt", "max", "where"])
def test_math_on_scalars(fn):
    x = np.array([0.5, 1.0, 2.0, 3.0], np.float32)
    out = np.zeros(4, np.float32)
    _scalar_math[(4,)](x, out, FN=fn)
    ref = {
        "exp": np.exp(x),
        "sqrt": np.sqrt(x),
        "max": np.maximum(x, 1.5),
        "where": np.where(x > 1, x, -x),
    }
    np.testing.assert_allclose(out, ref[fn], rtol=1e-6)


@pytest.mark.parametrize("fn", ["exp", "sqrt", "sin", "sigmoid", "floor"])
def test_math_bf16(fn):
    import ml_dtypes

    x = _rng(5).uniform(0.1, 5, 100).astype(ml_dtypes.bfloat16)
    out = np.zeros(100, ml_dtypes.bfloat16)
    _launch(_math, 100, x, out, FN=fn)
    expected = MATH[fn][0](x.astype(np.float64)).astype(ml_dtypes.bfloat16).astype(np.float32)
    np.testing.assert_allclose(out.astype(np.float32), expected, rtol=8e-3)


@pytest.mark.parametrize("block", [1, 2, 4096])
def test_tiny_and_large_blocks(block):
    n = 5000
    x = np.arange(n, dtype=np.float32)
    y = np.ones(n, np.float32)
    out = np.zeros(n, np.float32)
    _binop[(jl.cdiv(n, block),)](x, y, out, n, BLOCK=block, OP="add")
    np.testing.assert_array_equal(out, x + 1)


@jl.jit
def _div_no_other(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)  # masked-off lanes divide by whatever: must not trap
    tl.store(out_ptr + offs, x // y, mask=mask)
    tl.store(out_ptr + n + offs, x % y, mask=mask)
    xs = tl.load(x_ptr + tl.program_id(0))
    ys = tl.load(y_ptr + tl.program_id(0))
    tl.store(out_ptr + 2 * n + tl.program_id(0), xs // ys + xs % ys)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16", "uint64"])
def test_integer_division_by_zero_is_zero(dtype):
    # documented in codegen/cpu/elementwise.py: no SIGFPE, x // 0 == x % 0 == 0
    n = 70
    x = (np.arange(n) + 5).astype(dtype)
    y = np.full(n, 3, dtype)
    y[[0, 7, 69]] = 0
    out = np.full(3 * n, 99, dtype)
    _div_no_other[(jl.cdiv(n, BLOCK),)](x, y, out, n, BLOCK=BLOCK)
    safe = np.where(y == 0, 1, y).astype(dtype)
    q = np.where(y == 0, 0, x // safe)
    r = np.where(y == 0, 0, x % safe)
    np.testing.assert_array_equal(out[:n], q)
    np.testing.assert_array_equal(out[n : 2 * n], r)
    np.testing.assert_array_equal(out[2 * n : 2 * n + 2], [(q + r)[0], (q + r)[1]])


@jl.jit
def _methods(x_ptr, out_ptr, FN: tl.constexpr):
    offs = tl.arange(0, 8)
    x = tl.load(x_ptr + offs)
    if FN == "exp":
        r = x.exp()
    elif FN == "abs":
        r = x.abs()
    elif FN == "sqrt":
        r = x.sqrt()
    elif FN == "log":
        r = x.log()
    elif FN == "sigmoid":
        r = x.sigmoid()
    elif FN == "cos":
        r = x.cos()
    elif FN == "exp2":
        r = x.exp2()
    elif FN == "math_log2":
        r = tl.math.log2(x)
    elif FN == "math_fma":
        r = tl.math.fma(x, x, x)
    elif FN == "math_sqrt_rn":
        r = tl.math.sqrt_rn(x)
    else:
        r = tl.math.rsqrt(x)
    tl.store(out_ptr + offs, r)


@pytest.mark.parametrize(
    "fn, ref",
    [
        ("exp", np.exp),
        ("abs", np.abs),
        ("sqrt", np.sqrt),
        ("log", np.log),
        ("sigmoid", lambda v: 1 / (1 + np.exp(-v))),
        ("cos", np.cos),
        ("exp2", np.exp2),
        ("math_log2", np.log2),
        ("math_fma", lambda v: v * v + v),
        ("math_sqrt_rn", np.sqrt),
        ("math_rsqrt", lambda v: 1 / np.sqrt(v)),
    ],
)
def test_tensor_methods_and_tl_math(fn, ref):
    x = np.arange(1, 9, dtype=np.float32)
    out = np.zeros(8, np.float32)
    _methods[(1,)](x, out, FN=fn)
    np.testing.assert_allclose(out, ref(x.astype(np.float64)), rtol=1e-6)


@jl.jit
def _bool_arith(x_ptr, out_ptr, F: tl.constexpr):
    offs = tl.arange(0, 4)
    x = tl.load(x_ptr + offs)
    a = x > 0
    b = x > 1
    if F == "add":
        r = (a + b).to(tl.int32)  # int1 arithmetic wraps, as in Triton
    elif F == "mul_float":
        r = a * 2.5
    elif F == "add_literal":
        r = a + 1  # an int literal outranks bool: int32
    elif F == "xor":
        r = (a ^ b).to(tl.int32)
    elif F == "invert":
        r = (~a).to(tl.int32)
    else:
        r = (a - b).to(tl.int32)
    tl.store(out_ptr + offs, r)


@pytest.mark.parametrize(
    "f, expected",
    [
        ("add", [0, 1, 0, 0]),
        ("mul_float", [0, 2.5, 2.5, 2.5]),
        ("add_literal", [1, 2, 2, 2]),
        ("xor", [0, 1, 0, 0]),
        ("invert", [1, 0, 0, 0]),
        ("sub", [0, 1, 0, 0]),
    ],
)
def test_bool_arithmetic(f, expected):
    x = np.array([0, 1, 2, 3], np.int32)
    out = np.zeros(4, np.float32)
    _bool_arith[(1,)](x, out, F=f)
    np.testing.assert_array_equal(out, expected)
