"""Elementwise semantics on LLVM values (scalars or vectors alike) for the CPU code generator.

Register representation (see `reg_type`): int1 is i1, integers are iN, float16/bfloat16 are
held in f32 and rounded back after every operation (exact: f32 has more than 2p+2 bits of
precision for both), pointers are i64 addresses. Integer division by zero gives 0 and
INT_MIN // -1 wraps (like numpy), shifts by >= the bit width give 0 (or the sign), float-to-int
casts saturate (NaN -> 0); none of these trap.
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.dtypes import DType
from jitlang.ir import BinaryOp, CmpPred, ElemType, PointerType, UnaryOp

from . import llvmutil as U

HALF = ir.HalfType()
I16 = ir.IntType(16)


def reg_type(elem: ElemType) -> ir.Type:
    if isinstance(elem, PointerType):
        return U.I64
    dt = elem.dtype
    if dt is DType.I1:
        return U.I1
    if dt.is_int:
        return ir.IntType(dt.bits)
    if dt is DType.F64:
        return U.F64
    return U.F32


def buf_type(elem: ElemType) -> ir.Type:
    """Element type of compiler-owned buffers (int1 as a byte; otherwise the register type)."""
    t = reg_type(elem)
    return U.I8 if t == U.I1 else t


def mem_type(dt: DType) -> ir.Type:
    """Element type in user memory (numpy layout)."""
    if dt is DType.I1 or dt.is_fp8:
        return U.I8
    if dt is DType.F16:
        return HALF
    if dt is DType.BF16:
        return I16
    return reg_type_of(dt)


def reg_type_of(dt: DType) -> ir.Type:
    from jitlang.ir import ScalarType

    return reg_type(ScalarType(dt))


def vec(t: ir.Type, lanes: int) -> ir.Type:
    return t if lanes == 1 else ir.VectorType(t, lanes)


def lanes_of(v: ir.Value) -> int:
    return v.type.count if isinstance(v.type, ir.VectorType) else 1


def const_like(v: ir.Value, value) -> ir.Constant:
    t = v.type
    if isinstance(t, ir.VectorType):
        return ir.Constant(t, [ir.Constant(t.element, value)] * t.count)
    return ir.Constant(t, value)


def const_vec(t: ir.Type, value, lanes: int) -> ir.Constant:
    if lanes == 1:
        return ir.Constant(t, value)
    return ir.Constant(ir.VectorType(t, lanes), [ir.Constant(t, value)] * lanes)


# -- memory <-> register conversions ----------------------------------------------------------


def bf16_round_bits(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """f32 register -> i16 bfloat16 bits, round to nearest even, NaN kept quiet."""
    n = lanes_of(x)
    i32 = vec(U.I32, n)
    bits = b.bitcast(x, i32)
    lsb = b.and_(b.lshr(bits, const_vec(U.I32, 16, n)), const_vec(U.I32, 1, n))
    rounded = b.add(bits, b.add(lsb, const_vec(U.I32, 0x7FFF, n)))
    is_nan = b.fcmp_unordered("uno", x, x)
    # NaN: keep the payload when it survives truncation (bf16 NaNs round-trip bit-exactly),
    # otherwise set the quiet bit so the result stays a NaN
    keeps = b.icmp_unsigned(
        "!=", b.and_(bits, const_vec(U.I32, 0x7F0000, n)), const_vec(U.I32, 0, n)
    )
    nan_bits = b.select(keeps, bits, b.or_(bits, const_vec(U.I32, 0x400000, n)))
    out = b.select(is_nan, nan_bits, rounded)
    return b.trunc(b.lshr(out, const_vec(U.I32, 16, n)), vec(I16, n))


def bf16_bits_to_f32(b: ir.IRBuilder, h: ir.Value) -> ir.Value:
    n = lanes_of(h)
    w = b.shl(b.zext(h, vec(U.I32, n)), const_vec(U.I32, 16, n))
    return b.bitcast(w, vec(U.F32, n))


def f64_to_f32_round_odd(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """f64 -> f32 rounding to odd: truncate toward zero, set the last bit if inexact."""
    n = lanes_of(x)
    t = b.fptrunc(x, vec(U.F32, n))
    back = b.fpext(t, vec(U.F64, n))
    inexact = b.fcmp_ordered("!=", back, x)  # false for NaN: NaNs pass through
    ax = U.intrinsic(b, "fabs", x.type, [x])
    aback = U.intrinsic(b, "fabs", back.type, [back])
    too_big = b.fcmp_ordered(">", aback, ax)
    bits = b.bitcast(t, vec(U.I32, n))
    bits = b.select(b.and_(inexact, too_big), b.sub(bits, const_vec(U.I32, 1, n)), bits)
    bits = b.select(inexact, b.or_(bits, const_vec(U.I32, 1, n)), bits)
    return b.bitcast(bits, vec(U.F32, n))


# -- fp8 -------------------------------------------------------------------------------------
# (exponent bits, mantissa bits, bias, kind): "ieee" has infinities and NaNs with payloads
# (e5m2), "fn" has no infinities and one NaN mantissa (S.1111.111, e4m3fn), "fnuz" has one NaN,
# the code of -0 (0x80), and no -0 (e4m3fnuz, e5m2fnuz). Conversions follow ml_dtypes: round to
# nearest even; beyond the largest finite value, inf ("ieee") or NaN ("fn", "fnuz").
# "b15" (float8e4b15, no ml_dtypes twin) has neither inf nor NaN: see f32_to_fp8e4b15.
FP8 = {
    DType.F8E4NV: (4, 3, 7, "fn"),
    DType.F8E5: (5, 2, 15, "ieee"),
    DType.F8E4B8: (4, 3, 8, "fnuz"),
    DType.F8E5B16: (5, 2, 16, "fnuz"),
    DType.F8E4B15: (4, 3, 15, "b15"),
}


def fp8_to_f32(b: ir.IRBuilder, code: ir.Value, dt: DType) -> ir.Value:
    """i8 fp8 code -> f32 register (exact)."""
    ebits, mbits, bias, kind = FP8[dt]
    n = lanes_of(code)

    def c(v):
        return const_vec(U.I32, v, n)

    w = b.zext(code, vec(U.I32, n))
    sign = b.shl(b.and_(w, c(0x80)), c(24))
    e = b.and_(b.lshr(w, c(mbits)), c((1 << ebits) - 1))
    m = b.and_(w, c((1 << mbits) - 1))
    normal = b.or_(b.shl(b.add(e, c(127 - bias)), c(23)), b.shl(m, c(23 - mbits)))
    # subnormals: m * 2^(1 - bias - mbits), exact in f32
    scale = ir.Constant(U.F32, 2.0 ** (1 - bias - mbits))
    sub = b.fmul(b.uitofp(m, vec(U.F32, n)), U.splat(b, scale, n) if n > 1 else scale)
    sub_bits = b.bitcast(sub, vec(U.I32, n))
    mag = b.select(b.icmp_unsigned("==", e, c(0)), sub_bits, normal)
    top = (1 << ebits) - 1
    if kind == "ieee":  # all-ones exponent: inf (m == 0) or NaN keeping m as its payload
        special = b.or_(c(0x7F800000), b.shl(m, c(23 - mbits)))
        mag = b.select(b.icmp_unsigned("==", e, c(top)), special, mag)
        out = b.or_(mag, sign)
    elif kind == "fn":
        is_nan = b.icmp_unsigned("==", b.and_(w, c(0x7F)), c(0x7F))
        out = b.or_(b.select(is_nan, c(0x7FC00000), mag), sign)
    elif kind == "b15":  # every code is a number
        out = b.or_(mag, sign)
    else:  # fnuz: 0x80 is the NaN
        is_nan = b.icmp_unsigned("==", w, c(0x80))
        out = b.select(is_nan, c(0xFFC00000), b.or_(mag, sign))
    return b.bitcast(out, vec(U.F32, n))


def f32_to_fp8(b: ir.IRBuilder, x: ir.Value, dt: DType) -> ir.Value:
    """f32 register -> i8 fp8 code, round to nearest even."""
    ebits, mbits, bias, kind = FP8[dt]
    if kind == "b15":
        return f32_to_fp8e4b15(b, x)
    n = lanes_of(x)

    def c(v):
        return const_vec(U.I32, v, n)

    bits = b.bitcast(x, vec(U.I32, n))
    sign = b.and_(b.lshr(bits, c(24)), c(0x80))
    a = b.and_(bits, c(0x7FFFFFFF))
    shift = 23 - mbits
    odd = b.and_(b.lshr(a, c(shift)), c(1))
    r = b.add(a, b.add(c((1 << (shift - 1)) - 1), odd))
    normal = b.sub(b.lshr(r, c(shift)), c((127 - bias) << mbits))
    # below the smallest normal: let the FPU round |x| at the subnormal step
    magic = ir.Constant(U.F32, 2.0 ** (1 - bias - mbits + 23))
    ax = b.bitcast(a, vec(U.F32, n))
    f = b.fadd(ax, U.splat(b, magic, n) if n > 1 else magic)
    sub = b.sub(b.bitcast(f, vec(U.I32, n)), c(0x4B000000 + ((1 - bias - mbits) << 23)))
    small = b.icmp_unsigned("<", a, c((127 - bias + 1) << 23))
    code = b.select(small, sub, normal)
    is_nan = b.icmp_unsigned(">", a, c(0x7F800000))
    top = (1 << ebits) - 1
    if kind == "ieee":
        max_code = (top << mbits) - 1
        big = b.icmp_signed(">", code, c(max_code))
        code = b.select(big, c(top << mbits), code)  # inf
        payload = b.and_(b.lshr(a, c(23 - mbits)), c((1 << mbits) - 1))
        payload = b.select(b.icmp_unsigned("==", payload, c(0)), c(1 << (mbits - 1)), payload)
        code = b.select(is_nan, b.or_(c(top << mbits), payload), code)
        out = b.or_(code, sign)
    elif kind == "fn":
        max_code = (top << mbits) | ((1 << mbits) - 2)
        bad = b.or_(b.icmp_signed(">", code, c(max_code)), is_nan)
        out = b.or_(b.select(bad, c(0x7F), code), sign)
    else:  # fnuz
        max_code = 0x7F
        bad = b.or_(b.icmp_signed(">", code, c(max_code)), is_nan)
        signed = b.select(b.icmp_unsigned("==", code, c(0)), c(0), b.or_(code, sign))
        out = b.select(bad, c(0x80), signed)
    return b.trunc(out, vec(U.I8, n))


def f32_to_fp8e4b15(b: ir.IRBuilder, x: ir.Value, saturate: bool = True) -> ir.Value:
    """f32 register -> i8 float8e4b15 code as Triton's compiled cast (and
    jitlang.dtypes.float32_to_fp8e4b15): |x| above 1.75, inf and NaN saturate to 1.75, then
    round to nearest, ties away from zero; the sign is kept (-0.0 and tiny negatives give 0x80).
    `saturate=False` (a store of a value already on the grid) saturates at 1.875 instead."""
    n = lanes_of(x)

    def c(v):
        return const_vec(U.I32, v, n)

    bits = b.bitcast(x, vec(U.I32, n))
    sign = b.and_(b.lshr(bits, c(24)), c(0x80))
    a = b.and_(bits, c(0x7FFFFFFF))
    top = 0x3FE00000 if saturate else 0x3FF00000  # 1.75 or 1.875 (NaN and inf too)
    a = b.select(b.icmp_unsigned(">", a, c(top)), c(top), a)
    # normal range: add half the kept step (bit 19) to the magnitude, the carry may bump e
    normal = b.sub(b.lshr(b.add(a, c(1 << 19)), c(20)), c((127 - 15) << 3))
    # below 2^-14: floor(|x| * 2^17 + 0.5) in f64, exact enough that no tie is misjudged
    f64 = vec(U.F64, n)

    def d(v):
        k = ir.Constant(U.F64, v)
        return U.splat(b, k, n) if n > 1 else k

    ax = b.fpext(b.bitcast(a, vec(U.F32, n)), f64)
    sub = b.fptoui(b.fadd(b.fmul(ax, d(2.0**17)), d(0.5)), vec(U.I32, n))
    code = b.select(b.icmp_unsigned("<", a, c(0x38800000)), sub, normal)
    return b.trunc(b.or_(code, sign), vec(U.I8, n))


def round_to(b: ir.IRBuilder, x: ir.Value, dt: DType) -> ir.Value:
    """Round an f32 register holding a float16/bfloat16 result back onto that type's grid."""
    n = lanes_of(x)
    if dt.is_fp8:
        return fp8_to_f32(b, f32_to_fp8(b, x, dt), dt)
    if dt is DType.F16:
        return b.fpext(b.fptrunc(x, vec(HALF, n)), vec(U.F32, n))
    if dt is DType.BF16:
        return bf16_bits_to_f32(b, bf16_round_bits(b, x))
    return x


