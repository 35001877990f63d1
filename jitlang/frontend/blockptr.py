"""Block pointers (`tl.make_block_ptr`, `tl.advance`) and tensor descriptors
(`tl.make_tensor_descriptor`), lowered in the frontend to ordinary pointer blocks and masks.

Stage: frontend. A block pointer names a `block_shape` window at `offsets` into a strided
tensor of `shape` at `base`. It is a compile-time structure of IR scalars, not an IR value: a
load through it becomes `base + sum_d (offsets[d] + arange(block_shape[d])) * strides[d]`, and its
`boundary_check` dimensions become the mask `0 <= offs_d < shape[d]` (without its lower
bound when offsets[d] is provably non-negative: see `nonneg`). So both backends, the
interpreter and every pass see only pointer blocks. Loops carry a block pointer as its fields
(`fields()` / `rebuild()`), which is how `p = tl.advance(p, (0, BLOCK_K))` in a `for` works.

A tensor descriptor is a block pointer whose every dimension is bounds-checked: loads outside the
tensor read 0 and stores outside it are dropped (Triton's TMA semantics).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

from ..ir import BinaryOp, CmpPred, OpKind, PointerType, Value, is_ptr, scalar_dtype, shape_of
from ..language import core as lang
from . import semantic as S
from .semantic import Builder


@dataclass(frozen=True)
class BlockPointer:
    """A window of `block_shape` at `offsets` into a `shape`-sized, `strides`-strided tensor."""

    base: Value
    shape: tuple
    strides: tuple
    offsets: tuple
    block_shape: tuple[int, ...]
    order: tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.block_shape)

    def fields(self) -> list:
        """The run-time parts, in the order `rebuild` takes them (loops carry these)."""
        return [self.base, *self.shape, *self.strides, *self.offsets]

    def template(self) -> tuple:
        """What must agree between a loop's entry and its back edge, besides the field types."""
        return ("block_ptr", self.block_shape, self.order)

    def rebuild(self, values: list) -> BlockPointer:
        n = self.rank
        return BlockPointer(
            values[0],
            tuple(values[1 : 1 + n]),
            tuple(values[1 + n : 1 + 2 * n]),
            tuple(values[1 + 2 * n : 1 + 3 * n]),
            self.block_shape,
            self.order,
        )

    @property
    def type(self) -> str:
        return f"block_ptr<{'x'.join(map(str, self.block_shape))}>"


def _ints_or_values(b: Builder, xs, what: str, n: int | None = None) -> tuple:
    if not isinstance(xs, (tuple, list)):
        raise b.type_error(f"{what} must be a tuple, got {S.type_name(xs)}")
    if n is not None and len(xs) != n:
        raise b.shape_error(f"{what} has {len(xs)} entries; the block pointer has rank {n}")
    out = []
    for x in xs:
        if isinstance(x, bool) or not (
            isinstance(x, int)
            or (
                isinstance(x, Value)
                and not shape_of(x.type)
                and scalar_dtype(x.type) is not None
                and scalar_dtype(x.type).is_int
            )
        ):
            raise b.type_error(f"{what} must hold integers, got {S.type_name(x)}")
        out.append(x)
    return tuple(out)


def _block_shape(b: Builder, block_shape, n: int) -> tuple[int, ...]:
    shape = S.check_shape(b, block_shape)
    if len(shape) != n:
        raise b.shape_error(f"block_shape has {len(shape)} entries; the tensor has rank {n}")
    for d in shape:
        if d <= 0 or d & (d - 1):
            raise b.shape_error(f"block_shape entries must be powers of two, got {d}")
    return shape


def _base(b: Builder, base, what: str) -> Value:
    if not isinstance(base, Value) or not is_ptr(base.type) or shape_of(base.type):
        raise b.type_error(
            f"{what} expects a scalar pointer as its base, got {S.type_name(base)}",
            "pass the array argument itself (plus a scalar offset)",
        )
    return base


def make_block_ptr(b: Builder, base, shape, strides, offsets, block_shape, order) -> BlockPointer:
    base = _base(b, base, "tl.make_block_ptr")
    shape = _ints_or_values(b, shape, "shape")
    n = len(shape)
    strides = _ints_or_values(b, strides, "strides", n)
    offsets = _ints_or_values(b, offsets, "offsets", n)
    bs = _block_shape(b, block_shape, n)
    if not isinstance(order, (tuple, list)) or sorted(order) != list(range(n)):
        raise b.type_error(
            f"order must be a permutation of 0..{n - 1}, got {order!r}",
            "order lists the dimensions from fastest- to slowest-varying, e.g. (1, 0)",
        )
    return BlockPointer(base, shape, strides, offsets, bs, tuple(int(o) for o in order))


def advance(b: Builder, base, offsets) -> BlockPointer:
    if not isinstance(base, BlockPointer):
        raise b.type_error(
            f"tl.advance expects a block pointer, got {S.type_name(base)}",
            "make one with tl.make_block_ptr",
        )
    deltas = _ints_or_values(b, offsets, "offsets", base.rank)
    new = tuple(_add(b, o, d) for o, d in zip(base.offsets, deltas))
    return BlockPointer(base.base, base.shape, base.strides, new, base.block_shape, base.order)


