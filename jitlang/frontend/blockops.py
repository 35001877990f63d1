"""`tl.*` handlers for whole-block operations: reductions, scans, dot, shape changes, atomics.

Stage: frontend (registered into `builtins.HANDLERS`). Reductions follow Triton: `axis=None`
reduces every axis, `keep_dims` keeps size-1 axes, `tl.sum` accumulates integers narrower than
32 bits in (u)int32, `tl.max(..., return_indices=True)` and `tl.argmax` carry indices with ties
broken to the left, `tl.reduce`/`tl.associative_scan` take a `@jit` combine function.
"""

from __future__ import annotations

import math

from ..dtypes import DType
from ..ir import (
    Atomic,
    AtomicKind,
    BinaryOp,
    BlockType,
    Dot,
    Op,
    OpKind,
    Permute,
    Reduce,
    ReduceKind,
    Region,
    ScalarType,
    Scan,
    Value,
    elem_type,
    is_ptr,
    scalar_dtype,
    shape_of,
)
from . import semantic as S
from .builtins import HANDLERS, _const_int, _dtype, _mask, handler
from .semantic import Builder

# -- helpers ----------------------------------------------------------------------------------


def _block(b: Builder, x, what: str) -> Value:
    v = S.to_value(b, x)
    if not isinstance(v.type, BlockType):
        raise b.type_error(f"{what} needs a block, got {v.type}")
    return v


def _axis(b: Builder, v: Value, axis) -> int:
    rank = len(shape_of(v.type))
    a = _const_int(b, axis, "axis")
    if a < 0:
        a += rank
    if not 0 <= a < rank:
        raise b.shape_error(f"axis {axis} is out of range for a block of rank {rank}")
    return a


def _reduce_once(
    b: Builder, vals: list[Value], axis: int, kind: ReduceKind, region=None, nan=False
):
    shape = list(shape_of(vals[0].type))
    del shape[axis]
    types = [BlockType(tuple(shape), v.type.elem) if shape else v.type.elem for v in vals]
    op = b.emit(OpKind.REDUCE, vals, types, Reduce(axis, kind, nan), [region] if region else None)
    return list(op.results)


def _finish(b: Builder, results: list[Value], axis: int, keep_dims: bool):
    if keep_dims:
        results = [S.expand_dims(b, r, axis) for r in results]
    return results


def reduce_values(b, vals, axis, kind, keep_dims, region=None, nan=False):
    if axis is None:
        # reduce all axes, last first (keeps chunked loops contiguous)
        rank = len(shape_of(vals[0].type))
        out = vals
        for a in range(rank - 1, -1, -1):
            out = _reduce_once(b, out, a, kind, region, nan)
        if keep_dims:
            for _ in range(rank):
                out = [S.expand_dims(b, r, 0) for r in out]
        return out
    a = _axis(b, vals[0], axis)
    return _finish(b, _reduce_once(b, vals, a, kind, region, nan), a, keep_dims)


def _sum_dtype(dt: DType) -> DType:
    if dt.is_int and dt.bits < 32:
        return DType.U32 if dt.is_unsigned else DType.I32
    return dt


# -- reductions -------------------------------------------------------------------------------


@handler
def sum(b: Builder, input, axis=None, keep_dims=False, dtype=None):  # noqa: A001
    v = _block(b, input, "tl.sum")
    dt = _dtype(b, dtype) if dtype is not None else _sum_dtype(scalar_dtype(v.type))
    v = S.cast(b, v, dt)
    return reduce_values(b, [v], axis, ReduceKind.SUM, keep_dims)[0]


@handler
def xor_sum(b: Builder, input, axis=None, keep_dims=False):
    v = _block(b, input, "tl.xor_sum")
    if not scalar_dtype(v.type).is_int:
        raise b.type_error("tl.xor_sum needs integers")
    return reduce_values(b, [v], axis, ReduceKind.XOR, keep_dims)[0]


@handler
def reduce_or(b: Builder, input, axis=None, keep_dims=False):
    v = _block(b, input, "tl.reduce_or")
    if not scalar_dtype(v.type).is_int:
        raise b.type_error("tl.reduce_or needs integers")
    return reduce_values(b, [v], axis, ReduceKind.OR, keep_dims)[0]


