"""Tile IR with accel layouts and a memory plan -> LLVM IR with `accel.*` intrinsic calls.

Stage: codegen/accel lowering. Input: an `AccelPlan` (layouts, access kinds, needed values), a
`MemoryPlan` (a buffer per tile value) and the `AccelTarget`. Output: an `llvmlite.ir.Module`
with one function `@<kernel>(i64 ...)` (one i64 per launched argument, as the sequencer's `arg`
gives them) and the operand `Tables` its calls index. Scalar control is ordinary LLVM: program
ids, integer arithmetic, pointer arithmetic (i64 byte addresses), loops and branches. Every tile
operation is an intrinsic call (`codegen.accel.intrinsics`); block values are tiles in their
buffers, float scalars are [1, 1] tiles, integer scalars are LLVM values. Block ops
(elementwise math, reductions, broadcasts) live in `tileops`.
"""

from __future__ import annotations

import math

from llvmlite import ir

from jitlang.dtypes import DType
from jitlang.errors import CompilationError
from jitlang.ir import (
    Function,
    Op,
    OpKind,
    PointerType,
    Region,
    Value,
    elem_type,
    scalar_dtype,
    shape_of,
    walk,
)
from jitlang.passes.accel_layout import AccelPlan, is_tile_value
from jitlang.passes.accel_memory import MemoryPlan

from . import intrinsics
from .tiles import Tables, TileRef, sbuf_tile

I1, I32, I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)


NOALIAS = "jl_noalias"  # data-section symbol: argument pairs assumed not to overlap
SPECIALIZE = "jl_specialize"  # data-section symbol: run-time strides worth compiling in


DIRECT_INIT = "direct_init"  # step: carried blocks start from a memset of their own buffer


class UnsupportedOnAccelError(CompilationError):
    kind = "not supported on the accelerator yet"


def llvm_int(dt: DType | None) -> ir.IntType:
    if dt is None:  # pointers: byte addresses
        return I64
    return ir.IntType(1 if dt is DType.I1 else dt.bits)


def f32_bits(x: float) -> int:
    import numpy as np

    with np.errstate(over="ignore"):
        return int(np.array([x], np.float32).view(np.uint32)[0])


