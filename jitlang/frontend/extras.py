"""`tl.*` names of recent Triton releases that are compositions of existing operations:
`tl.add`/`tl.sub`/`tl.mul`, `tl.atomic_load`/`tl.atomic_store`, `tl.swizzle2d`, and the tensor
methods `logical_and`/`logical_or`, `store` and `advance`.

Stage: frontend (registered into `builtins.HANDLERS`).
"""

from __future__ import annotations

from ..ir import AtomicKind, BinaryOp, Value, is_ptr
from . import semantic as S
from .blockops import _atomic
from .builtins import handler, load, store
from .semantic import Builder


@handler
def add(b: Builder, x, y, sanitize_overflow=True):
    """`x + y` (the overflow check Triton adds under `sanitize_overflow` needs its debug mode)."""
    return S.binary(b, BinaryOp.ADD, x, y)


@handler
def sub(b: Builder, x, y, sanitize_overflow=True):
    return S.binary(b, BinaryOp.SUB, x, y)


@handler
def mul(b: Builder, x, y, sanitize_overflow=True):
    return S.binary(b, BinaryOp.MUL, x, y)


@handler
def atomic_load(b: Builder, pointer, mask=None, sem=None, scope=None):
    """A load that is not reordered or merged with other memory accesses (a volatile load: every
    jitlang target makes aligned loads of one element atomic)."""
    _check_sem(b, sem, ("relaxed", "acquire", "acq_rel", None), "tl.atomic_load")
    return load(b, pointer, mask=mask, volatile=True)


@handler
def atomic_store(b: Builder, pointer, val, mask=None, sem=None, scope=None):
    """An atomic store: an exchange whose old value is dropped."""
    _check_sem(b, sem, ("relaxed", "release", "acq_rel", None), "tl.atomic_store")
    _atomic(b, AtomicKind.XCHG, pointer, val, mask, sem, scope)
    return None


def _check_sem(b: Builder, sem, allowed, what: str) -> None:
    if sem not in allowed:
        raise b.type_error(
            f"{what}: memory semantics {sem!r} is not one of "
            + ", ".join(repr(s) for s in allowed if s is not None)
        )


@handler
def swizzle2d(b: Builder, i, j, size_i, size_j, size_g):
    """Row-major index (i, j) of a size_i x size_j grid renumbered so that consecutive indices
    walk groups of `size_g` rows column by column (the grouped ordering of the matmul tutorial);
    the last group may be shorter."""
    ij = _arith(b, BinaryOp.ADD, _arith(b, BinaryOp.MUL, i, size_j), j)
    size_gj = _arith(b, BinaryOp.MUL, size_g, size_j)
    group = _floordiv(b, ij, size_gj)
    off_i = _arith(b, BinaryOp.MUL, group, size_g)
    rows = S.minmax(b, BinaryOp.MIN, S.to_value(b, _arith(b, BinaryOp.SUB, size_i, off_i)), size_g)
    within = _rem(b, ij, size_gj)
    new_i = _arith(b, BinaryOp.ADD, off_i, _rem(b, within, rows))
    new_j = _floordiv(b, within, rows)
    return new_i, new_j


def _arith(b: Builder, op: BinaryOp, x, y):
    if not isinstance(x, Value) and not isinstance(y, Value):
        return {BinaryOp.ADD: x + y, BinaryOp.SUB: x - y, BinaryOp.MUL: x * y}[op]
    return S.binary(b, op, x, y)


def _floordiv(b: Builder, x, y):
    return S.floor_div(b, x, y)


def _rem(b: Builder, x, y):  # C remainder; the operands here are never negative
    return S.binary(b, BinaryOp.REM, x, y)


# -- tensor methods ---------------------------------------------------------------------------
def logical_and(b: Builder, x, y):
    return S.binary(b, BinaryOp.AND, _truth(b, x), _truth(b, y))


def logical_or(b: Builder, x, y):
    return S.binary(b, BinaryOp.OR, _truth(b, x), _truth(b, y))


def _truth(b: Builder, x) -> Value:
    v = S.to_value(b, x)
    if is_ptr(v.type):
        raise b.type_error("a pointer has no truth value here")
    return S.to_bool(b, v)


def pointer_store(b: Builder, ptr, value, mask=None, cache_modifier="", eviction_policy=""):
    """`ptrs.store(value, mask)`: `tl.store(ptrs, value, mask)`."""
    return store(
        b, ptr, value, mask=mask, cache_modifier=cache_modifier, eviction_policy=eviction_policy
    )


METHODS = {
    "logical_and": logical_and,
    "logical_or": logical_or,
    "store": pointer_store,
    "atomic_load": atomic_load,
    "atomic_store": atomic_store,
}

__all__ = ["METHODS"]


# -- more Triton 3.9 names ----------------------------------------------------------------------
@handler
def condition(b: Builder, arg1, disable_licm=False):
    """`while tl.condition(c, disable_licm)`: the condition itself (the hint has no effect)."""
    return arg1


@handler
def expect_zero(b: Builder, x, mask):
    """Marks values expected to have underflowed to zero: `x` itself outside FPSAN builds."""
    return x


@handler
def topk(b: Builder, x, k, dim=None, descending=True):
    """The k largest (smallest with descending=False) elements along the last dimension, in
    sorted order: the block sorted, then its first k elements along that dimension."""
    from ..ir import ReduceKind, shape_of
    from .blockops import _first_or_last_region, _reduce_once, reshape, sort

    v = S.to_value(b, x)
    shape = shape_of(v.type)
    if not shape:
        raise b.shape_error("tl.topk needs a block")
    if dim is not None and dim not in (-1, len(shape) - 1):
        raise b.shape_error("tl.topk works along the last dimension only (like Triton)")
    n = shape[-1]
    if not isinstance(k, int) or k <= 0 or k & (k - 1) or k > n:
        raise b.shape_error(f"tl.topk: k must be a power of two no larger than {n}, got {k!r}")
    s = sort(b, v, None, descending)
    if k == n:
        return s
    r = reshape(b, s, *shape[:-1], n // k, k)  # row 0 of the [n // k, k] holds the first k
    region = _first_or_last_region(b, r.type.elem, False)
    return _reduce_once(b, [r], len(shape) - 1, ReduceKind.CUSTOM, region)[0]
