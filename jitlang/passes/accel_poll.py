"""tl.atomic_poll on the accelerator, as a loop of loads the backend already lowers.

Stage: a tile-IR pass of the accelerator pipeline, run by `compiler.compile_accel` before layout
inference. Input: an optimized tile-IR function. Output: the same function with every
`atomic poll` op replaced by

    n = timeout < 0 ? GUARD_LOADS : timeout // load_ns + 1     (as i * load_ns <= timeout)
    i, ok = 0, false
    while i == 0 or (not all(ok) and i < n):                    (a `while` op)
        ok = load(ptr, volatile) == expected; i += 1
    device_assert(all(ok) or timeout >= 0, "... deadlock guard ...")   (untimed polls only)

with `ok` the op's result: per element, whether the last load saw the expected value. Each
element is loaded at least once. `load_ns` is a lower bound of one iteration's modelled time
(`poll_load_ns`), so n iterations last at least `timeout` ns of modelled time: a poll that
answers false has waited its timeout (about 1.5x as long, plus one iteration, on nc-v2). The
emulator runs a launch's programs one after another, so a value no earlier program (or the
poller itself) stored can never appear while a poll spins: an untimed poll gives up after
GUARD_LOADS loads (~0.48 ms modelled on nc-v2, ~0.2 s to emulate) and fails the launch at its
line (the CPU target's guard is 5 s of wall time, for producers that share its threads).
"""

from __future__ import annotations

import math

from ..dtypes import DType
from ..ir import (
    AtomicKind,
    Binary,
    BinaryOp,
    BlockType,
    Cmp,
    CmpPred,
    Const,
    Function,
    MemAttr,
    Op,
    OpKind,
    PrintAttr,
    Reduce,
    ReduceKind,
    Region,
    ScalarType,
    Unary,
    UnaryOp,
    Value,
    shape_of,
    walk,
)

GUARD_LOADS = 1000  # loads an untimed poll makes before it fails the launch (see the docstring)
GUARD_MESSAGE = (
    "tl.atomic_poll without timeout_ns gave up waiting (deadlock guard, {n} loads): on the "
    "accelerator the programs of a launch run one after another, so a value stored by a later "
    "program of this launch never appears; pass timeout_ns, or set the value before the launch"
)


def poll_load_ns(config) -> float:
    """A lower bound of one poll iteration's modelled time on `config` (an isa MachineConfig).
    The iteration is a chain, each step waiting for the last: the load's DMA descriptor (its
    fixed cost and the smallest chunk's transfer), then the vector engine's compare and its
    reduction to one verdict (each at least 64 cycles plus an SBUF access); the sequencer's
    read of the verdict and its branch come on top. (nc-v2: 322 ns by this bound, 474 ns
    modelled for a 4-element poll.)"""
    dma = config.dma_fixed_ns + config.dma_min_chunk_bytes / config.dma_queue_bytes_per_ns
    return dma + 2 * (64 + config.sram_access_cycles) / config.dve_clock_ghz


def has_polls(fn: Function) -> bool:
    return any(op.kind is OpKind.ATOMIC and op.attr.kind is AtomicKind.POLL for op in walk(fn.body))


def lower_polls(fn: Function, load_ns: float, guard_loads: int = GUARD_LOADS) -> Function:
    """Replace each `atomic poll` (module docstring). Requires a verified function; guarantees
    a verified one without polls. Changes `fn` in place and returns it."""
    _Rewriter(max(1, math.floor(load_ns)), guard_loads).region(fn.body)
    return fn