def _index_block(b: Builder, v: Value, axis: int) -> Value:
    shape = shape_of(v.type)
    idx = S.arange(b, 0, shape[axis])
    for _ in range(axis):
        idx = S.expand_dims(b, idx, 0)
    while len(shape_of(idx.type)) < len(shape):
        idx = S.expand_dims(b, idx, len(shape_of(idx.type)))
    return S.broadcast_to(b, idx, shape)


def _minmax(b, input, axis, return_indices, keep_dims, is_max, propagate_nan=False):
    v = _block(b, input, "tl.max" if is_max else "tl.min")
    if scalar_dtype(v.type) is None:
        raise b.type_error("cannot reduce pointers")
    if return_indices:
        if axis is None:
            raise b.type_error("return_indices needs an axis")
        a = _axis(b, v, axis)
        kind = ReduceKind.ARGMAX if is_max else ReduceKind.ARGMIN
        res = _reduce_once(b, [v, _index_block(b, v, a)], a, kind)
        return tuple(_finish(b, res, a, keep_dims))
    kind = ReduceKind.MAX if is_max else ReduceKind.MIN
    return reduce_values(b, [v], axis, kind, keep_dims, nan=propagate_nan)[0]


def _register_minmax(is_max: bool) -> None:
    """tl.max/tl.min and tl.argmax/tl.argmin share one implementation (Triton's signatures)."""
    name = "max" if is_max else "min"

    def value(
        b: Builder,
        input,
        axis=None,
        return_indices=False,
        return_indices_tie_break_left=True,
        keep_dims=False,
        propagate_nan=None,
    ):
        return _minmax(b, input, axis, return_indices, keep_dims, is_max, bool(propagate_nan))

    def index(b: Builder, input, axis, tie_break_left=True, keep_dims=False):
        return _minmax(b, input, axis, True, keep_dims, is_max)[1]

    HANDLERS[name] = value
    HANDLERS["arg" + name] = index


_register_minmax(True)
_register_minmax(False)


def _combine_region(b: Builder, vals: list[Value], combine_fn) -> Region:
    if not getattr(combine_fn, "_is_jitlang_function", False):
        raise b.type_error("combine_fn must be a @jit function")
    elems = [v.type.elem for v in vals]
    region = Region([Value(e, "acc") for e in elems] + [Value(e, "x") for e in elems])
    b.regions.append(region)
    try:
        out = b.inliner(combine_fn, list(region.args))
        outs = list(out) if isinstance(out, tuple) else [out]
        if len(outs) != len(vals):
            raise b.type_error(f"combine_fn returned {len(outs)} values, expected {len(vals)}")
        fixed = []
        for o, e in zip(outs, elems):
            o = S.to_value(b, o, e.dtype if not isinstance(o, Value) else None)
            if isinstance(o.type, BlockType):
                raise b.type_error("combine_fn must combine scalars elementwise")
            fixed.append(S.cast(b, o, e.dtype))
        region.ops.append(Op(OpKind.YIELD, fixed, [], b.loc))
    finally:
        b.regions.pop()
    return region


@handler
def reduce(b: Builder, input, axis, combine_fn, keep_dims=False):
    vals = list(input) if isinstance(input, tuple) else [input]
    vals = [_block(b, v, "tl.reduce") for v in vals]
    region = _combine_region(b, vals, combine_fn)
    out = reduce_values(b, vals, axis, ReduceKind.CUSTOM, keep_dims, region)
    return tuple(out) if isinstance(input, tuple) else out[0]


# -- scans --------------------------------------------------------------------------------------


def _scan(b, vals, axis, kind, reverse, region=None):
    a = _axis(b, vals[0], axis)
    op = b.emit(
        OpKind.SCAN,
        vals,
        [v.type for v in vals],
        Scan(a, kind, bool(reverse)),
        [region] if region else None,
    )
    return list(op.results)


def _cum(b: Builder, input, axis, reverse, dtype, kind: ReduceKind, name: str):
    v = _block(b, input, f"tl.{name}")
    dt = _dtype(b, dtype) if dtype is not None else _sum_dtype(scalar_dtype(v.type))
    return _scan(b, [S.cast(b, v, dt)], axis, kind, reverse)[0]


