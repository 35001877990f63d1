"""`tl.*` names of recent Triton releases that are compositions of existing operations:
`tl.add`/`tl.sub`/`tl.mul`, `tl.atomic_load`/`tl.atomic_store`, `tl.swizzle2d`, and the tensor
methods `logical_and`/`logical_or`, `store` and `advance`.

Stage: frontend (registered into `builtins.HANDLERS`).
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import AtomicKind, BinaryOp, CmpPred, UnaryOp, Value, is_ptr
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


_MX_FORMATS = ("e2m1", "e4m3", "e5m2", "bf16", "fp16")


@handler
def dot_scaled(
    b: Builder,
    lhs,
    lhs_scale,
    lhs_format,
    rhs,
    rhs_scale,
    rhs_format,
    acc=None,
    fast_math=False,
    lhs_k_pack=True,
    rhs_k_pack=True,
    out_dtype=None,
):
    """`tl.dot_scaled`: a matmul of microscaled (OCP MX) operands, as Triton's interpreter
    computes it: each operand decoded to fp32 (e2m1 nibbles, first element in the low bits, along
    K unless `*_k_pack=False`; e4m3/e5m2 bytes or fp8 blocks; bf16/fp16), times its e8m0 scale
    (2**(s - 127) per group of K // groups elements; byte 255 is NaN; byte 0 is 2**-127 unless a
    format is fp16, where it is 0), then an fp32 dot plus `acc`."""
    from ..ir import shape_of
    from .blockops import dot

    for name, fmt in (("lhs_format", lhs_format), ("rhs_format", rhs_format)):
        if fmt not in _MX_FORMATS:
            raise b.type_error(
                f"tl.dot_scaled: {name} must be one of {', '.join(_MX_FORMATS)}, got {fmt!r}"
            )
    if out_dtype is not None and getattr(out_dtype, "name", out_dtype) not in ("fp32", "float32"):
        raise b.type_error("tl.dot_scaled: only out_dtype=tl.float32 is supported (as in Triton)")
    tiny_zero = "fp16" in (lhs_format, rhs_format)
    x = _mx_operand(b, lhs, lhs_scale, lhs_format, lhs_k_pack, False, tiny_zero)
    y = _mx_operand(b, rhs, rhs_scale, rhs_format, rhs_k_pack, True, tiny_zero)
    if acc is None:
        shape = (shape_of(x.type)[0], shape_of(y.type)[1])
        acc = S.full(b, shape, 0.0, DType.F32)
    return dot(b, x, y, acc, input_precision="ieee")


def _mx_operand(b: Builder, v, scale, fmt: str, k_pack: bool, is_rhs: bool, fp16: bool) -> Value:
    from ..ir import scalar_dtype, shape_of
    from .blockops import join, permute, reshape

    what = "rhs" if is_rhs else "lhs"
    v = S.to_value(b, v)
    shape = shape_of(v.type)
    if len(shape) != 2:
        raise b.shape_error(f"tl.dot_scaled: {what} must be a 2-D block, got {list(shape)}")
    dt = scalar_dtype(v.type)
    if fmt == "e2m1":
        if dt not in (DType.U8, DType.I8):
            raise b.type_error(f"tl.dot_scaled: e2m1 {what} holds two values per uint8, got {dt}")
        codes = S.binary(b, BinaryOp.AND, S.cast(b, S.cast(b, v, DType.U8), DType.I32), 0xFF)
        lo = _e2m1(b, S.binary(b, BinaryOp.AND, codes, 0xF))
        hi = _e2m1(b, S.binary(b, BinaryOp.SHR, codes, 4))
        r, c = shape
        # packed along the last axis (lhs along K, rhs along N) or along the first
        along_last = k_pack != is_rhs
        if along_last:
            val = reshape(b, join(b, lo, hi), r, 2 * c)  # [R, C, 2] -> [R, 2C]
        else:
            # rows interleaved: the transposes' columns interleaved, transposed back (2-D
            # transposes only, which the accelerator has; a [R, 2, C] permute it has not)
            t = join(b, permute(b, lo, 1, 0), permute(b, hi, 1, 0))  # [C, R, 2]
            val = permute(b, reshape(b, t, c, 2 * r), 1, 0)
    elif fmt in ("e4m3", "e5m2"):
        f8 = DType.F8E4NV if fmt == "e4m3" else DType.F8E5
        if dt in (DType.U8, DType.I8):
            v = S.cast(b, v, f8, bitcast=True)
        elif dt is not f8:
            raise b.type_error(f"tl.dot_scaled: {fmt} {what} must be uint8 or {f8.value[0]}")
        val = S.cast(b, v, DType.F32)
    else:
        want = DType.BF16 if fmt == "bf16" else DType.F16
        if dt is not want:
            raise b.type_error(f"tl.dot_scaled: {fmt} {what} must be a {want.value[0]} block")
        val = S.cast(b, v, DType.F32)
    if scale is None:
        return val
    s = S.to_value(b, scale)
    sshape = shape_of(s.type)
    k = shape_of(val.type)[0 if is_rhs else 1]
    rows = shape_of(val.type)[1 if is_rhs else 0]
    if len(sshape) != 2 or sshape[0] != rows or sshape[1] == 0 or k % sshape[1]:
        raise b.shape_error(
            f"tl.dot_scaled: {what}_scale must be [{rows}, K // group] for K = {k}, got "
            f"{list(sshape)}"
        )
    bits = S.binary(b, BinaryOp.AND, S.cast(b, s, DType.I32), 0xFF)
    nan = S.compare(b, CmpPred.EQ, bits, 255)
    bits = S.binary(b, BinaryOp.SHL, bits, 23)
    if not fp16:  # e8m0 byte 0 is 2**-127 (a float32 subnormal) unless rounded away in fp16
        bits = S.binary(b, BinaryOp.MAX, bits, 0x00400000)
    f = S.where(b, nan, float("nan"), S.cast(b, bits, DType.F32, bitcast=True))
    group = k // sshape[1]
    f = S.broadcast_to(b, S.expand_dims(b, f, 2), (rows, sshape[1], group))
    f = reshape(b, f, rows, k)
    if is_rhs:
        f = permute(b, f, 1, 0)
    return S.binary(b, BinaryOp.MUL, val, f)


def _e2m1(b: Builder, code: Value) -> Value:
    """fp4 e2m1 codes (int32 0..15) to fp32: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives."""
    e = S.binary(b, BinaryOp.AND, S.binary(b, BinaryOp.SHR, code, 1), 3)
    m = S.cast(b, S.binary(b, BinaryOp.AND, code, 1), DType.F32)
    normal = S.binary(
        b,
        BinaryOp.MUL,
        S.binary(b, BinaryOp.ADD, S.binary(b, BinaryOp.MUL, m, 0.5), 1.0),
        S.where(
            b,
            S.compare(b, CmpPred.EQ, e, 1),
            1.0,
            S.where(b, S.compare(b, CmpPred.EQ, e, 2), 2.0, 4.0),
        ),
    )
    mag = S.where(b, S.compare(b, CmpPred.EQ, e, 0), S.binary(b, BinaryOp.MUL, m, 0.5), normal)
    neg = S.compare(b, CmpPred.NE, S.binary(b, BinaryOp.AND, code, 8), 0)
    return S.where(b, neg, S.binary(b, BinaryOp.SUB, -0.0, mag), mag)


@handler
def inline_asm_elementwise(b: Builder, asm, constraints, args, dtype, is_pure, pack):
    """`tl.inline_asm_elementwise` exists so a kernel that uses it fails at its line, as under
    Triton's interpreter ("inline_asm not supported in interpreter mode"): its assembly is the
    GPU's (PTX or AMDGCN), which neither the CPU nor the accelerator can run."""
    from ..errors import CompilationError

    raise CompilationError(
        b.loc,
        "tl.inline_asm_elementwise runs GPU assembly (PTX/AMDGCN): it cannot run on the CPU or "
        "the accelerator (Triton's interpreter refuses it too)",
        "write the operation with tl.* functions, or tl.map_elementwise with a @jit function",
    )


