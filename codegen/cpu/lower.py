"""Tile IR to LLVM IR for the host CPU.

Stage: codegen/cpu. Input: a verified, optimized `ir.Function` and its axis info; output: an
`llvmlite.ir.Module` with one entry point

    void @<name>(i64 start, i64 end, i64 stride, ptr args)

that runs the programs with linear ids `start, start + stride, ... < end` one after another;
`args` points at 8-byte slots: grid x, y, z, then each run-time argument (integers and
addresses as i64, floats as f64). One pointer keeps the ctypes call cheap.

Block values are not materialised one op at a time. Elementwise block ops stay *lazy*; a sink (a
store, a materialisation point) emits one loop nest over its shape whose innermost dimension
walks chunks of `lanes` elements, and evaluates the whole expression DAG per chunk in vector
registers (`_Eval`). Broadcasts and expand_dims only remap indices. Loads are vector loads where
axis info proves the addresses contiguous along the last dimension, gathers otherwise.
A lazy load is materialised into a buffer before a later store or a region that could change
what it reads; values crossing region boundaries (loop carries, if results) live in buffers.
"""

from __future__ import annotations

import math

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
    ScalarType,
    Value,
    elem_type,
    is_ptr,
    scalar_dtype,
    shape_of,
)
from jitlang.passes.axisinfo import AxisAnalysis

from . import elementwise as E
from . import llvmutil as U
from . import stream
from .alias import StoreAliasing
from .chunkmask import chunk_full
from .control import ControlFlowLowering
from .debug import DebugLowering
from .prefetch import emit as emit_prefetch
from .prefetch import plan_program_ahead
from .target import CpuTarget

STACK_LIMIT = 64 * 1024  # bytes; larger buffers are malloc'd once per entry call

_LAZY = {
    OpKind.CONSTANT,
    OpKind.MAKE_RANGE,
    OpKind.SPLAT,
    OpKind.BROADCAST,
    OpKind.EXPAND_DIMS,
    OpKind.UNARY,
    OpKind.BINARY,
    OpKind.CMP,
    OpKind.SELECT,
    OpKind.FMA,
    OpKind.CAST,
    OpKind.PTR_ADD,
    OpKind.LOAD,
    OpKind.HINT,
}


# ops with side effects or regions, lowered in program order by these CpuLowering methods
_OP_METHODS = {
    OpKind.STORE: "lower_store",
    OpKind.FOR: "lower_for",
    OpKind.IF: "lower_if",
    OpKind.WHILE: "lower_while",
    OpKind.PRINT: "lower_print",
    OpKind.ASSERT: "lower_assert",
}


class Mat:
    """A block value stored row-major in a buffer of `E.buf_type` elements."""

    def __init__(self, ptr: ir.Value, shape: tuple[int, ...], elem) -> None:
        self.ptr = ptr
        self.shape = shape
        self.elem = elem
        self.strides = tuple(math.prod(shape[i + 1 :]) for i in range(len(shape)))


class Lazy:
    def __init__(self, op: Op) -> None:
        self.op = op


class Offset:
    """A pointer block equal to the lazy block `init` advanced by `offset` bytes (a scalar i64):
    how a loop-carried pointer block that moves by a uniform step is carried (no buffer)."""

    def __init__(self, init: Value, offset: ir.Value) -> None:
        self.init = init
        self.offset = offset


def lanes_for(shape: tuple[int, ...], max_lanes: int) -> int:
    """Chunk width along the last dimension: the largest power of two dividing it, at most one
    register of 32-bit elements (`CpuTarget.max_lanes`)."""
    last = shape[-1]
    w = 1
    while w * 2 <= max_lanes and last % (w * 2) == 0:
        w *= 2
    return w


