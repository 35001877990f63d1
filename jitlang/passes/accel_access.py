"""Access analysis for the accelerator: affine forms of integer/pointer blocks and rectangular
masks, which decide DMA access patterns versus indirect (gather/scatter) DMA.

Stage: analysis used by the accel layout pass (`accel_layout`). Input: verified tile IR. Output:
for a pointer block, `PtrAffine(base, off)` where `base` is a scalar pointer value and `off` an
`Affine` (a constant, integer scalar terms with constant coefficients, and a constant coefficient
per block dimension); for a mask, per-dimension `Bound`s (valid index counts) when the mask is a
conjunction of `affine < uniform` comparisons, one block dimension each. Anything else is `None`,
and the access goes through gather/scatter.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from ..ir import BinaryOp, CmpPred, Op, OpKind, Value, is_ptr, scalar_dtype, shape_of

_CONVERT = OpKind.CONVERT_LAYOUT


@dataclass(frozen=True)
class Affine:
    """const + sum(coef * scalar) + sum(dims[d] * index_d), all coefficients compile-time."""

    const: int
    terms: tuple[tuple[Value, int], ...]  # integer scalars and their coefficients
    dims: tuple[int, ...]  # coefficient of each block dimension's index

    @property
    def uniform(self) -> bool:
        return not any(self.dims)

    def scale(self, k: int) -> Affine:
        return Affine(self.const * k, tuple((v, c * k) for v, c in self.terms), _mul(self.dims, k))

    def add(self, o: Affine, sign: int = 1) -> Affine:
        terms = dict((v.id, [v, c]) for v, c in self.terms)
        for v, c in o.terms:
            terms.setdefault(v.id, [v, 0])[1] += sign * c
        dims = tuple(a + sign * b for a, b in zip(self.dims, o.dims, strict=True))
        kept = tuple((v, c) for v, c in terms.values() if c)
        return Affine(self.const + sign * o.const, kept, dims)

    def with_dims(self, dims: tuple[int, ...]) -> Affine:
        return Affine(self.const, self.terms, dims)


_rem_ids = itertools.count(-1, -1)  # apart from Value ids, which count up from 0


@dataclass(frozen=True, eq=False)
class Remainder:
    """A uniform integer an access needs that is no IR value: `of % m` (C remainder, m > 0);
    it stands in `Affine.terms` like a scalar, and the lowering computes it."""

    of: Affine
    m: int
    id: int = field(default_factory=lambda: next(_rem_ids))


def _mul(dims, k):
    return tuple(d * k for d in dims)


@dataclass(frozen=True)
class PtrAffine:
    base: Value  # a scalar pointer
    off: Affine  # in elements


@dataclass(frozen=True)
class Bound:
    """Along block dim `dim`, indices i with `coef * i < rhs - lhs` are valid (coef > 0)."""

    dim: int
    coef: int
    lhs: Affine  # uniform
    rhs: Affine  # uniform
    inclusive: bool = False  # `<=` instead of `<`


class AccessAnalysis:
    def __init__(self, producers: dict[int, Op], loops: list[Op] = ()) -> None:
        self.prod = producers
        self._aff: dict[int, Affine | None] = {}
        # carried values of `for` loops: body argument id -> (loop, index among carried)
        self.carried: dict[int, tuple[Op, int]] = {}
        for loop in loops:
            if loop.kind is OpKind.FOR:
                for j, a in enumerate(loop.regions[0].args[1:]):
                    self.carried[a.id] = (loop, j)
        self._ptr: dict[int, PtrAffine | None] = {}

    def affine(self, v: Value) -> Affine | None:
        if v.id not in self._aff:
            self._aff[v.id] = None  # cycles (loop-carried values) are not affine
            self._aff[v.id] = self._affine(v)
        return self._aff[v.id]

    def _affine(self, v: Value) -> Affine | None:
        rank = len(shape_of(v.type))
        zero = (0,) * rank
        op = self.prod.get(v.id)
        dt = scalar_dtype(v.type)
        if dt is None or dt.is_float or dt.is_bool:
            return None
        if op is None:
            return Affine(0, ((v, 1),), zero) if rank == 0 else None
        k = op.kind
        if k is OpKind.CONSTANT and isinstance(op.attr.value, int):
            return Affine(int(op.attr.value), (), zero)
        if rank == 0:
            return Affine(0, ((v, 1),), ())
        if k is OpKind.MAKE_RANGE:
            return Affine(op.attr.start, (), (1,))
        if k is OpKind.SPLAT:
            s = op.operands[0]
            c = self._const(s)
            return Affine(c, (), zero) if c is not None else Affine(0, ((s, 1),), zero)
        if k in (OpKind.BROADCAST, OpKind.EXPAND_DIMS, OpKind.HINT, OpKind.CAST, _CONVERT):
            if k is OpKind.CAST and (op.attr.bitcast or scalar_dtype(op.operands[0].type) is None):
                return None
            a = self.affine(op.operands[0])
            if a is None:
                return None
            if k is OpKind.EXPAND_DIMS:
                d = list(a.dims)
                d.insert(op.attr.axis, 0)
                return a.with_dims(tuple(d))
            if k is OpKind.BROADCAST:
                src = shape_of(op.operands[0].type)
                if len(src) != rank:
                    return None
                dims = tuple(c if n > 1 else 0 for c, n in zip(a.dims, src, strict=True))
                return a.with_dims(dims)
            return a
        if k is OpKind.BINARY:
            a, b = (self.affine(x) for x in op.operands)
            bop = op.attr.op
            if bop in (BinaryOp.ADD, BinaryOp.SUB) and a is not None and b is not None:
                return a.add(b, 1 if bop is BinaryOp.ADD else -1)
            if bop is BinaryOp.MUL:
                ca, cb = self._uniform_const(a), self._uniform_const(b)
                if cb is not None and a is not None:
                    return a.scale(cb)
                if ca is not None and b is not None:
                    return b.scale(ca)
            if bop is BinaryOp.REM and a is not None:
                return self._remainder(a, self._uniform_const(b), shape_of(v.type))
            if bop is BinaryOp.SHL and a is not None:
                cb = self._uniform_const(b)
                if cb is not None and 0 <= cb < 31:
                    return a.scale(1 << cb)
        return None

    def _divisor(self, v: Value, depth: int = 0) -> int:
        """A known divisor of integer scalar v (`pid * BLOCK` is a multiple of BLOCK)."""
        c = self._const(v)
        if c is not None:
            return abs(c)
        op = self.prod.get(v.id)
        if op is None or depth > 16:
            return 1
        if op.kind is OpKind.BINARY and op.attr.op is BinaryOp.MUL:
            x, y = (self._divisor(o, depth + 1) for o in op.operands)
            return x * y
        if op.kind is OpKind.BINARY and op.attr.op in (BinaryOp.ADD, BinaryOp.SUB):
            x, y = (self._divisor(o, depth + 1) for o in op.operands)
            return math.gcd(x, y)
        if op.kind is OpKind.BINARY and op.attr.op is BinaryOp.SHL:
            k = self._const(op.operands[1])
            if k is not None and 0 <= k < 31:
                return self._divisor(op.operands[0], depth + 1) << k
        if op.kind in (OpKind.CAST, OpKind.HINT) and not getattr(op.attr, "bitcast", False):
            return self._divisor(op.operands[0], depth + 1)
        return 1

    def _remainder(self, a: Affine, m: int | None, shape) -> Affine | None:
        """`a % m` as an affine form when the block part never wraps: the uniform part U is a
        multiple of g (the gcd of its constant and coefficients), g divides m and the block
        part stays in [0, g) -- then (U + b) % m == U % m + b (C remainders too: U % m is a
        multiple of g in (-m, m)). Triton's `(pid * BLOCK + tl.arange(0, BLOCK)) % M`."""
        if not m or m <= 0 or any(d < 0 for d in a.dims):
            return None
        span = sum(d * (n - 1) for d, n in zip(a.dims, shape, strict=True))
        g = abs(a.const)
        for t, c in a.terms:
            d = self._divisor(t) if isinstance(t, Value) else 1
            g = math.gcd(g, abs(c) * d)
        if g == 0:  # the block part alone, in [0, span]
            return a if span < m else None
        if m % g or span >= g:
            return None
        u = Affine(a.const, a.terms, (0,) * len(a.dims))
        return Affine(0, ((Remainder(u, m), 1),), a.dims)

    @staticmethod
    def _uniform_const(a: Affine | None) -> int | None:
        return a.const if a is not None and a.uniform and not a.terms else None

    def _const(self, s: Value) -> int | None:
        op = self.prod.get(s.id)
        if op is not None and op.kind is OpKind.CONSTANT and isinstance(op.attr.value, int):
            return int(op.attr.value)
        return None

    def pointer(self, v: Value) -> PtrAffine | None:
        """The affine form of a pointer block (or scalar pointer) in elements of its base."""
        if v.id not in self._ptr:
            self._ptr[v.id] = None  # a cycle through a loop is not affine (see _induction)
            self._ptr[v.id] = self._pointer(v)
        return self._ptr[v.id]

    def _induction(self, v: Value) -> PtrAffine | None:
        """A pointer block carried by `for i in range(lb, ub, step)` that each iteration
        advances by a constant, `p += delta` (Triton's `a_ptrs += BLOCK_K * stride_ak`): in
        iteration i it is init + (i - lb) / step * delta, affine in the induction variable
        when step is a constant that divides delta (lb may be a run-time value: a uniform
        term). delta may be a chain of constant advances."""
        loop, j = self.carried[v.id]
        body = loop.regions[0]
        per = self._advance(loop, j)  # a chain of constants (an unrolled body: p + d + d)
        p = self.pointer(loop.operands[3 + j])
        if per is None or p is None:
            return None
        rank = len(p.off.dims)
        lb = self._const(loop.operands[0])
        if lb is not None:
            iv = Affine(-lb * per, ((body.args[0], per),), (0,) * rank)
        else:  # a run-time start (the remainder loop of an unrolled one)
            iv = Affine(0, ((body.args[0], per), (loop.operands[0], -per)), (0,) * rank)
        return PtrAffine(p.base, p.off.add(iv))

    def _advance(self, loop: Op, j: int) -> int | None:
        """Elements the carried pointer j advances per unit of the induction variable: its
        body adds a chain of constants `total` per iteration, a multiple of the step."""
        body = loop.regions[0]
        v = body.args[1 + j]
        y = body.terminator.operands[j]
        total = 0
        while y is not v:
            yop = self.prod.get(y.id)
            if yop is None or yop.kind is not OpKind.PTR_ADD:
                return None
            delta = self.affine(yop.operands[1])
            if delta is None or delta.terms or any(delta.dims):
                return None
            total += delta.const
            y = yop.operands[0]
        step = self._const(loop.operands[2])
        if not step or total % step:
            return None
        return total // step

    def _exact_span(self, loop: Op) -> Affine | None:
        """ub - lb of a `for` loop whose iterations cover it exactly: a non-negative multiple
        of the step (constant bounds, or `ub = lb + max(q, 0) * c` with the step dividing c,
        the main loop of a body unrolled by accel_hoist), so its carried pointers end at
        init + (ub - lb) * advance."""
        lb, ub, step = loop.operands[:3]
        s = self._const(step)
        if not s or s < 0:
            return None
        lo, hi = self._const(lb), self._const(ub)
        if lo is not None and hi is not None:
            ok = hi >= lo and (hi - lo) % s == 0
            return Affine(hi - lo, (), ()) if ok else None
        add = self.prod.get(ub.id)
        if add is None or add.kind is not OpKind.BINARY or add.attr.op is not BinaryOp.ADD:
            return None
        if lb not in add.operands:
            return None
        mul = self.prod.get(add.operands[1 if add.operands[0] is lb else 0].id)
        if mul is None or mul.kind is not OpKind.BINARY or mul.attr.op is not BinaryOp.MUL:
            return None
        for x, c in (mul.operands, mul.operands[::-1]):
            k = self._const(c)
            mx = self.prod.get(x.id)
            if k is None or k % s or mx is None or mx.kind is not OpKind.BINARY:
                continue
            if mx.attr.op is BinaryOp.MAX and 0 in (self._const(o) for o in mx.operands):
                return Affine(0, ((ub, 1), (lb, -1)), ())
        return None

    def _after_loop(self, loop: Op, v: Value) -> PtrAffine | None:
        """A carried pointer as the loop leaves it (see _exact_span)."""
        j = loop.results.index(v)
        per = self._advance(loop, j)
        span = self._exact_span(loop)
        p = self.pointer(loop.operands[3 + j])
        if per is None or span is None or p is None:
            return None
        rank = len(p.off.dims)
        moved = Affine(span.const * per, tuple((t, c * per) for t, c in span.terms), (0,) * rank)
        return PtrAffine(p.base, p.off.add(moved))

    def _pointer(self, v: Value) -> PtrAffine | None:
        op = self.prod.get(v.id)
        rank = len(shape_of(v.type))
        if rank == 0:
            return PtrAffine(v, Affine(0, (), ()))  # scalar pointers are bases (LLVM computes them)
        if op is None:
            return self._induction(v) if v.id in self.carried else None
        k = op.kind
        if k is OpKind.FOR:
            return self._after_loop(op, v)
        if k is OpKind.SPLAT:
            return PtrAffine(op.operands[0], Affine(0, (), (0,) * rank))
        if k in (OpKind.BROADCAST, OpKind.EXPAND_DIMS, OpKind.HINT, _CONVERT):
            p = self.pointer(op.operands[0])
            if p is None:
                return None
            if k is OpKind.EXPAND_DIMS:
                d = list(p.off.dims)
                d.insert(op.attr.axis, 0)
                return PtrAffine(p.base, p.off.with_dims(tuple(d)))
            if k is OpKind.BROADCAST:
                src = shape_of(op.operands[0].type)
                dims = tuple(c if n > 1 else 0 for c, n in zip(p.off.dims, src, strict=True))
                return PtrAffine(p.base, p.off.with_dims(dims))
            return p
        if k is OpKind.PTR_ADD:
            p = self.pointer(op.operands[0])
            o = self.affine(op.operands[1])
            if p is None or o is None:
                return None
            if len(o.dims) != len(p.off.dims):
                o = o.with_dims(o.dims or (0,) * len(p.off.dims))
            return PtrAffine(p.base, p.off.add(o))
        return None

    def bounds(self, mask: Value) -> list[Bound] | None:
        """The mask as per-dimension bounds, or None when it is not rectangular."""
        op = self.prod.get(mask.id)
        rank = len(shape_of(mask.type))
        if op is None:
            return None
        k = op.kind
        if k is OpKind.BINARY and op.attr.op is BinaryOp.AND:
            a, b = (self.bounds(x) for x in op.operands)
            return None if a is None or b is None else a + b
        if k is OpKind.EXPAND_DIMS:
            inner = self.bounds(op.operands[0])
            if inner is None:
                return None
            ax = op.attr.axis
            return [_shift(b, ax) for b in inner]
        if k is OpKind.BROADCAST:
            if len(shape_of(op.operands[0].type)) != rank:
                return None
            return self.bounds(op.operands[0])
        if k is _CONVERT:
            return self.bounds(op.operands[0])
        if k is OpKind.CMP:
            pred = op.attr.pred
            lhs, rhs = (self.affine(x) for x in op.operands)
            if lhs is None or rhs is None:
                return None
            if pred in (CmpPred.GT, CmpPred.GE):
                lhs, rhs = rhs, lhs
                pred = CmpPred.LT if pred is CmpPred.GT else CmpPred.LE
            if pred not in (CmpPred.LT, CmpPred.LE) or not rhs.uniform:
                return None
            nz = [d for d, c in enumerate(lhs.dims) if c]
            if len(nz) != 1 or lhs.dims[nz[0]] <= 0:
                return None
            d = nz[0]
            return [Bound(d, lhs.dims[d], lhs.with_dims((0,) * rank), rhs, pred is CmpPred.LE)]
        return None


