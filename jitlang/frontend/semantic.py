"""Typing and building of tile-IR ops: Triton's semantic layer (promotion, broadcasting, casts).

Stage: called by the AST visitor (`jitlang.frontend.visitor`) and the builtin handlers
(`jitlang.frontend.builtins`); appends typed ops to the region being built. Python numbers are
compile-time values until an op needs them as tensors ("weak" literals in promotion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..dtypes import (
    DType,
    computation_type,
    float32_to_fp8e4b15,
    fp8e4b15_to_float32,
    literal_dtype,
)
from ..errors import KernelTypeError, ShapeError
from ..ir import (
    Attr,
    Axis,
    Binary,
    BinaryOp,
    BlockType,
    Cast,
    Cmp,
    CmpPred,
    Const,
    Loc,
    Op,
    OpKind,
    PointerType,
    Region,
    ScalarType,
    Type,
    Unary,
    UnaryOp,
    Value,
    elem_type,
    is_ptr,
    scalar_dtype,
    shape_of,
    with_elem,
)

MAX_NUMEL = 1 << 20  # like Triton's TRITON_MAX_TENSOR_NUMEL

NUMBER = (int, float, bool)


@dataclass
class Builder:
    """Appends ops to the innermost open region; `loc` is the source position being compiled."""

    loc: Loc
    regions: list[Region] = field(default_factory=list)
    # (jit_fn, args) -> value: inlines a @jit function here (set by the AST visitor)
    inliner: object = None
    # ids of pointer values that point at const data (`tl.const` parameters and every pointer
    # computed from one): Triton keeps constness in the pointer type; our IR types do not
    # carry it, so the frontend tracks it beside them
    const_ptrs: set = field(default_factory=set)

    def emit(
        self,
        kind: OpKind,
        operands: list[Value],
        result_types: list[Type],
        attr: Attr = None,
        regions: list[Region] | None = None,
        name: str = "",
    ) -> Op:
        results = [Value(t, name) for t in result_types]
        op = Op(kind, list(operands), results, self.loc, attr, regions or [])
        self.regions[-1].ops.append(op)
        if self.const_ptrs and results:
            self._propagate_const(op)
        return op

    def _propagate_const(self, op: Op) -> None:
        srcs = list(op.operands)
        for r in op.regions:  # an `if`'s results are what its branches yield
            if r.ops and r.ops[-1].kind is OpKind.YIELD:
                srcs += r.ops[-1].operands
        if any(v.id in self.const_ptrs for v in srcs):
            self.const_ptrs.update(v.id for v in op.results if is_ptr(v.type))

    def inherit_const(self, values: list[Value], sources: list) -> None:
        """Region arguments (loop-carried values) are const pointers where their initial values
        are."""
        for v, src in zip(values, sources):
            if isinstance(src, Value) and src.id in self.const_ptrs:
                self.const_ptrs.add(v.id)

    def is_const_ptr(self, v: object) -> bool:
        return isinstance(v, Value) and v.id in self.const_ptrs

    # -- errors at the current location --------------------------------------------------------
    def type_error(self, msg: str, hint: str = "") -> KernelTypeError:
        return KernelTypeError(self.loc, msg, hint)

    def shape_error(self, msg: str, hint: str = "") -> ShapeError:
        return ShapeError(self.loc, msg, hint)


def type_name(x: object) -> str:
    if isinstance(x, Value):
        return str(x.type)
    return f"constexpr {type(x).__name__}"


# ----------------------------------------------------------------------------------------------
# Constants, splats, broadcasting
# ----------------------------------------------------------------------------------------------


def constant(
    b: Builder, value: int | float | bool, dt: DType, shape: tuple[int, ...] = ()
) -> Value:
    if dt.is_float:
        value = round_float(value, dt)
    elif dt is DType.I1:
        value = bool(value)
    else:
        value = _wrap_int(int(value), dt)
    elem = ScalarType(dt)
    t: Type = BlockType(shape, elem) if shape else elem
    return b.emit(OpKind.CONSTANT, [], [t], Const(value)).result


def round_float(value: object, dt: DType) -> float:
    """`value` rounded onto `dt`'s grid, so an fp16/bf16 constant holds exactly what it compares as.

    Triton builds such constants with `get_fp16(float)`/`get_bf16(float)`: the Python float
    becomes a C float first, then the narrower type, so we round through fp32 the same way.
    """
    import numpy as np

    if dt is DType.F64:
        return float(value)
    if dt is DType.F8E4B15:  # no numpy type: through its codes
        with np.errstate(over="ignore"):
            return float(fp8e4b15_to_float32(float32_to_fp8e4b15(np.float32(value))))
    with np.errstate(over="ignore"):
        v = np.float32(value)
        return float(v if dt is DType.F32 else dt.np.type(v))


def _wrap_int(v: int, dt: DType) -> int:
    bits = dt.bits
    v &= (1 << bits) - 1
    if dt.is_signed and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


def to_value(b: Builder, x: object, dt: DType | None = None) -> Value:
    """A tensor for `x`: IR values pass through, Python numbers become constants."""
    if isinstance(x, Value):
        return x
    if isinstance(x, NUMBER) or _is_np_number(x):
        if dt is None:
            try:
                dt = literal_dtype(x)
            except ValueError as e:
                raise b.type_error(str(e)) from None
        return constant(b, x, dt)
    raise b.type_error(f"expected a tensor or a number, got {type_name(x)}")


def _is_np_number(x: object) -> bool:
    import numpy as np

    return isinstance(x, (np.integer, np.floating, np.bool_))


def splat(b: Builder, v: Value, shape: tuple[int, ...]) -> Value:
    if not shape:
        return v
    if isinstance(v.type, BlockType):
        return broadcast_to(b, v, shape)
    return b.emit(OpKind.SPLAT, [v], [BlockType(shape, v.type)]).result


def expand_dims(b: Builder, v: Value, axis: int) -> Value:
    shape = list(shape_of(v.type))
    if axis < 0:
        axis += len(shape) + 1
    if not 0 <= axis <= len(shape):
        raise b.shape_error(f"expand_dims axis {axis} out of range for a rank-{len(shape)} value")
    if not isinstance(v.type, BlockType):
        v = splat(b, v, (1,))
        shape = [1]
        if axis == 0:
            return v
        axis = 0 if axis <= 0 else axis
    shape.insert(axis, 1)
    return b.emit(
        OpKind.EXPAND_DIMS, [v], [BlockType(tuple(shape), v.type.elem)], Axis(axis)
    ).result


def broadcast_to(b: Builder, v: Value, shape: tuple[int, ...]) -> Value:
    src = shape_of(v.type)
    if src == shape:
        return v
    if not isinstance(v.type, BlockType):
        return splat(b, v, shape)
    if len(src) > len(shape):
        raise b.shape_error(f"cannot broadcast a block of shape {list(src)} to {list(shape)}")
    while len(src) < len(shape):
        v = expand_dims(b, v, 0)
        src = shape_of(v.type)
    for i, (s, d) in enumerate(zip(src, shape)):
        if s != d and s != 1:
            raise b.shape_error(
                f"cannot broadcast shape {list(src)} to {list(shape)}: dimension {i} is {s}, "
                f"not 1 or {d}"
            )
    if src == shape:
        return v
    return b.emit(OpKind.BROADCAST, [v], [BlockType(tuple(shape), v.type.elem)]).result


def broadcast_shapes(b: Builder, a: tuple[int, ...], c: tuple[int, ...]) -> tuple[int, ...]:
    if len(a) < len(c):
        a = (1,) * (len(c) - len(a)) + a
    if len(c) < len(a):
        c = (1,) * (len(a) - len(c)) + c
    out = []
    for i, (x, y) in enumerate(zip(a, c)):
        if x != y and x != 1 and y != 1:
            raise b.shape_error(
                f"incompatible shapes {list(a)} and {list(c)}: dimension {i} is {x} vs {y}",
                "broadcast needs equal sizes or 1; index with [:, None] / [None, :] to add axes",
            )
        out.append(max(x, y))
    return tuple(out)


def broadcast_pair(b: Builder, x: Value, y: Value) -> tuple[Value, Value]:
    sx, sy = shape_of(x.type), shape_of(y.type)
    if sx == sy:
        return x, y
    shape = broadcast_shapes(b, sx, sy)
    return broadcast_to(b, x, shape), broadcast_to(b, y, shape)


# ----------------------------------------------------------------------------------------------
# Casts
# ----------------------------------------------------------------------------------------------


def cast(b: Builder, v: Value, dt: DType | PointerType, bitcast: bool = False) -> Value:
    src_elem = elem_type(v.type)
    dst_elem = dt if isinstance(dt, PointerType) else ScalarType(dt)
    if src_elem == dst_elem:
        return v
    if isinstance(src_elem, PointerType) or isinstance(dst_elem, PointerType):
        return _pointer_cast(b, v, src_elem, dst_elem)
    if bitcast and src_elem.dtype.bits != dst_elem.dtype.bits:
        raise b.type_error(
            f"bitcast needs equal bit widths: {src_elem.dtype} has {src_elem.dtype.bits}, "
            f"{dst_elem.dtype} has {dst_elem.dtype.bits}"
        )
    return b.emit(OpKind.CAST, [v], [with_elem(v.type, dst_elem)], Cast(bitcast)).result


def _pointer_cast(b: Builder, v: Value, src: object, dst: object) -> Value:
    """Casts that involve a pointer, as Triton's `cast` allows them (a bitcast of a pointer is the
    same cast). A pointer's value is its byte address, a 64-bit integer:
    1. pointer -> pointer: the same address, read as another element type;
    2. pointer -> int64/uint64: the address; pointer -> int1: address != 0 (not null);
    3. integer -> pointer: the integer as a byte address; narrower integers widen first, signed
       ones by sign extension, as Triton's interpreter converts them to uint64.
    Nothing else converts (float <-> pointer, pointer -> a narrower integer)."""
    if isinstance(src, PointerType) and isinstance(dst, PointerType):
        return b.emit(OpKind.CAST, [v], [with_elem(v.type, dst)], Cast(True)).result
    if isinstance(src, PointerType) and dst.dtype.is_int:
        if dst.dtype.bits == 64:
            return b.emit(OpKind.CAST, [v], [with_elem(v.type, dst)], Cast(True)).result
        if dst.dtype is DType.I1:
            addr = cast(b, v, DType.I64)
            return compare(b, CmpPred.NE, addr, 0)
    if isinstance(dst, PointerType) and src.dtype.is_int:
        if src.dtype.bits != 64:
            v = cast(b, v, DType.I64)
        return b.emit(OpKind.CAST, [v], [with_elem(v.type, dst)], Cast(True)).result
    raise b.type_error(
        f"cannot cast {v.type} to {dst}",
        "a pointer converts to int64/uint64 (its byte address) or int1 (not null), and an "
        "integer to a pointer (e.g. x.to(tl.pointer_type(tl.int32)))",
    )


# ----------------------------------------------------------------------------------------------
# Arithmetic
# ----------------------------------------------------------------------------------------------

_DIV_OR_MOD = {BinaryOp.DIV, BinaryOp.REM}
_INT_ONLY = {BinaryOp.AND, BinaryOp.OR, BinaryOp.XOR, BinaryOp.SHL, BinaryOp.SHR}
_INT_ONLY_SYMBOL = {
    BinaryOp.AND: "&",
    BinaryOp.OR: "|",
    BinaryOp.XOR: "^",
    BinaryOp.SHL: "<<",
    BinaryOp.SHR: ">>",
}


def _operand_dtype(b: Builder, x: object) -> DType:
    if isinstance(x, Value):
        dt = scalar_dtype(x.type)
        if dt is None:
            raise b.type_error(f"arithmetic on a pointer ({x.type}) is not allowed here")
        return dt
    try:
        return literal_dtype(x)
    except (TypeError, ValueError) as e:
        raise b.type_error(str(e)) from None


def promote_pair(b: Builder, x: object, y: object, div_or_mod: bool) -> tuple[Value, Value]:
    """Convert two operands (tensors or Python numbers) to their computation type and shape."""
    dx, dy = _operand_dtype(b, x), _operand_dtype(b, y)
    try:
        dt = computation_type(
            dx, not isinstance(x, Value), dy, not isinstance(y, Value), div_or_mod
        )
    except TypeError as e:
        raise b.type_error(str(e)) from None
    vx = cast(b, x, dt) if isinstance(x, Value) else to_value(b, _fit_literal(b, x, dt), dt)
    vy = cast(b, y, dt) if isinstance(y, Value) else to_value(b, _fit_literal(b, y, dt), dt)
    return broadcast_pair(b, vx, vy)


def _fit_literal(b: Builder, x: object, dt: DType) -> object:
    if dt.is_int and not dt.is_bool and isinstance(x, (int, bool)) and not isinstance(x, bool):
        lo, hi = (-(2 ** (dt.bits - 1)), 2 ** (dt.bits - 1)) if dt.is_signed else (0, 2**dt.bits)
        if not lo <= x < hi:
            raise b.type_error(f"literal {x} is out of range for {dt}")
    return x


def binary(b: Builder, op: BinaryOp, x: object, y: object) -> Value:
    # Pointer arithmetic: ptr + int, int + ptr, ptr - int.
    xp = isinstance(x, Value) and is_ptr(x.type)
    yp = isinstance(y, Value) and is_ptr(y.type)
    if xp or yp:
        return _pointer_arith(b, op, x, y, xp, yp)
    if op is BinaryOp.DIV:
        return true_div(b, x, y)
    if op in _INT_ONLY:
        for v in (x, y):
            dt = _operand_dtype(b, v)
            if dt.is_float:
                # Triton's wording ("invalid operands of type ..."), which users search for
                raise b.type_error(
                    f"invalid operands of type {type_name(x)} and {type_name(y)} for operator "
                    f"{_INT_ONLY_SYMBOL[op]}: it needs integer operands",
                    "cast with .to(tl.int32) first",
                )
    vx, vy = promote_pair(b, x, y, op in _DIV_OR_MOD)
    if op is BinaryOp.SHR:
        return _shift_right(b, x, y, vx, vy)
    return b.emit(OpKind.BINARY, [vx, vy], [vx.type], Binary(op)).result


_SIGNED_TWIN = {
    DType.U8: DType.I8,
    DType.U16: DType.I16,
    DType.U32: DType.I32,
    DType.U64: DType.I64,
}
_UNSIGNED_TWIN = {v: k for k, v in _SIGNED_TWIN.items()}


def _shift_right(b: Builder, x: object, y: object, vx: Value, vy: Value) -> Value:
    """`>>`: arithmetic when the tensor operand's own type is signed, else logical (Triton).

    Triton chooses ashr/lshr from the left operand's dtype before promotion (from the right one
    for `literal >> tensor`), then shifts the promoted values: int32 >> uint32 is an arithmetic
    shift of a uint32. Our SHR follows the operand type's signedness, so shift in the
    same-width twin type when promotion changed the signedness.
    """
    decider = x if isinstance(x, Value) else y
    arith = scalar_dtype(decider.type).is_signed
    dt = scalar_dtype(vx.type)
    twin = (_SIGNED_TWIN if arith else _UNSIGNED_TWIN).get(dt)
    if twin is None or dt.is_bool:
        return b.emit(OpKind.BINARY, [vx, vy], [vx.type], Binary(BinaryOp.SHR)).result
    r = b.emit(
        OpKind.BINARY,
        [cast(b, vx, twin), cast(b, vy, twin)],
        [with_elem(vx.type, ScalarType(twin))],
        Binary(BinaryOp.SHR),
    ).result
    return cast(b, r, dt)


def floor_div(b: Builder, x: object, y: object) -> Value:
    """`//`: C-style truncating division on integers (Triton's semantics); floats are an error."""
    for v in (x, y):
        if _operand_dtype(b, v).is_float:
            raise b.type_error(
                "// is only defined on integers in kernels (C-style truncating division)",
                "use tl.floor(a / b) for floats",
            )
    vx, vy = promote_pair(b, x, y, True)
    return b.emit(OpKind.BINARY, [vx, vy], [vx.type], Binary(BinaryOp.DIV)).result


def true_div(b: Builder, x: object, y: object) -> Value:
    dx, dy = _operand_dtype(b, x), _operand_dtype(b, y)
    if dx.is_int and dy.is_int:
        # Triton checks the integer operands as for // and % (mixed signedness is an error)
        try:
            computation_type(dx, not isinstance(x, Value), dy, not isinstance(y, Value), True)
        except TypeError as e:
            raise b.type_error(str(e)) from None
        # Triton: int / int divides in fp32.
        x = cast(b, to_value(b, x), DType.F32)
        y = cast(b, to_value(b, y), DType.F32)
    vx, vy = promote_pair(b, x, y, True)
    return b.emit(OpKind.BINARY, [vx, vy], [vx.type], Binary(BinaryOp.DIV)).result


def _pointer_arith(b: Builder, op: BinaryOp, x: object, y: object, xp: bool, yp: bool) -> Value:
    if xp and yp:
        raise b.type_error("cannot add or subtract two pointers")
    ptr, off = (x, y) if xp else (y, x)
    if op not in (BinaryOp.ADD, BinaryOp.SUB) or (op is BinaryOp.SUB and yp):
        raise b.type_error(f"operator {op.value} is not defined on pointers")
    off = to_value(b, off)
    odt = scalar_dtype(off.type)
    if odt is None or not odt.is_int:
        raise b.type_error(f"pointer offsets must be integers, got {off.type}")
    if op is BinaryOp.SUB:
        off = unary(b, UnaryOp.NEG, off)
    ptr, off = broadcast_pair(b, ptr, off)
    return b.emit(OpKind.PTR_ADD, [ptr, off], [ptr.type]).result


def compare(b: Builder, pred: CmpPred, x: object, y: object) -> Value:
    xp = isinstance(x, Value) and is_ptr(x.type)
    yp = isinstance(y, Value) and is_ptr(y.type)
    if xp or yp:
        if not (xp and yp):
            raise b.type_error("a pointer can only be compared with a pointer")
        vx, vy = broadcast_pair(b, x, y)
    else:
        vx, vy = promote_pair(b, x, y, False)
    t = with_elem(vx.type, ScalarType(DType.I1))
    return b.emit(OpKind.CMP, [vx, vy], [t], Cmp(pred)).result


def unary(b: Builder, op: UnaryOp, x: object) -> Value:
    v = to_value(b, x)
    dt = scalar_dtype(v.type)
    if dt is None:
        raise b.type_error(f"{op.value} is not defined on pointers")
    if op is UnaryOp.NOT and dt.is_float:
        raise b.type_error("~ needs an integer operand", "use `not` / == 0 for a logical test")
    if op in _FLOAT_ONLY:
        if not dt.is_float:
            raise b.type_error(
                f"tl.{op.value} expects a floating-point tensor, got {dt}",
                "convert first, e.g. x.to(tl.float32)",
            )
        if dt.is_narrow_float:
            # compute in fp32 and round back (as Triton's libdevice path does)
            r = unary(b, op, cast(b, v, DType.F32))
            return cast(b, r, dt)
    if op is UnaryOp.ABS and (dt.is_unsigned or dt.is_bool):
        return v
    return b.emit(OpKind.UNARY, [v], [v.type], Unary(op)).result


_FLOAT_ONLY = {
    UnaryOp.EXP,
    UnaryOp.EXP2,
    UnaryOp.LOG,
    UnaryOp.LOG2,
    UnaryOp.SQRT,
    UnaryOp.RSQRT,
    UnaryOp.SIN,
    UnaryOp.COS,
    UnaryOp.FLOOR,
    UnaryOp.CEIL,
    UnaryOp.ERF,
    UnaryOp.TANH,
    UnaryOp.SIGMOID,
}


def logical_not(b: Builder, x: object) -> Value:
    v = to_value(b, x)
    zero = 0.0 if scalar_dtype(v.type).is_float else 0
    return compare(b, CmpPred.EQ, v, zero)


def to_bool(b: Builder, x: Value) -> Value:
    dt = scalar_dtype(x.type)
    if dt is DType.I1:
        return x
    if dt is None:
        raise b.type_error(f"cannot use {x.type} as a condition")
    return compare(b, CmpPred.NE, x, 0.0 if dt.is_float else 0)


def where(b: Builder, cond: object, x: object, y: object) -> Value:
    c = to_bool(b, to_value(b, cond))
    if isinstance(x, Value) and is_ptr(x.type) or isinstance(y, Value) and is_ptr(y.type):
        vx, vy = to_value(b, x), to_value(b, y)
        if vx.type != vy.type and elem_type(vx.type) != elem_type(vy.type):
            raise b.type_error(f"where: cannot choose between {vx.type} and {vy.type}")
        vx, vy = broadcast_pair(b, vx, vy)
    else:
        vx, vy = promote_pair(b, x, y, False)
    shape = broadcast_shapes(b, shape_of(c.type), shape_of(vx.type))
    c = broadcast_to(b, c, shape)
    vx, vy = broadcast_to(b, vx, shape), broadcast_to(b, vy, shape)
    return b.emit(OpKind.SELECT, [c, vx, vy], [vx.type]).result


def minmax(b: Builder, op: BinaryOp, x: object, y: object, propagate_nan: bool = False) -> Value:
    vx, vy = promote_pair(b, x, y, False)
    return b.emit(OpKind.BINARY, [vx, vy], [vx.type], Binary(op, propagate_nan)).result


def fma(b: Builder, x: object, y: object, z: object) -> Value:
    vx, vy = promote_pair(b, x, y, False)
    vz = to_value(b, z, scalar_dtype(vx.type) if not isinstance(z, Value) else None)
    vz = cast(b, vz, scalar_dtype(vx.type))
    shape = broadcast_shapes(b, shape_of(vx.type), shape_of(vz.type))
    vx, vy, vz = (broadcast_to(b, v, shape) for v in (vx, vy, vz))
    if not scalar_dtype(vx.type).is_float:
        m = b.emit(OpKind.BINARY, [vx, vy], [vx.type], Binary(BinaryOp.MUL)).result
        return b.emit(OpKind.BINARY, [m, vz], [vx.type], Binary(BinaryOp.ADD)).result
    return b.emit(OpKind.FMA, [vx, vy, vz], [vx.type]).result


def arange(b: Builder, start: object, end: object) -> Value:
    if not isinstance(start, int) or not isinstance(end, int):
        raise b.type_error(
            "tl.arange needs compile-time integer bounds",
            "declare the bound as a `tl.constexpr` parameter",
        )
    if end <= start:
        raise b.shape_error(f"tl.arange({start}, {end}) is empty")
    if end - start > MAX_NUMEL:
        raise b.shape_error(f"tl.arange of {end - start} elements exceeds {MAX_NUMEL}")
    from ..ir import Range

    t = BlockType((end - start,), ScalarType(DType.I32))
    return b.emit(OpKind.MAKE_RANGE, [], [t], Range(start, end)).result


def full(b: Builder, shape: object, value: object, dt: DType) -> Value:
    shp = check_shape(b, shape)
    if isinstance(value, Value):
        if isinstance(value.type, BlockType):
            raise b.shape_error("tl.full needs a scalar value")
        return splat(b, cast(b, value, dt), shp)
    if not isinstance(value, NUMBER):
        raise b.type_error(f"tl.full value must be a number, got {type_name(value)}")
    if shp:
        return constant(b, value, dt, shp)
    return constant(b, value, dt)


def check_shape(b: Builder, shape: object) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(isinstance(d, int) for d in shape):
        raise b.type_error(
            f"a block shape must be a tuple of compile-time integers, got {shape!r}",
            "use tl.constexpr parameters for block sizes",
        )
    n = math.prod(shape)
    if any(d <= 0 for d in shape):
        raise b.shape_error(f"block dimensions must be positive, got {list(shape)}")
    if n > MAX_NUMEL:
        raise b.shape_error(f"a block of {n} elements exceeds the limit of {MAX_NUMEL}")
    return tuple(shape)
