"""When a lockstep kernel's rounds may be split between threads: the run-time proof.

Stage: codegen/cpu, used by `lockstep.py`. Input: a kernel that `lockstep.lockstep_loop` accepts
(pure set-up, then one grid-stride `for` that carries nothing); output: the LLVM function

    i64 @<name>__rounds(ptr args)

that returns how many rounds the launch has (the most iterations any program runs) when running
different rounds of one program on different threads, at the same time and in any order, gives
the answer of running them in order; -1 otherwise. The launcher calls it once per launch and
hands out windows of rounds (`runtime/launch.py`); today's schedule is the fallback.

Iterations of one program are ordered (Triton semantics); programs are not, so only the
iterations of one program must not meet. The proof, per program:

1. Statically: no atomic, print or assert anywhere in the loop, and every load and store address
   has the form `coef * iv + r` with `iv` the loop's induction variable and `r` in an interval
   `[lo, hi]` that this module can compute at run time: from the kernel's arguments, program
   ids, constants, `arange`, inner `for` induction variables (over their whole range), through
   add, sub, neg, mul by a loop-invariant scalar, integer extensions, pointer offsets and broadcasts.
   A mask `x < bound` (or `<=`, `>`, `>=`) between access-shaped blocks narrows `x` for the lanes
   that touch memory. Anything else (a gather, a loaded index, a carried value): no split, -1.
2. At run time: iteration `i` of access `a` touches the bytes `[c_a + i*D_a, c_a + i*D_a + w_a)`.
   A store and any other access of the same program (itself included) must be disjoint between
   different iterations: either their whole ranges over the program's iterations are apart, or
   they move by the same `D` per iteration and no `m != 0` with `|m| < T` (trip count) puts
   `-w_b < c_b - c_a + m*D < w_a`. Every run-time computation is overflow-checked (an overflow
   means -1), and so is every narrow (int32) intermediate of an address over the program's
   whole iteration range: one that wraps in the kernel would not be the address computed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from jitlang.ir import (
    BinaryOp,
    CmpPred,
    Function,
    Op,
    OpKind,
    PointerType,
    UnaryOp,
    Value,
    elem_type,
    scalar_dtype,
    shape_of,
    walk,
)

from . import llvmutil as U
from .loader import ROUNDS_SUFFIX

_NO_SPLIT = (OpKind.ATOMIC, OpKind.PRINT, OpKind.ASSERT)
_SAME = (OpKind.SPLAT, OpKind.BROADCAST, OpKind.EXPAND_DIMS, OpKind.HINT, OpKind.CONVERT_LAYOUT)


class Unsplittable(Exception):
    """The kernel's loop is outside what the proof handles (the message says why)."""


@dataclass
class Sym:
    """An integer or pointer (bytes) value of the loop body: `coef * iv + r`, `r` in [lo, hi]
    (i64 LLVM values; `coef` None means 0). `point`: lo and hi are one value (no interval)."""

    coef: ir.Value | None
    lo: ir.Value
    hi: ir.Value
    point: bool


@dataclass
class Footprint:
    """Iteration i of an access touches bytes [c + i*d, c + i*d + w) (w <= 0: nothing)."""

    c: ir.Value
    d: ir.Value
    w: ir.Value
    store: bool


def _small(func: ir.Function) -> None:
    """The check runs once per launch over a few programs: not optimised, it adds little to
    the kernel's compile time (O3 took ~0.5 s over the overflow-checked arithmetic of layer
    norm's check, as long as the kernel itself) and still runs in microseconds."""
    for a in ("nounwind", "noinline", "optnone"):
        func.attributes.add(a)


def _mask(op: Op) -> Value | None:
    """The mask operand of a load or store, if it has one."""
    at = 1 if op.kind is OpKind.LOAD else 2
    return op.operands[at] if len(op.operands) > at else None


