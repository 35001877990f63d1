"""fp8 formats the accelerator lacks (float8e4b8, float8e5b16, float8e4b15) as engine ops.

Stage: a tile-IR pass of the accelerator pipeline, run by `compiler.compile_accel` before layout
inference. Input: an optimized tile-IR function. Output: the same function in which no value has
one of those element types: their blocks are float32 blocks holding the decoded values (as the
CPU target holds every fp8 in f32 registers), their pointers are uint8 pointers to the codes.

- loads read the codes (uint8) and decode them; stores and bitcasts encode back to codes;
- every value cast to the format, and every unary/binary/fma result of it (tl.abs excepted:
  exact, as on the CPU), is rounded onto its grid;
- dots on these operands, or on two different fp8 types, read them as bf16 blocks (every fp8
  value is exact in bf16), so the tensor engine runs at its 16-bit rate; the sum is fp32 as on
  the CPU.

float8e4b8 (e4m3fnuz) and float8e5b16 (e5m2fnuz) are the machine's FP8E4 (e4m3fn) and FP8E5
(e5m2) halved: their values go through those tiles scaled by 2 (or 1/2), the engines' fp8
conversions round to nearest even, and selects fix the codes where the formats differ (the
fnuz formats' top codes, their one NaN 0x80, no -0). float8e4b15 rounds ties away from zero
and saturates at 1.75 (at 1.875 for stores and bitcasts): its codes decode through fp16 and
encode with integer ops, `codegen.cpu.elementwise.f32_to_fp8e4b15` step for step. Either way the
results are bit-exact with the CPU target (NaN included: the CPU's 0xffc00000). float8e4nv and
float8e5 are the machine's own types and are not touched here, except to read a dot of the two
mixed as bf16. Sums, products and custom reductions and scans of the emulated formats are
refused at their line (the engines reduce with one rounding, the CPU rounds each step to the
format), and so is every reduction of float8e4b15 (as on the interpreter).
"""

from __future__ import annotations

import copy
import math

from ..dtypes import DType
from ..ir import (
    BinaryOp,
    BlockType,
    Cast,
    Cmp,
    CmpPred,
    Const,
    Function,
    Loc,
    Op,
    OpKind,
    PointerType,
    ReduceKind,
    Region,
    ScalarType,
    Type,
    UnaryOp,
    Value,
    elem_type,
    shape_of,
    with_elem,
)

EMULATED = frozenset({DType.F8E4B8, DType.F8E5B16, DType.F8E4B15})
_NATIVE_FP8 = (DType.F8E4NV, DType.F8E5)
# max and min pick an operand: exact on the decoded values (float8e4b15 aside, whose 1.875 the
# CPU's per-step rounding turns into 1.75)
_EXACT_REDUCTIONS = (ReduceKind.MAX, ReduceKind.MIN, ReduceKind.ARGMAX, ReduceKind.ARGMIN)


def needs_emulation(fn: Function) -> bool:
    from ..ir import walk

    def emulated(t: Type) -> bool:
        e = elem_type(t)
        return (e.elem if isinstance(e, PointerType) else e.dtype) in EMULATED

    def mixed_fp8_dot(op: Op) -> bool:
        a, b = (elem_type(v.type).dtype for v in op.operands[:2])
        return a.is_fp8 and b.is_fp8 and a is not b

    if any(emulated(a.type) for a in fn.body.args):
        return True
    return any(
        emulated(v.type) or (op.kind is OpKind.DOT and mixed_fp8_dot(op))
        for op in walk(fn.body)
        for v in op.results
    )


def emulate_fp8(fn: Function) -> Function:
    """Rewrite the emulated fp8 formats of `fn` (module docstring); `fn` itself is unchanged.
    Requires a verified function; guarantees a verified one whose values have no emulated fp8
    type. Raises TargetLimitError at the line of a reduction or scan of such a block."""
    if not needs_emulation(fn):
        return fn
    fn = copy.deepcopy(fn)
    _Rewriter().region(fn.body)
    return fn