def _shift(b: Bound, axis: int) -> Bound:
    def ins(a: Affine) -> Affine:
        d = list(a.dims)
        d.insert(axis, 0)
        return a.with_dims(tuple(d))

    return Bound(b.dim + (1 if b.dim >= axis else 0), b.coef, ins(b.lhs), ins(b.rhs), b.inclusive)


def is_pointer_block(v: Value) -> bool:
    return is_ptr(v.type) and bool(shape_of(v.type))


def stored_params(fn) -> list[int]:
    """Indices of the pointer parameters some store or atomic may write through (all pointer
    parameters when a pointer cannot be traced back to one)."""
    from ..ir import Region

    prod: dict[int, Op] = {}
    carried: dict[int, list[Value]] = {}

    def scan(region: Region) -> list[Op]:
        out = []
        for op in region.ops:
            for r in op.results:
                prod[r.id] = op
            if op.kind is OpKind.FOR:
                body = op.regions[0]
                for a, init in zip(body.args[1:], op.operands[3:], strict=False):
                    carried[a.id] = [init]
            if op.kind in (OpKind.STORE, OpKind.ATOMIC):
                out.append(op)
            for r in op.regions:
                out += scan(r)
        return out

    stores = scan(fn.body)
    params = {a.id: i for i, a in enumerate(fn.body.args)}
    all_ptrs = [i for i, a in enumerate(fn.body.args) if is_ptr(a.type)]
    found: set[int] = set()
    for st in stores:
        stack, seen = [st.operands[0]], set()
        while stack:
            v = stack.pop()
            if v.id in seen:
                continue
            seen.add(v.id)
            if v.id in params:
                found.add(params[v.id])
                continue
            if v.id in carried:
                stack += carried[v.id]
                continue
            op = prod.get(v.id)
            if op is None:
                return all_ptrs
            if op.kind is OpKind.SELECT:
                stack += op.operands[1:]
            elif op.kind in (
                OpKind.SPLAT,
                OpKind.PTR_ADD,
                OpKind.BROADCAST,
                OpKind.EXPAND_DIMS,
                OpKind.HINT,
                OpKind.CONVERT_LAYOUT,
                OpKind.RESHAPE,
            ):
                stack.append(op.operands[0])
            else:
                return all_ptrs
    return sorted(found)