class CpuLowering(ControlFlowLowering, DebugLowering):
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
            is_f = i >= 3 and _is_float_scalar(self.fn.params[i - 3].type)
            slots.append(self.b.load(addr, typ=U.F64 if is_f else U.I64))
        gx, gy, gz = slots[:3]
        if self.bounds is not None:
            self.bounds.load_slots(self.b, argbuf)
        self.grid = (gx, gy, gz)
        self.zero = ir.Constant(U.I64, 0)
        loop = None if self.bounds is not None else lockstep_loop(self.fn)
        self.lockstep = loop is not None
        if loop is not None:
            self._lower_lockstep(loop, start, end, stride, slots)
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

    def _lower_lockstep(self, loop: Op, start, end, stride, slots) -> None:
        """A grid-stride kernel (see `lockstep_loop`) run round by round: round k runs iteration
        k of every program in [start, end), so the programs of one call walk memory together
        (rows p, p + 1, ... of a persistent softmax) instead of one program's rows P apart one
        after another. Programs are independent, so interleaving them between iterations is a
        valid schedule; each program still runs its own iterations in order."""
        b = self.b
        body = loop.regions[0]
        prologue = self.fn.body.ops[: self.fn.body.ops.index(loop)]
        ran = ir.IRBuilder(self.alloca_block).alloca(U.I1)
        pre = b.block
        head = b.append_basic_block("round")
        done = b.append_basic_block("rounds.done")
        b.branch(head)
        b.position_at_end(head)
        k = b.phi(U.I64, "round")
        k.add_incoming(self.zero, pre)
        b.store(ir.Constant(U.I1, 0), ran)
        with U.for_range(b, start, end, stride, "pid") as lin:
            self._program(lin, slots)
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
        k.add_incoming(b.add(k, ir.Constant(U.I64, 1)), b.block)
        b.cbranch(b.load(ran, typ=U.I1), head, done)
        b.position_at_end(done)

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

    # -- buffers ---------------------------------------------------------------------------
    def alloc(self, elem, shape: tuple[int, ...]) -> Mat:
        bt = E.buf_type(elem)
        n = math.prod(shape)
        nbytes = n * max(
            1, bt.width // 8 if isinstance(bt, ir.IntType) else (8 if bt == U.F64 else 4)
        )
        ab = ir.IRBuilder(self.alloca_block)
        if nbytes <= STACK_LIMIT:
            arr = ab.alloca(ir.ArrayType(bt, n))
            arr.align = 64
            arr.type = U.PTR  # opaque (llvmlite types allocas): element types come from accesses
            ptr = arr
        else:
            malloc = U.declare(self.module, "malloc", U.PTR, [U.I64])
            ptr = ab.call(malloc, [ir.Constant(U.I64, nbytes + 64)])
            self.exit_frees.append(ptr)
        return Mat(ptr, shape, elem)

    def buf_addr(self, m: Mat, idx: tuple[ir.Value, ...]) -> ir.Value:
        b = self.b
        lin = None
        for i, s in zip(idx, m.strides):
            term = i if s == 1 else b.mul(i, ir.Constant(U.I64, s))
            lin = term if lin is None else b.add(lin, term)
        if lin is None:
            lin = self.zero
        return b.gep(m.ptr, [lin], source_etype=E.buf_type(m.elem))

    # -- regions ---------------------------------------------------------------------------
    def lower_region(self, region: Region) -> None:
        last = _effective_last_uses(region)
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
        if k in _LAZY:
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
            return E.const_vec(E.reg_type(elem_type(rt)), _llvm_const(op.attr.value, rt), lanes)
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

    def masked(self, name: str, data: ir.VectorType, args: list[ir.Value]) -> ir.Value:
        """A masked memory intrinsic no wider than one of the target's registers. A contiguous
        load or store first tests its mask: a chunk with every lane on (all but the last chunk,
        usually) takes a plain vector access, which is much cheaper than `vmaskmov` on AVX2 (AMD
        runs masked stores slowly) and lets LLVM fold the load into its user."""
        b = self.b
        mask = args[2] if name == "masked.load" else args[3] if name == "masked.store" else None
        if mask is None or isinstance(mask, ir.Constant):
            return U.masked_access(b, name, data, args, self.target.vector_bytes)
        full = U.intrinsic(b, "vector.reduce.and", U.I1, [mask], overload=[mask.type])
        return self.split_on_full(name, data, full, lambda: args)

    def split_on_full(self, name: str, data: ir.VectorType, full: ir.Value, make_args):
        """`if full: plain vector access else: masked access`; `make_args()` builds the masked
        call's operands inside the partial branch (values it evaluates stay in that branch)."""
        b = self.b
        with b.if_else(full, likely=True) as (then, otherwise):
            with otherwise:
                saved = self.memo
                self.memo = dict(saved)
                args = make_args()
                self.memo = saved
                part = U.masked_access(b, name, data, args, self.target.vector_bytes)
                part_block = b.block
            with then:
                if name == "masked.load":
                    plain = b.load(args[0], typ=data)
                else:
                    plain = b.store(args[0], args[1])
                plain.align = args[2 if name == "masked.store" else 1].constant
                plain_block = b.block
        if name != "masked.load":
            return None
        phi = b.phi(data)
        phi.add_incoming(plain, plain_block)
        phi.add_incoming(part, part_block)
        return phi

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

    def load_buf(self, m: Mat, idx, lanes: int) -> ir.Value:
        addr = self.buf_addr(m, idx)
        bt = E.buf_type(m.elem)
        if lanes == 1:
            v = self.b.load(addr, typ=bt)
        elif m.strides[-1] == 1:
            v = self.b.load(addr, typ=ir.VectorType(bt, lanes))
            v.align = _align_of(bt)
        else:  # a strided view (transpose): gather the lanes from the buffer
            b = self.b
            base = b.ptrtoint(addr, U.I64)
            step = m.strides[-1] * _align_of(bt)
            offs = U.vec_const(U.I64, [i * step for i in range(lanes)])
            ptrs = b.inttoptr(b.add(U.splat(b, base, lanes), offs), ir.VectorType(U.PTR, lanes))
            vt = ir.VectorType(bt, lanes)
            v = self.masked(
                "masked.gather",
                vt,
                [
                    ptrs,
                    ir.Constant(U.I32, _align_of(bt)),
                    E.const_vec(U.I1, 1, lanes),
                    ir.Constant(vt, None),
                ],
            )
        return E.buf_to_reg(self.b, v, m.elem)

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

    def _check(self, op: Op, kind: str, ptr_v: Value, idx, lanes: int, mask):
        """Bounds-check the lanes of one chunk (JITLANG_BOUNDS_CHECK); returns the narrowed mask."""
        b = self.b
        if lanes > 1 and self._contiguous(ptr_v, lanes):
            esize = elem_type(ptr_v.type).elem.mem_bytes
            base = U.splat(b, self.ev(ptr_v, idx, 1), lanes)
            addrs = b.add(base, U.vec_const(U.I64, [i * esize for i in range(lanes)]))
        else:
            addrs = self.ev(ptr_v, idx, lanes)
        shape = shape_of(ptr_v.type)
        lin = self.zero
        for i, stride in zip(idx, (math.prod(shape[k + 1 :]) for k in range(len(shape)))):
            lin = b.add(lin, b.mul(i, ir.Constant(U.I64, stride)))
        return self.bounds.check(self, op, kind, ptr_v, addrs, mask, lin)

    def _full(self, op: Op, mask_pos: int, ptr_v: Value, idx, lanes: int) -> ir.Value | None:
        """A scalar "every lane of the mask is on" for a contiguous masked access, when the mask's
        form gives it from lane 0 (`chunkmask`); None otherwise (and under bounds checks)."""
        if self.bounds is not None or len(op.operands) <= mask_pos:
            return None
        if not self._contiguous(ptr_v, lanes):
            return None
        return chunk_full(self, op.operands[mask_pos], idx, lanes)

    def _contiguous(self, ptr: Value, lanes: int) -> bool:
        if lanes == 1:
            return False
        c = self.axis.get(ptr).contiguity
        return c[-1] % lanes == 0

    def ev_load(self, op: Op, idx, lanes: int) -> ir.Value:
        b = self.b
        ptr_v = op.operands[0]
        dt = elem_type(ptr_v.type).elem
        mt = E.mem_type(dt)
        align = _align_of(mt)
        if lanes == 1:
            return self.scalar_load(op, [self.ev(v, idx, 1) for v in op.operands])
        vt = ir.VectorType(mt, lanes)
        full = self._full(op, 1, ptr_v, idx, lanes)
        ahead = self.prefetch.get(id(op))
        if ahead is None and id(op) in self.program_ahead:
            ahead = b.load(self.program_ahead[id(op)], typ=U.I64)
        if ahead is not None:
            emit_prefetch(self, self.ev(ptr_v, idx, 1), ahead)
        if full is not None:  # the vector mask and `other` are built in the partial branch only
            base = b.inttoptr(self.ev(ptr_v, idx, 1), U.PTR)

            def args():
                m = self.ev(op.operands[1], idx, lanes)
                other = ir.Constant(vt, None)
                if len(op.operands) > 2:
                    other = E.reg_to_mem(b, self.ev(op.operands[2], idx, lanes), dt)
                return [base, ir.Constant(U.I32, align), m, other]

            return E.mem_to_reg(b, self.split_on_full("masked.load", vt, full, args), dt)
        mask = self.ev(op.operands[1], idx, lanes) if len(op.operands) > 1 else None
        if len(op.operands) > 2:
            other = E.reg_to_mem(b, self.ev(op.operands[2], idx, lanes), dt)
        else:
            other = ir.Constant(vt, None)
        if self.bounds is not None:
            mask = self._check(op, "load", ptr_v, idx, lanes, mask)
        if self._contiguous(ptr_v, lanes):
            base = b.inttoptr(self.ev(ptr_v, idx, 1), U.PTR)
            if mask is None:
                v = b.load(base, typ=vt)
                v.align = align
            else:
                v = self.masked("masked.load", vt, [base, ir.Constant(U.I32, align), mask, other])
        else:
            ptrs = b.inttoptr(self.ev(ptr_v, idx, lanes), ir.VectorType(U.PTR, lanes))
            if mask is None:
                mask = E.const_vec(U.I1, 1, lanes)
            v = self.masked("masked.gather", vt, [ptrs, ir.Constant(U.I32, align), mask, other])
        return E.mem_to_reg(b, v, dt)

    def scalar_load(self, op: Op, xs: list[ir.Value]) -> ir.Value:
        b = self.b
        dt = elem_type(op.operands[0].type).elem
        mt = E.mem_type(dt)
        addr = b.inttoptr(xs[0], U.PTR)
        if self.bounds is not None:
            m = self.bounds.check(
                self, op, "load", op.operands[0], xs[0], xs[1] if len(xs) > 1 else None, self.zero
            )
            xs = [xs[0], m] + xs[2:]
        if len(xs) == 1:
            v = b.load(addr, typ=mt)
            v.align = _align_of(mt)
            return E.mem_to_reg(b, v, dt)
        rt = E.reg_type(ScalarType(dt))
        other = xs[2] if len(xs) > 2 else ir.Constant(rt, 0 if not dt.is_float else 0.0)
        pre = b.block
        with b.if_then(xs[1]):
            v = b.load(addr, typ=mt)
            v.align = _align_of(mt)
            loaded = E.mem_to_reg(b, v, dt)
            then_block = b.block
        phi = b.phi(rt)
        phi.add_incoming(loaded, then_block)
        phi.add_incoming(other, pre)
        return phi

    # -- sinks -----------------------------------------------------------------------------
    def materialize(self, v: Value) -> Mat:
        r = self.vals.get(v.id)
        if isinstance(r, Mat):
            return r
        m = self.alloc(elem_type(v.type), shape_of(v.type))
        self.materialize_into(m, v)
        self.vals[v.id] = m
        return m

    def materialize_into(self, m: Mat, v: Value) -> None:
        if not isinstance(v.type, BlockType):
            val = E.reg_to_buf(self.b, self.scalar(v))
            self.b.store(val, self.buf_addr(m, tuple(self.zero for _ in m.shape)))
            return

        def body(idx, lanes):
            val = E.reg_to_buf(self.b, self.ev(v, idx, lanes))
            st = self.b.store(val, self.buf_addr(m, idx))
            st.align = _align_of(E.buf_type(m.elem))

        self.loop_nest(m.shape, body)

    def copy_buf(self, dst: Mat, src: Mat) -> None:
        nbytes = math.prod(dst.shape) * _align_of(E.buf_type(dst.elem))
        U.intrinsic(
            self.b,
            "memcpy",
            U.VOID,
            [dst.ptr, src.ptr, ir.Constant(U.I64, nbytes), ir.Constant(U.I1, 0)],
            overload=[U.PTR, U.PTR, U.I64],
        )

    def lower_store(self, op: Op) -> None:
        ptr_v, val_v = op.operands[0], op.operands[1]
        mask_v = op.operands[2] if len(op.operands) > 2 else None
        dt = elem_type(ptr_v.type).elem
        mt = E.mem_type(dt)
        align = _align_of(mt)
        b = self.b
        if not isinstance(ptr_v.type, BlockType):
            addr = b.inttoptr(self.scalar(ptr_v), U.PTR)
            val = E.reg_to_mem(b, self.scalar(val_v), dt)
            if self.bounds is not None:
                m = self.bounds.check(
                    self,
                    op,
                    "store",
                    ptr_v,
                    self.scalar(ptr_v),
                    self.scalar(mask_v) if mask_v is not None else None,
                    self.zero,
                )
                with b.if_then(m):
                    b.store(val, addr).align = align
                return
            if mask_v is None:
                b.store(val, addr).align = align
            else:
                with b.if_then(self.scalar(mask_v)):
                    b.store(val, addr).align = align
            return

        ahead = self.prefetch.get(id(op))

        def body(idx, lanes):
            val = E.reg_to_mem(b, self.ev(val_v, idx, lanes), dt)
            full = self._full(op, 2, ptr_v, idx, lanes) if lanes > 1 else None
            if ahead is not None:
                emit_prefetch(self, self.ev(ptr_v, idx, 1), ahead, write=True)
            if full is not None:  # the vector mask is built in the partial branch only
                base = b.inttoptr(self.ev(ptr_v, idx, 1), U.PTR)
                vt = ir.VectorType(mt, lanes)

                def args():
                    m = self.ev(mask_v, idx, lanes)
                    return [val, base, ir.Constant(U.I32, align), m]

                self.split_on_full("masked.store", vt, full, args)
                return
            mask = self.ev(mask_v, idx, lanes) if mask_v is not None else None
            if self.bounds is not None:
                mask = self._check(op, "store", ptr_v, idx, lanes, mask)
            if lanes == 1:
                addr = b.inttoptr(self.ev(ptr_v, idx, 1), U.PTR)
                if mask is None:
                    b.store(val, addr).align = align
                else:
                    with b.if_then(mask):
                        b.store(val, addr).align = align
                return
            vt = ir.VectorType(mt, lanes)
            if self._contiguous(ptr_v, lanes):
                base = b.inttoptr(self.ev(ptr_v, idx, 1), U.PTR)
                if mask is None:
                    b.store(val, base).align = align
                else:
                    self.masked("masked.store", vt, [val, base, ir.Constant(U.I32, align), mask])
            else:
                ptrs = b.inttoptr(self.ev(ptr_v, idx, lanes), ir.VectorType(U.PTR, lanes))
                if mask is None:
                    mask = E.const_vec(U.I1, 1, lanes)
                self.masked("masked.scatter", vt, [val, ptrs, ir.Constant(U.I32, align), mask])

        streaming = stream.plan(self, op)
        if streaming is not None:
            stream.emit(self, op, streaming, body)
            return
        self.loop_nest(shape_of(ptr_v.type), body)