class Lowering:
    def __init__(self, plan: AccelPlan, mem: MemoryPlan, target, name: str) -> None:
        self.plan, self.mem, self.target = plan, mem, target
        self.fn: Function = plan.fn
        self.module = ir.Module(name=name)
        self.tables = Tables()
        self.vals: dict[int, ir.Value] = {}  # integer/pointer scalars
        self.tiles: dict[int, TileRef] = {}  # tile values
        self.fconst: dict[int, float] = {}  # float scalar constants (immediates)
        self.ptr_base: dict[int, ir.Value] = {}  # pointer blocks: base byte address
        self.psum_acc: dict[int, TileRef] = {}  # loop accumulators living in PSUM (dot)
        self.psum_banks_used: list[int] = []
        # float block constants read only as `for` inits (step "direct_init"): value by id
        self.init_consts: dict[int, float] = (
            _init_only_constants(plan.fn) if DIRECT_INIT in getattr(target, "steps", ()) else {}
        )
        self.line = fn_line = plan.fn.loc.line
        self._fn_line = fn_line
        fnty = ir.FunctionType(ir.VoidType(), [I64] * len(self.fn.params))
        self.func = ir.Function(self.module, fnty, name)
        self.b = ir.IRBuilder(self.func.append_basic_block("entry"))

    # -- helpers ----------------------------------------------------------------------------
    def call(self, name: str, *args) -> ir.Value:
        fn = intrinsics.declare(self.module, name)
        conv = []
        for a, (_, kind) in zip(args, intrinsics.BY_NAME[name].operands, strict=False):
            ty = intrinsics.llvm_type(kind)
            if isinstance(a, TileRef) or hasattr(a, "dims"):
                a = self.tables.tile(a)
            if isinstance(a, int):
                a = ir.Constant(ty, a)
            elif a.type != ty:
                a = self.b.sext(a, ty) if a.type.width < ty.width else self.b.trunc(a, ty)
            conv.append(a)
        if len(conv) < len(intrinsics.BY_NAME[name].operands):  # the trailing source line
            conv.append(ir.Constant(I32, self.line))
        return self.b.call(fn, conv)

    def buffer(self, v: Value) -> TileRef:
        """The buffer of tile value v in its layout."""
        buf = self.mem.buffers.get(v.id)
        lay = self.plan.layouts[v.id]
        if buf is None:
            raise UnsupportedOnAccelError(self.loc, f"internal: no buffer for {v.type}")
        return sbuf_tile(self._tile_dtype(v), buf.offset, lay.pn, lay.free)

    @staticmethod
    def _tile_dtype(v: Value) -> DType:
        return DType.I32 if isinstance(elem_type(v.type), PointerType) else scalar_dtype(v.type)

    def scratch(self, i: int, dt: DType, pn: int, free: int) -> TileRef:
        """Scratch slot i: the first SCRATCH_SLOTS hold any block, later ones one op's tiles."""
        from jitlang.passes.accel_memory import SCRATCH_SLOTS

        m = self.mem
        off = m.scratch_offset + min(i, SCRATCH_SLOTS) * m.scratch_slot_bytes
        size = m.scratch_slot_bytes
        if i >= SCRATCH_SLOTS:
            off += (i - SCRATCH_SLOTS) * m.extra_slot_bytes
            size = m.extra_slot_bytes
        if i >= m.scratch_slots or free * max(1, dt.mem_bytes) > size:
            raise UnsupportedOnAccelError(self.loc, "internal: scratch slot too small")
        return sbuf_tile(dt, off, pn, free)

    def reg(self, v: Value) -> ir.Value:
        """An integer/pointer scalar as an LLVM value (tile-resident ones are loaded)."""
        if v.id in self.vals:
            return self.vals[v.id]
        if v.id in self.tiles:
            t = self.tiles[v.id]
            raw = self.call("accel.ld", t)
            x = self.b.trunc(raw, llvm_int(scalar_dtype(v.type))) if t.dtype.bits < 64 else raw
            self.vals[v.id] = x
            return x
        raise UnsupportedOnAccelError(self.loc, f"internal: scalar {v} has no value")

    def reg64(self, v: Value) -> ir.Value:
        x = self.reg(v)
        dt = scalar_dtype(v.type)
        if x.type.width == 64:
            return x
        return (
            self.b.zext(x, I64)
            if dt is not None and (dt.is_unsigned or dt.is_bool)
            else (self.b.sext(x, I64))
        )

    def tile_of(self, v: Value, slot: int = 0, layout=None) -> TileRef:
        """Tile value v (integer scalars are splatted into scratch slot `slot`)."""
        if v.id in self.tiles:
            return self.tiles[v.id]
        dt = scalar_dtype(v.type)
        if dt is not None and not dt.is_float and dt.bits == 64:
            dt = DType.I32 if dt.is_signed else DType.U32  # documented: 32-bit on chip
        pn, free = (layout.pn, layout.free) if layout is not None else (1, 1)
        t = self.scratch(slot, dt, pn, free)
        if v.id in self.fconst:
            self.call("accel.memset", t, f32_bits(self.fconst[v.id]))
        elif dt is not None and not dt.is_float:
            self.call("accel.iota", t, self.reg64(v), 0, 0)
        else:
            raise UnsupportedOnAccelError(self.loc, f"internal: value {v} was not computed")
        return t

    @property
    def loc(self):
        return self._loc

    # -- driver -----------------------------------------------------------------------------
    def run(self) -> ir.Module:
        from . import tileops

        self.ops = tileops.TileOps(self)
        self._loc = self.fn.loc
        b = self.b
        for p, a, arg in zip(self.fn.params, self.fn.body.args, self.func.args, strict=True):
            arg.name = p.name
            t = p.type
            if isinstance(t, PointerType):
                self.vals[a.id] = arg
                continue
            dt = scalar_dtype(t)
            if dt.is_float:
                bits = b.trunc(arg, I32)
                self.fconst.pop(a.id, None)
                if a.id in self.plan.needed:
                    tile = self.buffer(a)
                    self.call("accel.memset", tile, bits)
                    self.tiles[a.id] = tile
                self.vals[a.id] = bits  # fp32 bits, for scalar operands
            else:
                self.vals[a.id] = arg if dt.bits == 64 else b.trunc(arg, llvm_int(dt))
        self.region(self.fn.body)
        if not self.b.block.is_terminated:
            self.b.ret_void()
        return self.module

    def region(self, region: Region) -> None:
        for op in region.ops:
            self._loc = op.loc
            self.line = op.loc.line or self._fn_line
            self.op(op)

    def op(self, op: Op) -> None:
        k = op.kind
        if k is OpKind.RETURN:
            self.b.ret_void()
            return
        if k is OpKind.FOR:
            return self.lower_for(op)
        if k is OpKind.IF:
            return self.lower_if(op)
        if k is OpKind.WHILE:
            return self.lower_while(op)
        if k is OpKind.CONDITION or (k is OpKind.CONSTANT and op.result.id in self.init_consts):
            return  # (an init-only constant is written into each carried buffer: `_copy_in`)
        if k in (OpKind.LOAD, OpKind.STORE, OpKind.ATOMIC):
            from .memops import lower_atomic, lower_load, lower_store

            fns = {OpKind.LOAD: lower_load, OpKind.STORE: lower_store}
            return fns.get(k, lower_atomic)(self, op)
        if k is OpKind.YIELD:
            return
        if k is OpKind.ASSERT:
            return self.lower_assert(op)
        if k is OpKind.PRINT:
            from .debug import lower_print

            return lower_print(self, op)
        if any(is_tile_value(r) for r in op.results) or (
            op.results and any(is_tile_value(v) for v in op.operands)
        ):
            if op.results and not any(r.id in self.plan.needed for r in op.results):
                if all(is_tile_value(r) for r in op.results):
                    self._remember_const(op)
                    return
            return self.ops.lower(op)
        return self.scalar(op)

    def _remember_const(self, op: Op) -> None:
        if op.kind is OpKind.CONSTANT and not shape_of(op.result.type):
            self.fconst[op.result.id] = float(op.attr.value)

    # -- scalar (integer) operations --------------------------------------------------------
    def scalar(self, op: Op) -> None:
        from .scalars import lower_scalar

        lower_scalar(self, op)

    # -- control flow -----------------------------------------------------------------------
    def lower_for(self, op: Op) -> None:
        b = self.b
        lb, ub, step = (self.reg(v) for v in op.operands[:3])
        inits = op.operands[3:]
        body = op.regions[0]
        carried = body.args[1:]
        from .dot import epilogue_reads_psum, psum_accumulators

        acc = psum_accumulators(self, op)
        for init, a in zip(inits, carried, strict=True):
            if a.id in acc and init.id in self.init_consts:  # the running sum starts in PSUM
                self.call("accel.memset", acc[a.id], f32_bits(self.init_consts[init.id]))
                self.tiles[a.id] = acc[a.id]
                self.psum_acc[a.id] = acc[a.id]
            elif a.id in acc:
                self.call("accel.copy", acc[a.id], self.tile_of(init, 0, self.plan.layouts[a.id]))
                self.tiles[a.id] = acc[a.id]
                self.psum_acc[a.id] = acc[a.id]
        self._copy_in(
            [i for i, a in zip(inits, carried, strict=True) if a.id not in acc],
            [a for a in carried if a.id not in acc],
        )
        for init, a, r in zip(inits, carried, op.results, strict=True):
            if init.id in self.ptr_base:  # carried pointer blocks keep their base
                self.ptr_base[a.id] = self.ptr_base[r.id] = self.ptr_base[init.id]
        pre = b.block
        header = self.func.append_basic_block("for.header")
        bodyb = self.func.append_basic_block("for.body")
        exit_ = self.func.append_basic_block("for.exit")
        b.branch(header)
        b.position_at_end(header)
        iv = b.phi(lb.type, name="iv")
        iv.add_incoming(lb, pre)
        phis = {}
        for a, init in zip(carried, inits, strict=True):
            if not is_tile_value(a):
                ph = b.phi(llvm_int(scalar_dtype(a.type)))
                ph.add_incoming(self.reg(init), pre)
                phis[a.id] = ph
                self.vals[a.id] = ph
        self.vals[body.args[0].id] = iv
        ub_ = ub if ub.type == iv.type else b.sext(ub, iv.type)
        st = step if step.type == iv.type else b.sext(step, iv.type)
        if isinstance(st, ir.Constant):
            c = st.constant
            c = c - (1 << st.type.width) if c >= 1 << (st.type.width - 1) else c
            cond = b.icmp_signed("<" if c > 0 else ">", iv, ub_)
        else:
            pos = b.icmp_signed(">", st, ir.Constant(st.type, 0))
            cond = b.select(pos, b.icmp_signed("<", iv, ub_), b.icmp_signed(">", iv, ub_))
        b.cbranch(cond, bodyb, exit_)
        b.position_at_end(bodyb)
        self.region(body)
        self._loc = op.loc
        self.line = op.loc.line
        term = body.terminator
        self._copy_yield(term.operands, carried)
        latch = b.block
        for a, y in zip(carried, term.operands, strict=True):
            if a.id in phis:
                phis[a.id].add_incoming(self.reg(y), latch)
        iv.add_incoming(b.add(iv, st), latch)
        b.branch(header)
        b.position_at_end(exit_)
        for a, r in zip(carried, op.results, strict=True):
            if a.id in phis:
                self.vals[r.id] = phis[a.id]
            elif a.id in acc and epilogue_reads_psum(self, r):
                self.tiles[r.id] = acc[a.id]  # its casts read the sum where it is
            elif a.id in acc:  # the sum leaves PSUM once
                out = self.buffer(r)
                self.call("accel.copy", out, acc[a.id])
                self.tiles[r.id] = out
            elif a.id in self.tiles:
                self.tiles[r.id] = self.tiles[a.id]

    def lower_while(self, op: Op) -> None:
        """`while`: the before region computes the condition and the forwarded values in the
        header; carried tiles live in the loop's buffers (the memory plan aliases the before
        and after arguments and the results), integer scalars in phis."""
        b = self.b
        before, after = op.regions
        inits = op.operands
        if len(before.args) != len(op.results) or len(after.args) != len(op.results):
            raise UnsupportedOnAccelError(
                op.loc, "a `while` whose carried and forwarded values differ"
            )
        self._copy_in(inits, before.args)
        for init, a, r, f in zip(inits, before.args, op.results, after.args, strict=True):
            if init.id in self.ptr_base:
                for v in (a, r, f):
                    self.ptr_base[v.id] = self.ptr_base[init.id]
        pre = b.block
        header = self.func.append_basic_block("while.header")
        bodyb = self.func.append_basic_block("while.body")
        exit_ = self.func.append_basic_block("while.exit")
        b.branch(header)
        b.position_at_end(header)
        phis = {}
        for a, init in zip(before.args, inits, strict=True):
            if not is_tile_value(a):
                ph = b.phi(llvm_int(scalar_dtype(a.type)))
                ph.add_incoming(self.reg(init), pre)
                phis[a.id] = ph
                self.vals[a.id] = ph
        self.region(before)
        cond_op = before.terminator
        self._loc, self.line = op.loc, op.loc.line
        cond = self.reg(cond_op.operands[0])
        if cond.type.width != 1:
            cond = b.icmp_unsigned("!=", cond, ir.Constant(cond.type, 0))
        fwd = cond_op.operands[1:]
        self._copy_yield(fwd, before.args)
        for f, a, r, v in zip(after.args, before.args, op.results, fwd, strict=True):
            if a.id in self.tiles:
                self.tiles[f.id] = self.tiles[r.id] = self.tiles[a.id]
            elif not is_tile_value(f):
                self.vals[f.id] = self.vals[r.id] = self.reg(v)
        b.cbranch(cond, bodyb, exit_)
        b.position_at_end(bodyb)
        self.region(after)
        self._loc, self.line = op.loc, op.loc.line
        ys = after.terminator.operands
        self._copy_yield(ys, before.args)
        latch = b.block
        for a, y in zip(before.args, ys, strict=True):
            if a.id in phis:
                phis[a.id].add_incoming(self.reg(y), latch)
        b.branch(header)
        b.position_at_end(exit_)

    def lower_assert(self, op: Op) -> None:
        """`device_assert(cond)`: the minimum of the condition block (or the scalar) reaches a
        register and `check` stops the program when it is 0; the site table keeps the message."""
        from isa.table import ReduceOp

        cond = op.operands[0]
        if is_tile_value(cond):
            t = self.tile_of(cond, 0)
            col = self.scratch(1, t.dtype, t.pn, 1)
            self.call("accel.reduce", int(ReduceOp.MIN), col, t)
            one = self.scratch(2, t.dtype, 1, 1)
            if t.pn > 1:
                self.call("accel.preduce", int(ReduceOp.MIN), one, col)
            else:
                self.call("accel.copy", one, col)
            ok = self.call("accel.ld", one)
        else:
            ok = self.reg64(cond)
        self.tables.assert_sites.append((op.attr.prefix, str(op.loc)))
        self.call("accel.check", ok, len(self.tables.assert_sites) - 1)

    def _copy_in(self, inits, carried) -> None:
        """Each carried tile's buffer receives its init: a copy, or (step "direct_init", a
        float constant read only as loop inits) the constant written into the buffer itself, so
        the buffer waits only for its own last readers (of the previous program on the core),
        not a shared constant's. An integer value (`tl.zeros`) is written by the GpSimd
        engine's `piota` with step 0 (exact: +0.0 for 0), not the vector engine's `memset`: the
        vector engine is in order, and a loop's first add of one accumulator would otherwise
        queue behind the set-up of all of them (each waiting for the previous program's store
        of that accumulator)."""
        for init, a in zip(inits, carried, strict=True):
            if is_tile_value(a) and a.id in self.mem.buffers and init.id in self.init_consts:
                dst = self.buffer(a)
                x = self.init_consts[init.id]
                if _exact_int(x):  # on the GpSimd engine, idle in a loop of dots and adds
                    self.call("accel.piota", dst, 0, int(x), 0)
                else:
                    self.call("accel.memset", dst, f32_bits(x))
                self.tiles[a.id] = dst
            elif is_tile_value(a) and a.id in self.mem.buffers:
                dst = self.buffer(a)
                src = self.tile_of(init, 0, self.plan.layouts.get(a.id))
                if src.tile != dst.tile:
                    self.call("accel.copy", dst, src)
                self.tiles[a.id] = dst

    def _copy_yield(self, ys, carried) -> None:
        for y, a in zip(ys, carried, strict=True):
            if a.id in self.tiles:
                dst = self.tiles[a.id]
                src = self.tile_of(y, 0, self.plan.layouts.get(a.id))
                if src.tile != dst.tile:
                    self.call("accel.copy", dst, src)

    def lower_if(self, op: Op) -> None:
        b = self.b
        cond = self.reg(op.operands[0])
        if cond.type.width != 1:
            cond = b.icmp_unsigned("!=", cond, ir.Constant(cond.type, 0))
        res_tiles = {}
        for r in op.results:
            if is_tile_value(r) and r.id in self.mem.buffers:
                res_tiles[r.id] = self.buffer(r)
        incoming = []
        then_r, else_r = op.regions[0], op.regions[1] if len(op.regions) > 1 else None
        with b.if_else(cond) as (then, otherwise):
            for reg, part in ((then_r, then), (else_r, otherwise)):
                with part:
                    if reg is not None:
                        self.region(reg)
                        ys = reg.terminator.operands if reg.terminator is not None else []
                        for r, y in zip(op.results, ys, strict=False):
                            if r.id in res_tiles:
                                src = self.tile_of(y, 0, self.plan.layouts.get(r.id))
                                if src.tile != res_tiles[r.id].tile:
                                    self.call("accel.copy", res_tiles[r.id], src)
                        incoming.append(
                            (
                                b.block,
                                [
                                    self.reg(y) if not is_tile_value(r) else None
                                    for r, y in zip(op.results, ys, strict=False)
                                ],
                            )
                        )
                    else:
                        incoming.append((b.block, []))
        for i, r in enumerate(op.results):
            if r.id in res_tiles:
                self.tiles[r.id] = res_tiles[r.id]
            elif not is_tile_value(r):
                ph = b.phi(llvm_int(scalar_dtype(r.type)) if scalar_dtype(r.type) else I64)
                for blk, vals in incoming:
                    ph.add_incoming(vals[i], blk)
                self.vals[r.id] = ph


