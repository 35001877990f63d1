"""Integer and pointer scalar operations of the tile IR as ordinary LLVM instructions.

Stage: part of the accel lowering (`lower`). Input: a scalar op whose operands and result are
integers or pointers; output: LLVM instructions that instruction selection maps to the
sequencer's ALU. Semantics follow the CPU target: C-style division and remainder with x / 0 == 0
and x % 0 == 0 (as the interpreter defines them), shifts past the width give 0 (or the sign).
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.ir import BinaryOp, CmpPred, Op, OpKind, UnaryOp, elem_type, scalar_dtype

from .lower import I32, I64, UnsupportedOnAccelError, llvm_int

_SIGNED = {
    CmpPred.EQ: "==",
    CmpPred.NE: "!=",
    CmpPred.LT: "<",
    CmpPred.LE: "<=",
    CmpPred.GT: ">",
    CmpPred.GE: ">=",
}


def lower_scalar(low, op: Op) -> None:
    b = low.b
    k = op.kind
    res = op.results[0] if op.results else None
    if k is OpKind.CONSTANT:
        v = op.attr.value
        low.vals[res.id] = ir.Constant(llvm_int(scalar_dtype(res.type)), int(v))
        return
    if k in (OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS):
        name = "accel.pid" if k is OpKind.PROGRAM_ID else "accel.nprog"
        fn = __import__("codegen.accel.intrinsics", fromlist=["declare"]).declare(low.module, name)
        low.vals[res.id] = b.call(fn, [ir.Constant(I32, op.attr.axis)])
        return
    if k is OpKind.HINT:
        low.vals[res.id] = low.reg(op.operands[0])
        return
    if k is OpKind.PTR_ADD:
        p = low.reg(op.operands[0])
        off = low.reg64(op.operands[1])
        esize = elem_type(res.type).elem.mem_bytes
        low.vals[res.id] = b.add(p, b.mul(off, ir.Constant(I64, esize)))
        return
    if k is OpKind.CAST:
        x = low.reg(op.operands[0])
        src, dst = scalar_dtype(op.operands[0].type), scalar_dtype(res.type)
        low.vals[res.id] = int_cast(b, x, src, dst)
        return
    if k is OpKind.SELECT:
        c, x, y = (low.reg(v) for v in op.operands)
        low.vals[res.id] = b.select(_truth(b, c), x, y)
        return
    if k is OpKind.CMP:
        x, y = (low.reg(v) for v in op.operands)
        dt = scalar_dtype(op.operands[0].type)
        pred = _SIGNED[op.attr.pred]
        if dt is None or dt.is_unsigned or dt.is_bool:
            low.vals[res.id] = b.icmp_unsigned(pred, x, y)
        else:
            low.vals[res.id] = b.icmp_signed(pred, x, y)
        return
    if k is OpKind.UNARY:
        x = low.reg(op.operands[0])
        u = op.attr.op
        if u is UnaryOp.NEG:
            low.vals[res.id] = b.neg(x)
        elif u is UnaryOp.NOT:
            low.vals[res.id] = b.not_(x)
        elif u is UnaryOp.ABS:
            neg = b.icmp_signed("<", x, ir.Constant(x.type, 0))
            low.vals[res.id] = b.select(neg, b.neg(x), x)
        else:
            raise UnsupportedOnAccelError(op.loc, f"integer {u.value}")
        return
    if k is OpKind.BINARY:
        x, y = (low.reg(v) for v in op.operands)
        low.vals[res.id] = int_binary(b, op.attr.op, x, y, scalar_dtype(res.type), op)
        return
    raise UnsupportedOnAccelError(op.loc, f"scalar {k.value} on the accelerator")


def _truth(b, c):
    return c if c.type.width == 1 else b.icmp_unsigned("!=", c, ir.Constant(c.type, 0))


def int_cast(b, x, src, dst):
    ty = llvm_int(dst)
    if dst is not None and dst.is_bool:
        return b.icmp_unsigned("!=", x, ir.Constant(x.type, 0))
    if x.type.width == ty.width:
        return x
    if x.type.width > ty.width:
        return b.trunc(x, ty)
    if src is not None and (src.is_unsigned or src.is_bool):
        return b.zext(x, ty)
    return b.sext(x, ty)


def int_binary(b, bop: BinaryOp, x, y, dt, op):
    signed = dt is None or not dt.is_unsigned
    zero = ir.Constant(x.type, 0)
    if bop is BinaryOp.ADD:
        return b.add(x, y)
    if bop is BinaryOp.SUB:
        return b.sub(x, y)
    if bop is BinaryOp.MUL:
        return b.mul(x, y)
    if bop is BinaryOp.AND:
        return b.and_(x, y)
    if bop is BinaryOp.OR:
        return b.or_(x, y)
    if bop is BinaryOp.XOR:
        return b.xor(x, y)
    if bop in (BinaryOp.DIV, BinaryOp.REM):
        isz = b.icmp_unsigned("==", y, zero)
        safe = b.select(isz, ir.Constant(x.type, 1), y)
        if bop is BinaryOp.DIV:
            q = b.sdiv(x, safe) if signed else b.udiv(x, safe)
            return b.select(isz, zero, q)
        r = b.srem(x, safe) if signed else b.urem(x, safe)
        return b.select(isz, zero, r)
    if bop in (BinaryOp.SHL, BinaryOp.SHR):
        w = ir.Constant(x.type, x.type.width)
        big = b.icmp_unsigned(">=", y, w)
        safe = b.select(big, zero, y)
        if bop is BinaryOp.SHL:
            return b.select(big, zero, b.shl(x, safe))
        if signed:
            sign = b.ashr(x, ir.Constant(x.type, x.type.width - 1))
            return b.select(big, sign, b.ashr(x, safe))
        return b.select(big, zero, b.lshr(x, safe))
    if bop in (BinaryOp.MIN, BinaryOp.MAX):
        lt = b.icmp_signed("<", x, y) if signed else b.icmp_unsigned("<", x, y)
        return b.select(lt, x, y) if bop is BinaryOp.MIN else b.select(lt, y, x)
    raise UnsupportedOnAccelError(op.loc, f"integer {bop.value}")
