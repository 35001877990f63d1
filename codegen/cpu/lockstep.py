"""Lockstep schedule of grid-stride kernels on the CPU.

Stage: codegen/cpu, a mixin of `lower.CpuLowering`. Input: a kernel whose body is set-up
arithmetic then one grid-stride `for` (`lockstep_loop` finds it); output: LLVM IR that runs the
programs of one call round by round, iteration k of every program in round k, for the rounds of
a window [k0, k1) read from the two argument slots after the kernel's parameters (all rounds:
[0, 2**63 - 1)); and `i64 @<name>__rounds(ptr args)` (roundsplit.py), which says once per launch
whether the launcher may give different windows of rounds to different threads.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from jitlang.ir import Function, Op, OpKind, Value

from . import llvmutil as U
from . import stream
from .roundsplit import emit_rounds_function
from .values import LAZY_KINDS

# arithmetic without side effects: a lockstep kernel's set-up before its loop
PURE_PROLOGUE = (LAZY_KINDS - {OpKind.LOAD}) | {OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS}


def lockstep_loop(fn: Function) -> Op | None:
    """The `for` of a grid-stride kernel that can run its programs in lockstep: the body is
    side-effect-free arithmetic, then one `for` whose step comes from `tl.num_programs` and that
    carries nothing, then the return (the persistent softmax: `for row in range(pid, n, P)`)."""
    ops = fn.body.ops
    if len(ops) < 2 or ops[-1].kind is not OpKind.RETURN or ops[-2].kind is not OpKind.FOR:
        return None
    loop = ops[-2]
    if loop.results or len(loop.operands) != 3:
        return None
    if any(op.kind not in PURE_PROLOGUE or op.regions for op in ops[:-2]):
        return None
    defs = {r.id: op for op in ops[:-2] for r in op.results}

    def from_num_programs(v: Value, depth: int = 0) -> bool:
        op = defs.get(v.id)
        if op is None or depth > 8:
            return False
        if op.kind is OpKind.NUM_PROGRAMS:
            return True
        return any(from_num_programs(o, depth + 1) for o in op.operands)

    return loop if from_num_programs(loop.operands[2]) else None


@dataclass(frozen=True)
class LockstepPosition:
    """Where the lockstep schedule is while a program's iteration is lowered (i64 values): round
    `k` (the program's k-th iteration), `pos`, the program's place among the `count` programs
    of this call. The thread runs (k, 0), (k, 1), ..., (k, count - 1), then (k + 1, 0), ..."""

    k: ir.Value
    pos: ir.Value
    count: ir.Value


class LockstepLowering:
    """The lockstep entry loop; mixed into `CpuLowering` (uses `_program`, `lower_op`, ...)."""

    def _lower_lockstep(self, loop: Op, start, end, stride, slots, argbuf) -> None:
        """A grid-stride kernel (see `lockstep_loop`) run round by round: round k runs iteration
        k of every program in [start, end), so the programs of one call walk memory together
        (rows p, p + 1, ... of a persistent softmax) instead of one program's rows P apart one
        after another. Programs are independent, so interleaving them between iterations is a
        valid schedule; each program still runs its own iterations in order. The call runs the
        rounds of its window [k0, k1), up to the first round in which no program ran; other
        windows run on other threads only when `@<name>__rounds` proved it safe."""
        b = self.b
        body = loop.regions[0]
        prologue = self.fn.body.ops[: self.fn.body.ops.index(loop)]
        ran = ir.IRBuilder(self.alloca_block).alloca(U.I1)
        k0, k1 = (
            b.load(b.gep(argbuf, [ir.Constant(U.I64, i)], source_etype=U.I64), typ=U.I64)
            for i in (len(slots), len(slots) + 1)
        )
        pre = b.block
        head = b.append_basic_block("round")
        done = b.append_basic_block("rounds.done")
        b.cbranch(b.icmp_signed("<", k0, k1), head, done)
        b.position_at_end(head)
        k = b.phi(U.I64, "round")
        k.add_incoming(k0, pre)
        b.store(ir.Constant(U.I1, 0), ran)
        one = ir.Constant(U.I64, 1)
        count = b.udiv(b.add(b.sub(end, start), b.sub(stride, one)), stride)
        with U.for_range(b, start, end, stride, "pid") as lin:
            self._program(lin, slots)
            # where this program sits in the call's schedule: prefetch.py aims at the rows this
            # thread runs next from it
            self.lockstep_at = LockstepPosition(k, b.udiv(b.sub(lin, start), stride), count)
            self.memo = {}
            for op in prologue:
                self.lower_op(op)
            lb, ub, step = (self.scalar(v) for v in loop.operands[:3])
            kk = b.trunc(k, lb.type) if lb.type.width < 64 else k
            iv = b.add(lb, b.mul(kk, step))
            pos = b.icmp_signed(">", step, ir.Constant(step.type, 0))
            inside = b.select(pos, b.icmp_signed("<", iv, ub), b.icmp_signed(">", iv, ub))
            with b.if_then(inside):
                b.store(ir.Constant(U.I1, 1), ran)
                self.vals[body.args[0].id] = iv
                self.trips.append(stream.trip_count(b, lb, ub, step))
                self.lower_region(body)
                self.trips.pop()
            self.lockstep_at = None
        nxt = b.add(k, ir.Constant(U.I64, 1))
        k.add_incoming(nxt, b.block)
        more = b.and_(b.load(ran, typ=U.I1), b.icmp_signed("<", nxt, k1))
        b.cbranch(more, head, done)
        b.position_at_end(done)
        self.rounds_entry = emit_rounds_function(self.module, self.name, self.fn, loop)