@handler
def cumsum(b: Builder, input, axis=0, reverse=False, dtype=None):
    return _cum(b, input, axis, reverse, dtype, ReduceKind.SUM, "cumsum")


@handler
def cumprod(b: Builder, input, axis=0, reverse=False, dtype=None):
    return _cum(b, input, axis, reverse, dtype, ReduceKind.PROD, "cumprod")


@handler
def associative_scan(b: Builder, input, axis, combine_fn, reverse=False):
    vals = list(input) if isinstance(input, tuple) else [input]
    vals = [_block(b, v, "tl.associative_scan") for v in vals]
    region = _combine_region(b, vals, combine_fn)
    out = _scan(b, vals, axis, ReduceKind.CUSTOM, reverse, region)
    return tuple(out) if isinstance(input, tuple) else out[0]


# -- dot ----------------------------------------------------------------------------------------

_DOT_ACC = {
    DType.F8E4NV: DType.F32,
    DType.F8E5: DType.F32,
    DType.F8E4B8: DType.F32,
    DType.F8E5B16: DType.F32,
    DType.F8E4B15: DType.F32,
    DType.F16: DType.F32,
    DType.BF16: DType.F32,
    DType.F32: DType.F32,
    DType.F64: DType.F64,
    DType.I8: DType.I32,
    DType.U8: DType.I32,
}


@handler
def dot(
    b: Builder,
    input,
    other,
    acc=None,
    input_precision=None,
    allow_tf32=None,
    max_num_imprecise_acc=None,
    out_dtype=None,
):
    x = _block(b, input, "tl.dot")
    y = _block(b, other, "tl.dot")
    sx, sy = shape_of(x.type), shape_of(y.type)
    if len(sx) not in (2, 3) or len(sx) != len(sy):
        raise b.shape_error(
            f"tl.dot takes two 2-D (or two 3-D batched) blocks, got {list(sx)} and {list(sy)}"
        )
    if sx[-1] != sy[-2] or sx[:-2] != sy[:-2]:
        raise b.shape_error(
            f"tl.dot shapes {list(sx)} and {list(sy)} do not agree (K {sx[-1]} vs {sy[-2]})"
        )
    dx, dy = scalar_dtype(x.type), scalar_dtype(y.type)
    if dx is None or dy is None or dx not in _DOT_ACC or dy not in _DOT_ACC:
        raise b.type_error(
            f"tl.dot supports fp16, bf16, fp32, fp64 and int8 inputs, got {dx} and {dy}"
        )
    if (dx.is_int) != (dy.is_int):
        raise b.type_error(
            f"tl.dot operands must both be floats or both be int8, got {dx} and {dy}"
        )
    if dx != dy and not dx.is_int:
        # promote the narrower float (Triton requires equal types; we convert like its IR does)
        common = DType.F64 if DType.F64 in (dx, dy) else DType.F32
        x, y = S.cast(b, x, common), S.cast(b, y, common)
        dx = dy = common
    # the result type, as Triton's semantic.dot: int8 -> int32, fp32/bf16 -> fp32, fp64 -> fp64
    # whatever out_dtype says; fp16 -> out_dtype (fp16 or fp32); an acc keeps its own type
    acc_dt = _DOT_ACC[dx]
    if out_dtype is not None and dx is DType.F16:
        acc_dt = _dtype(b, out_dtype)
        if acc_dt not in (DType.F16, DType.F32):
            raise b.type_error(
                f"tl.dot of fp16 inputs: out_dtype must be fp16 or fp32, got {acc_dt}"
            )
    out_shape = sx[:-1] + sy[-1:]
    if acc is None:
        accv = S.constant(b, 0, acc_dt, out_shape)
    else:
        accv = _block(b, acc, "tl.dot acc")
        if shape_of(accv.type) != out_shape:
            raise b.shape_error(
                f"tl.dot acc has shape {list(shape_of(accv.type))}, expected {list(out_shape)}"
            )
        acc_dt = scalar_dtype(accv.type)
    prec = input_precision or ("ieee" if allow_tf32 is False else "ieee")
    if prec not in ("ieee", "tf32", "tf32x3", "hf32", "bf16", "bf16x3"):
        raise b.type_error(
            f"tl.dot input_precision {prec!r} is not one of 'ieee', 'tf32', 'tf32x3'"
        )
    # The micro-kernel multiplies and accumulates in one register type: bring the operands
    # and the accumulator to it (exact widenings), and the result back to the acc's type.
    work = _dot_work_type(b, dx, acc_dt)
    if dx.is_int or work is DType.F64:
        x, y = S.cast(b, x, work), S.cast(b, y, work)
    accw = accv if _same_register(acc_dt, work) else S.cast(b, accv, work)
    rt = scalar_dtype(accw.type)
    op = b.emit(OpKind.DOT, [x, y, accw], [BlockType(out_shape, ScalarType(rt))], Dot(prec))
    return S.cast(b, op.result, acc_dt)