def round_split_ops(fn: Function, loop: Op) -> list[Op]:
    """The loads and stores of the lockstep `loop`, or Unsplittable for a loop with atomics,
    prints or asserts (their order across iterations is observable)."""
    accesses = []
    for op in walk(loop.regions[0]):
        if op.kind in _NO_SPLIT:
            raise Unsplittable(f"the loop has a {op.kind.value}")
        if op.kind in (OpKind.LOAD, OpKind.STORE):
            accesses.append(op)
    return accesses


def emit_rounds_function(module: ir.Module, name: str, fn: Function, loop: Op) -> str:
    """Adds `i64 @<name>__rounds(ptr args)` to `module` (see the module docstring) and returns
    its name. A kernel outside the proof's reach gets a function that returns -1."""
    fname = name + ROUNDS_SUFFIX
    func = ir.Function(module, ir.FunctionType(U.I64, [U.PTR]), fname)
    _small(func)
    try:
        _RoundCheck(func, fn, loop).emit()
    except Unsplittable:
        func.blocks = []
        ir.IRBuilder(func.append_basic_block("entry")).ret(ir.Constant(U.I64, -1))
    return fname


class _RoundCheck:
    def __init__(self, func: ir.Function, fn: Function, loop: Op) -> None:
        self.func = func
        self.fn = fn
        self.loop = loop
        self.defs: dict[int, Op] = {}
        for op in list(fn.body.ops) + list(walk(loop.regions[0])):
            for r in op.results:
                self.defs[r.id] = op
        self.inner: dict[int, Op] = {}  # induction variable id -> its inner `for`
        for op in walk(loop.regions[0]):
            if op.kind is OpKind.FOR:
                self.inner[op.regions[0].args[0].id] = op
        self.params = {a.id: i for i, a in enumerate(fn.body.args)}
        self.iv = loop.regions[0].args[0]
        self.meet: ir.Function | None = None

    # -- checked i64 arithmetic: an overflow sets `bad` -----------------------------------
    def c(self, v: int) -> ir.Constant:
        return ir.Constant(U.I64, v)

    def flag(self, cond: ir.Value) -> None:
        self.bad = self.b.or_(self.bad, cond)

    def _checked(self, method, x, y) -> ir.Value:
        r = getattr(self.b, method)(x, y)
        self.flag(self.b.extract_value(r, 1))
        return self.b.extract_value(r, 0)

    def add(self, x, y):
        return self._checked("sadd_with_overflow", x, y)

    def sub(self, x, y):
        return self._checked("ssub_with_overflow", x, y)

    def mul(self, x, y):
        return self._checked("smul_with_overflow", x, y)

    def min(self, x, y):
        return self.b.select(self.b.icmp_signed("<", x, y), x, y)

    def max(self, x, y):
        return self.b.select(self.b.icmp_signed(">", x, y), x, y)

    def floordiv(self, x, d):
        """floor(x / d) for d > 0."""
        b = self.b
        q, r = b.sdiv(x, d), b.srem(x, d)
        return b.sub(q, b.zext(b.icmp_signed("<", r, self.c(0)), U.I64))

    # -- the function ----------------------------------------------------------------------
    def emit(self) -> None:
        accesses = round_split_ops(self.fn, self.loop)
        func = self.func
        entry = func.append_basic_block("entry")
        self.b = b = ir.IRBuilder(entry)
        argbuf = func.args[0]
        self.slots = [
            b.load(b.gep(argbuf, [self.c(i)], source_etype=U.I64), typ=U.I64)
            for i in range(3 + len(self.fn.params))
        ]
        gx, gy, gz = self.slots[:3]
        total = b.mul(b.mul(gx, gy), gz)
        bad_slot, most_slot = b.alloca(U.I1), b.alloca(U.I64)
        b.store(ir.Constant(U.I1, 0), bad_slot)
        b.store(self.c(0), most_slot)
        with U.for_range(b, self.c(0), total, self.c(1), "pid") as lin:
            q = b.udiv(lin, gx)
            self.pids = (b.urem(lin, gx), b.urem(q, gy), b.udiv(q, gy))
            self.grid = (gx, gy, gz)
            self.bad = ir.Constant(U.I1, 0)
            trips = self._program(accesses)
            b.store(b.or_(b.load(bad_slot, typ=U.I1), self.bad), bad_slot)
            b.store(self.max(b.load(most_slot, typ=U.I64), trips), most_slot)
        bad = b.load(bad_slot, typ=U.I1)
        b.ret(b.select(bad, self.c(-1), b.load(most_slot, typ=U.I64)))

    def _program(self, accesses: list[Op]) -> ir.Value:
        """Checks one program (sets `bad`); returns its trip count."""
        b = self.b
        self.memo: dict[int, Sym] = {}
        self.ran = ir.Constant(U.I1, 1)  # the bounds are computed whether the loop runs or not
        lb, ub, step = (self._point(v) for v in self.loop.operands[:3])
        zero, one = self.c(0), self.c(1)
        self.flag(b.icmp_signed("==", step, zero))
        up = b.icmp_signed(">", step, zero)
        span = b.select(up, self.sub(ub, lb), self.sub(lb, ub))
        mag = b.select(up, step, self.sub(zero, step))
        mag = b.select(b.icmp_signed("==", mag, zero), one, mag)
        trips = b.select(
            b.icmp_signed(">", span, zero), self.add(b.sdiv(self.sub(span, one), mag), one), zero
        )
        last = self.add(lb, self.mul(self.sub(trips, one), step))
        self.ran = b.icmp_signed(">", trips, zero)
        self.iv_lo, self.iv_hi = self.min(lb, last), self.max(lb, last)
        self.iv_sym = Sym(one, zero, zero, True)
        self.lb, self.step = lb, step
        feet = {}  # accesses with the same address expression and mask have one footprint
        for op in accesses:
            key = (op.kind, self._key(op.operands[0]), self._key(_mask(op)))
            if key not in feet:
                feet[key] = self._footprint(op)
        feet = list(feet.values())
        n = self.sub(trips, one)
        for i, a in enumerate(feet):
            for o in feet[i:]:
                if a.store or o.store:
                    args = [a.c, a.d, a.w, o.c, o.d, o.w, n]
                    self.flag(b.and_(self.ran, b.call(self._meet_fn(), args)))
        return trips

    def _point(self, v: Value) -> ir.Value:
        s = self._sym(v, self.memo, {})
        if not s.point or s.coef is not None:
            raise Unsplittable("a loop bound moves with the loop")
        return s.lo

    # -- access footprints ------------------------------------------------------------------
    def _footprint(self, op: Op) -> Footprint:
        ptr, mask = op.operands[0], _mask(op)
        pt = elem_type(ptr.type)
        if not isinstance(pt, PointerType):
            raise Unsplittable("an access through something other than a pointer")
        tight: dict[int, list] = {}
        if mask is not None:
            self._narrowing(mask, shape_of(ptr.type), tight)
        s = self._sym(ptr, {}, tight)
        coef = s.coef if s.coef is not None else self.c(0)
        size = self.c(pt.elem.mem_bytes)
        return Footprint(
            self.add(self.mul(coef, self.lb), s.lo),
            self.mul(coef, self.step),
            self.add(self.sub(s.hi, s.lo), size),
            op.kind is OpKind.STORE,
        )

    def _narrowing(self, mask: Value, shape, tight: dict[int, list]) -> None:
        """Bounds that the lanes of an access with `mask` satisfy: `x < y` between two blocks of
        the access's shape (a splat bound is one) caps x by y's largest value and raises y
        over x's smallest. Conjunctions are followed; anything else narrows nothing."""
        op = self.defs.get(mask.id)
        if op is None:
            return
        if op.kind is OpKind.BINARY and op.attr.op is BinaryOp.AND:
            for v in op.operands:
                self._narrowing(v, shape, tight)
            return
        if op.kind is not OpKind.CMP or op.attr.pred not in _ORDER:
            return
        x, y = op.operands
        dt = scalar_dtype(x.type)
        if dt is None or not dt.is_signed or dt.is_bool or dt.is_float:
            return
        if shape_of(x.type) != shape or shape_of(y.type) != shape:
            return
        small, big, strict = _ORDER[op.attr.pred]
        lo_v, hi_v = (x, y) if small == 0 else (y, x)
        try:
            s_lo, s_hi = self._sym(lo_v, self.memo, {}), self._sym(hi_v, self.memo, {})
        except Unsplittable:
            return
        if s_lo.coef is not None or s_hi.coef is not None:
            return
        gap = self.c(1 if strict else 0)
        tight.setdefault(lo_v.id, []).append(("hi", self.sub(s_hi.hi, gap)))
        tight.setdefault(hi_v.id, []).append(("lo", self.add(s_lo.lo, gap)))

    def _meet_fn(self) -> ir.Function:
        """`i1 @<name>__rounds.meet(c_a, d_a, w_a, c_o, d_o, w_o, n)`: two footprints of a
        program whose iterations differ by at most n may meet (or an overflow), in a function
        of its own: called once per pair, the check stays small enough to compile quickly."""
        if self.meet is not None:
            return self.meet
        func = ir.Function(
            self.func.module, ir.FunctionType(U.I1, [U.I64] * 7), self.func.name + ".meet"
        )
        func.linkage = "internal"
        _small(func)
        saved = self.b, self.bad
        self.b = ir.IRBuilder(func.append_basic_block("entry"))
        self.bad = ir.Constant(U.I1, 0)
        ca, da, wa, co, do, wo, n = func.args
        meet = self._meet(Footprint(ca, da, wa, True), Footprint(co, do, wo, True), n)
        self.b.ret(self.b.or_(meet, self.bad))
        self.b, self.bad = saved
        self.meet = func
        return func

    def _key(self, v: Value | None) -> tuple | None:
        """A structural key of `v`'s expression: equal keys, equal values (the same arguments,
        program, induction variables and ops), so such accesses need one footprint."""
        if v is None:
            return None
        if v.id == self.iv.id:
            return ("iv",)
        if v.id in self.params:
            return ("param", self.params[v.id])
        if v.id in self.inner:
            return ("for", *(self._key(o) for o in self.inner[v.id].operands[:3]))
        op = self.defs.get(v.id)
        if op is None or len(op.results) != 1 or op.regions or op.kind is OpKind.LOAD:
            return ("value", v.id)
        return (op.kind, repr(op.attr), str(v.type), *(self._key(o) for o in op.operands))

    def _meet(self, a: Footprint, o: Footprint, n: ir.Value) -> ir.Value:
        """i1: some two iterations of `a` and `o` at most n apart, not the same, touch a common
        byte."""
        b = self.b
        zero, one = self.c(0), self.c(1)
        empty = b.or_(b.icmp_signed("<=", a.w, zero), b.icmp_signed("<=", o.w, zero))
        # whole ranges over the iterations
        ends = []
        for f in (a, o):
            far = self.mul(n, f.d)
            ends.append(
                (
                    self.add(f.c, self.min(zero, far)),
                    self.add(self.add(f.c, self.max(zero, far)), f.w),
                )
            )
        (a0, a1), (o0, o1) = ends
        apart = b.or_(b.icmp_signed("<=", a1, o0), b.icmp_signed("<=", o1, a0))
        # the same move per iteration: m with -w_o < delta + m*d < w_a, m != 0, |m| <= n
        delta = self.sub(o.c, a.c)
        d = b.select(b.icmp_signed("<", a.d, zero), self.sub(zero, a.d), a.d)
        still = b.icmp_signed("==", d, zero)
        dd = b.select(still, one, d)
        m1 = self.add(self.floordiv(self.sub(self.sub(zero, o.w), delta), dd), one)
        m2 = self.sub(self.sub(zero, self.floordiv(self.sub(delta, a.w), dd)), one)
        m1, m2 = self.max(m1, self.sub(zero, n)), self.min(m2, n)
        nonzero = b.and_(
            b.icmp_signed("<=", m1, m2),
            b.not_(b.and_(b.icmp_signed("==", m1, zero), b.icmp_signed("==", m2, zero))),
        )
        overlap_now = b.and_(
            b.icmp_signed(">", delta, self.sub(zero, o.w)), b.icmp_signed("<", delta, a.w)
        )
        same_hit = b.select(still, b.and_(overlap_now, b.icmp_signed(">", n, zero)), nonzero)
        same = b.icmp_signed("==", a.d, o.d)
        safe = b.or_(b.or_(empty, apart), b.and_(same, b.not_(same_hit)))
        return b.not_(safe)

    # -- symbolic values -------------------------------------------------------------------
    def _sym(self, v: Value, memo: dict[int, Sym], tight: dict[int, list]) -> Sym:
        s = memo.get(v.id)
        if s is None:
            s = self._make(v, memo, tight)
            for side, bound in tight.get(v.id, ()):
                if s.coef is not None:
                    break
                lo, hi = s.lo, s.hi
                if side == "hi":
                    hi = self.min(hi, bound)
                else:
                    lo = self.max(lo, bound)
                s = Sym(None, lo, hi, False)
            memo[v.id] = s
        return s

    def _make(self, v: Value, memo, tight) -> Sym:
        b = self.b
        dt = scalar_dtype(v.type)
        if dt is not None and (dt.is_float or dt.is_unsigned or dt.is_bool):
            raise Unsplittable(f"an address depends on a {dt} value")
        if v.id == self.iv.id:
            return self._narrow(self.iv_sym, dt)
        if v.id in self.params:
            raw = self.slots[3 + self.params[v.id]]
            if dt is not None and dt.bits < 64:
                raw = b.sext(b.trunc(raw, ir.IntType(dt.bits)), U.I64)
            return Sym(None, raw, raw, True)
        if v.id in self.inner:
            return self._inner_iv(self.inner[v.id], memo, tight)
        op = self.defs.get(v.id)
        if op is None or op.results[0].id != v.id:
            raise Unsplittable("an address depends on a carried or region value")
        k = op.kind
        ops = op.operands
        if k is OpKind.CONSTANT and isinstance(op.attr.value, int) and dt is not None:
            c = self.c(int(op.attr.value))
            return Sym(None, c, c, True)
        if k in (OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS):
            src = self.pids if k is OpKind.PROGRAM_ID else self.grid
            return Sym(None, src[op.attr.axis], src[op.attr.axis], True)
        if k is OpKind.MAKE_RANGE:
            return Sym(None, self.c(op.attr.start), self.c(op.attr.end - 1), False)
        if k in _SAME:
            return self._sym(ops[0], memo, tight)
        if k is OpKind.CAST and not op.attr.bitcast:
            src = elem_type(ops[0].type)
            if isinstance(src, PointerType) != (dt is None):
                raise Unsplittable("a cast between pointers and integers")
            return self._narrow(self._sym(ops[0], memo, tight), dt)
        if k is OpKind.PTR_ADD:
            p, off = self._sym(ops[0], memo, tight), self._sym(ops[1], memo, tight)
            size = self.c(elem_type(v.type).elem.mem_bytes)
            return self._add(p, self._scale(off, size))
        if k is OpKind.UNARY and op.attr.op is UnaryOp.NEG:
            return self._narrow(self._scale(self._sym(ops[0], memo, tight), self.c(-1)), dt)
        if k is OpKind.BINARY and op.attr.op in (BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL):
            x, y = self._sym(ops[0], memo, tight), self._sym(ops[1], memo, tight)
            if op.attr.op is BinaryOp.ADD:
                r = self._add(x, y)
            elif op.attr.op is BinaryOp.SUB:
                r = self._add(x, self._scale(y, self.c(-1)))
            elif x.point and x.coef is None:
                r = self._scale(y, x.lo)
            elif y.point and y.coef is None:
                r = self._scale(x, y.lo)
            elif x.coef is None and y.coef is None:
                ps = [self.mul(p, q) for p in (x.lo, x.hi) for q in (y.lo, y.hi)]
                r = Sym(None, self._fold(self.min, ps), self._fold(self.max, ps), False)
            else:
                raise Unsplittable("an address multiplies the induction variable by itself")
            return self._narrow(r, dt)
        raise Unsplittable(f"an address depends on a {k.value}")

    def _fold(self, f, xs):
        r = xs[0]
        for x in xs[1:]:
            r = f(r, x)
        return r

    def _add(self, x: Sym, y: Sym) -> Sym:
        if x.coef is None:
            coef = y.coef
        elif y.coef is None:
            coef = x.coef
        else:
            coef = self.add(x.coef, y.coef)
        lo = self.add(x.lo, y.lo)
        return Sym(
            coef, lo, lo if x.point and y.point else self.add(x.hi, y.hi), x.point and y.point
        )

    def _scale(self, x: Sym, k: ir.Value) -> Sym:
        """`x` times the loop-invariant scalar `k`."""
        coef = None if x.coef is None else self.mul(x.coef, k)
        p = self.mul(x.lo, k)
        if x.point:
            return Sym(coef, p, p, True)
        q = self.mul(x.hi, k)
        return Sym(coef, self.min(p, q), self.max(p, q), False)

    def _narrow(self, s: Sym, dt) -> Sym:
        """`s` as a value of integer type `dt`: narrower than 64 bits, it must not wrap for any
        iteration of the program (the kernel computes it in that width)."""
        if dt is None or dt.bits >= 64:
            return s
        lo, hi = s.lo, s.hi
        if s.coef is not None:
            p, q = self.mul(s.coef, self.iv_lo), self.mul(s.coef, self.iv_hi)
            lo, hi = self.add(lo, self.min(p, q)), self.add(hi, self.max(p, q))
        b = self.b
        top = 1 << (dt.bits - 1)
        wraps = b.or_(b.icmp_signed("<", lo, self.c(-top)), b.icmp_signed(">", hi, self.c(top - 1)))
        self.flag(b.and_(self.ran, wraps))
        return s

    def _inner_iv(self, loop: Op, memo, tight) -> Sym:
        """An inner `for`'s induction variable: every value it takes, whatever the iteration of
        the loops around it (an empty range when the loop never runs)."""
        lb, ub, step = (self._sym(v, memo, tight) for v in loop.operands[:3])
        if any(s.coef is not None for s in (lb, ub, step)) or not step.point:
            raise Unsplittable("an inner loop's range moves with the outer loop")
        b = self.b
        one = self.c(1)
        self.flag(b.and_(self.ran, b.icmp_signed("==", step.lo, self.c(0))))
        up = b.icmp_signed(">", step.lo, self.c(0))
        lo = b.select(up, lb.lo, self.add(ub.lo, one))
        hi = b.select(up, self.sub(ub.hi, one), lb.hi)
        return Sym(None, lo, hi, False)


# cmp pred -> (which operand is the smaller: 0 or 1, which is the larger, strict)
_ORDER = {
    CmpPred.LT: (0, 1, True),
    CmpPred.LE: (0, 1, False),
    CmpPred.GT: (1, 0, True),
    CmpPred.GE: (1, 0, False),
}

__all__ = ["emit_rounds_function", "round_split_ops", "Unsplittable"]
