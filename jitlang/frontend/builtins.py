"""Handlers for `tl.*` calls: argument binding by Triton's signatures, then the semantic layer.

Stage: frontend. Each handler takes the Builder and the call's evaluated arguments (IR values or
compile-time Python values) and returns the call's value.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ..dtypes import DType
from ..errors import CompilationError, StaticAssertionError
from ..ir import (
    Axis,
    BinaryOp,
    BlockType,
    Hint,
    MemAttr,
    OpKind,
    PointerType,
    PrintAttr,
    ScalarType,
    UnaryOp,
    Value,
    elem_type,
    is_ptr,
    scalar_dtype,
    shape_of,
)
from ..language import core as lang
from . import blockptr as BP
from . import semantic as S
from .semantic import Builder

HANDLERS: dict[str, Callable] = {}


def handler(fn: Callable) -> Callable:
    HANDLERS[fn.__name__.rstrip("_")] = fn
    return fn


def call_builtin(b: Builder, name: str, args: list, kwargs: dict) -> object:
    fn = HANDLERS.get(name)
    if fn is None and name.startswith(("libdevice.", "extra.")):
        raise CompilationError(
            b.loc,
            f"tl.extra.{name.removeprefix('extra.')} has no equivalent on jitlang's targets "
            "(the CPU and the accelerator have no CUDA/HIP libdevice)",
            "write it with tl.* math; the libdevice functions jitlang maps are listed in "
            "jitlang.language.extra.libdevice",
        )
    if fn is None:
        raise CompilationError(b.loc, f"tl.{name} is not supported yet")
    sig = inspect.signature(fn)
    try:
        bound = sig.bind(b, *args, **kwargs)
    except TypeError as e:
        params = [p for p in list(sig.parameters)[1:]]
        raise b.type_error(
            f"tl.{name}: {e}", f"signature: tl.{name}({', '.join(params)})"
        ) from None
    bound.apply_defaults()
    if name in _WRITES:
        refuse_const_write(b, bound.arguments.get("pointer"), f"tl.{name}")
    return fn(*bound.args, **bound.kwargs)


# builtins that write through their `pointer` argument (Triton refuses them on const pointers)
_WRITES = frozenset(
    "atomic_add atomic_max atomic_min atomic_and atomic_or atomic_xor atomic_xchg atomic_cas "
    "atomic_store".split()
)


def refuse_const_write(b: Builder, ptr: object, what: str) -> None:
    if b.is_const_ptr(ptr):
        raise b.type_error(
            f"{what}: cannot store to a constant pointer ({S.type_name(ptr)} from a tl.const "
            "parameter)",
            "drop the tl.const annotation from the parameter the pointer comes from",
        )


def _dtype(b: Builder, d: object, what: str = "dtype") -> DType:
    if isinstance(d, lang.block_type):  # as Triton's casts: a block type names its element type
        d = d.element_ty
    if isinstance(d, lang.dtype):
        if d.dt is None:
            raise b.type_error(f"{what} cannot be tl.void: it is the type of no value")
        return d.dt
    if d is None:
        return DType.F32
    raise b.type_error(f"{what} must be a tl dtype such as tl.float32, got {d!r}")


def _const_int(b: Builder, x: object, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise b.type_error(f"{what} must be a compile-time integer, got {S.type_name(x)}")
    return x


# -- program structure ------------------------------------------------------------------------


@handler
def program_id(b: Builder, axis):
    axis = _const_int(b, axis, "program_id axis")
    if axis not in (0, 1, 2):
        raise b.type_error(f"program_id axis must be 0, 1, or 2 but got {axis}")
    return b.emit(OpKind.PROGRAM_ID, [], [ScalarType(DType.I32)], Axis(axis), name="pid").result


@handler
def num_programs(b: Builder, axis):
    axis = _const_int(b, axis, "num_programs axis")
    if axis not in (0, 1, 2):
        raise b.type_error(f"num_programs axis must be 0, 1, or 2 but got {axis}")
    return b.emit(OpKind.NUM_PROGRAMS, [], [ScalarType(DType.I32)], Axis(axis)).result


@handler
def arange(b: Builder, start, end):
    return S.arange(b, start, end)


@handler
def full(b: Builder, shape, value, dtype):
    return S.full(b, shape, value, _dtype(b, dtype))


@handler
def zeros(b: Builder, shape, dtype=None):
    return S.full(b, shape, 0, _dtype(b, dtype))


@handler
def zeros_like(b: Builder, input, dtype=None):
    v = S.to_value(b, input)
    dt = _dtype(b, dtype) if dtype is not None else scalar_dtype(v.type)
    return S.full(b, shape_of(v.type) or (), 0, dt) if shape_of(v.type) else S.constant(b, 0, dt)


# -- memory -----------------------------------------------------------------------------------


def _mask(b: Builder, mask, shape) -> Value | None:
    if mask is None:
        return None
    m = S.to_bool(b, S.to_value(b, mask))
    if shape_of(m.type) and not shape:
        raise b.shape_error("a block mask needs a block of pointers")
    return S.broadcast_to(b, m, shape)


def _ptr(b: Builder, pointer, what: str) -> Value:
    if not isinstance(pointer, Value) or not is_ptr(pointer.type):
        raise b.type_error(
            f"{what} expects a pointer (or block of pointers), got {S.type_name(pointer)}",
            "pass a numpy array and add integer offsets to it",
        )
    return pointer


@handler
def load(
    b: Builder,
    pointer,
    mask=None,
    other=None,
    boundary_check=(),
    padding_option="",
    cache_modifier="",
    eviction_policy="",
    volatile=False,
):
    if isinstance(pointer, BP.BlockPointer):
        kw = {"cache_modifier": cache_modifier, "eviction_policy": eviction_policy}
        kw["volatile"] = volatile
        return BP.load(b, pointer, mask, other, boundary_check, padding_option, load, kw)
    ptr = _ptr(b, pointer, "tl.load")
    if isinstance(mask, Value) and isinstance(ptr.type, BlockType) is False and shape_of(mask.type):
        raise b.shape_error("a block mask needs a block of pointers")
    if mask is not None:
        shape = S.broadcast_shapes(b, shape_of(ptr.type), shape_of(S.to_value(b, mask).type))
        ptr = S.broadcast_to(b, ptr, shape)
    shape = shape_of(ptr.type)
    m = _mask(b, mask, shape)
    elem = elem_type(ptr.type).elem
    operands = [ptr]
    if m is not None:
        operands.append(m)
        if other is not None:
            o = S.cast(
                b, S.to_value(b, other, elem if not isinstance(other, Value) else None), elem
            )
            operands.append(S.broadcast_to(b, o, shape))
    elif other is not None:
        pass  # Triton ignores `other` without a mask
    t = BlockType(shape, ScalarType(elem)) if shape else ScalarType(elem)
    attr = MemAttr(cache_modifier or "", bool(volatile))
    return b.emit(OpKind.LOAD, operands, [t], attr).result


@handler
def store(
    b: Builder, pointer, value, mask=None, boundary_check=(), cache_modifier="", eviction_policy=""
):
    if isinstance(pointer, BP.BlockPointer):
        kw = {"cache_modifier": cache_modifier, "eviction_policy": eviction_policy}
        return BP.store(b, pointer, value, mask, boundary_check, store, kw)
    refuse_const_write(b, pointer, "tl.store")
    ptr = _ptr(b, pointer, "tl.store")
    elem = elem_type(ptr.type).elem
    v = S.to_value(b, value, elem if not isinstance(value, Value) else None)
    if is_ptr(v.type) and not (elem.is_int and elem.bits == 64):
        # Triton casts the stored value to the element type: a pointer only to a 64-bit integer
        raise b.type_error(
            f"tl.store cannot store pointers ({v.type}) into {elem} memory",
            "store addresses into an int64 array (x.to(tl.int64) is the address)",
        )
    shape = S.broadcast_shapes(b, shape_of(ptr.type), shape_of(v.type))
    if mask is not None:
        shape = S.broadcast_shapes(b, shape, shape_of(S.to_value(b, mask).type))
    if shape != shape_of(ptr.type):
        ptr = S.broadcast_to(b, ptr, shape)
    v = S.broadcast_to(b, S.cast(b, v, elem), shape)
    operands = [ptr, v]
    m = _mask(b, mask, shape)
    if m is not None:
        operands.append(m)
    b.emit(OpKind.STORE, operands, [], MemAttr(cache_modifier or ""))
    return None


# -- block pointers and tensor descriptors ----------------------------------------------------


@handler
def make_block_ptr(b: Builder, base, shape, strides, offsets, block_shape, order):
    return BP.make_block_ptr(b, base, shape, strides, offsets, block_shape, order)


@handler
def advance(b: Builder, base, offsets):
    return BP.advance(b, base, offsets)


@handler
def make_tensor_descriptor(b: Builder, base, shape, strides, block_shape, padding_option="zero"):
    if padding_option not in ("zero", "", None):
        raise b.type_error(
            f"tensor descriptors pad with zeros; got padding_option={padding_option!r}"
        )
    return BP.TensorDescriptor(b, base, shape, strides, block_shape)


def _descriptor(b: Builder, desc, what: str) -> BP.TensorDescriptor:
    if not isinstance(desc, BP.TensorDescriptor):
        raise b.type_error(
            f"{what} expects a tensor descriptor, got {S.type_name(desc)}",
            "make one with tl.make_tensor_descriptor",
        )
    return desc


@handler
def load_tensor_descriptor(b: Builder, desc, offsets):
    return _descriptor(b, desc, "tl.load_tensor_descriptor").load(offsets)


@handler
def store_tensor_descriptor(b: Builder, desc, offsets, value):
    return _descriptor(b, desc, "tl.store_tensor_descriptor").store(offsets, value)


# -- elementwise ------------------------------------------------------------------------------


@handler
def where(b: Builder, condition, x, y):
    return S.where(b, condition, x, y)


@handler
def minimum(b: Builder, x, y, propagate_nan=None):
    return S.minmax(b, BinaryOp.MIN, x, y, _propagate(propagate_nan))


@handler
def maximum(b: Builder, x, y, propagate_nan=None):
    return S.minmax(b, BinaryOp.MAX, x, y, _propagate(propagate_nan))


def _propagate(p) -> bool:
    # tl.PropagateNan.ALL / NONE or a bool
    if isinstance(p, lang.PropagateNan):
        return p is lang.PropagateNan.ALL
    return p is True or bool(p) and str(p).upper().endswith("ALL")


@handler
def clamp(b: Builder, x, min, max, propagate_nan=None):
    lo = S.minmax(b, BinaryOp.MAX, x, min, _propagate(propagate_nan))
    return S.minmax(b, BinaryOp.MIN, lo, max, _propagate(propagate_nan))


def _unary_handler(name: str, op: UnaryOp) -> None:
    def h(b: Builder, x):
        return S.unary(b, op, x)

    h.__name__ = name
    HANDLERS[name] = h


for _name, _op in [
    ("abs", UnaryOp.ABS),
    ("exp", UnaryOp.EXP),
    ("exp2", UnaryOp.EXP2),
    ("log", UnaryOp.LOG),
    ("log2", UnaryOp.LOG2),
    ("sqrt", UnaryOp.SQRT),
    ("sqrt_rn", UnaryOp.SQRT),
    ("rsqrt", UnaryOp.RSQRT),
    ("sin", UnaryOp.SIN),
    ("cos", UnaryOp.COS),
    ("floor", UnaryOp.FLOOR),
    ("ceil", UnaryOp.CEIL),
    ("erf", UnaryOp.ERF),
    ("tanh", UnaryOp.TANH),
    ("sigmoid", UnaryOp.SIGMOID),
]:
    _unary_handler(_name, _op)


@handler
def fma(b: Builder, x, y, z):
    return S.fma(b, x, y, z)


def _float_div(b: Builder, x, y, exact: bool):
    from ..ir import Binary

    for v in (x, y):
        dt = S._operand_dtype(b, v)
        if not dt.is_float:
            raise b.type_error(f"expects floating-point operands, got {dt}")
    vx, vy = S.promote_pair(b, x, y, True)
    return b.emit(OpKind.BINARY, [vx, vy], [vx.type], Binary(BinaryOp.DIV, False, exact)).result


@handler
def div_rn(b: Builder, x, y):
    """IEEE-rounded division (never replaced by a reciprocal multiply)."""
    return _float_div(b, x, y, True)


@handler
def fdiv(b: Builder, x, y, ieee_rounding=False):
    return _float_div(b, x, y, bool(ieee_rounding))


@handler
def softmax(b: Builder, x, dim=None, keep_dims=False, ieee_rounding=False):
    """Triton's tl.softmax: exp(x - max) / sum along `dim` (default: the last)."""
    v = S.to_value(b, x)
    rank = len(shape_of(v.type))
    axis = rank - 1 if dim is None else _const_int(b, dim, "dim")
    mx = call_builtin(b, "max", [v, axis], {"keep_dims": True})
    num = S.unary(b, UnaryOp.EXP, S.binary(b, BinaryOp.SUB, v, mx))
    den = call_builtin(b, "sum", [num, axis], {"keep_dims": True})
    return _float_div(b, num, den, bool(ieee_rounding))


