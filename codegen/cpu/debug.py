"""CPU lowering of `device_print` and `device_assert`: calls into runtime-installed hooks.

Stage: codegen/cpu, a mixin of `lower.CpuLowering`. Block operands are materialised and walked
element by element; the hooks are function pointers in module globals the runtime sets after
loading the object (so compiled code stays relocatable and cacheable).
"""

from __future__ import annotations

import math

from llvmlite import ir

from jitlang.ir import BlockType, Op, scalar_dtype, shape_of

from . import elementwise as E
from . import llvmutil as U
from .values import dt_of, to_f64_i64

PRINT_HOOK = "jl_print_hook"
ASSERT_HOOK = "jl_assert_hook"
# print hook: (site, pid0, pid1, pid2, elem_index, operand, f64 value, i64 bits)
PRINT_FN_TYPE = ir.FunctionType(U.VOID, [U.I32, U.I64, U.I64, U.I64, U.I64, U.I32, U.F64, U.I64])
# assert hook: (site, pid0, pid1, pid2, elem_index)
ASSERT_FN_TYPE = ir.FunctionType(U.VOID, [U.I32, U.I64, U.I64, U.I64, U.I64])


class DebugLowering:
    def _hook(self, name: str, fnty: ir.FunctionType) -> ir.Value:
        """Load the runtime-installed callback `name` as a callable function pointer."""
        g = self.module.globals.get(name)
        if g is None:
            g = ir.GlobalVariable(self.module, U.PTR, name)
            g.initializer = ir.Constant(U.PTR, None)
        return self.b.load(g, typ=fnty.as_pointer())

    def lower_print(self, op: Op) -> None:
        b = self.b
        site = len(self.print_sites)
        self.print_sites.append(
            (
                op.attr.prefix,
                op.attr.hex,
                [[str(scalar_dtype(v.type) or "ptr"), list(shape_of(v.type))] for v in op.operands],
                str(op.loc),
            )
        )
        x, y, z = self.pids
        hook = self._hook(PRINT_HOOK, PRINT_FN_TYPE)

        def call(index, k, val, dt):
            f, i = to_f64_i64(b, val, dt)
            b.call(hook, [ir.Constant(U.I32, site), x, y, z, index, ir.Constant(U.I32, k), f, i])

        if not op.operands:
            call(ir.Constant(U.I64, -1), -1, None, None)
            return
        shape = shape_of(op.operands[0].type)
        if not shape:
            for k, v in enumerate(op.operands):
                call(self.zero, k, self.scalar(v), dt_of(v))
            return
        mats = [self.materialize(v) for v in op.operands]
        n = math.prod(shape)
        with U.for_range(b, self.zero, ir.Constant(U.I64, n), ir.Constant(U.I64, 1), "pr") as i:
            for k, (m, v) in enumerate(zip(mats, op.operands)):
                addr = b.gep(m.ptr, [i], source_etype=E.buf_type(m.elem))
                val = E.buf_to_reg(b, b.load(addr, typ=E.buf_type(m.elem)), m.elem)
                call(i, k, val, dt_of(v))

    def lower_assert(self, op: Op) -> None:
        b = self.b
        site = len(self.assert_sites)
        self.assert_sites.append((op.attr.prefix, op.loc))
        x, y, z = self.pids
        cond_v = op.operands[0]

        def check(index, c):
            with b.if_then(b.not_(c), likely=False):
                hook = self._hook(ASSERT_HOOK, ASSERT_FN_TYPE)
                b.call(hook, [ir.Constant(U.I32, site), x, y, z, index])

        if not isinstance(cond_v.type, BlockType):
            check(self.zero, self.scalar(cond_v))
            return
        m = self.materialize(cond_v)
        n = math.prod(m.shape)
        with U.for_range(b, self.zero, ir.Constant(U.I64, n), ir.Constant(U.I64, 1), "as") as i:
            addr = b.gep(m.ptr, [i], source_etype=U.I8)
            c = b.icmp_unsigned("!=", b.load(addr, typ=U.I8), ir.Constant(U.I8, 0))
            check(i, c)
