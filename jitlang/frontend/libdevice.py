"""`tl.extra.libdevice` (and its `cuda`/`hip` spellings): the libdevice math functions that have
an equivalent on jitlang's targets, composed of tile-IR unary/binary ops so the CPU, the
interpreter and the accelerator run the same code. Names without one fail in
`builtins.call_builtin` at the kernel line, naming the function.

Stage: frontend (registered into `builtins.HANDLERS` as "libdevice.<name>").
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import BinaryOp, CmpPred, UnaryOp, Value
from . import semantic as S
from .builtins import HANDLERS
from .semantic import Builder


def _libdevice(name: str):
    def register(fn):
        HANDLERS[f"libdevice.{name}"] = fn
        return fn

    return register


def _float(b: Builder, x, name: str) -> Value:
    from ..ir import scalar_dtype

    v = S.to_value(b, x)
    dt = scalar_dtype(v.type)
    if dt is None or not dt.is_float:
        raise b.type_error(
            f"tl.extra.libdevice.{name} takes floating-point values, got {S.type_name(v)}",
            "convert with .to(tl.float32)",
        )
    return v


def _same_as(b: Builder, ref: Value, y) -> Value:
    from ..ir import scalar_dtype

    return S.cast(b, S.to_value(b, y, scalar_dtype(ref.type)), scalar_dtype(ref.type))


def _map_unary(name: str, op: UnaryOp) -> None:
    @_libdevice(name)
    def h(b: Builder, arg0):
        return S.unary(b, op, _float(b, arg0, name))


for _name, _op in (
    ("fabs", UnaryOp.ABS),
    ("exp", UnaryOp.EXP),
    ("fast_expf", UnaryOp.EXP),
    ("exp2", UnaryOp.EXP2),
    ("log", UnaryOp.LOG),
    ("fast_logf", UnaryOp.LOG),
    ("log2", UnaryOp.LOG2),
    ("sqrt", UnaryOp.SQRT),
    ("sqrt_rn", UnaryOp.SQRT),
    ("rsqrt", UnaryOp.RSQRT),
    ("sin", UnaryOp.SIN),
    ("cos", UnaryOp.COS),
    ("tanh", UnaryOp.TANH),
    ("erf", UnaryOp.ERF),
    ("floor", UnaryOp.FLOOR),
    ("ceil", UnaryOp.CEIL),
):
    _map_unary(_name, _op)


@_libdevice("abs")
def _ld_abs(b: Builder, arg0):  # libdevice's abs is the integer one; fabs the float one
    return S.unary(b, UnaryOp.ABS, S.to_value(b, arg0))


def _map_binary(name: str, op: BinaryOp) -> None:
    @_libdevice(name)
    def h(b: Builder, arg0, arg1):
        x = _float(b, arg0, name)
        return S.binary(b, op, x, _same_as(b, x, arg1))


for _name, _op in (
    ("add_rn", BinaryOp.ADD),
    ("sub_rn", BinaryOp.SUB),
    ("mul_rn", BinaryOp.MUL),
    ("div_rn", BinaryOp.DIV),
    ("fast_dividef", BinaryOp.DIV),
    ("fmod", BinaryOp.REM),
):
    _map_binary(_name, _op)


@_libdevice("fmax")
def _ld_fmax(b: Builder, arg0, arg1):  # C fmax: a NaN operand yields the other one
    x = _float(b, arg0, "fmax")
    return S.minmax(b, BinaryOp.MAX, x, _same_as(b, x, arg1))


@_libdevice("fmin")
def _ld_fmin(b: Builder, arg0, arg1):
    x = _float(b, arg0, "fmin")
    return S.minmax(b, BinaryOp.MIN, x, _same_as(b, x, arg1))


@_libdevice("fma")
def _ld_fma(b: Builder, arg0, arg1, arg2):
    from .builtins import fma

    x = _float(b, arg0, "fma")
    return fma(b, x, _same_as(b, x, arg1), _same_as(b, x, arg2))


@_libdevice("umulhi")
def _ld_umulhi(b: Builder, arg0, arg1):
    from .builtins import umulhi

    return umulhi(b, arg0, arg1)


@_libdevice("rcp_rn")
def _ld_rcp(b: Builder, arg0):
    x = _float(b, arg0, "rcp_rn")
    return S.binary(b, BinaryOp.DIV, _same_as(b, x, 1.0), x)


@_libdevice("saturatef")
def _ld_saturate(b: Builder, arg0):  # clamp to [0, 1]; NaN becomes 0 (as CUDA's saturate)
    x = _float(b, arg0, "saturatef")
    lo = S.where(b, S.compare(b, CmpPred.GT, x, 0.0), x, _same_as(b, x, 0.0))
    return S.where(b, S.compare(b, CmpPred.LT, lo, 1.0), lo, _same_as(b, x, 1.0))


@_libdevice("isnan")
def _ld_isnan(b: Builder, arg0):
    x = _float(b, arg0, "isnan")
    return S.compare(b, CmpPred.NE, x, x)


@_libdevice("isinf")
def _ld_isinf(b: Builder, arg0):
    x = _float(b, arg0, "isinf")
    return S.compare(b, CmpPred.EQ, S.unary(b, UnaryOp.ABS, x), float("inf"))


@_libdevice("isfinited")
def _ld_isfinite(b: Builder, arg0):
    x = _float(b, arg0, "isfinited")
    return S.compare(b, CmpPred.LT, S.unary(b, UnaryOp.ABS, x), float("inf"))


def _sign_bits(b: Builder, x: Value):
    """x as a signed integer of its width (the sign bit is the integer's sign)."""
    from ..ir import scalar_dtype

    it = {16: DType.I16, 32: DType.I32, 64: DType.I64}[scalar_dtype(x.type).bits]
    return S.cast(b, x, it, bitcast=True), it


@_libdevice("signbit")
def _ld_signbit(b: Builder, arg0):
    i, _ = _sign_bits(b, _float(b, arg0, "signbit"))
    return S.compare(b, CmpPred.LT, i, 0)


@_libdevice("copysign")
def _ld_copysign(b: Builder, arg0, arg1):
    x = _float(b, arg0, "copysign")
    y = _same_as(b, x, arg1)
    ax = S.unary(b, UnaryOp.ABS, x)
    neg = _ld_signbit(b, y)
    return S.where(b, neg, S.unary(b, UnaryOp.NEG, ax), ax)


def _trunc(b: Builder, x: Value) -> Value:
    neg = S.compare(b, CmpPred.LT, x, 0.0)
    return S.where(b, neg, S.unary(b, UnaryOp.CEIL, x), S.unary(b, UnaryOp.FLOOR, x))


@_libdevice("trunc")
def _ld_trunc(b: Builder, arg0):
    return _trunc(b, _float(b, arg0, "trunc"))


@_libdevice("round")
def _ld_round(b: Builder, arg0):  # halves away from zero; x - trunc(x) is exact
    x = _float(b, arg0, "round")
    t = _trunc(b, x)
    frac = S.unary(b, UnaryOp.ABS, S.binary(b, BinaryOp.SUB, x, t))
    step = _ld_copysign(b, _same_as(b, x, 1.0), x)
    return S.where(b, S.compare(b, CmpPred.GE, frac, 0.5), S.binary(b, BinaryOp.ADD, t, step), t)


def _rint(b: Builder, arg0, name: str):  # halves to even; x - floor(x) is exact
    x = _float(b, arg0, name)
    f = S.unary(b, UnaryOp.FLOOR, x)
    d = S.binary(b, BinaryOp.SUB, x, f)
    up = S.binary(b, BinaryOp.ADD, f, 1.0)
    half = S.binary(b, BinaryOp.MUL, f, 0.5)
    f_odd = S.compare(b, CmpPred.NE, S.unary(b, UnaryOp.FLOOR, half), half)
    take_up = S.binary(
        b,
        BinaryOp.OR,
        S.compare(b, CmpPred.GT, d, 0.5),
        S.binary(b, BinaryOp.AND, S.compare(b, CmpPred.EQ, d, 0.5), f_odd),
    )
    r = S.where(b, take_up, up, f)
    return _ld_copysign(b, r, x)  # rint(-0.3) is -0.0


_libdevice("rint")(lambda b, arg0: _rint(b, arg0, "rint"))
_libdevice("nearbyint")(lambda b, arg0: _rint(b, arg0, "nearbyint"))


@_libdevice("exp10")
def _ld_exp10(b: Builder, arg0):
    x = _float(b, arg0, "exp10")
    return S.unary(b, UnaryOp.EXP2, S.binary(b, BinaryOp.MUL, x, 3.321928094887362))


@_libdevice("log10")
def _ld_log10(b: Builder, arg0):
    x = _float(b, arg0, "log10")
    return S.binary(b, BinaryOp.MUL, S.unary(b, UnaryOp.LOG2, x), 0.30102999566398120)


@_libdevice("log1p")
def _ld_log1p(b: Builder, arg0):
    """log(1 + x) without losing small x: log(u) * x / (u - 1) with u = 1 + x rounded (the
    rounding error of u cancels), and x itself where u == 1."""
    x = _float(b, arg0, "log1p")
    u = S.binary(b, BinaryOp.ADD, x, 1.0)
    um1 = S.binary(b, BinaryOp.SUB, u, 1.0)
    scaled = S.binary(
        b, BinaryOp.MUL, S.unary(b, UnaryOp.LOG, u), S.binary(b, BinaryOp.DIV, x, um1)
    )
    big = S.compare(b, CmpPred.EQ, u, float("inf"))
    r = S.where(b, big, S.unary(b, UnaryOp.LOG, u), scaled)
    return S.where(b, S.compare(b, CmpPred.EQ, um1, 0.0), x, r)


@_libdevice("expm1")
def _ld_expm1(b: Builder, arg0):
    """exp(x) - 1 without losing small x (Kahan): (u - 1) * x / log(u) with u = exp(x)."""
    x = _float(b, arg0, "expm1")
    u = S.unary(b, UnaryOp.EXP, x)
    um1 = S.binary(b, BinaryOp.SUB, u, 1.0)
    scaled = S.binary(
        b, BinaryOp.MUL, um1, S.binary(b, BinaryOp.DIV, x, S.unary(b, UnaryOp.LOG, u))
    )
    plain = S.binary(
        b,
        BinaryOp.OR,
        S.compare(b, CmpPred.EQ, u, float("inf")),
        S.compare(b, CmpPred.EQ, um1, -1.0),
    )
    r = S.where(b, plain, um1, scaled)
    return S.where(b, S.compare(b, CmpPred.EQ, um1, 0.0), x, r)


@_libdevice("sinh")
def _ld_sinh(b: Builder, arg0):
    x = _float(b, arg0, "sinh")
    e = _ld_expm1(b, S.unary(b, UnaryOp.ABS, x))  # (e^a - e^-a) / 2 = (m + m / (m + 1)) / 2
    s = S.binary(
        b,
        BinaryOp.MUL,
        S.binary(
            b, BinaryOp.ADD, e, S.binary(b, BinaryOp.DIV, e, S.binary(b, BinaryOp.ADD, e, 1.0))
        ),
        0.5,
    )
    return _ld_copysign(b, s, x)


@_libdevice("cosh")
def _ld_cosh(b: Builder, arg0):
    x = _float(b, arg0, "cosh")
    e = S.unary(b, UnaryOp.EXP, S.unary(b, UnaryOp.ABS, x))
    return S.binary(
        b, BinaryOp.MUL, S.binary(b, BinaryOp.ADD, e, S.binary(b, BinaryOp.DIV, 1.0, e)), 0.5
    )


@_libdevice("tan")
def _ld_tan(b: Builder, arg0):
    x = _float(b, arg0, "tan")
    return S.binary(b, BinaryOp.DIV, S.unary(b, UnaryOp.SIN, x), S.unary(b, UnaryOp.COS, x))


def _pow(b: Builder, arg0, arg1, name: str):
    """x ** y as exp2(y * log2|x|) with C pow's special cases: pow(x, 0) = pow(1, y) = 1; a
    negative x gives NaN unless y is an integer, then the sign of x ** y follows y's parity.
    Relative error grows with |y * log2|x|| (not correctly rounded)."""
    x = _float(b, arg0, name)
    y = _same_as(b, x, arg1)
    ax = S.unary(b, UnaryOp.ABS, x)
    r = S.unary(b, UnaryOp.EXP2, S.binary(b, BinaryOp.MUL, y, S.unary(b, UnaryOp.LOG2, ax)))
    y_int = S.compare(b, CmpPred.EQ, S.unary(b, UnaryOp.FLOOR, y), y)
    half = S.binary(b, BinaryOp.MUL, y, 0.5)
    y_odd = S.binary(
        b, BinaryOp.AND, y_int, S.compare(b, CmpPred.NE, S.unary(b, UnaryOp.FLOOR, half), half)
    )
    neg_r = S.where(b, y_odd, S.unary(b, UnaryOp.NEG, r), r)
    neg = S.where(b, y_int, neg_r, _same_as(b, x, float("nan")))
    out = S.where(b, S.compare(b, CmpPred.LT, x, 0.0), neg, r)
    one = S.binary(
        b, BinaryOp.OR, S.compare(b, CmpPred.EQ, y, 0.0), S.compare(b, CmpPred.EQ, x, 1.0)
    )
    return S.where(b, one, _same_as(b, x, 1.0), out)


_libdevice("pow")(lambda b, arg0, arg1: _pow(b, arg0, arg1, "pow"))
_libdevice("powf")(lambda b, arg0, arg1: _pow(b, arg0, arg1, "powf"))