@handler
def to_tensor(b: Builder, x):
    return S.to_value(b, x)


@handler
def umulhi(b: Builder, x, y):
    """The high half of the full product of two 32- or 64-bit integers, taken as unsigned.

    Triton lowers umulhi to libdevice's `__nv_umulhi`/`__nv_umul64hi` whatever the signedness
    of the (promoted) operands: int32 inputs give the unsigned high half, as int32 bits.
    """
    vx, vy = S.promote_pair(b, x, y, False)
    dt = scalar_dtype(vx.type)
    if dt is None or not dt.is_int or dt.bits not in (32, 64):
        raise b.type_error(f"tl.umulhi needs 32- or 64-bit integers, got {dt}")
    ux = S.cast(b, vx, DType.U32 if dt.bits == 32 else DType.U64)
    uy = S.cast(b, vy, DType.U32 if dt.bits == 32 else DType.U64)
    if dt.bits == 32:
        p = S.binary(b, BinaryOp.MUL, S.cast(b, ux, DType.U64), S.cast(b, uy, DType.U64))
        return S.cast(b, S.binary(b, BinaryOp.SHR, p, 32), dt)
    return S.cast(b, _umul64hi(b, ux, uy), dt)


def _umul64hi(b: Builder, x: Value, y: Value) -> Value:
    """High 64 bits of a uint64 product from 32-bit halves (no 128-bit type in the tile IR)."""

    def op(o, p, q):
        return S.binary(b, o, p, q)

    lo32 = 0xFFFFFFFF
    xl, xh = op(BinaryOp.AND, x, lo32), op(BinaryOp.SHR, x, 32)
    yl, yh = op(BinaryOp.AND, y, lo32), op(BinaryOp.SHR, y, 32)
    ll, hl = op(BinaryOp.MUL, xl, yl), op(BinaryOp.MUL, xh, yl)
    lh, hh = op(BinaryOp.MUL, xl, yh), op(BinaryOp.MUL, xh, yh)
    # at most (2^32-1) * (2^32+1) = 2^64 - 1: the middle column cannot overflow
    mid = op(
        BinaryOp.ADD, op(BinaryOp.ADD, op(BinaryOp.SHR, ll, 32), op(BinaryOp.AND, hl, lo32)), lh
    )
    return op(
        BinaryOp.ADD, op(BinaryOp.ADD, hh, op(BinaryOp.SHR, hl, 32)), op(BinaryOp.SHR, mid, 32)
    )