def _same_register(a: DType, c: DType) -> bool:
    def half(d: DType) -> bool:  # held in fp32 registers on the CPU
        return d.is_narrow_float or d is DType.F32

    return a is c or (half(a) and half(c))


def _dot_work_type(b: Builder, dx: DType, acc_dt: DType) -> DType:
    if dx.is_int:
        if acc_dt.is_float:
            return acc_dt if acc_dt in (DType.F32, DType.F64) else DType.F32
        return DType.I64 if acc_dt.bits == 64 else DType.I32
    if acc_dt.is_int:
        raise b.type_error(f"tl.dot of {dx} inputs cannot accumulate into {acc_dt}")
    return DType.F64 if DType.F64 in (dx, acc_dt) else acc_dt


# -- shape changes --------------------------------------------------------------------------------


@handler
def trans(b: Builder, input, *dims):
    v = _block(b, input, "tl.trans")
    rank = len(shape_of(v.type))
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    order = tuple(dims) if dims else tuple(range(rank - 1, -1, -1)) if rank != 2 else (1, 0)
    if rank >= 3 and not dims:
        order = tuple(range(rank - 2)) + (rank - 1, rank - 2)
    return _permute(b, v, order)


@handler
def permute(b: Builder, input, *dims):
    v = _block(b, input, "tl.permute")
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return _permute(b, v, tuple(dims))


def _permute(b: Builder, v: Value, order) -> Value:
    shape = shape_of(v.type)
    if sorted(order) != list(range(len(shape))):
        raise b.shape_error(f"{list(order)} is not a permutation of the {len(shape)} axes")
    if tuple(order) == tuple(range(len(shape))):
        return v
    out = tuple(shape[i] for i in order)
    return b.emit(OpKind.TRANS, [v], [BlockType(out, v.type.elem)], Permute(tuple(order))).result


@handler
def reshape(b: Builder, input, *shape, can_reorder=False):
    v = _block(b, input, "tl.reshape")
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shp = S.check_shape(b, tuple(shape))

    if math.prod(shp) != math.prod(shape_of(v.type)):
        raise b.shape_error(
            f"cannot reshape a block of shape {list(shape_of(v.type))} to {list(shp)}"
        )
    if shp == shape_of(v.type):
        return v
    return b.emit(OpKind.RESHAPE, [v], [BlockType(shp, v.type.elem)]).result


@handler
def view(b: Builder, input, *shape):
    return reshape(b, input, *shape)


@handler
def ravel(b: Builder, input, can_reorder=False):
    v = _block(b, input, "tl.ravel")

    return reshape(b, v, (math.prod(shape_of(v.type)),))


def _first_or_last_region(b: Builder, elem, last: bool) -> Region:
    region = Region([Value(elem, "acc"), Value(elem, "x")])
    region.ops.append(Op(OpKind.YIELD, [region.args[1 if last else 0]], [], b.loc))
    return region


@handler
def join(b: Builder, a, other):
    x, y = S.to_value(b, a), S.to_value(b, other)
    if S.type_name(x) != S.type_name(y):
        x, y = S.promote_pair(b, x, y, False)
    x, y = S.broadcast_pair(b, x, y)
    shape = shape_of(x.type)
    x2, y2 = S.expand_dims(b, x, len(shape)), S.expand_dims(b, y, len(shape))
    full = shape + (2,)
    j = S.arange(b, 0, 2)
    for _ in range(len(shape)):
        j = S.expand_dims(b, j, 0)
    sel = S.broadcast_to(
        b, S.compare(b, __import__("jitlang.ir", fromlist=["CmpPred"]).CmpPred.EQ, j, 0), full
    )
    return b.emit(
        OpKind.SELECT,
        [sel, S.broadcast_to(b, x2, full), S.broadcast_to(b, y2, full)],
        [BlockType(full, elem_type(x.type))],
    ).result


