"""Axis-info analysis (like Triton's AxisInfo): contiguity, divisibility and constancy per dim.

Requires: verified IR. Produces (does not rewrite): `AxisInfo` for every integer or pointer value,
per dimension of its block shape (scalars have one pseudo-dimension):
- contiguity[d]: the values along d come in runs of this many consecutive integers (+1 each
  step; pointers step by one element), each run starting at an index that is a multiple of it;
- divisibility[d]: the first value of every run is divisible by this power of two (elements for
  integers, bytes for pointers);
- constancy[d]: the values along d come in runs of this many equal values, aligned likewise.
Code generators use it to turn contiguous masked loads/stores into vector loads (CPU) or DMA
access patterns (accelerator) instead of gathers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir import (
    BinaryOp,
    Function,
    OpKind,
    PointerType,
    Region,
    Value,
    elem_type,
    scalar_dtype,
    shape_of,
)

MAX_DIV = 1 << 30


@dataclass(frozen=True)
class AxisInfo:
    contiguity: tuple[int, ...]
    divisibility: tuple[int, ...]
    constancy: tuple[int, ...]


def _pow2_div(v: int) -> int:
    if v == 0:
        return MAX_DIV
    return min(MAX_DIV, v & -v)


def _dims(v: Value) -> tuple[int, ...]:
    return shape_of(v.type) or (1,)


def _unknown(v: Value, div: int = 1) -> AxisInfo:
    n = len(_dims(v))
    return AxisInfo((1,) * n, (div,) * n, (1,) * n)


def _uniform(v: Value, div: int) -> AxisInfo:
    d = _dims(v)
    return AxisInfo((1,) * len(d), (div,) * len(d), d)


def _elem_bytes(v: Value) -> int:
    e = elem_type(v.type)
    return e.elem.mem_bytes if isinstance(e, PointerType) else 1


class AxisAnalysis:
    def __init__(self, fn: Function) -> None:
        self.info: dict[int, AxisInfo] = {}
        self.consts: dict[int, object] = {}
        self.defs: dict[int, object] = {}  # value id -> the op that defines it
        self._steps: dict[tuple[int, int], tuple[int, ...]] = {}
        for p, a in zip(fn.params, fn.body.args):
            self.info[a.id] = _unknown(a, p.divisibility)
        self._region(fn.body)

    def get(self, v: Value) -> AxisInfo:
        i = self.info.get(v.id)
        return i if i is not None else _unknown(v)

    def _region(self, region: Region) -> None:
        for a in region.args:
            self.info.setdefault(a.id, _unknown(a))
        for op in region.ops:
            if op.kind is OpKind.CONSTANT:
                self.consts[op.result.id] = op.attr.value
            if op.kind is OpKind.FOR:
                self._loop(op)
            else:
                for r in op.regions:
                    self._region(r)
            for r in op.results:
                self.defs[r.id] = op
            if len(op.results) == 1:
                res = op.result
                info = self._op(op, res)
                if info is not None:
                    self.info[res.id] = info

    def _loop(self, op) -> None:
        """Loop-carried values: the meet of the initial value and what the body yields, iterated
        to a fixed point (pointers advanced by a uniform step keep their contiguity)."""
        body = op.regions[0]
        carried = body.args[1:]
        state = [self.get(v) for v in op.operands[3:]]
        self.info[body.args[0].id] = _unknown(body.args[0])
        for _ in range(4):
            self._steps.clear()  # runs seen through carried values may have changed
            for a, st in zip(carried, state):
                self.info[a.id] = st
            self._region(body)
            yields = body.terminator.operands
            new = [_meet(st, self.get(y)) for st, y in zip(state, yields)]
            if new == state:
                break
            state = new
        else:
            state = [_unknown(a) for a in carried]
            self._steps.clear()
            for a, st in zip(carried, state):
                self.info[a.id] = st
            self._region(body)
        for r, st in zip(op.results, state):
            self.info[r.id] = st

    def _op(self, op, res: Value) -> AxisInfo | None:
        k = op.kind
        g = self.get
        if k is OpKind.CONSTANT:
            v = op.attr.value
            div = _pow2_div(int(v)) if isinstance(v, (int, bool)) else 1
            return _uniform(res, div)
        if k is OpKind.MAKE_RANGE:
            n = op.attr.end - op.attr.start
            return AxisInfo((n,), (_pow2_div(op.attr.start),), (1,))
        if k in (OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS):
            return _uniform(res, 1)
        if k is OpKind.SPLAT:
            return _uniform(res, g(op.operands[0]).divisibility[0])
        if k is OpKind.BROADCAST:
            src = g(op.operands[0])
            sshape, dshape = _dims(op.operands[0]), _dims(res)
            c, d, s = [], [], []
            for i, (a, b) in enumerate(zip(sshape, dshape)):
                if a == 1 and b != 1:
                    c.append(1)
                    d.append(src.divisibility[i])
                    s.append(b)
                else:
                    c.append(src.contiguity[i])
                    d.append(src.divisibility[i])
                    s.append(src.constancy[i])
            return AxisInfo(tuple(c), tuple(d), tuple(s))
        if k is OpKind.EXPAND_DIMS:
            src = g(op.operands[0])
            ax = op.attr.axis
            c, d, s = list(src.contiguity), list(src.divisibility), list(src.constancy)
            if not shape_of(op.operands[0].type):
                c, d, s = [], [], []
            c.insert(ax, 1)
            d.insert(ax, max(src.divisibility))
            s.insert(ax, 1)
            return AxisInfo(tuple(c), tuple(d), tuple(s))
        if k is OpKind.HINT:
            src = g(op.operands[0])
            c, d = list(src.contiguity), list(src.divisibility)
            for i, m in enumerate(op.attr.multiple_of[: len(d)]):
                d[i] = max(d[i], m)
            for i, m in enumerate(op.attr.max_contiguous[: len(c)]):
                c[i] = max(c[i], m)
            return AxisInfo(tuple(c), tuple(d), src.constancy)
        if k is OpKind.CAST:
            src = g(op.operands[0])
            se, de = elem_type(op.operands[0].type), elem_type(res.type)
            sd, dd = scalar_dtype(op.operands[0].type), scalar_dtype(res.type)
            if sd is not None and dd is not None and sd.is_int and dd.is_int and dd.bits >= sd.bits:
                return src
            # a pointer's value is its byte address (divisibility is in bytes on both sides), but
            # its contiguity counts elements: an integer run of +1 is a pointer run only for
            # one-byte elements, and a pointer run is a run of +elem_bytes in the integer
            if isinstance(de, PointerType):
                steps = _elem_bytes(res)
                c = (
                    self._runs(op.operands[0], steps)
                    if sd is not None
                    else (src.contiguity if _elem_bytes(op.operands[0]) == steps else None)
                )
                if c is not None:
                    return _rerun(src, c, _elem_bytes(op.operands[0]))
            elif isinstance(se, PointerType) and _elem_bytes(op.operands[0]) == 1:
                return src
            return _rerun(src, (1,) * len(src.contiguity), _elem_bytes(op.operands[0]))
        if k is OpKind.PTR_ADD:
            p, o = g(op.operands[0]), g(op.operands[1])
            eb = _elem_bytes(res)
            return self._add(
                p,
                AxisInfo(
                    o.contiguity, tuple(min(MAX_DIV, x * eb) for x in o.divisibility), o.constancy
                ),
            )
        if k is OpKind.BINARY:
            a, b = (g(v) for v in op.operands)
            bop = op.attr.op
            if bop is BinaryOp.ADD:
                return self._add(a, b)
            if bop is BinaryOp.SUB:
                c = tuple(min(x, sb) for x, sb in zip(a.contiguity, b.constancy))
                return AxisInfo(
                    c,
                    tuple(math.gcd(x, y) for x, y in zip(a.divisibility, b.divisibility)),
                    tuple(math.gcd(x, y) for x, y in zip(a.constancy, b.constancy)),
                )
            if bop is BinaryOp.MUL:
                for x, y in ((op.operands[0], b), (op.operands[1], a)):
                    if self.consts.get(x.id) == 1:
                        return y
                # every element of a product is a run start: a factor's divisibility holds for
                # each of its elements only where its runs are single (as Triton's MulI rule)
                da, db = (
                    tuple(dv if c == 1 else 1 for dv, c in zip(i.divisibility, i.contiguity))
                    for i in (a, b)
                )
                d = tuple(min(MAX_DIV, x * y) for x, y in zip(da, db))
                return AxisInfo(
                    (1,) * len(d),
                    d,
                    tuple(math.gcd(x, y) for x, y in zip(a.constancy, b.constancy)),
                )
            if bop is BinaryOp.DIV and self.consts.get(op.operands[1].id) == 1:
                return a
            if bop is BinaryOp.REM:
                # x % y with y uniform: a run of x starting at a multiple of g = gcd(run, div x,
                # div y) cannot wrap inside (wrap points are multiples of y), so runs of g remain
                c = tuple(
                    math.gcd(math.gcd(ca, da), db) if sb >= n else 1
                    for ca, da, db, sb, n in zip(
                        a.contiguity, a.divisibility, b.divisibility, b.constancy, _dims(res)
                    )
                )
                d = tuple(math.gcd(x, y) for x, y in zip(a.divisibility, b.divisibility))
                s_ = tuple(math.gcd(x, y) for x, y in zip(a.constancy, b.constancy))
                return AxisInfo(c, d, s_)
            s = tuple(math.gcd(x, y) for x, y in zip(a.constancy, b.constancy))
            return AxisInfo((1,) * len(s), (1,) * len(s), s)
        if k in (OpKind.CMP, OpKind.SELECT, OpKind.UNARY, OpKind.FMA):
            ins = [g(v) for v in op.operands]
            s = ins[0].constancy
            for i in ins[1:]:
                s = tuple(math.gcd(x, y) for x, y in zip(s, i.constancy))
            return AxisInfo((1,) * len(s), (1,) * len(s), s)
        return None

    def _runs(self, v: Value, step: int) -> tuple[int, ...]:
        """Per dim, runs of values that grow by exactly `step` from one element to the next, each
        run starting at an index that is a multiple of its length (contiguity is step 1). Seen
        through the integer arithmetic that scales, offsets and widens an index; anything else
        (loop-carried values among them) has runs of 1."""
        key = (v.id, step)
        hit = self._steps.get(key)
        if hit is None:
            self._steps[key] = (1,) * len(_dims(v))  # a cycle resolves conservatively
            hit = self._steps[key] = self._runs_of(v, step)
        return hit

    def _runs_of(self, v: Value, step: int) -> tuple[int, ...]:
        ones = (1,) * len(_dims(v))
        if step == 1:
            return self.get(v).contiguity
        op = self.defs.get(v.id)
        if op is None:
            return ones
        k, xs = op.kind, op.operands
        if k is OpKind.BINARY and op.attr.op in (BinaryOp.MUL, BinaryOp.SHL):
            shl = op.attr.op is BinaryOp.SHL
            for x, y in ((xs[1], xs[0]), (xs[0], xs[1])) if not shl else ((xs[1], xs[0]),):
                c = self.consts.get(x.id)
                if isinstance(c, bool) or not isinstance(c, int):
                    continue
                if shl:
                    c = 1 << c if 0 <= c < 63 else 0
                if c > 0 and step % c == 0:
                    return self._runs(y, step // c)
            return ones
        if k is OpKind.BINARY and op.attr.op in (BinaryOp.ADD, BinaryOp.SUB):
            (ra, rb), (ia, ib) = (self._runs(x, step) for x in xs), (self.get(x) for x in xs)
            if op.attr.op is BinaryOp.SUB:
                return tuple(min(x, s) for x, s in zip(ra, ib.constancy))
            return tuple(
                max(min(x, sb), min(sa, y))
                for x, y, sa, sb in zip(ra, rb, ia.constancy, ib.constancy)
            )
        if k is OpKind.CAST:
            sd, dd = scalar_dtype(xs[0].type), scalar_dtype(v.type)
            if sd is None and dd is not None and _elem_bytes(xs[0]) == step:
                return self.get(xs[0]).contiguity  # a pointer's address, step = its element
            if sd is not None and dd is not None and sd.is_int and dd.is_int and dd.bits >= sd.bits:
                return self._runs(xs[0], step)
            return ones
        if k is OpKind.HINT:
            return self._runs(xs[0], step)
        if k is OpKind.BROADCAST:
            src = self._runs(xs[0], step)
            return tuple(
                1 if a == 1 and b != 1 else c for a, b, c in zip(_dims(xs[0]), _dims(v), src)
            )
        if k is OpKind.EXPAND_DIMS:
            c = list(self._runs(xs[0], step)) if shape_of(xs[0].type) else []
            c.insert(op.attr.axis, 1)
            return tuple(c)
        return ones

    @staticmethod
    def _add(a: AxisInfo, b: AxisInfo) -> AxisInfo:
        c = tuple(
            max(min(ca, sb), min(sa, cb))
            for ca, cb, sa, sb in zip(a.contiguity, b.contiguity, a.constancy, b.constancy)
        )
        d = tuple(math.gcd(x, y) for x, y in zip(a.divisibility, b.divisibility))
        s = tuple(math.gcd(x, y) for x, y in zip(a.constancy, b.constancy))
        return AxisInfo(c, d, s)


def _rerun(src: AxisInfo, runs: tuple[int, ...], step: int) -> AxisInfo:
    """`src` regrouped into `runs` (a cast that changes what a run is; `src` runs step by `step`
    in value units, bytes for a pointer): where runs got shorter, a new run can start inside an
    old one, `runs * step` units times some count past its start, so only that much of the old
    divisibility is sure."""
    d = tuple(
        dv if r >= c else math.gcd(dv, (r * step) & -(r * step))
        for dv, r, c in zip(src.divisibility, runs, src.contiguity)
    )
    return AxisInfo(runs, d, src.constancy)


def _meet(a: AxisInfo, b: AxisInfo) -> AxisInfo:
    return AxisInfo(
        tuple(math.gcd(x, y) for x, y in zip(a.contiguity, b.contiguity)),
        tuple(math.gcd(x, y) for x, y in zip(a.divisibility, b.divisibility)),
        tuple(math.gcd(x, y) for x, y in zip(a.constancy, b.constancy)),
    )


def analyze(fn: Function) -> AxisAnalysis:
    return AxisAnalysis(fn)
