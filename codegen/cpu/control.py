"""CPU lowering of structured control flow: for (with first-iteration peeling), if, while.

Stage: codegen/cpu, a mixin of `lower.CpuLowering`. Scalars carried by loops become phis; block
values carried by loops or produced by ifs live in buffers, written back in place when the new
value reads them only elementwise; `acc = tl.dot(a, b, acc)` accumulates into the carried buffer.
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.ir import (
    BlockType,
    Op,
    OpKind,
    Region,
    Value,
    elem_type,
    is_ptr,
    scalar_dtype,
    shape_of,
    walk,
)

from . import elementwise as E
from . import onetrip
from .hoist import hoist_invariant
from .prefetch import plan_prefetches
from .stream import trip_count
from .values import Lazy, Mat, Offset, all_operands


class ControlFlowLowering:
    def _carry_in(self, inits: list[Value]) -> list[object]:
        """Per carried value: None for scalars (phi), a Mat buffer for blocks."""
        bufs = []
        for v in inits:
            if isinstance(v.type, BlockType):
                m = self.alloc(elem_type(v.type), shape_of(v.type))
                self.materialize_into(m, v)
                bufs.append(m)
            else:
                bufs.append(None)
        return bufs

    def _carried_phis(self, inits: list[Value], bufs, pre) -> list:
        """A phi per scalar carried value (incoming from `pre`); None where a buffer carries it."""
        phis = []
        for v, m in zip(inits, bufs):
            if m is None:
                p = self.b.phi(E.reg_type(elem_type(v.type)))
                p.add_incoming(self.scalar(v), pre)
                phis.append(p)
            else:
                phis.append(None)
        return phis

    def _carry_out(self, bufs, values: list[Value]) -> None:
        # values first read every carried buffer they need, then are written back: through a
        # temporary unless each reads carried buffers only at its own index (elementwise)
        direct, staged = [], []
        carried = {id(m) for m in bufs if m is not None}
        for m, v in zip(bufs, values):
            if not isinstance(m, Mat) or self.vals.get(v.id) is m:
                continue
            if all(
                self._elementwise_reads(v, c) for c in bufs if c is not None and c is not m
            ) and self._elementwise_reads(v, m):
                direct.append((m, v))
            else:
                staged.append((m, v))
        del carried
        temps = []
        for m, v in staged:
            tmp = self.alloc(m.elem, m.shape)
            self.materialize_into(tmp, v)
            temps.append((m, tmp))
        for m, v in direct:
            if any(self._reads_buffer(v2, m) for m2, v2 in direct if m2 is not m):
                tmp = self.alloc(m.elem, m.shape)
                self.materialize_into(tmp, v)
                temps.append((m, tmp))
            else:
                self.materialize_into(m, v)
        for m, tmp in temps:
            self.copy_buf(m, tmp)

    def _reads_buffer(self, v: Value, m: Mat) -> bool:
        r = self.vals.get(v.id)
        if r is m:
            return True
        if isinstance(r, Lazy):
            return any(self._reads_buffer(o, m) for o in r.op.operands)
        return False

    def _elementwise_reads(self, v: Value, m: Mat) -> bool:
        """True if evaluating `v` at an index reads buffer `m` only at that same index."""
        r = self.vals.get(v.id)
        if r is m:
            return True
        if isinstance(r, Lazy):
            if r.op.kind in (OpKind.BROADCAST, OpKind.EXPAND_DIMS):
                return not any(self._reads_buffer(o, m) for o in r.op.operands)
            return all(self._elementwise_reads(o, m) for o in r.op.operands)
        return True

    def lower_for(self, op: Op) -> None:
        hoist_invariant(self, op)
        reds = onetrip.plan(self, op)
        if reds is not None:  # a loop that usually runs once, feeding reductions
            onetrip.lower(self, op, reds, self._lower_loop)
            return
        self._lower_loop(op)

    def _lower_loop(self, op: Op) -> None:
        b = self.b
        lb, ub, step = (self.scalar(v) for v in op.operands[:3])
        inits = op.operands[3:]
        body = op.regions[0]
        self.trips.append(trip_count(b, lb, ub, step))
        cst = None
        if isinstance(step, ir.Constant):  # a folded constant step (stored two's-complement)
            width = step.type.width
            cst = (
                step.constant - (1 << width) if step.constant >= 1 << (width - 1) else step.constant
            )

        def in_range(iv):
            if cst is not None and cst > 0:
                return b.icmp_signed("<", iv, ub)
            if cst is not None and cst < 0:
                return b.icmp_signed(">", iv, ub)
            pos = b.icmp_signed(">", step, ir.Constant(step.type, 0))
            return b.select(pos, b.icmp_signed("<", iv, ub), b.icmp_signed(">", iv, ub))

        # A block accumulator that starts as a lazy value (`tl.zeros(...)`) would be written to
        # its buffer and read straight back: peel the first iteration so it reads the initial
        # value directly and only writes the buffer.
        affine = self._affine_carries(body, inits)
        bufs = [
            affine[i]
            if i in affine
            else self.alloc(elem_type(v.type), shape_of(v.type))
            if isinstance(v.type, BlockType)
            else None
            for i, v in enumerate(inits)
        ]
        peel = any(
            isinstance(m, Mat) and isinstance(self.vals.get(v.id), Lazy)
            for v, m in zip(inits, bufs)
        )
        zero = ir.Constant(_U().I64, 0)
        start = lb
        if peel:
            first = b.append_basic_block("for.first")
            skip = b.append_basic_block("for.skip")
            joined = b.append_basic_block("for.peeled")
            b.cbranch(in_range(lb), first, skip)
            b.position_at_end(first)
            for o in walk(body):  # a dot may not update a buffer set up by an earlier lowering
                self.inplace_dot.pop(id(o), None)
            self.vals[body.args[0].id] = lb
            for a, v, m in zip(body.args[1:], inits, bufs):
                self.vals[a.id] = Offset(v, zero) if isinstance(m, _Affine) else self.vals[v.id]
            self.lower_region(body)
            yields = body.terminator.operands
            self._carry_out(bufs, yields)
            first_vals = [self._carried_scalar(y, m, zero) for y, m in zip(yields, bufs)]
            first_end = b.block
            b.branch(joined)
            b.position_at_end(skip)
            for m, v in zip(bufs, inits):
                if isinstance(m, Mat):
                    self.materialize_into(m, v)
            skip_end = b.block
            b.branch(joined)
            b.position_at_end(joined)
            merged = []
            for v, fv, m in zip(inits, first_vals, bufs):
                if isinstance(m, Mat):
                    merged.append(None)
                    continue
                p = b.phi(fv.type)
                p.add_incoming(fv, first_end)
                p.add_incoming(zero if isinstance(m, _Affine) else self.scalar(v), skip_end)
                merged.append(p)
            start = b.phi(lb.type)
            start.add_incoming(self._add_in(first_end, lb, step), first_end)
            start.add_incoming(lb, skip_end)
            init_vals = merged
        else:
            for m, v in zip(bufs, inits):
                if isinstance(m, Mat):
                    self.materialize_into(m, v)
            init_vals = [
                None if isinstance(m, Mat) else zero if isinstance(m, _Affine) else self.scalar(v)
                for v, m in zip(inits, bufs)
            ]
        pre = b.block
        header = b.append_basic_block("for.header")
        blk = b.append_basic_block("for.body")
        exit_ = b.append_basic_block("for.exit")
        b.branch(header)
        b.position_at_end(header)
        iv = b.phi(lb.type, "iv")
        iv.add_incoming(start, pre)
        phis = []
        for iv0, m in zip(init_vals, bufs):
            if isinstance(m, Mat):
                phis.append(None)
            else:
                p = b.phi(iv0.type)
                p.add_incoming(iv0, pre)
                phis.append(p)
        b.cbranch(in_range(iv), blk, exit_)
        b.position_at_end(blk)
        self.vals[body.args[0].id] = iv
        for a, v, p, m in zip(body.args[1:], inits, phis, bufs):
            self.vals[a.id] = self._carried_value(v, p, m)
        self._find_inplace_dots(body, bufs)
        ahead = plan_prefetches(self, body, iv, step)
        self.prefetch.update(ahead)
        self.lower_region(body)
        for k in ahead:
            del self.prefetch[k]
        yields = body.terminator.operands
        self._carry_out(bufs, yields)
        nxt = b.add(iv, step)
        new_vals = [
            None if p is None else self._carried_scalar(y, m, p)
            for y, p, m in zip(yields, phis, bufs)
        ]
        end_block = b.block
        for p, nv in zip(phis, new_vals):
            if p is not None:
                p.add_incoming(nv, end_block)
        iv.add_incoming(nxt, end_block)
        b.branch(header)
        b.position_at_end(exit_)
        for r, v, p, m in zip(op.results, inits, phis, bufs):
            self.vals[r.id] = self._carried_value(v, p, m)
        self.trips.pop()

    def _carried_value(self, init: Value, phi, m):
        if isinstance(m, _Affine):
            return Offset(init, phi)
        return phi if m is None else m

    def _carried_scalar(self, y: Value, m, cur):
        """The new phi value of a scalar or affine carried slot (None for buffers)."""
        if isinstance(m, Mat):
            return None
        if isinstance(m, _Affine):
            return self.b.add(cur, m.delta(self))
        return self.scalar(y)

    def _affine_carries(self, body: Region, inits: list[Value]) -> dict:
        """Carried pointer blocks `p += uniform step` whose start is pure arithmetic: carry the byte
        offset only (matmul's a_ptrs/b_ptrs), instead of a buffer of addresses."""
        out = {}
        ys = body.terminator.operands
        defs = {o.results[0].id: o for o in walk(body) if len(o.results) == 1}
        for i, (a, init, y) in enumerate(zip(body.args[1:], inits, ys)):
            if not isinstance(a.type, BlockType) or not is_ptr(a.type):
                continue
            d = defs.get(y.id)
            if d is None or d.kind is not OpKind.PTR_ADD or d.operands[0] is not a:
                continue
            step_v = d.operands[1]
            src = defs.get(step_v.id)
            lazy = self.vals.get(step_v.id)
            src = src or (lazy.op if isinstance(lazy, Lazy) else None)
            if src is None or src.kind not in (OpKind.SPLAT, OpKind.CONSTANT):
                continue
            if not self._pure(init):
                continue
            out[i] = _Affine(src, elem_type(a.type).elem.mem_bytes, scalar_dtype(step_v.type))
        return out

    def _pure(self, v: Value, depth: int = 0) -> bool:
        """`v` can be re-evaluated anywhere: lazy arithmetic on scalars and on buffers of values
        computed before the loop, no loads. Such a buffer (hoist.py's `(pid*BM + arange) % M`,
        materialised once) is never written while the loop runs: the only buffers a loop writes
        are its own carried ones and those of what it contains, all allocated after its inits."""
        r = self.vals.get(v.id)
        if isinstance(r, (ir.Value, Mat)):
            return True
        if isinstance(r, Lazy) and r.op.kind is not OpKind.LOAD and depth < 64:
            return all(self._pure(o, depth + 1) for o in r.op.operands)
        return False

    def _add_in(self, block, a, c):
        """a + c computed at the end of `block` (before its terminator)."""
        saved = self.b.block
        self.b.position_before(block.terminator)
        r = self.b.add(a, c)
        self.b.position_at_end(saved)
        return r

    def _find_inplace_dots(self, body: Region, bufs) -> None:
        """`acc = tl.dot(a, b, acc)` yielded back: accumulate straight into the carried buffer."""
        yields = body.terminator.operands
        uses: dict[int, int] = {}
        for o in body.ops:
            for v in all_operands(o):
                uses[v.id] = uses.get(v.id, 0) + 1
        for arg, y, m in zip(body.args[1:], yields, bufs):
            if not isinstance(m, Mat):
                continue
            for o in body.ops:
                if (
                    o.kind is OpKind.DOT
                    and o.result is y
                    and o.operands[2] is arg
                    and uses.get(arg.id, 0) == 1
                    and uses.get(y.id, 0) == 1
                ):
                    self.inplace_dot[id(o)] = m

    def lower_if(self, op: Op) -> None:
        b = self.b
        cond = self.scalar(op.operands[0])
        outs = []
        for r in op.results:
            outs.append(
                self.alloc(elem_type(r.type), shape_of(r.type))
                if isinstance(r.type, BlockType)
                else None
            )
        then_b = b.append_basic_block("if.then")
        else_b = b.append_basic_block("if.else")
        merge = b.append_basic_block("if.end")
        b.cbranch(cond, then_b, else_b)
        incoming = []
        for blk, region in ((then_b, op.regions[0]), (else_b, op.regions[1])):
            b.position_at_end(blk)
            self.lower_region(region)
            ys = region.terminator.operands
            for m, y in zip(outs, ys):
                if m is not None:
                    self.materialize_into(m, y)
            incoming.append(
                (b.block, [None if m is not None else self.scalar(y) for m, y in zip(outs, ys)])
            )
            b.branch(merge)
        b.position_at_end(merge)
        for i, (r, m) in enumerate(zip(op.results, outs)):
            if m is not None:
                self.vals[r.id] = m
            else:
                p = b.phi(E.reg_type(elem_type(r.type)))
                for blk, vals in incoming:
                    p.add_incoming(vals[i], blk)
                self.vals[r.id] = p

    def lower_while(self, op: Op) -> None:
        hoist_invariant(self, op)
        b = self.b
        inits = op.operands
        bufs = self._carry_in(inits)
        before, after = op.regions
        pre = b.block
        header = b.append_basic_block("while.cond")
        blk = b.append_basic_block("while.body")
        exit_ = b.append_basic_block("while.exit")
        b.branch(header)
        b.position_at_end(header)
        phis = self._carried_phis(inits, bufs, pre)
        for a, p, m in zip(before.args, phis, bufs):
            self.vals[a.id] = p if m is None else m
        self.lower_region(before)
        cond_op = before.terminator
        fwd = cond_op.operands[1:]
        fwd_vals = [None if m is not None else self.scalar(v) for v, m in zip(fwd, bufs)]
        b.cbranch(self.scalar(cond_op.operands[0]), blk, exit_)
        b.position_at_end(blk)
        for a, fv, m in zip(after.args, fwd_vals, bufs):
            self.vals[a.id] = fv if m is None else m
        self.lower_region(after)
        yields = after.terminator.operands
        self._carry_out(bufs, yields)
        end_block = b.block
        for p, y in zip(phis, yields):
            if p is not None:
                p.add_incoming(self.scalar(y), end_block)
        b.branch(header)
        b.position_at_end(exit_)
        for r, fv, m in zip(op.results, fwd_vals, bufs):
            self.vals[r.id] = fv if m is None else m


def _U():  # noqa: N802
    from . import llvmutil

    return llvmutil


class _Affine:
    """A carried pointer block advanced by a uniform step each iteration (see _affine_carries)."""

    def __init__(self, step_op: Op, esize: int, step_dtype) -> None:
        self.step_op = step_op
        self.esize = esize
        self.step_dtype = step_dtype

    def delta(self, low) -> ir.Value:
        """The step in bytes, as an i64 computed where the body ends."""
        i64 = ir.IntType(64)
        if self.step_op.kind is OpKind.CONSTANT:
            return ir.Constant(i64, int(self.step_op.attr.value) * self.esize)
        s = E.int_to_i64(low.b, self.step_dtype, low.scalar(self.step_op.operands[0]))
        return low.b.mul(s, ir.Constant(i64, self.esize)) if self.esize != 1 else s
