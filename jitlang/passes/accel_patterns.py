"""Op patterns the accelerator lowers in one instruction, shared by the layout and memory passes
and the accel codegen: a splatted scalar or constant block as a vector-engine `ts` operand
(`splat_operand`, `block_immediate`), a custom reduction that is one commutative op
(`combine_kind`), `tl.umulhi` on 32-bit words (`umulhi_operands`) and a dot whose accumulator is
a constant zero (`zero_acc`).

Stage: accel backend helpers (no IR changes). Input: an op and the function's producers.
"""

from __future__ import annotations

from ..ir import BinaryOp, Op, OpKind, ReduceKind, Value, scalar_dtype, shape_of

_FUSE_ANY = {"add", "mul", "min", "max", "and", "or", "xor", "sub", "div"}
_FUSE_RIGHT = {"pow", "shl", "shr", "rem"}


def splat_operand(op: Op, producers: dict[int, Op]) -> tuple[int, Value] | None:
    """(operand index, scalar) when a binary/compare op reads a splatted scalar that the
    vector engine can take as its `ts` scalar operand instead of a materialised block."""
    if op.kind not in (OpKind.BINARY, OpKind.CMP) or len(op.operands) != 2:
        return None
    dt = scalar_dtype(op.operands[0].type)
    name = op.attr.op.value if op.kind is OpKind.BINARY else "cmp"
    if dt is None or (not dt.is_float and name in ("div", "rem")):
        return None
    if dt.is_float and name in ("min", "max") and not op.attr.propagate_nan:
        return None  # NaN-ignoring min/max needs both operands as tiles (see tileops)
    for i in (1, 0):
        p = producers.get(op.operands[i].id)
        other = producers.get(op.operands[1 - i].id)
        if p is not None and _row_scalars(p) and dt.is_float:
            pass  # [M, 1] -> [M, N]: one scalar per row, a per-partition `ts` column
        elif p is not None and block_immediate(p) is not None:
            pass  # a constant block (`tl.zeros`): its value is the `ts` immediate
        elif p is None or p.kind is not OpKind.SPLAT:
            continue
        if other is not None and (other.kind is OpKind.SPLAT or block_immediate(other)):
            return None
        if i == 1 or name in _FUSE_ANY or name == "cmp":
            return i, p.results[0] if p.kind is OpKind.CONSTANT else p.operands[0]
    return None


def block_immediate(p: Op) -> float | None:
    """The value of a constant block that a `ts` takes as its fp32 immediate (a float, or an
    integer below 2**24 of a type narrower than 64 bits, not a bool); None otherwise."""
    if p.kind is not OpKind.CONSTANT or not shape_of(p.results[0].type):
        return None
    dt = scalar_dtype(p.results[0].type)
    v = p.attr.value
    if dt.is_float:
        return float(v)
    if dt.is_bool or dt.bits >= 64 or abs(int(v)) >= 1 << 24:
        return None
    return float(int(v))


def _row_scalars(p: Op) -> bool:
    """A broadcast of a [M, 1] block along its last axis (codegen.accel.tileops reads the
    column of row scalars as the `ts` operand, row by row)."""
    if p.kind is not OpKind.BROADCAST:
        return False
    src, res = shape_of(p.operands[0].type), shape_of(p.results[0].type)
    return len(src) == 2 and src[1] == 1 and len(res) == 2 and res[0] == src[0]


def _const_of(v: Value, producers: dict[int, Op]) -> int | None:
    p = producers.get(v.id)
    while p is not None and p.kind in (OpKind.SPLAT, OpKind.BROADCAST):
        p = producers.get(p.operands[0].id)
    if p is not None and p.kind is OpKind.CONSTANT and isinstance(p.attr.value, int):
        return int(p.attr.value)
    return None


def _narrow(v: Value, producers: dict[int, Op]):
    """A 64-bit operand that is a widened 32-bit value (or a constant below 2**32)."""
    c = _const_of(v, producers)
    if c is not None:
        return c if 0 <= c < 1 << 32 else None
    p = producers.get(v.id)
    while p is not None and p.kind in (OpKind.SPLAT, OpKind.BROADCAST, OpKind.CAST):
        src = p.operands[0]
        dt = scalar_dtype(src.type)
        if p.kind is OpKind.CAST and dt is not None and not dt.is_float and dt.bits == 32:
            return src
        p = producers.get(src.id)
    return None


_SIMPLE = {
    BinaryOp.ADD: ReduceKind.SUM,
    BinaryOp.MUL: ReduceKind.PROD,
    BinaryOp.MAX: ReduceKind.MAX,
    BinaryOp.MIN: ReduceKind.MIN,
    BinaryOp.XOR: ReduceKind.XOR,
    BinaryOp.OR: ReduceKind.OR,
    BinaryOp.AND: ReduceKind.AND,
}


def combine_kind(op: Op) -> ReduceKind:
    """The op's reduction kind; a custom combine region that is one commutative binary op of
    its two arguments (`tl.reduce(x, 0, lambda a, b: a * b)`) counts as that op's kind."""
    kind = op.attr.kind
    if kind is not ReduceKind.CUSTOM or len(op.operands) != 1 or not op.regions:
        return kind
    body = op.regions[0]
    ops = [o for o in body.ops if o.kind is not OpKind.YIELD]
    if len(ops) == 1 and ops[0].kind is OpKind.BINARY and len(body.args) == 2:
        b = ops[0]
        args = {a.id for a in body.args}
        term = body.terminator
        if (
            b.attr.op in _SIMPLE
            and {v.id for v in b.operands} == args
            and term is not None
            and [v.id for v in term.operands] == [b.result.id]
        ):
            return _SIMPLE[b.attr.op]
    return kind


def umulhi_operands(op: Op, producers: dict[int, Op]) -> tuple | None:
    """`cast32((widen(x) * widen(y)) >> 32)` (tl.umulhi on 32-bit words, as Philox uses it):
    the two 32-bit operands (values or constants), for one `tt mulhi`."""
    if op.kind is not OpKind.CAST or op.attr.bitcast:
        return None
    dt = scalar_dtype(op.result.type)
    if dt is None or dt.is_float or dt.bits != 32 or not shape_of(op.result.type):
        return None
    shr = producers.get(op.operands[0].id)
    if shr is None or shr.kind is not OpKind.BINARY or shr.attr.op is not BinaryOp.SHR:
        return None
    if _const_of(shr.operands[1], producers) != 32:
        return None
    mul = producers.get(shr.operands[0].id)
    if mul is None or mul.kind is not OpKind.BINARY or mul.attr.op is not BinaryOp.MUL:
        return None
    xs = tuple(_narrow(v, producers) for v in mul.operands)
    return None if any(x is None for x in xs) else xs


def zero_acc(op: Op, producers: dict[int, Op]) -> bool:
    """A 2-D `dot(a, b)` whose accumulator is a constant 0 block (Triton's default): the
    lowering copies PSUM out instead of adding a materialised block of zeros."""
    if op.kind is not OpKind.DOT or len(shape_of(op.operands[0].type)) != 2:
        return False
    p = producers.get(op.operands[2].id)
    while p is not None and p.kind in (OpKind.SPLAT, OpKind.BROADCAST):
        p = producers.get(p.operands[0].id)
    return p is not None and p.kind is OpKind.CONSTANT and p.attr.value == 0