@handler
def cdiv(b: Builder, x, div):
    if not isinstance(x, Value) and not isinstance(div, Value):
        return -(-x // div)
    return S.floor_div(b, S.binary(b, BinaryOp.SUB, S.binary(b, BinaryOp.ADD, x, div), 1), div)


@handler
def cast(b: Builder, input, dtype, fp_downcast_rounding=None, bitcast=False):
    if isinstance(dtype, lang.pointer_type):
        return S.cast(b, S.to_value(b, input), PointerType(dtype.element_ty.dt), True)
    return S.cast(b, S.to_value(b, input), _dtype(b, dtype), bool(bitcast))


@handler
def broadcast_to(b: Builder, input, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return S.broadcast_to(b, S.to_value(b, input), S.check_shape(b, tuple(shape)))


@handler
def broadcast(b: Builder, input, other):
    return S.broadcast_pair(b, S.to_value(b, input), S.to_value(b, other))


@handler
def expand_dims(b: Builder, input, axis):
    v = S.to_value(b, input)
    axes = [
        _const_int(b, x, "axis") for x in (axis if isinstance(axis, (tuple, list)) else (axis,))
    ]
    # Triton wraps negative axes against the result's rank, then inserts in increasing order
    rank = len(shape_of(v.type)) + len(axes)
    wrapped = [a + rank if a < 0 else a for a in axes]
    for a in axes:  # Triton's wording
        if not -rank <= a < rank:
            raise b.shape_error(
                f"expand_dims: invalid axis {a}. Expected {-rank} <= axis < {rank} "
                f"(the result has rank {rank})"
            )
    if len(set(wrapped)) != len(wrapped):
        raise b.shape_error(f"expand_dims: duplicate axes, normalized axes = {wrapped}")
    for a in sorted(wrapped):
        v = S.expand_dims(b, v, a)
    return v


# -- compile-time and debugging ----------------------------------------------------------------


@handler
def static_assert(b: Builder, cond, msg=""):
    if isinstance(cond, Value):
        raise b.type_error("tl.static_assert needs a compile-time condition")
    if not cond:
        raise StaticAssertionError(b.loc, str(msg) or "condition is false")
    return None


@handler
def assume(b: Builder, cond):
    """A promise to the optimizer (llvm.assume in Triton); the CPU target does not use it."""
    if not isinstance(cond, Value) and not cond:
        raise b.type_error("tl.assume of a condition that is false at compile time")
    return None


@handler
def debug_barrier(b: Builder):
    """Triton's block-wide barrier: each program is one thread on the CPU, so nothing to wait for."""
    return None


@handler
def static_print(b: Builder, *values, sep=" ", end="\n", file=None, flush=False):
    print(*[v.type if isinstance(v, Value) else v for v in values], sep=sep, end=end)
    return None


@handler
def device_print(b: Builder, prefix, *args, hex=False):
    if not isinstance(prefix, str):
        raise b.type_error("tl.device_print's first argument must be a string prefix")
    vals = [S.to_value(b, a) for a in args]
    if vals:
        shape = ()
        for v in vals:
            shape = S.broadcast_shapes(b, shape, shape_of(v.type))
        vals = [S.broadcast_to(b, v, shape) for v in vals]
    b.emit(OpKind.PRINT, vals, [], PrintAttr(prefix, bool(hex)))
    return None


@handler
def device_assert(b: Builder, cond, msg="", mask=None):
    if not isinstance(cond, Value):
        if not cond:
            b.emit(OpKind.ASSERT, [S.constant(b, False, DType.I1)], [], PrintAttr(str(msg)))
        return None
    b.emit(OpKind.ASSERT, [S.to_bool(b, cond)], [], PrintAttr(str(msg)))
    return None


def _hint(b: Builder, input, values, which: str):
    v = S.to_value(b, input)
    vals = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    for x in vals:
        _const_int(b, x, f"tl.{which} value")
    if which == "multiple_of":
        attr = Hint(multiple_of=vals)
    else:
        attr = Hint(max_contiguous=vals)
    return b.emit(OpKind.HINT, [v], [v.type], attr).result


@handler
def multiple_of(b: Builder, input, values):
    return _hint(b, input, values, "multiple_of")


@handler
def max_contiguous(b: Builder, input, values):
    return _hint(b, input, values, "max_contiguous")


@handler
def max_constancy(b: Builder, input, values):
    return S.to_value(b, input)


_METHODS = {
    "expand_dims",
    "broadcast_to",
    "sum",
    "max",
    "min",
    "argmax",
    "argmin",
    "xor_sum",
    "reduce",
    "cumsum",
    "cumprod",
    "associative_scan",
    "trans",
    "permute",
    "reshape",
    "view",
    "ravel",
    "floor",
    "ceil",
    "rsqrt",
    "erf",
    "tanh",
    # more of Triton's `tensor` methods (its @_tensor_member_fn functions)
    "cast",
    "item",
    "sqrt_rn",
    "softmax",
    "sort",
    "flip",
    "split",
    "reduce_or",
    "fdiv",
    "div_rn",
    "fma",
    "umulhi",
    "clamp",
    "maximum",
    "minimum",
    "cdiv",
    "atomic_add",
    "atomic_max",
    "atomic_min",
    "atomic_and",
    "atomic_or",
    "atomic_xor",
    "atomic_xchg",
    "atomic_cas",
    "atomic_poll",
    "broadcast",
    "squeeze",
    "unsqueeze",
    "join",
    "histogram",
    "gather",
}


TENSOR_METHODS = _METHODS | {
    "logical_and",
    "logical_or",
    "store",
    "atomic_load",
    "atomic_store",
    "to",
    "exp",
    "log",
    "sqrt",
    "abs",
    "sin",
    "cos",
    "exp2",
    "log2",
    "sigmoid",
}


def tensor_method(b: Builder, v: Value, name: str, args: list, kwargs: dict) -> object:
    """`x.to(...)` and the tensor methods that mirror tl functions."""
    from .extras import METHODS as EXTRA

    if name in _WRITES:
        refuse_const_write(b, v, f".{name}()")
    if name in EXTRA:
        fn = EXTRA[name]
        try:
            bound = inspect.signature(fn).bind(b, v, *args, **kwargs)
        except TypeError as e:
            raise b.type_error(f".{name}(): {e}") from None
        return fn(*bound.args, **bound.kwargs)
    if name == "to":
        return call_builtin(b, "cast", [v, *args], kwargs)
    if name in ("exp", "log", "sqrt", "abs", "sin", "cos", "exp2", "log2", "sigmoid"):
        return call_builtin(b, name, [v, *args], kwargs)
    if name in _METHODS:
        return call_builtin(b, name, [v, *args], kwargs)
    raise b.type_error(f"tensors have no method {name!r} (yet)")
