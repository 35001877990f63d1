"""Vectorised math functions for the CPU backend, emitted as LLVM IR.

Stage: CPU code generation helper. Input: an ``ir.Module``, a function name and a float type
(``float``, ``double`` or an ``ir.VectorType`` of either, 1..64 lanes). Output: an ``internal``,
``alwaysinline`` function ``jl.<name>.<suffix>`` (e.g. ``jl.exp.v16f32``) from that type to itself.

LLVM lowers ``llvm.exp.v16f32`` into sixteen scalar libm calls, so the kernel compiler calls these
instead. Every function is straight-line code (selects, no branches), so it works lane-wise on any
vector width and vectorises when inlined into a scalar loop. The scheme is the classic one: range
reduction with Cody-Waite constants and ``llvm.fma``, a polynomial on the reduced interval,
reconstruction with integer exponent arithmetic, then selects that patch the special values the way
libm does (NaN in -> NaN out, overflow -> inf, underflow -> 0 with correctly rounded subnormals,
log(0) = -inf, log(x < 0) = NaN, erf and tanh saturate at +-1, sin/cos(+-inf) = NaN).

Polynomial coefficients were fitted at development time by weighted least squares on 400 Chebyshev
nodes in 60-digit mpmath (weights make the error relative to the function), rounding coefficients
to the target precision one at a time and refitting the rest after each rounding.

Accuracy: max error in ulp against a float64 reference for f32 and a long-double (erf: mpmath)
reference for f64, over dense random, bit-pattern-uniform and special inputs at widths 1/4/8/16
(tests/codegen/test_vecmath.py; at development time also every 13th f32 bit pattern, 330M
values, and 3M-sample f64 runs).
``ULP_BOUNDS`` holds the guaranteed bounds; the measured maxima are in brackets:

    function  f32          f64          domain
    exp       2   (1.00)   2   (0.99)   all inputs
    exp2      2   (0.86)   2   (0.81)   all inputs
    expm1     3   (1.44)   3   (1.78)   all inputs
    log       2   (0.92)   2   (0.81)   all inputs
    log2      2   (1.18)   2   (0.76)   all inputs
    sin, cos  2   (1.56)   2   (1.56)   |x| <= SIN_COS_MAX_ARG: 1e5 (f32), 1e13 (f64)
    erf       3   (1.82)   3   (1.00)   all inputs
    tanh      3   (2.62)   3   (2.59)   all inputs

sin/cos reduce with a three-part pi/2 (Cody-Waite with fma), in the argument's own precision.
Beyond SIN_COS_MAX_ARG (the reduction breaks down at about 2e5 for f32 and 7e13 for f64, where
rint(x * 2/pi) is no longer the nearest quadrant) there is no slower exact path: the result stays
within [-1, 1] but its absolute error grows with |x|, to 0.01 just past the break-down and up to 2
(meaningless) from about 2^24 (f32) / 2^52 (f64) on. Reduce huge arguments before calling.
(A second rint on the remainder, re-centring r before the low parts of pi/2 are subtracted,
extends the f32 range to about 5e5 and the f64 range to 2^48, but costs about 25% of sin/cos
throughput, so it is not done.)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence

from llvmlite import ir

MATH_FUNCTIONS = ("exp", "exp2", "expm1", "log", "log2", "sin", "cos", "erf", "tanh")

ULP_BOUNDS: dict[tuple[str, str], float] = {
    ("exp", "f32"): 2.0,
    ("exp", "f64"): 2.0,
    ("exp2", "f32"): 2.0,
    ("exp2", "f64"): 2.0,
    ("expm1", "f32"): 3.0,
    ("expm1", "f64"): 3.0,
    ("log", "f32"): 2.0,
    ("log", "f64"): 2.0,
    ("log2", "f32"): 2.0,
    ("log2", "f64"): 2.0,
    ("sin", "f32"): 2.0,
    ("sin", "f64"): 2.0,
    ("cos", "f32"): 2.0,
    ("cos", "f64"): 2.0,
    ("erf", "f32"): 3.0,
    ("erf", "f64"): 3.0,
    ("tanh", "f32"): 3.0,
    ("tanh", "f64"): 3.0,
}

# Largest |x| for which sin/cos meet ULP_BOUNDS (see the module docstring).
SIN_COS_MAX_ARG = {"f32": 1e5, "f64": 1e13}

# fmt: off
# --- Polynomial coefficients, lowest degree first (fitted as the module docstring says). ---
# exp(r) = 1 + r + r^2 * EXP(r) on |r| <= ln2/2.
EXP_F32 = (0.49999988079071045, 0.166665181517601, 0.04166964814066887, 0.008368944749236107,
           0.0013745303731411695)
EXP_F64 = (0.5000000000000012, 0.16666666666666471, 0.04166666666651979, 0.008333333333458674,
           0.001388888894590293, 0.00019841269581140757, 2.4801491055366002e-05,
           2.755752173876022e-06, 2.7630897243072546e-07, 2.502003026436706e-08)
# 2^r = 1 + r * EXP2(r) on |r| <= 1/2.
EXP2_F32 = (0.6931471824645996, 0.24022650718688965, 0.05550405755639076, 0.009618078358471394,
            0.0013337277341634035, 0.0001545594714116305, 1.4475782336376142e-05)
EXP2_F64 = (0.6931471805599453, 0.2402265069591007, 0.05550410866482295, 0.0096181291076296,
            0.0013333558146159863, 0.000154035303912216, 1.5252734041783143e-05,
            1.3215488580834757e-06, 1.0177983417908088e-07, 7.054239355455903e-09,
            4.465887336843144e-10, 2.6633732948221953e-11)
# f32: log(1 + f) = f + f^2 * LOG1P_F32(f) on sqrt(1/2) - 1 <= f <= sqrt(2) - 1 (no division).
LOG1P_F32 = (-0.49999988079071045, 0.3333333730697632, -0.2500160038471222, 0.20001237094402313,
             -0.16608178615570068, 0.14195393025875092, -0.13263610005378723, 0.12827515602111816,
             -0.07479351758956909)
# f64: log(1 + f) = 2s + s * z * LOG_F64(z) with s = f / (2 + f), z = s^2 <= 0.0295.
LOG_F64 = (0.6666666666666736, 0.39999999999405483, 0.28571428744061894, 0.22222198426151224,
           0.18183571057432849, 0.15313895728652202, 0.1479736350587642)
# sin(r) = r + r^3 * SIN(r^2) and cos(r) = 1 - r^2/2 + r^4 * COS(r^2) on |r| <= pi/4.
SIN_F32 = (-0.1666666716337204, 0.008333373814821243, -0.00019850693934131414,
           2.8084632504032925e-06)
SIN_F64 = (-0.16666666666666635, 0.008333333333323086, -0.00019841269830282596,
           2.7557313840555832e-06, -2.5050779452005063e-08, 1.5897942824025707e-10)
COS_F32 = (0.04166664555668831, -0.0013887311797589064, 2.4432767531834543e-05)
COS_F64 = (0.041666666666666595, -0.0013888888888873383, 2.480158728904136e-05,
           -2.755731423054758e-07, 2.0875707396337112e-09, -1.1358857431466842e-11)

# erf(x) = x + x * ERF_SMALL(x^2) on |x| <= 1 (the leading 1 kept exact for f32).
ERF_SMALL_F32 = (0.12837916612625122, -0.3761262893676758, 0.11283617466688156,
                 -0.026855066418647766, 0.005190575961023569, -0.0008029054151847959,
                 7.913859735708684e-05)
ERF_SMALL_F64 = (0.12837916709551256, -0.3761263890318347, 0.11283791670943155,
                 -0.026866170643008853, 0.005223977605540274, -0.000854832590914877,
                 0.00012055293120684955, -1.4924705483724844e-05, 1.644706472808886e-06,
                 -1.620590035002091e-07, 1.3709517742522232e-08, -7.777212598956451e-10)
# f32, 1 <= x <= 3.9: log(erfc(x)) = ERF_LOGTAIL_F32(x - 2.45) (absolute error 8e-8).
ERF_LOGTAIL_F32 = (-7.541539669036865, -5.258373737335205, -0.9422314763069153,
                   -0.011302713304758072, 0.0022725623566657305, -0.00044344854541122913,
                   8.251298277173191e-05, -1.4299398571893107e-05, 1.546473868074827e-06,
                   6.701350230287062e-08)
# f64, erfc(x) directly on [1, 1.75] in (x - 1.375) and on [1.75, 2.5] in (x - 2.125), abs error
# 3e-18 and 6e-18.
ERFC_A_F64 = (0.051829927217909674, -0.1703597736875156, 0.234244688820335, -0.157937706856135,
              0.030500610523378813, 0.03060597626898933, -0.022161235258477414,
              0.0014190623581174515, 0.004261033344023935, -0.0015779111772679774,
              -0.00032359029082931886, 0.00033910083073786836, -2.868907693810521e-05,
              -4.174983459334318e-05, 1.1999959833755775e-05, 2.9551533237683104e-06,
              -1.8655623761978176e-06)
ERFC_B_F64 = (0.0026540293594823393, -0.012340820614333533, 0.026224243805461067,
              -0.0330374051863327, 0.02636082840832042, -0.012495482588049738,
              0.0018214126098942784, 0.0018692571402458545, -0.0013833460795677295,
              0.000289781929148994, 0.00012277870428593503, -9.487316526816168e-05,
              1.4932832306252482e-05, 8.57858317510643e-06, -4.289998608832253e-06)
# f64, 2.5 <= x <= 5.95: erfc(x) = exp(-x^2) * ERFC_TAIL_F64(1/x - ERFC_TAIL_MID), relative
# error 2e-15.
ERFC_TAIL_MID = 0.28403361344537814
ERFC_TAIL_F64 = (0.1544423908720658, 0.5067909695084336, -0.1714857343706104, -0.08521230390487121,
                 0.19366076254272305, -0.12223591915391609, -0.08760409096249118,
                 0.3027949208476939, -0.32453642056815735, -0.016617968199003533,
                 0.6935812569856522, -1.227344004873575, 0.7083427300505633)

# fmt: on


class _Emitter:
    """Arithmetic on one float type (scalar or vector) and the integer type of the same shape.

    Operands are ``ir.Value``s of ``self.ty`` (floats) or ``self.ity`` (integers); Python numbers
    are splatted into constants of the matching type.
    """

    def __init__(self, builder: ir.IRBuilder, ty: ir.Type):
        self.b = builder
        self.ty = ty
        self.lanes = ty.count if isinstance(ty, ir.VectorType) else 0
        elem = ty.element if self.lanes else ty
        self.is_f64 = isinstance(elem, ir.DoubleType)
        self.bits = 64 if self.is_f64 else 32
        self.mant = 52 if self.is_f64 else 23
        self.bias = 1023 if self.is_f64 else 127
        self.ielem = ir.IntType(self.bits)
        self.ity = ir.VectorType(self.ielem, self.lanes) if self.lanes else self.ielem
        self.felem = elem

    # constants
    def _splat(self, ty: ir.Type, elem: ir.Type, v) -> ir.Constant:
        if self.lanes:
            return ir.Constant(ty, [ir.Constant(elem, v)] * self.lanes)
        return ir.Constant(ty, v)

    def f(self, v: float) -> ir.Constant:
        return self._splat(self.ty, self.felem, float(v))

    def i(self, v: int) -> ir.Constant:
        return self._splat(self.ity, self.ielem, int(v))

    def _val(self, v):
        return v if isinstance(v, ir.Value) else self.f(v)

    def _ival(self, v):
        return v if isinstance(v, ir.Value) else self.i(v)

    # intrinsics
    def _intrinsic(self, name: str, *args, fastmath: tuple[str, ...] = ()):
        # Declared by hand: llvmlite's declare_intrinsic cannot mangle vector types.
        full = f"{name}.{_type_suffix(self.ty)}"
        fn = self.b.module.globals.get(full)
        if fn is None:
            fn = ir.Function(self.b.module, ir.FunctionType(self.ty, [self.ty] * len(args)), full)
        return self.b.call(fn, [self._val(a) for a in args], fastmath=fastmath)

    def fma(self, a, b, c):
        return self._intrinsic("llvm.fma", a, b, c)

    def rint(self, x):
        return self._intrinsic("llvm.rint", x)

    def fabs(self, x):
        return self._intrinsic("llvm.fabs", x)

    def copysign(self, mag, sign):
        return self._intrinsic("llvm.copysign", mag, sign)

    # float arithmetic
    def add(self, a, b):
        return self.b.fadd(self._val(a), self._val(b))

    def sub(self, a, b):
        return self.b.fsub(self._val(a), self._val(b))

    def mul(self, a, b):
        return self.b.fmul(self._val(a), self._val(b))

    def div(self, a, b):
        return self.b.fdiv(self._val(a), self._val(b))

    def poly(self, x, coeffs: Sequence[float]):
        """Horner evaluation of sum(coeffs[k] * x^k) with fma."""
        acc = self.f(coeffs[-1])
        for c in reversed(coeffs[:-1]):
            acc = self.fma(acc, x, c)
        return acc

    # comparisons (ordered: false when either side is NaN) and selects
    def cmp(self, op: str, a, b):
        return self.b.fcmp_ordered(op, self._val(a), self._val(b))

    def isnan(self, x):
        return self.b.fcmp_unordered("uno", x, x)

    def select(self, cond, a, b):
        return self.b.select(cond, self._val(a), self._val(b))

    def clamp(self, x, lo: float, hi: float):
        """Clamp to [lo, hi]. NaN lanes become poison: every caller overrides them with a select.

        ``nnan`` lets x86 use a bare vminps/vmaxps instead of a NaN-fixing compare and blend.
        """
        low = self._intrinsic("llvm.minnum", x, hi, fastmath=("nnan",))
        return self._intrinsic("llvm.maxnum", low, lo, fastmath=("nnan",))

    # integer views
    def as_int(self, x):
        return self.b.bitcast(x, self.ity)

    def as_float(self, n):
        return self.b.bitcast(n, self.ty)

    def to_int(self, x):
        return self.b.fptosi(x, self.ity)

    def to_float(self, n):
        return self.b.sitofp(n, self.ty)

    def iadd(self, a, b):
        return self.b.add(self._ival(a), self._ival(b))

    def isub(self, a, b):
        return self.b.sub(self._ival(a), self._ival(b))

    def iand(self, a, b):
        return self.b.and_(self._ival(a), self._ival(b))

    def ixor(self, a, b):
        return self.b.xor(self._ival(a), self._ival(b))

    def shl(self, a, k: int):
        return self.b.shl(self._ival(a), self.i(k))

    def ashr(self, a, k: int):
        return self.b.ashr(self._ival(a), self.i(k))

    def pow2(self, n):
        """2^n for an integer n within the normal exponent range."""
        return self.as_float(self.shl(self.iadd(n, self.bias), self.mant))

    def scale(self, p, n):
        """p * 2^n for |n| up to about 2 * bias, in two steps so subnormal results round once."""
        n1 = self.ashr(n, 1)
        return self.mul(self.mul(p, self.pow2(n1)), self.pow2(self.isub(n, n1)))

    def bits_of(self, v: float) -> int:
        """The IEEE bit pattern of v in this type."""
        fmt, ifmt = ("<d", "<q") if self.is_f64 else ("<f", "<i")
        return struct.unpack(ifmt, struct.pack(fmt, v))[0]

    def pick(self, f32, f64):
        return f64 if self.is_f64 else f32


# --- Reduction constants: a value split into parts whose sum carries about 2x/3x the precision. ---
LN2_F32 = (0.6931471824645996, -1.9046542121259336e-09)
LN2_F64 = (0.6931471805599453, 2.3190468138462996e-17)
INV_LN2_F32 = (1.4426950216293335, 1.925963033500011e-08)
INV_LN2_F64 = (1.4426950408889634, 2.0355273740931033e-17)
PIO2_F32 = (1.5707963705062866, -4.371138828673793e-08, -1.7151245100058819e-15)
PIO2_F64 = (1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33)
TWO_OVER_PI = 0.6366197723675814


def _exp_core(e: _Emitter, x):
    """exp(x) for x already clamped to a range where the two-step scaling cannot overflow."""
    ln2 = e.pick(LN2_F32, LN2_F64)
    n = e.rint(e.mul(x, e.pick(INV_LN2_F32, INV_LN2_F64)[0]))
    r = e.fma(n, -ln2[0], x)
    r = e.fma(n, -ln2[1], r)
    p = e.add(e.fma(e.mul(r, r), e.poly(r, e.pick(EXP_F32, EXP_F64)), r), 1.0)
    return e.scale(p, e.to_int(n))


def _exp(e: _Emitter, x):
    # Clamp bounds: exp(hi) overflows, exp(lo) is below half the smallest subnormal.
    xs = e.clamp(x, e.pick(-105.0, -746.0), e.pick(89.0, 710.0))
    return e.select(e.isnan(x), x, _exp_core(e, xs))


def _exp2(e: _Emitter, x):
    xs = e.clamp(x, e.pick(-152.0, -1077.0), e.pick(129.0, 1025.0))
    n = e.rint(xs)
    r = e.sub(xs, n)  # exact
    p = e.fma(r, e.poly(r, e.pick(EXP2_F32, EXP2_F64)), 1.0)
    return e.select(e.isnan(x), x, e.scale(p, e.to_int(n)))


def _expm1_core(e: _Emitter, x):
    """expm1(x) for x clamped as in _expm1, as 2^n (1 + u) - 1 = 2 (h u + (h - 1/2)), h = 2^(n-1).

    Halving keeps h finite where 2^n would overflow and makes h - 1/2 exact for small n.
    """
    ln2 = e.pick(LN2_F32, LN2_F64)
    n = e.rint(e.mul(x, e.pick(INV_LN2_F32, INV_LN2_F64)[0]))
    r = e.fma(n, -ln2[0], x)
    r = e.fma(n, -ln2[1], r)
    u = e.fma(e.mul(r, r), e.poly(r, e.pick(EXP_F32, EXP_F64)), r)
    h = e.pow2(e.isub(e.to_int(n), 1))
    return e.mul(e.fma(h, u, e.sub(h, 0.5)), 2.0)


def _expm1(e: _Emitter, x):
    # Below lo the result rounds to -1; above hi it overflows while 2^(n-1) stays finite.
    xs = e.clamp(x, e.pick(-30.0, -45.0), e.pick(88.8, 709.9))
    y = _expm1_core(e, xs)
    # Tiny inputs (and -0) return x itself: the 2 * (x / 2) above would lose subnormal bits.
    tiny = e.cmp("<", e.fabs(x), e.pick(2.0**-30, 2.0**-60))
    return e.select(e.isnan(x), x, e.select(tiny, x, y))


def _log_reduce(e: _Emitter, x):
    """Split x > 0 as 2^k * (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)); return (k as float, f)."""
    tiny = e.cmp("<", x, e.pick(2.0**-126, 2.0**-1022))
    xs = e.select(tiny, e.mul(x, 2.0**e.mant), x)
    ix = e.isub(e.as_int(xs), e.bits_of(math.sqrt(0.5)))
    k = e.iadd(e.ashr(ix, e.mant), e.b.select(tiny, e.i(-e.mant), e.i(0)))
    m = e.as_float(e.iadd(e.iand(ix, (1 << e.mant) - 1), e.bits_of(math.sqrt(0.5))))
    return e.to_float(k), e.sub(m, 1.0)


def _log1p_split(e: _Emitter, f):
    """log(1 + f) on the reduced interval as hi + lo with |lo| much smaller than |hi|."""
    if not e.is_f64:
        return f, e.mul(e.mul(f, f), e.poly(f, LOG1P_F32))
    # fdlibm's form f - hfsq + s * (hfsq + R): the division buys a short polynomial in s^2.
    hfsq = e.mul(e.mul(f, f), 0.5)
    s = e.div(f, e.add(f, 2.0))
    z = e.mul(s, s)
    t = e.add(hfsq, e.mul(z, e.poly(z, LOG_F64)))
    hi = e.sub(f, hfsq)
    return hi, e.fma(s, t, e.sub(e.sub(f, hi), hfsq))  # f - hi is exact (Sterbenz)


def _log_specials(e: _Emitter, x, y):
    y = e.select(e.b.fcmp_unordered(">=", x, e.f(math.inf)), x, y)  # +inf and NaN map to x
    return e.select(e.cmp("<=", x, 0.0), e.select(e.cmp("==", x, 0.0), -math.inf, math.nan), y)


def _log(e: _Emitter, x):
    k, f = _log_reduce(e, x)
    if not e.is_f64:  # |k| <= 149: the f32 rounding of ln2 costs under 0.05 ulp
        log1p = e.fma(e.mul(f, f), e.poly(f, LOG1P_F32), f)
        return _log_specials(e, x, e.fma(k, LN2_F32[0], log1p))
    hi, lo = _log1p_split(e, f)
    y = e.fma(k, LN2_F64[0], e.add(hi, e.fma(k, LN2_F64[1], lo)))
    return _log_specials(e, x, y)


def _log2(e: _Emitter, x):
    k, f = _log_reduce(e, x)
    hi, lo = _log1p_split(e, f)
    inv = e.pick(INV_LN2_F32, INV_LN2_F64)
    # (hi + lo) / ln2 as th + tl, with the rounding error of hi * inv[0] recovered by fma.
    th = e.mul(hi, inv[0])
    tl = e.add(e.fma(hi, inv[0], e.b.fneg(th)), e.fma(hi, inv[1], e.mul(lo, inv[0])))
    w = e.add(k, th)
    y = e.add(w, e.add(e.add(e.sub(k, w), th), tl))
    return _log_specials(e, x, y)


def _sincos(e: _Emitter, x, quadrant_offset: int):
    # Clamping keeps n = rint(x * 2/pi) within fptosi range; inputs past SIN_COS_MAX_ARG get no
    # accuracy guarantee anyway, and inf/NaN are patched at the end.
    limit = e.pick(2.0**24, 2.0**52)
    xs = e.clamp(x, -limit, limit)
    pio2 = e.pick(PIO2_F32, PIO2_F64)
    n = e.rint(e.mul(xs, TWO_OVER_PI))
    r = e.fma(n, -pio2[0], xs)
    r = e.fma(n, -pio2[1], r)
    r = e.fma(n, -pio2[2], r)
    # Within SIN_COS_MAX_ARG, |r| <= pi/4 plus the rounding of x * 2/pi (< 0.8); beyond it n and r
    # lose accuracy and the clamp keeps the result within [-1, 1].
    r = e.clamp(r, -0.8, 0.8)
    q = e.iadd(e.to_int(n), quadrant_offset)
    z = e.mul(r, r)
    sin_r = e.fma(e.mul(r, z), e.poly(z, e.pick(SIN_F32, SIN_F64)), r)
    cos_r = e.fma(e.mul(z, z), e.poly(z, e.pick(COS_F32, COS_F64)), e.fma(z, -0.5, 1.0))
    odd = e.b.icmp_signed("!=", e.iand(q, 1), e.i(0))
    y = e.select(odd, cos_r, sin_r)
    y = e.as_float(e.ixor(e.as_int(y), e.shl(e.iand(q, 2), e.bits - 2)))
    finite = e.cmp("<", e.fabs(x), math.inf)
    return e.select(finite, y, e.sub(x, x))  # inf - inf and NaN - NaN are NaN


def _sin(e: _Emitter, x):
    return e.select(e.cmp("==", x, 0.0), x, _sincos(e, x, 0))  # keeps sin(-0) = -0


def _cos(e: _Emitter, x):
    return _sincos(e, x, 1)


def _erf(e: _Emitter, x):
    a = e.clamp(e.fabs(x), 0.0, e.pick(3.9, 5.95))  # erf rounds to 1 beyond
    small = e.fma(a, e.poly(e.mul(a, a), e.pick(ERF_SMALL_F32, ERF_SMALL_F64)), a)
    if not e.is_f64:
        big = e.sub(1.0, _exp_core(e, e.poly(e.sub(a, 2.45), ERF_LOGTAIL_F32)))
        y = e.select(e.cmp("<", a, 1.0), small, big)
        y = e.select(e.cmp(">=", e.fabs(x), 3.9192058), 1.0, y)
    else:
        # [1, 2.5): one polynomial whose coefficients are picked per lane from two pieces.
        in_a = e.cmp("<", a, 1.75)
        t = e.sub(a, e.select(in_a, 1.375, 2.125))
        pad = ERFC_B_F64 + (0.0,) * (len(ERFC_A_F64) - len(ERFC_B_F64))
        acc = e.select(in_a, ERFC_A_F64[-1], pad[-1])
        for ca, cb in zip(reversed(ERFC_A_F64[:-1]), reversed(pad[:-1]), strict=True):
            acc = e.fma(acc, t, e.select(in_a, ca, cb))
        # [2.5, 5.95]: exp(-x^2) * R(1/x); the rounding of x^2 costs at most 4e-15 relative.
        r = e.poly(e.sub(e.div(1.0, a), ERFC_TAIL_MID), ERFC_TAIL_F64)
        tail = e.mul(_exp_core(e, e.b.fneg(e.mul(a, a))), r)
        erfc = e.select(e.cmp("<", a, 2.5), acc, tail)
        y = e.select(e.cmp("<", a, 1.0), small, e.sub(1.0, erfc))
    return e.select(e.isnan(x), x, e.copysign(y, x))


def _tanh(e: _Emitter, x):
    # tanh|x| = m / (m + 2) with m = expm1(2|x|); above the clamp tanh rounds to 1.
    a = e.clamp(e.fabs(x), 0.0, e.pick(9.1, 19.5))
    m = _expm1_core(e, e.mul(a, 2.0))
    y = e.copysign(e.div(m, e.add(m, 2.0)), x)
    return e.select(e.isnan(x), x, y)


_EMITTERS: dict[str, Callable[[_Emitter, ir.Value], ir.Value]] = {
    "exp": _exp,
    "exp2": _exp2,
    "expm1": _expm1,
    "log": _log,
    "log2": _log2,
    "sin": _sin,
    "cos": _cos,
    "erf": _erf,
    "tanh": _tanh,
}


def _type_suffix(ty: ir.Type) -> str:
    elem = ty.element if isinstance(ty, ir.VectorType) else ty
    if not isinstance(elem, (ir.FloatType, ir.DoubleType)) or isinstance(elem, ir.HalfType):
        raise TypeError(
            f"vecmath supports float, double and vectors of them, not {ty}; "
            "extend half/bfloat16 to float first"
        )
    if isinstance(ty, ir.VectorType) and not 1 <= ty.count <= 64:
        raise TypeError(f"vecmath supports vectors of 1..64 lanes, not {ty.count}")
    scalar = "f64" if isinstance(elem, ir.DoubleType) else "f32"
    return f"v{ty.count}{scalar}" if isinstance(ty, ir.VectorType) else scalar


def get_math_function(module: ir.Module, name: str, ty: ir.Type) -> ir.Function:
    """Return ``jl.<name>.<suffix>`` in ``module`` (defining it on first use): ``ty -> ty``."""
    if name not in _EMITTERS:
        raise ValueError(f"unknown math function {name!r}; supported: {', '.join(MATH_FUNCTIONS)}")
    mangled = f"jl.{name}.{_type_suffix(ty)}"
    existing = module.globals.get(mangled)
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(ty, [ty]), name=mangled)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(_EMITTERS[name](_Emitter(builder, ty), fn.args[0]))
    return fn