# -- tl.bitonic_merge ---------------------------------------------------------------------------
@handler
def bitonic_merge(b: Builder, x, dim=None, descending=0):
    """Triton's `tl.bitonic_merge` (standard.py): the last log2(N) compare-and-swap rounds of a
    bitonic sorting network along the last dimension (size N, a power of two), at distances
    N/2, N/4, ..., 1. A bitonic row comes out sorted, ascending for `descending=0`, descending for
    1, and for 2 alternating between rows (even rows ascending). Any other row comes out as the
    network leaves it, exactly as in Triton: each pair (lo, hi) becomes
    `lo' = hi if (lo > hi) != flip else lo`, `hi' = lo if (hi > lo) == flip else hi`, so a NaN
    never moves but may be copied to its partner's place.

    Composed of reshapes, reductions and selects (no 3-D permutes, which the accelerator lacks):
    a round at distance d views the rows as [M, 2, d], takes its two halves with first/last
    reductions over the middle axis and writes them back with a select."""
    from ..ir import ReduceKind, shape_of
    from .blockops import _first_or_last_region, _reduce_once, reshape

    v = S.to_value(b, x)
    shape = shape_of(v.type)
    if not shape:
        raise b.shape_error("tl.bitonic_merge needs a block")
    rank = len(shape)
    if dim is not None:
        d = dim + rank if isinstance(dim, int) and dim < 0 else dim
        if d != rank - 1:
            raise b.shape_error(
                f"tl.bitonic_merge: only the minor dimension ({rank - 1}) is supported, got "
                f"dim={dim!r} (as in Triton)"
            )
    order = int(descending) if isinstance(descending, (bool, int)) else None
    if order not in (0, 1, 2):
        raise b.type_error(
            "tl.bitonic_merge: descending must be a compile-time False/True (0/1), or 2 to "
            f"alternate between rows, got {descending!r}"
        )
    n = shape[-1]
    if n & (n - 1):
        raise b.shape_error(f"tl.bitonic_merge needs a power-of-two last dimension, got {n}")
    rows = 1
    for s in shape[:-1]:
        rows *= s
    if order == 2 and rows == 1:
        raise b.shape_error(
            "tl.bitonic_merge: descending=2 alternates the order between rows; a block with a "
            "single row has none to alternate"
        )
    if n == 1:
        return v
    elem = v.type.elem
    first = _first_or_last_region(b, elem, False)
    last = _first_or_last_region(b, elem, True)
    cur = v
    dist = n // 2
    while dist >= 1:
        m = rows * n // (2 * dist)
        y = reshape(b, cur, m, 2, dist)
        lo = _reduce_once(b, [y], 1, ReduceKind.CUSTOM, first)[0]
        hi = _reduce_once(b, [y], 1, ReduceKind.CUSTOM, last)[0]
        lo_gt = S.compare(b, CmpPred.GT, lo, hi)
        hi_gt = S.compare(b, CmpPred.GT, hi, lo)
        if order == 2:  # flip on odd rows: pair m lies in row m // (n / 2d)
            shift = (n // (2 * dist)).bit_length() - 1
            row = S.binary(b, BinaryOp.SHR, S.arange(b, 0, m), shift)
            flip = S.compare(b, CmpPred.NE, S.binary(b, BinaryOp.AND, row, 1), 0)
            flip = S.broadcast_to(b, S.expand_dims(b, flip, 1), (m, dist))
            lo_swap = S.binary(b, BinaryOp.XOR, lo_gt, flip)
            hi_keep = S.binary(b, BinaryOp.XOR, hi_gt, flip)
        elif order == 1:
            lo_swap = S.unary(b, UnaryOp.NOT, lo_gt)
            hi_keep = S.unary(b, UnaryOp.NOT, hi_gt)
        else:
            lo_swap, hi_keep = lo_gt, hi_gt
        new_lo = S.where(b, lo_swap, hi, lo)
        new_hi = S.where(b, hi_keep, hi, lo)
        half = S.compare(b, CmpPred.EQ, S.arange(b, 0, 2), 0)
        half = S.broadcast_to(b, S.expand_dims(b, S.expand_dims(b, half, 0), 2), (m, 2, dist))
        both = S.where(
            b,
            half,
            S.broadcast_to(b, S.expand_dims(b, new_lo, 1), (m, 2, dist)),
            S.broadcast_to(b, S.expand_dims(b, new_hi, 1), (m, 2, dist)),
        )
        cur = reshape(b, both, *shape)
        dist //= 2
    return cur