def lower_to_llvm(plan: AccelPlan, mem: MemoryPlan, target, name: str):
    """Build the module (see the module docstring); returns (module, tables)."""
    low = Lowering(plan, mem, target, name)
    low.run()
    if plan.noalias:  # the driver checks these argument pairs at launch (accel_hoist)
        import json

        low.tables.data[NOALIAS] = json.dumps(plan.noalias).encode()
    if plan.specialize:  # the driver compiles builds with these arguments' values compiled in
        import json

        low.tables.data[SPECIALIZE] = json.dumps(plan.specialize).encode()
    if low.tables.print_sites:
        from .debug import PRINT_LOG, PRINT_SITES, log_header, site_table

        low.tables.data[PRINT_SITES] = site_table(low.tables.print_sites)
        low.tables.data[PRINT_LOG] = log_header()  # last: the log follows its header
    return low.module, low.tables


def _exact_int(x: float) -> bool:
    """`x` is an integer that `piota` writes exactly into any float tile (not -0.0)."""
    return math.isfinite(x) and x == int(x) and abs(x) <= 256 and math.copysign(1, x) > 0


def _init_only_constants(fn: Function) -> dict[int, float]:
    """Float block constants whose every reader is a `for` loop taking them as the initial
    value of a carried block (`acc = tl.zeros(...)`, several accumulators sharing one constant
    after CSE): value by result id."""
    consts: dict[int, float] = {}
    other: set[int] = set()
    for op in walk(fn.body):
        if op.kind is OpKind.CONSTANT and shape_of(op.result.type):
            dt = scalar_dtype(op.result.type)
            if dt is not None and dt.is_float:
                consts[op.result.id] = float(op.attr.value)
        carried = op.regions[0].args[1:] if op.kind is OpKind.FOR else ()
        for i, v in enumerate(op.operands):
            if op.kind is OpKind.FOR and i >= 3 and is_tile_value(carried[i - 3]):
                continue
            other.add(v.id)
    return {vid: x for vid, x in consts.items() if vid not in other}
