"""Whole-chunk mask tests for the CPU lowering: is every lane of this chunk's mask on?

Stage: codegen/cpu, a helper of `lower.py`. Input: a mask block of the tile IR, the chunk's
index and width, and the axis info; output: one scalar `i1` that is true exactly when every lane
of the chunk's mask is true, computed from lane 0 alone, or None when the mask has no such form.

Most masks are bounds checks `offs < n` whose left side runs in steps of one along the chunk
(contiguity) and whose right side is the same for the whole chunk (constancy), combined with `&`.
For those, "all lanes on" is one scalar comparison of the chunk's last lane, so full chunks take
plain vector loads and stores without computing the vector mask at all; the vector mask is
built only in the partial chunk's branch.
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.ir import BinaryOp, BlockType, CmpPred, OpKind, Value, scalar_dtype

from . import elementwise as E
from . import llvmutil as U

_SWAP = {
    CmpPred.LT: CmpPred.GT,
    CmpPred.LE: CmpPred.GE,
    CmpPred.GT: CmpPred.LT,
    CmpPred.GE: CmpPred.LE,
}
_OPS = {CmpPred.LT: "<", CmpPred.LE: "<=", CmpPred.GT: ">", CmpPred.GE: ">="}


def chunk_full(low, mask: Value, idx, lanes: int) -> ir.Value | None:
    """A scalar i1: every lane of `mask` in the chunk at `idx` is on; None if not derivable."""
    if lanes == 1 or not isinstance(mask.type, BlockType):
        return None
    info = low.axis.get(mask)
    if info.constancy[-1] % lanes == 0:  # one value for the whole chunk
        return _truth(low, mask, low.ev(mask, idx, 1))
    r = low.vals.get(mask.id)
    op = getattr(r, "op", None)
    if op is None:
        return None
    if op.kind is OpKind.BINARY and op.attr.op is BinaryOp.AND:
        parts = [chunk_full(low, v, idx, lanes) for v in op.operands]
        if any(p is None for p in parts):
            return None
        return low.b.and_(parts[0], parts[1])
    if op.kind is OpKind.CMP and op.attr.pred in _OPS:
        return _compare(low, op, idx, lanes)
    return None


def _truth(low, v: Value, x: ir.Value) -> ir.Value:
    if x.type == U.I1:
        return x
    if isinstance(x.type, ir.IntType):
        return low.b.icmp_unsigned("!=", x, ir.Constant(x.type, 0))
    return None  # a float mask: leave it to the vector test


def _compare(low, op, idx, lanes: int) -> ir.Value | None:
    """`lhs pred rhs` where one side steps by one along the chunk and the other is constant on
    it: the extreme lane decides (computed in i64, so the last lane cannot overflow)."""
    lhs, rhs = op.operands
    dt = scalar_dtype(lhs.type)
    # 32-bit integers only: in i64 the chunk's last lane (lane 0 + lanes - 1) cannot overflow,
    # and a run of consecutive 32-bit values does not wrap for any array a pointer can index
    if dt is None or not dt.is_int or dt.bits != 32 or dt != scalar_dtype(rhs.type):
        return None
    pred = op.attr.pred
    step = _steps_by_one(low, lhs, lanes), _steps_by_one(low, rhs, lanes)
    flat = _flat(low, lhs, lanes), _flat(low, rhs, lanes)
    if step[1] and flat[0]:  # n > offs: mirror it to offs < n
        lhs, rhs, pred = rhs, lhs, _SWAP[pred]
    elif not (step[0] and flat[1]):
        return None
    b = low.b
    a = E.int_to_i64(b, dt, low.ev(lhs, idx, 1))
    n = E.int_to_i64(b, dt, low.ev(rhs, idx, 1))
    if pred in (CmpPred.LT, CmpPred.LE):  # increasing side against a bound: the last lane
        a = b.add(a, ir.Constant(U.I64, lanes - 1))
    return b.icmp_signed(_OPS[pred], a, n)  # 32-bit values, signed or not, are exact in i64


def _steps_by_one(low, v: Value, lanes: int) -> bool:
    return isinstance(v.type, BlockType) and low.axis.get(v).contiguity[-1] % lanes == 0


def _flat(low, v: Value, lanes: int) -> bool:
    return not isinstance(v.type, BlockType) or low.axis.get(v).constancy[-1] % lanes == 0