def _add(b: Builder, x, y):
    if isinstance(x, int) and isinstance(y, int):
        return x + y
    if isinstance(y, int) and y == 0:
        return x
    return S.binary(b, BinaryOp.ADD, x, y)


def _check_dims(b: Builder, boundary_check, n: int) -> tuple[int, ...]:
    if boundary_check is None:
        return ()
    if isinstance(boundary_check, int):
        boundary_check = (boundary_check,)
    if not isinstance(boundary_check, (tuple, list)):
        raise b.type_error(f"boundary_check must be a tuple of dimensions, got {boundary_check!r}")
    dims = []
    for d in boundary_check:
        if isinstance(d, bool) or not isinstance(d, int) or not -n <= d < n:
            raise b.type_error(
                f"boundary_check entry {d!r} is not a dimension of a rank-{n} block pointer"
            )
        dims.append(d % n)
    return tuple(sorted(set(dims)))


def _producer(b: Builder, v: Value, closed: tuple = ()):
    """The op of an open region (or of `closed`) that defines v (None for arguments and
    unknown values)."""
    for region in (*reversed(b.regions), *closed):
        for op in reversed(region.ops):
            if any(r is v for r in op.results):
                return op
    return None


# Region arguments and loop results proven non-negative by the `for` that owns them (its
# induction variable over `range(lb, ub, step)` with lb >= 0 < step, a carried integer whose
# initial value and every yielded value are non-negative). Keyed by the value's id, which is
# unique per process; weak, so finished compilations do not keep their values alive.
_proven: weakref.WeakValueDictionary[int, Value] = weakref.WeakValueDictionary()


def assume_nonneg(values) -> None:
    """Record values (region arguments / loop results) as non-negative for `nonneg`."""
    for v in values:
        _proven[v.id] = v


def forget_nonneg(values) -> None:
    """Withdraw `assume_nonneg` (a loop body is rebuilt under fewer assumptions)."""
    for v in values:
        if _proven.get(v.id) is v:
            del _proven[v.id]


def nonneg(b: Builder, x, depth: int = 0, closed: tuple = ()) -> bool:
    """x >= 0 provably: a non-negative constant, a program id or count, a loop value proven
    non-negative by its `for` (`assume_nonneg`), a branch result both branches yield
    non-negative, or sums and products of those (`pid * BLOCK`, `k + BK`). Like the pointer
    arithmetic it feeds, this assumes the sums do not overflow. The lower bound
    `0 <= offsets[d] + i` of a boundary check is then always true and is left out of the mask,
    which leaves only upper bounds: a rectangle the accelerator moves with one access-pattern
    DMA instead of a gather."""
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return x >= 0
    if not isinstance(x, Value) or shape_of(x.type) or depth > 16:
        return False
    if _proven.get(x.id) is x:
        return True
    op = _producer(b, x, closed)
    if op is None:
        return False
    if op.kind in (OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS):
        return True
    if op.kind is OpKind.CONSTANT:
        v = op.attr.value
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0
    if op.kind is OpKind.BINARY and op.attr.op in (BinaryOp.ADD, BinaryOp.MUL):
        return all(nonneg(b, o, depth + 1, closed) for o in op.operands)
    if op.kind is OpKind.IF and len(op.regions) == 2:  # what both branches yield for x
        i = next(i for i, r in enumerate(op.results) if r is x)
        ends = [r.ops[-1] if r.ops else None for r in op.regions]
        inner = (*op.regions, *closed)
        return all(
            e is not None
            and e.kind is OpKind.YIELD
            and len(e.operands) == len(op.results)
            and nonneg(b, e.operands[i], depth + 1, inner)
            for e in ends
        )
    return False


def _window(b: Builder, bp: BlockPointer, checked: tuple[int, ...]):
    """(pointer block of `block_shape`, mask or None) of the window `bp` points at."""
    n = bp.rank
    total = None
    mask = None
    for d in range(n):
        offs = S.arange(b, 0, bp.block_shape[d])
        offs = (
            offs
            if isinstance(bp.offsets[d], int) and bp.offsets[d] == 0
            else S.binary(b, BinaryOp.ADD, offs, bp.offsets[d])
        )
        for _ in range(d):  # dimension d of a rank-n block: [1]*d + [bs_d] + [1]*(n-d-1)
            offs = S.expand_dims(b, offs, 0)
        while len(shape_of(offs.type)) < n:
            offs = S.expand_dims(b, offs, len(shape_of(offs.type)))
        term = S.binary(b, BinaryOp.MUL, offs, bp.strides[d])
        total = term if total is None else S.binary(b, BinaryOp.ADD, total, term)
        if d in checked:
            inside = S.compare(b, CmpPred.LT, offs, bp.shape[d])
            if not nonneg(b, bp.offsets[d]):  # offsets[d] + i >= 0 for i >= 0 when it is
                inside = S.binary(b, BinaryOp.AND, S.compare(b, CmpPred.GE, offs, 0), inside)
            mask = inside if mask is None else S.binary(b, BinaryOp.AND, mask, inside)
    ptrs = S.binary(b, BinaryOp.ADD, bp.base, total)
    ptrs = S.broadcast_to(b, ptrs, bp.block_shape)
    if mask is not None:
        mask = S.broadcast_to(b, mask, bp.block_shape)
    return ptrs, mask