def item(b: Builder, v: Value, what: str = ".item()") -> Value:
    """The scalar in a one-element block (Triton's `_unsplat`); scalars pass through."""
    shape = shape_of(v.type)
    if not shape:
        return v
    if math.prod(shape) != 1:
        raise b.type_error(
            f"{what} needs a scalar or a one-element block, got a block of shape {list(shape)}",
            "reduce it first, e.g. tl.max(x, 0), or compare with tl.where",
        )
    for a in range(len(shape) - 1, -1, -1):
        v = _reduce_once(
            b, [v], a, ReduceKind.CUSTOM, _first_or_last_region(b, v.type.elem, False)
        )[0]
    return v


@handler
def item_(b: Builder, input):
    return item(b, S.to_value(b, input))


@handler
def histogram(b: Builder, input, num_bins, mask=None):
    """Triton's tl.histogram: int32 counts of the values 0 .. num_bins-1 of a 1-D block (values
    outside the range, and masked-off ones, are not counted)."""
    from ..ir import BinaryOp, CmpPred

    v = _block(b, input, "tl.histogram")
    if len(shape_of(v.type)) != 1 or not scalar_dtype(v.type).is_int:
        raise b.type_error(f"tl.histogram needs a 1-D integer block, got {v.type}")
    bins = _const_int(b, num_bins, "num_bins")
    hit = S.compare(
        b, CmpPred.EQ, S.expand_dims(b, v, 1), S.expand_dims(b, S.arange(b, 0, bins), 0)
    )
    if mask is not None:
        m = S.to_bool(b, S.to_value(b, mask))
        hit = S.binary(
            b, BinaryOp.AND, hit, S.broadcast_to(b, S.expand_dims(b, m, 1), shape_of(hit.type))
        )
    return reduce_values(b, [S.cast(b, hit, DType.I32)], 0, ReduceKind.SUM, False)[0]


@handler
def gather(b: Builder, src, index, axis):
    """Triton's tl.gather: out[..., i, ...] = src[..., index[..., i, ...], ...] along `axis`;
    `index` has src's rank and its sizes off the axis."""
    from ..ir import BinaryOp, CmpPred

    v, idx = _block(b, src, "tl.gather"), _block(b, index, "tl.gather index")
    a = _axis(b, v, axis)
    sv, si = shape_of(v.type), shape_of(idx.type)
    if len(sv) != len(si) or any(x != y for d, (x, y) in enumerate(zip(sv, si)) if d != a):
        raise b.shape_error(f"tl.gather: index shape {list(si)} does not fit source {list(sv)}")
    if not scalar_dtype(idx.type).is_int:
        raise b.type_error(f"tl.gather index must be integers, got {idx.type}")
    # out[..., i, k, ...] picks src[..., k, ...] where index[..., i, ...] == k: reduce over k
    k = S.arange(b, 0, sv[a])
    for _ in range(a + 1):
        k = S.expand_dims(b, k, 0)
    while len(shape_of(k.type)) < len(si) + 1:
        k = S.expand_dims(b, k, len(shape_of(k.type)))
    hit = S.compare(b, CmpPred.EQ, S.expand_dims(b, idx, a + 1), k)
    vals = S.broadcast_to(b, S.expand_dims(b, v, a), shape_of(hit.type))
    elem = v.type.elem
    region = Region([Value(elem, "v1"), Value(ScalarType(DType.I1), "h1")])
    region.args += [Value(elem, "v2"), Value(ScalarType(DType.I1), "h2")]
    b.regions.append(region)
    try:
        picked = S.where(b, region.args[1], region.args[0], region.args[2])
        any_hit = S.binary(b, BinaryOp.OR, region.args[1], region.args[3])
        region.ops.append(Op(OpKind.YIELD, [picked, any_hit], [], b.loc))
    finally:
        b.regions.pop()
    return _reduce_once(b, [vals, hit], a + 1, ReduceKind.CUSTOM, region)[0]