class _Rewriter:
    def __init__(self) -> None:
        self.fmt: dict[int, DType] = {}  # value id -> its emulated format (before retyping)
        self.out: list[Op] = []
        self.loc: Loc | None = None

    # -- building ------------------------------------------------------------------------------
    def emit(self, kind: OpKind, operands, t: Type, attr=None, result: Value | None = None):
        r = result if result is not None else Value(t)
        self.out.append(Op(kind, list(operands), [r], self.loc, attr))
        return r

    def const(self, value, dt: DType, shape) -> Value:
        c = self.emit(OpKind.CONSTANT, [], ScalarType(dt), Const(value))
        if not shape:
            return c
        return self.emit(OpKind.SPLAT, [c], BlockType(shape, ScalarType(dt)))

    def bin(self, bop: BinaryOp, x: Value, y, result: Value | None = None) -> Value:
        dt = elem_type(x.type).dtype
        if not isinstance(y, Value):
            y = self.const(y, dt, shape_of(x.type))
        from ..ir import Binary

        return self.emit(OpKind.BINARY, [x, y], x.type, Binary(bop), result)

    def cmp(self, pred: CmpPred, x: Value, y) -> Value:
        dt = elem_type(x.type).dtype
        if not isinstance(y, Value):
            y = self.const(y, dt, shape_of(x.type))
        return self.emit(OpKind.CMP, [x, y], with_elem(x.type, ScalarType(DType.I1)), Cmp(pred))

    def cast(self, x: Value, dt: DType, bitcast: bool = False, result=None) -> Value:
        return self.emit(OpKind.CAST, [x], with_elem(x.type, ScalarType(dt)), Cast(bitcast), result)

    def select(self, c: Value, a: Value, b, result: Value | None = None) -> Value:
        if not isinstance(b, Value):
            b = self.const(b, elem_type(a.type).dtype, shape_of(a.type))
        return self.emit(OpKind.SELECT, [c, a, b], a.type, None, result)

    # -- codecs: decode, encode, round (per format below) ---------------------------------------
    def decode(self, codes: Value, dt: DType, result: Value | None = None) -> Value:
        """uint8 codes -> their float32 values (exact)."""
        if dt is DType.F8E4B8:
            return self._decode_e4b8(codes, result)
        if dt is DType.F8E5B16:
            return self._decode_e5b16(codes, result)
        return self._decode_b15(codes, result)

    def encode(self, x: Value, dt: DType, saturate: bool = True) -> Value:
        """float32 values -> uint8 codes, as the CPU target's cast rounds them (e4b8/e5b16:
        of values already on the grid, or NaN: every value of the format the rewrite makes
        is rounded first)."""
        if dt is DType.F8E4B8:
            return self._encode_e4b8(x)
        if dt is DType.F8E5B16:
            return self._encode_e5b16(x)
        return self._encode_b15(x, saturate)

    def round(self, x: Value, dt: DType, result: Value | None = None) -> Value:
        """x (float32) onto dt's grid, as the CPU target's round_to."""
        if dt is DType.F8E4B8:
            return self._round_e4b8(x, result)
        if dt is DType.F8E5B16:
            return self._round_e5b16(x, result)
        return self._decode_b15(self._encode_b15(x, True), result)

    # -- float8e4b8 / float8e5b16 through the machine's FP8E4 / FP8E5 ---------------------------
    # e4m3fnuz (bias 8) is e4m3fn (bias 7) halved, e5m2fnuz (bias 16) e5m2 (bias 15) halved,
    # subnormals included: the engines' fp8 conversions (round to nearest even) do the
    # rounding, a few selects the codes where the formats differ (the fnuz top codes, NaN
    # 0x80, no -0).
    def fconst(self, v: float, like: Value) -> Value:
        return self.const(v, DType.F32, shape_of(like.type))

    def via(self, x: Value, native: DType, scale: float) -> Value:
        """x * scale through the native fp8 type and back (float32), scaled back."""
        q = self.cast(self.bin(BinaryOp.MUL, x, scale), native)
        return self.bin(BinaryOp.MUL, self.cast(q, DType.F32), 1.0 / scale)

    def no_neg_zero(self, x: Value, result: Value | None = None) -> Value:
        return self.select(self.cmp(CmpPred.EQ, x, 0.0), self.fconst(0.0, x), x, result)

    def abs(self, x: Value) -> Value:
        from ..ir import Unary

        return self.emit(OpKind.UNARY, [x], x.type, Unary(UnaryOp.ABS))

    def _decode_e4b8(self, codes: Value, result) -> Value:
        v = self.bin(BinaryOp.MUL, self.cast(self.cast(codes, DType.F8E4NV, True), DType.F32), 0.5)
        # 0x7f/0xff are e4m3fn's NaNs and e4m3fnuz's +-240; 0x80 is -0 there, the NaN here
        neg = self.cmp(CmpPred.GE, codes, 0x80)
        top = self.select(neg, self.fconst(-240.0, v), 240.0)
        v = self.select(self.cmp(CmpPred.NE, v, v), top, v)
        return self.select(self.cmp(CmpPred.EQ, codes, 0x80), self.fconst(-math.nan, v), v, result)

    def _round_e4b8(self, x: Value, result) -> Value:
        r = self.via(x, DType.F8E4NV, 2.0)
        # |x| in (232, 248) rounds to the top code 240, where e4m3fn has no finite 480
        a = self.abs(x)
        top = self.select(self.cmp(CmpPred.LT, x, 0.0), self.fconst(-240.0, x), 240.0)
        # NaN otherwise (beyond, or x NaN), as the CPU decodes its code 0x80: 0xffc00000
        lost = self.cmp(CmpPred.NE, r, r)
        fix = self.select(self.cmp(CmpPred.LT, a, 248.0), top, self.fconst(-math.nan, x))
        return self.no_neg_zero(self.select(lost, fix, r), result)

    def _encode_e4b8(self, x: Value) -> Value:
        # on the grid: e4m3fn's code of 2x, +-480 giving 0x7f/0xff (its NaN, our +-240)
        q = self.cast(self.cast(self.bin(BinaryOp.MUL, x, 2.0), DType.F8E4NV), DType.U8, True)
        nan = self.const(0x80, DType.U8, shape_of(x.type))
        return self.select(self.cmp(CmpPred.NE, x, x), nan, q)

    def _decode_e5b16(self, codes: Value, result) -> Value:
        v = self.bin(BinaryOp.MUL, self.cast(self.cast(codes, DType.F8E5, True), DType.F32), 0.5)
        # e5m2's inf/NaN codes (exponent 31) are e5m2fnuz's top binade: e5m2's code - 4
        # (one binade down) is that value; 0x80 is the NaN
        top = self.cast(self.cast(self.bin(BinaryOp.SUB, codes, 4), DType.F8E5, True), DType.F32)
        special = self.cmp(CmpPred.EQ, self.bin(BinaryOp.AND, codes, 0x7C), 0x7C)
        v = self.select(special, top, v)
        return self.select(self.cmp(CmpPred.EQ, codes, 0x80), self.fconst(-math.nan, v), v, result)

    def _round_e5b16(self, x: Value, result) -> Value:
        # below 1 through 2x (its subnormals are e5m2's), from 1 up through x / 2 (e5m2's top
        # binade would be inf at 2x); beyond the largest value, 57344, NaN
        small = self.via(x, DType.F8E5, 2.0)
        large = self.via(x, DType.F8E5, 0.5)
        a = self.abs(x)
        r = self.select(self.cmp(CmpPred.GE, a, 1.0), large, small)
        over = self.cmp(CmpPred.GT, self.abs(r), 57344.0)
        lost = self.cmp(CmpPred.NE, r, r)
        bad = self.emit(OpKind.BINARY, [over, lost], over.type, _binary(BinaryOp.OR))
        r = self.select(bad, self.fconst(-math.nan, r), r)  # the CPU's NaN: 0xffc00000
        return self.no_neg_zero(r, result)

    def _encode_e5b16(self, x: Value) -> Value:
        # on the grid: e5m2's code of 2x below 1, of x / 2 plus two binades (8) from 1 up
        small = self.cast(self.cast(self.bin(BinaryOp.MUL, x, 2.0), DType.F8E5), DType.U8, True)
        half = self.cast(self.cast(self.bin(BinaryOp.MUL, x, 0.5), DType.F8E5), DType.U8, True)
        large = self.bin(BinaryOp.ADD, half, 8)
        q = self.select(self.cmp(CmpPred.GE, self.abs(x), 1.0), large, small)
        nan = self.const(0x80, DType.U8, shape_of(x.type))
        return self.select(self.cmp(CmpPred.NE, x, x), nan, q)

    # -- float8e4b15 as integer ops ----------------------------------------------------------------
    def _decode_b15(self, codes: Value, result: Value | None = None) -> Value:
        """float8e4b15 codes -> float32 (exact): s.eeee.mmm is the fp16 s.0eeee.mmm0000000
        (jitlang.dtypes.fp8e4b15_to_float32), which the engines widen exactly."""
        A, SHL, OR = BinaryOp.AND, BinaryOp.SHL, BinaryOp.OR
        w = self.cast(codes, DType.U16)
        bits = self.bin(
            OR, self.bin(SHL, self.bin(A, w, 0x80), 8), self.bin(SHL, self.bin(A, w, 0x7F), 7)
        )
        return self.cast(self.cast(bits, DType.F16, True), DType.F32, False, result)

    def _encode_b15(self, x: Value, saturate: bool) -> Value:
        """codegen.cpu.elementwise.f32_to_fp8e4b15: saturate |x| (inf, NaN) at 1.75 (1.875),
        round to nearest with ties away from zero, keep the sign."""
        A, SHR, OR, ADD, SUB, MUL = (
            BinaryOp.AND,
            BinaryOp.SHR,
            BinaryOp.OR,
            BinaryOp.ADD,
            BinaryOp.SUB,
            BinaryOp.MUL,
        )
        bits = self.cast(x, DType.U32, True)
        sign = self.bin(A, self.bin(SHR, bits, 24), 0x80)
        a = self.bin(A, bits, 0x7FFFFFFF)
        top = 0x3FE00000 if saturate else 0x3FF00000
        topv = self.const(top, DType.U32, shape_of(x.type))
        a = self.select(self.cmp(CmpPred.GT, a, top), topv, a)
        normal = self.bin(SUB, self.bin(SHR, self.bin(ADD, a, 1 << 19), 20), (127 - 15) << 3)
        # below 2^-14: floor(|x| * 2^17 + 0.5) as t + (|x| * 2^17 - t >= 0.5) with t its integer
        # part (every step exact in fp32; the CPU's f64 sum is exact there too)
        y = self.bin(MUL, self.cast(a, DType.F32, True), 2.0**17)
        t = self.cast(y, DType.U32)
        frac = self.bin(SUB, y, self.cast(t, DType.F32))
        up = self.cast(self.cmp(CmpPred.GE, frac, 0.5), DType.U32)
        sub = self.bin(ADD, t, up)
        code = self.select(self.cmp(CmpPred.LT, a, 0x38800000), sub, normal)
        return self.cast(self.bin(OR, code, sign), DType.U8)

    # -- the walk --------------------------------------------------------------------------------
    def retype(self, v: Value) -> None:
        e = elem_type(v.type)
        if isinstance(e, PointerType) and e.elem in EMULATED:
            self.fmt[v.id] = e.elem
            v.type = with_elem(v.type, PointerType(DType.U8))
        elif isinstance(e, ScalarType) and e.dtype in EMULATED:
            self.fmt[v.id] = e.dtype
            v.type = with_elem(v.type, ScalarType(DType.F32))

    def region(self, reg: Region) -> None:
        for a in reg.args:
            self.retype(a)
        saved = self.out
        self.out = []
        for op in reg.ops:
            for r in op.regions:
                self.region(r)
            self.loc = op.loc
            self.op(op)
        reg.ops, self.out = self.out, saved

    def op(self, op: Op) -> None:
        k = op.kind
        src = [self.fmt.get(v.id) for v in op.operands]
        res = []
        for r in op.results:
            self.retype(r)
            res.append(self.fmt.get(r.id))
        if k is OpKind.DOT:
            self._dot(op)
            return
        if not any(src) and not any(res):
            self.out.append(op)
            return
        if k in (OpKind.REDUCE, OpKind.SCAN) and (
            DType.F8E4B15 in src or op.attr.kind not in _EXACT_REDUCTIONS
        ):
            from .accel_layout import TargetLimitError

            dt = next(d for d in src if d)
            raise TargetLimitError(
                op.loc,
                f"a {op.attr.kind.value} {k.value} of {dt} on the accelerator (its engines "
                f"reduce with one rounding; {dt} rounds each step on the CPU)",
                "reduce it in float32: `tl.sum(x, dtype=tl.float32)` or `x.to(tl.float32)` first",
            )
        if k is OpKind.ATOMIC:
            from .accel_layout import TargetLimitError

            raise TargetLimitError(op.loc, "no fp8 atomics", "")
        if k is OpKind.LOAD and src[0]:
            r = op.result
            codes = Value(with_elem(r.type, ScalarType(DType.U8)))
            if len(op.operands) > 2:  # `other` in codes
                op.operands[2] = self.encode(op.operands[2], src[0], saturate=False)
            op.results = [codes]
            self.out.append(op)
            self.decode(codes, src[0], r)
            return
        if k is OpKind.STORE and src[0]:
            op.operands[1] = self.encode(op.operands[1], src[0], saturate=False)
            self.out.append(op)
            return
        if k is OpKind.CAST:
            return self._cast(op, src[0], res[0])
        if k in (OpKind.UNARY, OpKind.BINARY, OpKind.FMA) and res[0]:
            r = op.result
            if k is OpKind.UNARY and op.attr.op is UnaryOp.ABS:  # exact (CPU: no rounding)
                self.out.append(op)
                return
            tmp = Value(r.type)
            op.results = [tmp]
            self.out.append(op)
            self.round(tmp, res[0], r)
            return
        if k is OpKind.CONSTANT and res[0]:
            op.attr = Const(_on_grid(float(op.attr.value), res[0]))
        self.out.append(op)  # moves, selects, compares, control flow: values as they are

    def _cast(self, op: Op, fs: DType | None, fd: DType | None) -> None:
        x, r = op.operands[0], op.result
        dst = elem_type(r.type)
        if isinstance(dst, PointerType) or isinstance(elem_type(x.type), PointerType):
            self.out.append(op)
            return
        if op.attr.bitcast:
            codes = self.encode(x, fs, saturate=False) if fs else None
            if fd:
                if codes is None:
                    codes = self.cast(x, DType.U8, True)
                self.decode(codes, fd, r)
            else:
                self.cast(codes, dst.dtype, True, r)
            return
        if fd:
            if elem_type(x.type).dtype is not DType.F32:
                x = self.cast(x, DType.F32)
            self.round(x, fd, r)
            return
        self.out.append(op)  # from a decoded value: a cast of the float32 it holds

    def _dot(self, op: Op) -> None:
        a, b = op.operands[:2]
        fa, fb = (self.fmt.get(v.id) or elem_type(v.type).dtype for v in (a, b))
        if fa.is_fp8 and fb.is_fp8 and (fa is not fb or fa in EMULATED):
            # every fp8 value is exact in bf16: the PE's 16-bit rate (one native fp8 type
            # multiplies as it lies)
            op.operands[0] = self.cast(a, DType.BF16)
            op.operands[1] = self.cast(b, DType.BF16)
        self.out.append(op)


def _binary(bop: BinaryOp):
    from ..ir import Binary

    return Binary(bop)


def _on_grid(v: float, dt: DType) -> float:
    import numpy as np

    from ..dtypes import float32_to_fp8e4b15, fp8e4b15_to_float32

    with np.errstate(over="ignore", invalid="ignore"):
        if dt is DType.F8E4B15:
            return float(fp8e4b15_to_float32(float32_to_fp8e4b15(np.float32(v), False)))
        return float(np.float32(v).astype(dt.np).astype(np.float32))