def _elem(bp: BlockPointer):
    t = bp.base.type
    assert isinstance(t, PointerType)
    return t.elem


def _padding(b: Builder, bp: BlockPointer, padding_option) -> object:
    if padding_option in ("", None, "zero"):
        return 0
    if padding_option == "nan":
        if not _elem(bp).is_float:
            raise b.type_error("padding_option='nan' needs a floating-point block pointer")
        return math.nan
    raise b.type_error(
        f"padding_option must be 'zero' or 'nan', got {padding_option!r}",
    )


def load(b: Builder, bp: BlockPointer, mask, other, boundary_check, padding_option, load_fn, kw):
    if mask is not None or other is not None:
        raise b.type_error(
            "mask and other cannot be given with a block pointer",
            "use boundary_check=(dims...) and padding_option='zero' or 'nan'",
        )
    checked = _check_dims(b, boundary_check, bp.rank)
    ptrs, m = _window(b, bp, checked)
    if m is None:
        if padding_option not in ("", None, "zero", "nan"):
            _padding(b, bp, padding_option)  # the option's error, even without a check
        return load_fn(b, ptrs, **kw)
    return load_fn(b, ptrs, mask=m, other=_padding(b, bp, padding_option), **kw)


def store(b: Builder, bp: BlockPointer, value, mask, boundary_check, store_fn, kw):
    if mask is not None:
        raise b.type_error(
            "mask cannot be given with a block pointer", "use boundary_check=(dims...)"
        )
    v = value
    vs = shape_of(v.type) if isinstance(v, Value) else ()
    bs = bp.block_shape
    fits = len(vs) <= len(bs) and all(d in (1, e) for d, e in zip(reversed(vs), reversed(bs)))
    if not fits:
        raise b.shape_error(
            f"storing a block of shape {list(vs)} through a block pointer of block_shape {list(bs)}"
        )
    ptrs, m = _window(b, bp, _check_dims(b, boundary_check, bp.rank))
    return store_fn(b, ptrs, v, mask=m, **kw)


# -- tensor descriptors ------------------------------------------------------------------------
class TensorDescriptor:
    """`tl.make_tensor_descriptor(base, shape, strides, block_shape)`: `.load(offsets)` reads a
    `block_shape` block (0 outside the tensor), `.store(offsets, value)` writes one (elements
    outside the tensor are dropped). Methods are called by the frontend with the builder."""

    kernel_methods = ("load", "store")

    def __init__(self, b: Builder, base, shape, strides, block_shape) -> None:
        base = _base(b, base, "tl.make_tensor_descriptor")
        self.base = base
        self.shape = _ints_or_values(b, shape, "shape")
        n = len(self.shape)
        self.strides = _ints_or_values(b, strides, "strides", n)
        if not 1 <= n <= 5:
            raise b.shape_error(f"Expected 1 <= ndim <= 5 but got {n} dimensions")
        self.block_shape = _block_shape(b, block_shape, n)
        self.dtype = lang.DTYPES[_elem_dtype(base)]
        # Triton's rule (its TMA hardware moves rows of 16 bytes or more), in Triton's words
        size = _elem_dtype(base).bits // 8
        row = self.block_shape[-1]
        if row * size < 16:
            raise b.shape_error(
                "Descriptor block shape must have at least 16 bytes in the last dimension, but "
                f"got {row} * {size} = {row * size} bytes",
                (
                    f"make the block's last dimension at least {16 // size} {self.dtype.name} "
                    "elements wide, or load through a block of pointers"
                    if size
                    else "int1 has no whole bytes: describe the memory as int8"
                ),
            )
        self._b = b

    @property
    def type(self) -> str:
        return f"tensor_descriptor<{'x'.join(map(str, self.block_shape))}>"

    def _at(self, offsets) -> BlockPointer:
        n = len(self.shape)
        offs = _ints_or_values(self._b, offsets, "offsets", n)
        return BlockPointer(
            self.base, self.shape, self.strides, offs, self.block_shape, tuple(range(n))[::-1]
        )

    def load(self, offsets):
        from .builtins import load as load_builtin

        return load_builtin(
            self._b, self._at(offsets), boundary_check=tuple(range(len(self.shape)))
        )

    def store(self, offsets, value):
        from .builtins import store as store_builtin

        return store_builtin(
            self._b, self._at(offsets), value, boundary_check=tuple(range(len(self.shape)))
        )


def _elem_dtype(base: Value):
    t = base.type
    assert isinstance(t, PointerType)
    return t.elem