def mem_to_reg(b: ir.IRBuilder, v: ir.Value, dt: DType) -> ir.Value:
    n = lanes_of(v)
    if dt is DType.I1:
        return b.icmp_unsigned("!=", v, const_like(v, 0))
    if dt.is_fp8:
        return fp8_to_f32(b, v, dt)
    if dt is DType.F16:
        return b.fpext(v, vec(U.F32, n))
    if dt is DType.BF16:
        return bf16_bits_to_f32(b, v)
    return v


def reg_to_mem(b: ir.IRBuilder, v: ir.Value, dt: DType) -> ir.Value:
    n = lanes_of(v)
    if dt is DType.I1:
        return b.zext(v, vec(U.I8, n))
    if dt is DType.F8E4B15:  # registers hold its values already: 1.875 keeps its code 0x7f
        return f32_to_fp8e4b15(b, v, saturate=False)
    if dt.is_fp8:
        return f32_to_fp8(b, v, dt)
    if dt is DType.F16:
        return b.fptrunc(v, vec(HALF, n))
    if dt is DType.BF16:
        return bf16_round_bits(b, v)
    return v


def reg_to_buf(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    base = v.type.element if isinstance(v.type, ir.VectorType) else v.type
    if base == U.I1:
        return b.zext(v, vec(U.I8, lanes_of(v)))
    return v


def buf_to_reg(b: ir.IRBuilder, v: ir.Value, elem: ElemType) -> ir.Value:
    if reg_type(elem) == U.I1:
        return b.icmp_unsigned("!=", v, const_like(v, 0))
    return v


# -- operations --------------------------------------------------------------------------------


def _math(b: ir.IRBuilder, name: str, x: ir.Value) -> ir.Value:
    try:
        from .vecmath import get_math_function
    except ImportError:  # pragma: no cover - vecmath is part of the package
        get_math_function = None
    if get_math_function is not None:
        try:
            fn = get_math_function(b.module, name, x.type)
            return b.call(fn, [x])
        except (KeyError, ValueError, NotImplementedError):
            pass
    return U.intrinsic(b, name, x.type, [x])


def unary(b: ir.IRBuilder, op: UnaryOp, dt: DType, x: ir.Value) -> ir.Value:
    if op is UnaryOp.NEG:
        r = b.fneg(x) if dt.is_float else b.sub(const_like(x, 0), x)
    elif op is UnaryOp.NOT:
        r = b.xor(x, const_like(x, -1 if dt is not DType.I1 else 1))
    elif op is UnaryOp.ABS:
        if dt.is_float:
            r = U.intrinsic(b, "fabs", x.type, [x])
        else:
            r = U.intrinsic(b, "abs", x.type, [x, ir.Constant(U.I1, 0)])
    elif op is UnaryOp.SQRT:
        r = U.intrinsic(b, "sqrt", x.type, [x])
    elif op is UnaryOp.RSQRT:
        r = b.fdiv(const_like(x, 1.0), U.intrinsic(b, "sqrt", x.type, [x]))
    elif op is UnaryOp.FLOOR:
        r = U.intrinsic(b, "floor", x.type, [x])
    elif op is UnaryOp.CEIL:
        r = U.intrinsic(b, "ceil", x.type, [x])
    elif op is UnaryOp.SIGMOID:
        e = _math(b, "exp", b.fneg(x))
        r = b.fdiv(const_like(x, 1.0), b.fadd(const_like(x, 1.0), e))
    else:
        r = _math(b, op.value, x)
    if op is UnaryOp.ABS:  # exact: also keeps float8e4b15's 1.875 (Triton clears the sign bit)
        return r
    return round_to(b, r, dt) if dt.is_float else r


_FBIN = {
    BinaryOp.ADD: "fadd",
    BinaryOp.SUB: "fsub",
    BinaryOp.MUL: "fmul",
    BinaryOp.DIV: "fdiv",
    BinaryOp.REM: "frem",
}
_IBIN = {
    BinaryOp.ADD: "add",
    BinaryOp.SUB: "sub",
    BinaryOp.MUL: "mul",
    BinaryOp.AND: "and_",
    BinaryOp.OR: "or_",
    BinaryOp.XOR: "xor",
}


def binary(b: ir.IRBuilder, op: BinaryOp, dt: DType, x: ir.Value, y: ir.Value, nan: bool = False):
    if dt.is_float:
        if op in _FBIN:
            r = getattr(b, _FBIN[op])(x, y)
        elif op in (BinaryOp.MIN, BinaryOp.MAX):
            name = (
                ("minimum" if op is BinaryOp.MIN else "maximum")
                if nan
                else ("minnum" if op is BinaryOp.MIN else "maxnum")
            )
            r = U.intrinsic(b, name, x.type, [x, y])
        else:
            raise NotImplementedError(op)
        return round_to(b, r, dt)
    if op in _IBIN:
        return getattr(b, _IBIN[op])(x, y)
    signed = dt.is_signed and dt is not DType.I1
    if op in (BinaryOp.MIN, BinaryOp.MAX):
        name = ("s" if signed else "u") + ("min" if op is BinaryOp.MIN else "max")
        return U.intrinsic(b, name, x.type, [x, y])
    if op in (BinaryOp.DIV, BinaryOp.REM):
        zero = const_like(y, 0)
        is_zero = b.icmp_unsigned("==", y, zero)
        bad = is_zero
        if signed:
            minv = const_like(x, -(1 << (dt.bits - 1)))
            overflow = b.and_(
                b.icmp_signed("==", x, minv), b.icmp_signed("==", y, const_like(y, -1))
            )
            bad = b.or_(bad, overflow)
        safe = b.select(bad, const_like(y, 1), y)
        if op is BinaryOp.DIV:
            r = b.sdiv(x, safe) if signed else b.udiv(x, safe)
        else:
            r = b.srem(x, safe) if signed else b.urem(x, safe)
        return b.select(is_zero, zero, r)
    if op in (BinaryOp.SHL, BinaryOp.SHR):
        width = const_like(y, dt.bits)
        too_big = b.icmp_unsigned(">=", y, width)
        amt = b.select(too_big, const_like(y, 0), y)
        if op is BinaryOp.SHL:
            return b.select(too_big, const_like(x, 0), b.shl(x, amt))
        if signed:
            sign = b.ashr(x, const_like(x, dt.bits - 1))
            return b.select(too_big, sign, b.ashr(x, amt))
        return b.select(too_big, const_like(x, 0), b.lshr(x, amt))
    raise NotImplementedError(op)


_FCMP = {
    CmpPred.EQ: ("==", True),
    CmpPred.NE: ("!=", False),
    CmpPred.LT: ("<", True),
    CmpPred.LE: ("<=", True),
    CmpPred.GT: (">", True),
    CmpPred.GE: (">=", True),
}
_ICMP = {
    CmpPred.EQ: "==",
    CmpPred.NE: "!=",
    CmpPred.LT: "<",
    CmpPred.LE: "<=",
    CmpPred.GT: ">",
    CmpPred.GE: ">=",
}


def compare(b: ir.IRBuilder, pred: CmpPred, dt: DType | None, x: ir.Value, y: ir.Value):
    if dt is not None and dt.is_float:
        sym, ordered = _FCMP[pred]
        return b.fcmp_ordered(sym, x, y) if ordered else b.fcmp_unordered(sym, x, y)
    if dt is not None and dt.is_signed and dt is not DType.I1:
        return b.icmp_signed(_ICMP[pred], x, y)
    return b.icmp_unsigned(_ICMP[pred], x, y)


def cast(b: ir.IRBuilder, src: DType, dst: DType, x: ir.Value, bitcast: bool) -> ir.Value:
    n = lanes_of(x)
    dst_reg = vec(reg_type_of(dst), n)
    if bitcast:
        # through the memory representation, where widths match by construction
        m = reg_to_mem(b, x, src)
        m = b.bitcast(m, vec(mem_type(dst), n))
        return mem_to_reg(b, m, dst)
    if src.is_float and dst.is_float:
        if dst.is_narrow_float:
            if src is DType.F64 and dst is DType.F16:
                # no libcall (__truncdfhf2 is not available to the JIT): round to odd into f32,
                # then to nearest even into f16 -- exact, as f32 has >= 11 + 2 bits
                return b.fpext(b.fptrunc(f64_to_f32_round_odd(b, x), vec(HALF, n)), dst_reg)
            if src is DType.F64:
                x = b.fptrunc(x, vec(U.F32, n))
            return round_to(b, x, dst)
        if dst is DType.F64:
            return b.fpext(x, dst_reg) if x.type != dst_reg else x
        return b.fptrunc(x, dst_reg) if x.type != dst_reg else x  # f64 -> f32, or f16 -> f32
    if src.is_float and dst.is_int:
        if dst is DType.I1:
            return b.fcmp_unordered("!=", x, const_like(x, 0.0))
        name = "fptosi.sat" if dst.is_signed else "fptoui.sat"
        return U.intrinsic(b, name, dst_reg, [x], overload=[dst_reg, x.type])
    if src.is_int and dst.is_float:
        if src is DType.I1 or not src.is_signed:
            r = b.uitofp(x, dst_reg)
        else:
            r = b.sitofp(x, dst_reg)
        return round_to(b, r, dst)
    # int -> int
    if dst is DType.I1:
        return b.icmp_unsigned("!=", x, const_like(x, 0))
    sb = 1 if src is DType.I1 else src.bits
    if dst.bits == sb:
        return x
    if dst.bits < sb:
        return b.trunc(x, dst_reg)
    if src.is_signed and src is not DType.I1:
        return b.sext(x, dst_reg)
    return b.zext(x, dst_reg)


def int_to_i64(b: ir.IRBuilder, dt: DType, x: ir.Value) -> ir.Value:
    n = lanes_of(x)
    t = vec(U.I64, n)
    if x.type == t:
        return x
    if dt.is_signed and dt is not DType.I1:
        return b.sext(x, t)
    return b.zext(x, t)