@handler
def interleave(b: Builder, a, other):
    """Triton's tl.interleave: join along a new last axis, then merge it into the previous one."""
    j = join(b, a, other)
    shape = shape_of(j.type)
    if len(shape) == 1:  # two scalars
        return j
    return reshape(b, j, shape[:-2] + (2 * shape[-2],))


@handler
def split(b: Builder, a):
    v = _block(b, a, "tl.split")
    shape = shape_of(v.type)
    if shape[-1] != 2:
        raise b.shape_error(f"tl.split needs a last dimension of size 2, got {list(shape)}")
    ax = len(shape) - 1
    lo = _reduce_once(b, [v], ax, ReduceKind.CUSTOM, _first_or_last_region(b, v.type.elem, False))[
        0
    ]
    hi = _reduce_once(b, [v], ax, ReduceKind.CUSTOM, _first_or_last_region(b, v.type.elem, True))[0]
    return lo, hi


@handler
def cat(b: Builder, input, other, can_reorder=False, dim=0):
    x, y = _block(b, input, "tl.cat"), _block(b, other, "tl.cat")
    sx, sy = shape_of(x.type), shape_of(y.type)
    if sx != sy:
        raise b.shape_error(f"tl.cat needs equal shapes, got {list(sx)} and {list(sy)}")
    d = _axis(b, x, dim)
    j = join(b, x, y)  # [..., 2]
    rank = len(sx)
    order = tuple(range(d)) + (rank,) + tuple(range(d, rank))
    t = _permute(b, j, order)  # [..., 2, d, ...]
    shape = list(sx)
    shape[d] *= 2
    return reshape(b, t, tuple(shape))


@handler
def flip(b: Builder, x, dim=None):
    v = _block(b, x, "tl.flip")
    d = len(shape_of(v.type)) - 1 if dim is None else _axis(b, v, dim)
    from ..ir import Axis

    return b.emit(OpKind.FLIP, [v], [v.type], Axis(d)).result


@handler
def sort(b: Builder, x, dim=None, descending=False):
    v = _block(b, x, "tl.sort")
    rank = len(shape_of(v.type))
    d = rank - 1 if dim is None else _axis(b, v, dim)
    if d != rank - 1:
        raise b.shape_error("tl.sort sorts along the last dimension only (like Triton)")
    n = shape_of(v.type)[-1]
    if n & (n - 1):
        raise b.shape_error(f"tl.sort needs a power-of-two dimension, got {n}")
    from ..ir import SortAttr

    return b.emit(OpKind.SORT, [v], [v.type], SortAttr(bool(descending))).result


@handler
def squeeze(b: Builder, input, dim):
    v = _block(b, input, "tl.squeeze")
    d = _axis(b, v, dim)
    shape = list(shape_of(v.type))
    if shape[d] != 1:
        raise b.shape_error(f"cannot squeeze dimension {d} of size {shape[d]}")
    del shape[d]
    if not shape:
        return _reduce_once(b, [v], d, ReduceKind.SUM)[0]
    return reshape(b, v, tuple(shape))


@handler
def unsqueeze(b: Builder, input, dim):
    return S.expand_dims(b, S.to_value(b, input), _const_int(b, dim, "dim"))


# -- atomics --------------------------------------------------------------------------------------


def _atomic(b: Builder, kind: AtomicKind, pointer, val, mask, sem, scope, cmp=None):
    if not isinstance(pointer, Value) or not is_ptr(pointer.type):
        raise b.type_error(f"tl.atomic_{kind.value} expects a pointer, got {S.type_name(pointer)}")
    elem = elem_type(pointer.type).elem
    if elem.is_fp8:
        raise b.type_error(f"tl.atomic_{kind.value} on {elem} is not supported (no fp8 atomics)")
    v = S.to_value(b, val, elem if not isinstance(val, Value) else None)
    shape = S.broadcast_shapes(b, shape_of(pointer.type), shape_of(v.type))
    if mask is not None:
        shape = S.broadcast_shapes(b, shape, shape_of(S.to_value(b, mask).type))
    ptr = S.broadcast_to(b, pointer, shape)
    v = S.broadcast_to(b, S.cast(b, v, elem), shape)
    if kind in (AtomicKind.AND, AtomicKind.OR, AtomicKind.XOR) and not elem.is_int:
        raise b.type_error(f"tl.atomic_{kind.value} needs integers, got {elem}")
    operands = [ptr]
    if cmp is not None:
        c = S.to_value(b, cmp, elem if not isinstance(cmp, Value) else None)
        operands.append(S.broadcast_to(b, S.cast(b, c, elem), shape))
    operands.append(v)
    m = _mask(b, mask, shape)
    if m is not None:
        operands.append(m)
    t = BlockType(shape, ScalarType(elem)) if shape else ScalarType(elem)
    return b.emit(
        OpKind.ATOMIC, operands, [t], Atomic(kind, sem or "acq_rel", scope or "gpu")
    ).result