class _Rewriter:
    def __init__(self, load_ns: int, guard_loads: int) -> None:
        self.load_ns, self.guard_loads = load_ns, guard_loads
        self.producers: dict[int, Op] = {}

    def region(self, reg: Region) -> None:
        out: list[Op] = []
        for op in reg.ops:
            for r in op.regions:
                self.region(r)
            for r in op.results:
                self.producers[r.id] = op
            if op.kind is OpKind.ATOMIC and op.attr.kind is AtomicKind.POLL:
                out.extend(self.poll(op))
            else:
                out.append(op)
        reg.ops = out

    def scalar_of(self, v: Value, out: list[Op], loc) -> Value:
        """The scalar a block of one value was splatted/broadcast from (the frontend builds
        the timeout that way; folding may have made it a block constant)."""
        while shape_of(v.type):
            p = self.producers.get(v.id)
            if p is not None and p.kind is OpKind.CONSTANT:  # a folded splat
                c = Value(v.type.elem)
                out.append(Op(OpKind.CONSTANT, [], [c], loc, p.attr))
                return c
            if p is None or p.kind not in (OpKind.SPLAT, OpKind.BROADCAST, OpKind.EXPAND_DIMS):
                return _all(v, ReduceKind.MAX, out, loc)  # equal elements: any of them
            v = p.operands[0]
        return v

    def poll(self, op: Op) -> list[Op]:
        ptr, expected, timeout = op.operands
        loc = op.loc
        out: list[Op] = []

        def emit(kind, operands, t, attr=None, regions=None) -> Value:
            r = Value(t)
            out.append(Op(kind, list(operands), [r], loc, attr, regions or []))
            return r

        def const(value, dt) -> Value:
            return emit(OpKind.CONSTANT, [], ScalarType(dt), Const(value))

        i64 = ScalarType(DType.I64)
        i1 = ScalarType(DType.I1)
        t = self.scalar_of(timeout, out, loc)
        guard = emit(OpKind.CMP, [t, const(0, DType.I64)], i1, Cmp(CmpPred.LT))
        load_ns = const(self.load_ns, DType.I64)
        guard_loads = const(self.guard_loads, DType.I64)
        r = op.result
        ok0 = emit(OpKind.CONSTANT, [], r.type, Const(False))
        # before: the condition, forwarding (i, ok)
        bi, bok = Value(i64), Value(r.type)
        before = Region([bi, bok], [])
        bout = before.ops

        def bemit(kind, operands, t, attr=None) -> Value:
            v = Value(t)
            bout.append(Op(kind, list(operands), [v], loc, attr))
            return v

        zero = bemit(OpKind.CONSTANT, [], i64, Const(0))
        first = bemit(OpKind.CMP, [bi, zero], i1, Cmp(CmpPred.EQ))
        allok = _all(bok, ReduceKind.MIN, bout, loc)
        waiting = bemit(OpKind.UNARY, [allok], i1, Unary(UnaryOp.NOT))
        # i < timeout // load_ns + 1 as i * load_ns <= timeout (no 64-bit division)
        spent = bemit(OpKind.BINARY, [bi, load_ns], i64, Binary(BinaryOp.MUL))
        timed_left = bemit(OpKind.CMP, [spent, t], i1, Cmp(CmpPred.LE))
        guard_left = bemit(OpKind.CMP, [bi, guard_loads], i1, Cmp(CmpPred.LT))
        left = bemit(OpKind.SELECT, [guard, guard_left, timed_left], i1)
        more = bemit(OpKind.BINARY, [waiting, left], i1, Binary(BinaryOp.AND))
        go = bemit(OpKind.BINARY, [first, more], i1, Binary(BinaryOp.OR))
        bout.append(Op(OpKind.CONDITION, [go, bi, bok], [], loc))
        # after: one load of every element
        ai, aok = Value(i64), Value(r.type)
        after = Region([ai, aok], [])
        aout = after.ops
        v = Value(expected.type)
        aout.append(Op(OpKind.LOAD, [ptr], [v], loc, MemAttr(volatile=True)))
        eq = Value(r.type)
        aout.append(Op(OpKind.CMP, [v, expected], [eq], loc, Cmp(CmpPred.EQ)))
        one = Value(i64)
        aout.append(Op(OpKind.CONSTANT, [], [one], loc, Const(1)))
        nxt = Value(i64)
        aout.append(Op(OpKind.BINARY, [ai, one], [nxt], loc, Binary(BinaryOp.ADD)))
        aout.append(Op(OpKind.YIELD, [nxt, eq], [], loc))
        ri = Value(i64)
        out.append(
            Op(OpKind.WHILE, [const(0, DType.I64), ok0], [ri, r], loc, None, [before, after])
        )
        # untimed: all(ok) or fail the launch here
        fine = _all(r, ReduceKind.MIN, out, loc)
        timed_ok = emit(OpKind.UNARY, [guard], i1, Unary(UnaryOp.NOT))
        held = emit(OpKind.BINARY, [fine, timed_ok], i1, Binary(BinaryOp.OR))
        msg = GUARD_MESSAGE.format(n=self.guard_loads)
        out.append(Op(OpKind.ASSERT, [held], [], loc, PrintAttr(msg)))
        return out


def _all(v: Value, kind: ReduceKind, out: list[Op], loc) -> Value:
    """v reduced over every axis with `kind` (a scalar)."""
    while shape_of(v.type):
        shape = shape_of(v.type)[:-1]
        t = BlockType(shape, v.type.elem) if shape else v.type.elem
        r = Value(t)
        out.append(Op(OpKind.REDUCE, [v], [r], loc, Reduce(len(shape), kind)))
        v = r
    return v
