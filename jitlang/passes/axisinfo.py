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
            sd, dd = scalar_dtype(op.operands[0].type), scalar_dtype(res.type)
            if sd is not None and dd is not None and sd.is_int and dd.is_int and dd.bits >= sd.bits:
                return src
            return AxisInfo((1,) * len(src.contiguity), src.divisibility, src.constancy)
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
                d = tuple(min(MAX_DIV, x * y) for x, y in zip(a.divisibility, b.divisibility))
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

    @staticmethod
    def _add(a: AxisInfo, b: AxisInfo) -> AxisInfo:
        c = tuple(
            max(min(ca, sb), min(sa, cb))
            for ca, cb, sa, sb in zip(a.contiguity, b.contiguity, a.constancy, b.constancy)
        )
        d = tuple(math.gcd(x, y) for x, y in zip(a.divisibility, b.divisibility))
        s = tuple(math.gcd(x, y) for x, y in zip(a.constancy, b.constancy))
        return AxisInfo(c, d, s)


def _meet(a: AxisInfo, b: AxisInfo) -> AxisInfo:
    return AxisInfo(
        tuple(math.gcd(x, y) for x, y in zip(a.contiguity, b.contiguity)),
        tuple(math.gcd(x, y) for x, y in zip(a.divisibility, b.divisibility)),
        tuple(math.gcd(x, y) for x, y in zip(a.constancy, b.constancy)),
    )


def analyze(fn: Function) -> AxisAnalysis:
    return AxisAnalysis(fn)