def _atomic_handler(kind: AtomicKind):
    def h(b: Builder, pointer, val, mask=None, sem=None, scope=None):
        return _atomic(b, kind, pointer, val, mask, sem, scope)

    h.__name__ = f"atomic_{kind.value}"
    HANDLERS[h.__name__] = h


for _k in (
    AtomicKind.ADD,
    AtomicKind.MAX,
    AtomicKind.MIN,
    AtomicKind.AND,
    AtomicKind.OR,
    AtomicKind.XOR,
    AtomicKind.XCHG,
):
    _atomic_handler(_k)


@handler
def atomic_cas(b: Builder, pointer, cmp, val, sem=None, scope=None):
    return _atomic(b, AtomicKind.CAS, pointer, val, None, sem, scope, cmp=cmp)


# Without `timeout_ns` Triton spins for ever; here a program may wait for one that cannot run
# until it finishes (programs share few threads, the interpreter runs them one by one), so an
# untimed poll gives up after this long and fails the launch with its line (the op carries it
# as a negative timeout).
POLL_GUARD_NS = 5_000_000_000


@handler
def atomic_poll(b: Builder, pointer, expected_value, sem=None, scope=None, timeout_ns=None):
    """Wait until each element at `pointer` equals `expected_value` (Triton 3.9): an int1
    block, false where `timeout_ns` (one budget for the whole operation) ran out first."""
    if not isinstance(pointer, Value) or not is_ptr(pointer.type):
        raise b.type_error(f"tl.atomic_poll expects a pointer, got {S.type_name(pointer)}")
    elem = elem_type(pointer.type).elem
    if not elem.is_int or elem.bits not in (16, 32, 64):
        raise b.type_error(f"tl.atomic_poll needs 16-, 32- or 64-bit integer elements, got {elem}")
    if sem not in (None, "acquire", "relaxed"):
        raise b.type_error(f"tl.atomic_poll supports sem 'acquire' and 'relaxed', got {sem!r}")
    if scope not in (None, "gpu", "cta", "sys"):
        raise b.type_error(f"tl.atomic_poll: unknown scope {scope!r}")
    if timeout_ns is None:
        t = S.constant(b, -POLL_GUARD_NS, DType.I64)
    elif isinstance(timeout_ns, Value):
        if shape_of(timeout_ns.type) or not scalar_dtype(timeout_ns.type).is_int:
            raise b.type_error("tl.atomic_poll timeout_ns must be a scalar integer")
        # a negative run-time value waits no longer than 0 (it must not read as the guard)
        t = S.binary(b, BinaryOp.MAX, S.cast(b, timeout_ns, DType.I64), 0)
    else:
        ns = _const_int(b, timeout_ns, "tl.atomic_poll timeout_ns")
        if ns < 0:
            raise b.type_error("tl.atomic_poll timeout_ns must be non-negative")
        t = S.constant(b, min(ns, 2**63 - 1), DType.I64)
    e = S.to_value(b, expected_value, elem if not isinstance(expected_value, Value) else None)
    shape = S.broadcast_shapes(b, shape_of(pointer.type), shape_of(e.type))
    ptr = S.broadcast_to(b, pointer, shape)
    e = S.broadcast_to(b, S.cast(b, e, elem), shape)
    t = S.broadcast_to(b, t, shape)
    rt = BlockType(shape, ScalarType(DType.I1)) if shape else ScalarType(DType.I1)
    attr = Atomic(AtomicKind.POLL, sem or "acquire", scope or "gpu")
    return b.emit(OpKind.ATOMIC, [ptr, e, t], [rt], attr).result


__all__ = ["reduce_values"]