# ----------------------------------------------------------------------------------------------


def _dt_of(v: Value) -> DType | None:
    return scalar_dtype(v.type)


def _to_f64_i64(b: ir.IRBuilder, val, dt: DType | None):
    if val is None:
        return ir.Constant(U.F64, 0.0), ir.Constant(U.I64, 0)
    if dt is None:  # pointer
        return ir.Constant(U.F64, 0.0), val
    if dt.is_float:
        f = val if val.type == U.F64 else b.fpext(val, U.F64)
        return f, b.bitcast(f, U.I64)
    return ir.Constant(U.F64, 0.0), E.int_to_i64(b, dt, val)


def _align_of(t: ir.Type) -> int:
    if isinstance(t, ir.IntType):
        return max(1, t.width // 8)
    if t == U.F64:
        return 8
    if isinstance(t, ir.HalfType):
        return 2
    return 4


def _is_float_scalar(t) -> bool:
    return isinstance(t, ScalarType) and t.dtype.is_float


def _llvm_const(value, t):
    e = elem_type(t)
    if isinstance(e, PointerType):
        return int(value)
    dt = e.dtype
    if dt.is_float:
        return float(value)
    if dt is DType.I1:
        return int(bool(value))
    return int(value) & ((1 << dt.bits) - 1)


# arithmetic without side effects: a lockstep kernel's set-up before its loop
_PURE_PROLOGUE = (_LAZY - {OpKind.LOAD}) | {OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS}


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
    if any(op.kind not in _PURE_PROLOGUE or op.regions for op in ops[:-2]):
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


def _effective_last_uses(region: Region) -> dict[int, int]:
    """Value id -> index of the last op in `region` that needs it, through lazy block users."""
    last: dict[int, int] = {}
    for i, op in enumerate(region.ops):
        for v in _all_operands(op):
            last[v.id] = i
    for i in range(len(region.ops) - 1, -1, -1):
        op = region.ops[i]
        if op.kind in _LAZY and len(op.results) == 1 and isinstance(op.result.type, BlockType):
            lr = last.get(op.result.id, -1)
            for v in op.operands:
                if last.get(v.id, -1) < lr:
                    last[v.id] = lr
    return last


def _all_operands(op: Op):
    yield from op.operands
    for r in op.regions:
        for o in r.ops:
            yield from _all_operands(o)


def _block_lowerings():
    from . import blockops as BO

    return {
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


_BLOCK_LOWERINGS: dict = {}


def lower_to_llvm(
    fn: Function, axis: AxisAnalysis, name: str, bounds: bool, target: CpuTarget
) -> tuple[ir.Module, CpuLowering]:
    if not _BLOCK_LOWERINGS:
        _BLOCK_LOWERINGS.update(_block_lowerings())
    low = CpuLowering(fn, axis, name, bounds, target)
    return low.lower(), low


__all__ = ["lower_to_llvm", "is_ptr"]
