"""Memory access of the CPU lowering: buffers, loads, stores and materialisation.

Stage: codegen/cpu, a mixin of `lower.CpuLowering`. Input: tile IR loads, stores and block
values; output: LLVM IR that allocates row-major buffers (stack up to `STACK_LIMIT`, else one
malloc per entry call), reads and writes memory one chunk at a time (plain vector accesses when
a chunk is provably inside its mask, masked intrinsics no wider than one register otherwise,
gathers/scatters for non-contiguous addresses) and copies block values into buffers.
"""

from __future__ import annotations

import math

from llvmlite import ir

from jitlang.ir import BlockType, Op, ScalarType, Value, elem_type, shape_of

from . import elementwise as E
from . import llvmutil as U
from . import stream
from .chunkmask import chunk_full
from .prefetch import emit as emit_prefetch
from .values import Mat, align_of

STACK_LIMIT = 64 * 1024  # bytes; larger buffers are malloc'd once per entry call


class MemoryLowering:
    """Buffers and memory accesses; mixed into `CpuLowering` (uses its `b`, `vals`, `ev`, ...)."""

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

    def load_buf(self, m: Mat, idx, lanes: int) -> ir.Value:
        addr = self.buf_addr(m, idx)
        bt = E.buf_type(m.elem)
        if lanes == 1:
            v = self.b.load(addr, typ=bt)
        elif m.strides[-1] == 1:
            v = self.b.load(addr, typ=ir.VectorType(bt, lanes))
            v.align = align_of(bt)
        else:  # a strided view (transpose): gather the lanes from the buffer
            b = self.b
            base = b.ptrtoint(addr, U.I64)
            step = m.strides[-1] * align_of(bt)
            offs = U.vec_const(U.I64, [i * step for i in range(lanes)])
            ptrs = b.inttoptr(b.add(U.splat(b, base, lanes), offs), ir.VectorType(U.PTR, lanes))
            vt = ir.VectorType(bt, lanes)
            v = self.masked(
                "masked.gather",
                vt,
                [
                    ptrs,
                    ir.Constant(U.I32, align_of(bt)),
                    E.const_vec(U.I1, 1, lanes),
                    ir.Constant(vt, None),
                ],
            )
        return E.buf_to_reg(self.b, v, m.elem)

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
        align = align_of(mt)
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
            v.align = align_of(mt)
            return E.mem_to_reg(b, v, dt)
        rt = E.reg_type(ScalarType(dt))
        other = xs[2] if len(xs) > 2 else ir.Constant(rt, 0 if not dt.is_float else 0.0)
        pre = b.block
        with b.if_then(xs[1]):
            v = b.load(addr, typ=mt)
            v.align = align_of(mt)
            loaded = E.mem_to_reg(b, v, dt)
            then_block = b.block
        phi = b.phi(rt)
        phi.add_incoming(loaded, then_block)
        phi.add_incoming(other, pre)
        return phi

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
            st.align = align_of(E.buf_type(m.elem))

        self.loop_nest(m.shape, body)

    def copy_buf(self, dst: Mat, src: Mat) -> None:
        nbytes = math.prod(dst.shape) * align_of(E.buf_type(dst.elem))
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
        align = align_of(mt)
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
