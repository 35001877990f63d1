"""Tile IR to LLVM IR for the host CPU.

Stage: codegen/cpu. Input: a verified, optimized `ir.Function` and its axis info; output: an
`llvmlite.ir.Module` with one entry point

    void @<name>(i64 start, i64 end, i64 stride, ptr args)

that runs the programs with linear ids `start, start + stride, ... < end` one after another;
`args` points at 8-byte slots: grid x, y, z, then each run-time argument (integers and
addresses as i64, floats as f64), then for a lockstep kernel (`lockstep.py`) the window of
rounds the call runs. One pointer keeps the ctypes call cheap.

Block values are not materialised one op at a time. Elementwise block ops stay *lazy*; a sink (a
store, a materialisation point) emits one loop nest over its shape whose innermost dimension
walks chunks of `lanes` elements, and evaluates the whole expression DAG per chunk in vector
registers (`_Eval`). Broadcasts and expand_dims only remap indices. Loads are vector loads where
axis info proves the addresses contiguous along the last dimension, gathers otherwise.
A lazy load is materialised into a buffer before a later store or a region that could change
what it reads; values crossing region boundaries (loop carries, if results) live in buffers.

This module holds the entry point, region walking and chunk evaluation; the rest is split by
responsibility: `values` (the lowered forms Lazy/Mat/Offset), `memory` (buffers, loads, stores),
`control` (for/while/if), `lockstep` (grid-stride schedule), `blockops` (reductions, dot, ...)
and `debug` (print/assert).
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.dtypes import DType
from jitlang.errors import CompilationError
from jitlang.ir import (
    BinaryOp,
    BlockType,
    Function,
    Op,
    OpKind,
    PointerType,
    Region,
    Value,
    elem_type,
    is_ptr,
    scalar_dtype,
    shape_of,
)
from jitlang.passes.axisinfo import AxisAnalysis

from . import blockops as BO
from . import elementwise as E
from . import llvmutil as U
from . import stream
from .alias import StoreAliasing
from .control import ControlFlowLowering
from .debug import DebugLowering
from .lockstep import LockstepLowering, lockstep_loop
from .memory import MemoryLowering
from .prefetch import plan_program_ahead
from .target import CpuTarget
from .values import (
    LAZY_KINDS,
    Lazy,
    Mat,
    Offset,
    effective_last_uses,
    is_float_scalar,
    lanes_for,
    llvm_const,
)

# ops with side effects or regions, lowered in program order by these CpuLowering methods
_OP_METHODS = {
    OpKind.STORE: "lower_store",
    OpKind.FOR: "lower_for",
    OpKind.IF: "lower_if",
    OpKind.WHILE: "lower_while",
    OpKind.PRINT: "lower_print",
    OpKind.ASSERT: "lower_assert",
}


class CpuLowering(MemoryLowering, LockstepLowering, ControlFlowLowering, DebugLowering):
    def __init__(
        self, fn: Function, axis: AxisAnalysis, name: str, bounds: bool, target: CpuTarget
    ) -> None:
        self.fn = fn
        self.target = target
        self.axis = axis
        self.name = name
        self.module = ir.Module(name=name)
        self.vals: dict[int, object] = {}  # value id -> ir.Value (scalar) | Lazy | Mat
        self.pending_loads: list[Value] = []
        self.aliasing: StoreAliasing | None = None  # built at the first store that needs it
        self.print_sites: list[tuple[str, bool, list]] = []
        self.assert_sites: list[tuple[str, object]] = []
        self.inplace_dot: dict[int, Mat] = {}  # id(DOT op) -> carried buffer it may update
        self.prefetch: dict[int, ir.Value] = {}  # id(load or store) -> bytes ahead (prefetch.py)
        self.program_ahead: dict[int, ir.Value] = {}  # id(load) -> slot of its bytes ahead
        self.lockstep_at = None  # lockstep.LockstepPosition while a lockstep body is lowered
        self.rounds_entry: str | None = None  # lockstep: name of its round-split check
        self.bounds = None
        if bounds:
            from .bounds import BoundsChecker

            self.bounds = BoundsChecker(fn)
        self.may_stream = stream.kernel_may_stream(self)
        self.streamed = False  # a non-temporal store was emitted: fence before returning
        self.trips: list[ir.Value] = []  # f64 trip counts of the enclosing loops (stream.py)
        self.lowered_early: set[int] = set()  # id(op) of reductions lowered with their loop

    # -- module / entry --------------------------------------------------------------------
    def lower(self) -> ir.Module:
        fnty = ir.FunctionType(U.VOID, [U.I64, U.I64, U.I64, U.PTR])
        self.entry = ir.Function(self.module, fnty, self.name)
        self.entry.attributes.add("nounwind")
        self.alloca_block = self.entry.append_basic_block("entry")
        start_block = self.entry.append_basic_block("start")
        self.b = ir.IRBuilder(start_block)
        self.exit_frees: list[ir.Value] = []
        start, end, stride, argbuf = self.entry.args
        slots = []
        for i in range(3 + len(self.fn.params)):
            addr = self.b.gep(argbuf, [ir.Constant(U.I64, i)], source_etype=U.I64)
            is_f = i >= 3 and is_float_scalar(self.fn.params[i - 3].type)
            slots.append(self.b.load(addr, typ=U.F64 if is_f else U.I64))
        gx, gy, gz = slots[:3]
        if self.bounds is not None:
            self.bounds.load_slots(self.b, argbuf)
        self.grid = (gx, gy, gz)
        self.zero = ir.Constant(U.I64, 0)
        loop = None if self.bounds is not None else lockstep_loop(self.fn)
        self.lockstep = loop is not None
        if loop is not None:
            self._lower_lockstep(loop, start, end, stride, slots, argbuf)
        else:
            with U.for_range(self.b, start, end, stride, "pid") as lin:
                self._program(lin, slots)
                self.lower_region(self.fn.body)
        for ptr in self.exit_frees:
            self.b.call(U.declare(self.module, "free", U.VOID, [U.PTR]), [ptr])
        if self.streamed:
            stream.fence(self)
        self.b.ret_void()
        ab = ir.IRBuilder(self.alloca_block)
        ab.branch(start_block)
        return self.module

    def _program(self, lin: ir.Value, slots) -> None:
        """Program ids from the linear id `lin`, and the kernel's parameters."""
        gx, gy, _gz = self.grid
        x = self.b.urem(lin, gx)
        q = self.b.udiv(lin, gx)
        y = self.b.urem(q, gy)
        z = self.b.udiv(q, gy)
        self.pids = (x, y, z)
        for i, (p, a) in enumerate(zip(self.fn.params, self.fn.body.args)):
            self.vals[a.id] = self._param(p.type, slots[3 + i])

    def _param(self, t, arg: ir.Value) -> ir.Value:
        e = elem_type(t)
        if isinstance(e, PointerType):
            return arg
        dt = e.dtype
        if dt.is_float:
            if dt is DType.F64:
                return arg
            v = self.b.fptrunc(arg, U.F32)
            return E.round_to(self.b, v, dt)
        if dt is DType.I1:
            return self.b.icmp_unsigned("!=", arg, ir.Constant(U.I64, 0))
        return self.b.trunc(arg, ir.IntType(dt.bits)) if dt.bits < 64 else arg

    def error(self, op: Op, msg: str) -> CompilationError:
        return CompilationError(op.loc, msg)

    # -- regions ---------------------------------------------------------------------------
    def lower_region(self, region: Region) -> None:
        last = effective_last_uses(region)
        saved_pending = self.pending_loads
        self.pending_loads = []
        # a lazy value from an enclosing region materialised in here (a print under an `if`,
        # a loop body's store) has its buffer written only when this region runs: outside it
        # the value stays lazy
        outer = {k: v for k, v in self.vals.items() if isinstance(v, Lazy)}
        for i, op in enumerate(region.ops):
            if op.kind is OpKind.STORE:
                self._protect_loads(last, i, strict=True, store=op)
            elif op.kind is OpKind.ATOMIC:
                self._protect_loads(last, i, strict=False)
            elif op.regions or op.kind in (OpKind.PRINT, OpKind.ASSERT):
                self._protect_loads(last, i, strict=False)
            self.lower_op(op)
        self.vals.update(outer)
        self.pending_loads = saved_pending

    def _protect_loads(
        self, last: dict[int, int], i: int, strict: bool, store: Op | None = None
    ) -> None:
        keep = []
        for v in self.pending_loads:
            lu = last.get(v.id, -1)
            # a load this store reads through another pointer block into the same array must be
            # read whole before the store's first chunk overwrites it (see alias.py)
            if lu > i or (not strict and lu >= i) or (lu == i and self._clobbers(store, v)):
                self.materialize(v)
            else:
                keep.append(v)
        self.pending_loads = keep

    def _clobbers(self, store: Op | None, load: Value) -> bool:
        if store is None or not isinstance(self.vals.get(load.id), Lazy):
            return False
        if self.aliasing is None:
            self.aliasing = StoreAliasing(self.fn)
        return self.aliasing.may_clobber(self.vals[load.id].op.operands[0], store.operands[0])

    def lower_op(self, op: Op) -> None:
        k = op.kind
        if k in (OpKind.YIELD, OpKind.CONDITION, OpKind.RETURN) or id(op) in self.lowered_early:
            return
        method = _OP_METHODS.get(k)
        if method is not None:
            return getattr(self, method)(op)
        if k in _BLOCK_LOWERINGS:
            return _BLOCK_LOWERINGS[k](self, op)
        if k in (OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS):
            src = self.pids if k is OpKind.PROGRAM_ID else self.grid
            self.vals[op.result.id] = self.b.trunc(src[op.attr.axis], U.I32)
            return
        if k in LAZY_KINDS:
            if isinstance(op.result.type, BlockType):
                self.vals[op.result.id] = Lazy(op)
                if k is OpKind.LOAD:
                    self.pending_loads.append(op.result)
                    plan_program_ahead(self, op)
                return
            self.vals[op.result.id] = self.scalar_op(op)
            return
        raise self.error(op, f"{k.value} is not supported by the CPU backend yet")

    def scalar(self, v: Value) -> ir.Value:
        r = self.vals[v.id]
        assert isinstance(r, ir.Value), f"{v} is not a lowered scalar"
        return r

    def scalar_op(self, op: Op) -> ir.Value:
        if op.kind is OpKind.LOAD:
            return self.scalar_load(op, [self.scalar(v) for v in op.operands])
        return self.compute(op, [self.scalar(v) for v in op.operands], 1)

    # -- elementwise computation shared by scalars and chunks -------------------------------
    def compute(self, op: Op, xs: list[ir.Value], lanes: int) -> ir.Value:
        b = self.b
        k = op.kind
        rt = op.result.type
        if k is OpKind.CONSTANT:
            return E.const_vec(E.reg_type(elem_type(rt)), llvm_const(op.attr.value, rt), lanes)
        if k is OpKind.UNARY:
            return E.unary(b, op.attr.op, scalar_dtype(rt), xs[0])
        if k is OpKind.BINARY:
            return E.binary(b, op.attr.op, scalar_dtype(rt), xs[0], xs[1], op.attr.propagate_nan)
        if k is OpKind.CMP:
            return E.compare(b, op.attr.pred, scalar_dtype(op.operands[0].type), xs[0], xs[1])
        if k is OpKind.SELECT:
            c = xs[0]
            if lanes > 1 and not isinstance(c.type, ir.VectorType):
                c = U.splat(b, c, lanes)
            return b.select(c, xs[1], xs[2])
        if k is OpKind.FMA:
            r = U.intrinsic(b, "fma", xs[0].type, xs)
            return E.round_to(b, r, scalar_dtype(rt))
        if k is OpKind.CAST:
            src, dst = elem_type(op.operands[0].type), elem_type(rt)
            if isinstance(src, PointerType) or isinstance(dst, PointerType):
                return xs[0]
            return E.cast(b, src.dtype, dst.dtype, xs[0], op.attr.bitcast)
        if k is OpKind.PTR_ADD:
            off_dt = scalar_dtype(op.operands[1].type)
            off = E.int_to_i64(b, off_dt, xs[1])
            size = elem_type(rt).elem.mem_bytes
            if size != 1:
                off = b.mul(off, E.const_like(off, size))
            return b.add(xs[0], off)
        if k is OpKind.HINT:
            return xs[0]
        if k is OpKind.SPLAT:
            return U.splat(b, xs[0], lanes)
        raise self.error(op, f"{k.value} cannot be computed elementwise")

    # -- chunk evaluation ------------------------------------------------------------------
    def lanes_for(self, shape: tuple[int, ...]) -> int:
        return lanes_for(shape, self.target.max_lanes)

    def loop_nest(self, shape: tuple[int, ...], body) -> None:
        lanes = self.lanes_for(shape)
        ivs: list[ir.Value] = []
        self._nest(shape, 0, ivs, lanes, body)

    def _nest(self, shape, d, ivs, lanes, body):
        step = lanes if d == len(shape) - 1 else 1
        if shape[d] == step:
            ivs.append(self.zero)
            if d + 1 < len(shape):
                self._nest(shape, d + 1, ivs, lanes, body)
            else:
                self.memo = {}
                body(tuple(ivs), lanes)
            ivs.pop()
            return
        with U.for_range(
            self.b, self.zero, ir.Constant(U.I64, shape[d]), ir.Constant(U.I64, step), f"d{d}"
        ) as iv:
            ivs.append(iv)
            if d + 1 < len(shape):
                self._nest(shape, d + 1, ivs, lanes, body)
            else:
                self.memo = {}
                body(tuple(ivs), lanes)
            ivs.pop()

    def ev(self, v: Value, idx: tuple[ir.Value, ...], lanes: int) -> ir.Value:
        """The value of block (or scalar) `v` at index `idx`, `lanes` elements along the last dim."""
        r = self.vals.get(v.id)
        if isinstance(r, ir.Value):
            return U.splat(self.b, r, lanes)
        key = (v.id, tuple(id(i) for i in idx), lanes)
        hit = self.memo.get(key)
        if hit is not None:
            return hit
        if isinstance(r, Mat):
            out = self.load_buf(r, idx, lanes)
        elif isinstance(r, Lazy):
            out = self.ev_op(r.op, idx, lanes)
        elif isinstance(r, Offset):
            out = self.b.add(self.ev(r.init, idx, lanes), U.splat(self.b, r.offset, lanes))
        else:
            raise AssertionError(f"value {v} was never lowered")
        self.memo[key] = out
        return out

    def ev_op(self, op: Op, idx, lanes: int) -> ir.Value:
        k = op.kind
        b = self.b
        rt = op.result.type
        if k is OpKind.MAKE_RANGE:
            base = b.add(b.trunc(idx[0], U.I32), ir.Constant(U.I32, op.attr.start))
            if lanes == 1:
                return base
            return b.add(U.splat(b, base, lanes), U.vec_const(U.I32, list(range(lanes))))
        if k is OpKind.BROADCAST:
            src = op.operands[0]
            sshape, dshape = shape_of(src.type), shape_of(rt)
            nidx = tuple(
                self.zero if s == 1 and d != 1 else i for i, s, d in zip(idx, sshape, dshape)
            )
            if lanes > 1 and sshape[-1] == 1:
                return U.splat(b, self.ev(src, nidx, 1), lanes)
            return self.ev(src, nidx, lanes)
        if k is OpKind.EXPAND_DIMS:
            ax = op.attr.axis
            nidx = idx[:ax] + idx[ax + 1 :]
            return self.ev(op.operands[0], nidx, lanes)
        if k is OpKind.LOAD:
            return self.ev_load(op, idx, lanes)
        if k is OpKind.SPLAT:
            return self.ev(op.operands[0], idx, lanes)
        if (
            k is OpKind.BINARY
            and op.attr.op is BinaryOp.DIV
            and not op.attr.exact
            and lanes > 1
            and scalar_dtype(rt) in (DType.F32, DType.F64)
            and self._uniform_scalar(op.operands[1]) is not None
        ):
            # x / d with d uniform over the block: one reciprocal, then multiplies (<= 2 ulp,
            # like Triton's default fp32 division on GPUs)
            d = self._uniform_scalar(op.operands[1])
            recip, scale = self._scaled_reciprocal(d)
            x = self.ev(op.operands[0], idx, lanes)
            q = self.b.fmul(x, U.splat(self.b, recip, lanes))
            return self.b.fmul(q, U.splat(self.b, scale, lanes))
        xs = [self.ev(v, idx, lanes) for v in op.operands]
        return self.compute(op, xs, lanes)

    def _scaled_reciprocal(self, d: ir.Value) -> tuple[ir.Value, ir.Value]:
        """(r, s) with x / d == (x * r) * s to within 2 ulp over the full range of d.

        1 / d overflows for subnormal d (x / x would be inf) and is subnormal for huge d, so
        d is first scaled by a power of two s that brings it near 1 (s = 1 for ordinary d); the
        products then stay normal whenever x / d is. s is exact: only the two roundings of
        1 / (d * s) and of x * r remain."""
        b = self.b
        t = d.type
        far, k = (2.0**100, 2.0**64) if isinstance(t, ir.FloatType) else (2.0**1000, 2.0**512)
        ad = U.intrinsic(b, "fabs", t, [d])
        small = b.fcmp_ordered("<", ad, ir.Constant(t, 1.0 / far))
        big = b.fcmp_ordered(">", ad, ir.Constant(t, far))
        one = ir.Constant(t, 1.0)
        s = b.select(small, ir.Constant(t, k), b.select(big, ir.Constant(t, 1.0 / k), one))
        return b.fdiv(one, b.fmul(d, s)), s

    def _uniform_scalar(self, v: Value):
        """The scalar LLVM value of `v` if it is a splat of an already-lowered scalar."""
        r = self.vals.get(v.id)
        if isinstance(r, Lazy) and r.op.kind is OpKind.SPLAT:
            s = self.vals.get(r.op.operands[0].id)
            if isinstance(s, ir.Value):
                return s
        return None


# whole-block ops, lowered in program order by blockops
_BLOCK_LOWERINGS = {
    OpKind.REDUCE: BO.lower_reduce,
    OpKind.SCAN: BO.lower_scan,
    OpKind.DOT: BO.lower_dot,
    OpKind.TRANS: BO.lower_trans,
    OpKind.RESHAPE: BO.lower_reshape,
    OpKind.ATOMIC: BO.lower_atomic,
    OpKind.FLIP: BO.lower_flip,
    OpKind.CONVERT_LAYOUT: BO.lower_convert_layout,
    OpKind.SORT: BO.lower_sort,
}


def lower_to_llvm(
    fn: Function, axis: AxisAnalysis, name: str, bounds: bool, target: CpuTarget
) -> tuple[ir.Module, CpuLowering]:
    low = CpuLowering(fn, axis, name, bounds, target)
    return low.lower(), low


__all__ = ["lower_to_llvm", "lockstep_loop", "lanes_for", "is_ptr", "Mat", "Lazy", "Offset"]
