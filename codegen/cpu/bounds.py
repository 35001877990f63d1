"""Debug bounds checking for the CPU target (`JITLANG_BOUNDS_CHECK=1`).

Stage: codegen/cpu (used by `lower.CpuLowering` and `blockops` when enabled). The launcher passes
each array argument's byte range (`np.byte_bounds`) in two extra argument slots. Every load,
store and atomic checks each active lane's address against the range of the array its pointer
was derived from (traced through pointer arithmetic, splats, broadcasts, views, loop carries and
selects); where the origin cannot be traced, against the union of all array arguments. A lane
outside is masked off (so nothing faults) and reported through `jl_bounds_hook`; the runtime then
raises `OutOfBoundsError` naming the kernel's source line, the array and the distance.
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.ir import Function, Op, OpKind, PointerType, Region, elem_type, is_ptr

from . import elementwise as E
from . import llvmutil as U

HOOK = "jl_bounds_hook"
# (site, pid0, pid1, pid2, element index, address, lo, hi)
HOOK_TYPE = ir.FunctionType(U.VOID, [U.I32, U.I64, U.I64, U.I64, U.I64, U.I64, U.I64, U.I64])

_THROUGH = {
    OpKind.PTR_ADD,
    OpKind.SPLAT,
    OpKind.BROADCAST,
    OpKind.EXPAND_DIMS,
    OpKind.HINT,
    OpKind.TRANS,
    OpKind.RESHAPE,
    OpKind.FLIP,
    OpKind.CONVERT_LAYOUT,
    OpKind.CAST,
}


class BoundsChecker:
    def __init__(self, fn: Function) -> None:
        self.fn = fn
        self.sites: list[tuple[str, str, str]] = []  # (access kind, location, array name)
        self.ptr_params = [i for i, p in enumerate(fn.params) if isinstance(p.type, PointerType)]
        self.slots: dict[int, tuple[ir.Value, ir.Value]] = {}  # param position -> (lo, hi)
        self._def: dict[int, Op] = {}
        self._carry: dict[int, list] = {}  # region arg id -> values it can take
        self._index(fn.body)
        self._origin_cache: dict[int, int | None] = {}

    def _index(self, region: Region) -> None:
        for op in region.ops:
            for r in op.results:
                self._def[r.id] = op
            for sub in op.regions:
                self._index(sub)
            if op.kind is OpKind.FOR:
                body = op.regions[0]
                ys = body.terminator.operands
                for a, init, y, r in zip(body.args[1:], op.operands[3:], ys, op.results):
                    self._carry[a.id] = [init, y]
                    self._carry[r.id] = [init, y]
            elif op.kind is OpKind.WHILE:
                before, after = op.regions
                ys = after.terminator.operands
                for a, a2, init, y, r in zip(before.args, after.args, op.operands, ys, op.results):
                    for x in (a, a2, r):
                        self._carry[x.id] = [init, y]
            elif op.kind is OpKind.IF:
                for i, r in enumerate(op.results):
                    self._carry[r.id] = [reg.terminator.operands[i] for reg in op.regions]

    def load_slots(self, b: ir.IRBuilder, argbuf: ir.Value) -> None:
        first = 3 + len(self.fn.params)
        for k, pos in enumerate(self.ptr_params):
            vals = []
            for j in (0, 1):
                addr = b.gep(argbuf, [ir.Constant(U.I64, first + 2 * k + j)], source_etype=U.I64)
                vals.append(b.load(addr, typ=U.I64))
            self.slots[pos] = (vals[0], vals[1])

    def origin(self, v, depth: int = 0) -> int | None:
        """The position of the pointer parameter `v` derives from, or None if unknown/mixed."""
        hit = self._origin_cache.get(v.id, -2)
        if hit != -2:
            return hit
        self._origin_cache[v.id] = None  # cycles through loop carries resolve to None
        res = None
        args = self.fn.body.args
        for i, a in enumerate(args):
            if a is v:
                res = i
        if res is None and depth < 64:
            op = self._def.get(v.id)
            if (
                op is not None
                and op.kind in _THROUGH
                and op.operands
                and is_ptr(op.operands[0].type)
            ):
                res = self.origin(op.operands[0], depth + 1)
            elif op is not None and op.kind is OpKind.SELECT:
                a, c = (self.origin(x, depth + 1) for x in op.operands[1:])
                res = a if a == c else None
            elif v.id in self._carry:
                outs = {self.origin(x, depth + 1) for x in self._carry[v.id]}
                outs.discard(None) if len(outs) > 1 else None
                res = outs.pop() if len(outs) == 1 else None
        self._origin_cache[v.id] = res
        return res

    def check(self, low, op: Op, kind: str, ptr_value, addrs, mask, index0):
        """Return `mask` narrowed to in-bounds lanes; report the first lane that is not."""
        b = low.b
        lanes = E.lanes_of(addrs)
        esize = elem_type(ptr_value.type).elem.mem_bytes
        pos = self.origin(ptr_value)
        ranges = [self.slots[pos]] if pos is not None else list(self.slots.values())
        name = self.fn.params[pos].name if pos is not None else "any array argument"
        end = b.add(addrs, E.const_like(addrs, esize))
        ok = None
        for lo, hi in ranges:
            inside = b.and_(
                b.icmp_unsigned(">=", addrs, U.splat(b, lo, lanes)),
                b.icmp_unsigned("<=", end, U.splat(b, hi, lanes)),
            )
            ok = inside if ok is None else b.or_(ok, inside)
        if ok is None:  # no array arguments at all: nothing is in bounds
            ok = E.const_vec(U.I1, 0, lanes)
        active = mask if mask is not None else E.const_vec(U.I1, 1, lanes)
        bad = b.and_(active, b.not_(ok))
        any_bad = (
            bad
            if lanes == 1
            else b.icmp_unsigned(
                "!=", b.bitcast(bad, ir.IntType(lanes)), ir.Constant(ir.IntType(lanes), 0)
            )
        )
        site = len(self.sites)
        self.sites.append((kind, str(op.loc), name))
        with b.if_then(any_bad, likely=False):
            if lanes == 1:
                lane, addr = ir.Constant(U.I64, 0), addrs
            else:
                bits = b.bitcast(bad, ir.IntType(lanes))
                lane = b.zext(
                    U.intrinsic(b, "cttz", ir.IntType(lanes), [bits, ir.Constant(U.I1, 0)]), U.I64
                )
                addr = b.extract_element(addrs, lane)
            lo, hi = (
                ranges[0] if len(ranges) == 1 else (ir.Constant(U.I64, 0), ir.Constant(U.I64, 0))
            )
            g = low.module.globals.get(HOOK)
            if g is None:
                g = ir.GlobalVariable(low.module, U.PTR, HOOK)
                g.initializer = ir.Constant(U.PTR, None)
            hook = b.load(g, typ=HOOK_TYPE.as_pointer())
            x, y, z = low.pids
            b.call(hook, [ir.Constant(U.I32, site), x, y, z, b.add(index0, lane), addr, lo, hi])
        return b.and_(active, ok)
