"""Memory planning for the accelerator: an SBUF (and PSUM) byte range for every tile value.

Stage: accel backend pass, after `accel_layout`. Requires: an `AccelPlan` and the target
description (passed in). Guarantees: every needed tile value gets a `Buffer` (space, byte offset
within each partition, bytes per partition, partitions); values whose lifetimes overlap never
share bytes. Lifetimes are intervals over the program-order numbering of ops; a value used
inside a loop it was defined outside of lives until the loop's end; loop-carried values live in
one buffer for the whole loop (the init is copied in before it, the yielded value at the end of
each iteration: "in place"). Partition 0 starts with the register spill area, then a scratch
area the lowering uses for temporaries inside one op. A kernel whose live blocks exceed a
partition's bytes is an `OutOfChipMemoryError` naming the block's line, its size and the limit.
Placement is next fit (each buffer from where the last one ended, `_fit`), falling back to first
fit; blocks that only move by DMA and feed the PE do not size the scratch slots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..dtypes import DType
from ..errors import CompilationError
from ..ir import (
    BinaryOp,
    Function,
    Op,
    OpKind,
    ReduceKind,
    Region,
    Value,
    is_ptr,
    scalar_dtype,
    shape_of,
    walk,
)
from .accel_layout import AccelPlan
from .accel_patterns import combine_kind, splat_operand

ALIGN = 64
SCRATCH_SLOTS = 3
SORT_SLOTS = 5  # a sort's working tiles past SCRATCH_SLOTS (codegen.accel.sort)
MIN_SCRATCH = (
    1024  # bytes per partition of a scratch slot (a transposed 128x128 fp32 chunk fits... half)
)


class OutOfChipMemoryError(CompilationError):
    kind = "out of on-chip memory"


@dataclass(frozen=True)
class Buffer:
    space: str  # "sbuf" | "psum"
    offset: int  # bytes within each partition
    nbytes: int  # bytes per partition
    pn: int


@dataclass
class MemoryPlan:
    buffers: dict[int, Buffer]
    spill_offset: int
    spill_bytes: int
    scratch_offset: int
    scratch_slot_bytes: int
    sbuf_high: int  # highest byte used per partition
    sbuf_limit: int
    scratch_slots: int = SCRATCH_SLOTS
    extra_slot_bytes: int = 0  # size of the slots past the first SCRATCH_SLOTS


def tile_elem_bytes(v: Value) -> int:
    """Bytes per element on chip: pointer blocks are int32 element offsets, int1 one byte."""
    if is_ptr(v.type):
        return 4
    dt = scalar_dtype(v.type)
    return 1 if dt is DType.I1 else dt.mem_bytes


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


class _Lifetimes:
    def __init__(self, plan: AccelPlan, spread: frozenset[int] = frozenset()) -> None:
        self.plan = plan
        self.spread = spread  # loop loads that hold their buffer to the end of the body
        self.pos = 0
        self.start: dict[int, int] = {}
        self.end: dict[int, int] = {}
        self.value: dict[int, Value] = {}
        self.loc: dict[int, Op] = {}
        self.loops: list[tuple[int, list]] = []  # (start pos, values used inside) stack

    def define(self, v: Value, op: Op) -> None:
        if v.id in self.plan.needed:
            self.start.setdefault(v.id, self.pos)
            self.end[v.id] = max(self.end.get(v.id, self.pos), self.pos)
            self.value[v.id] = v
            self.loc.setdefault(v.id, op)

    def use(self, v: Value, depth: int = 0) -> None:
        if v.id not in self.start:
            # a value folded away (a fused splat, an access pattern's offsets) reads its
            # operands wherever it is used
            op = self.plan.producers.get(v.id)
            if op is not None and depth < 8 and not op.regions:
                for o in op.operands:
                    self.use(o, depth + 1)
            return
        if v.id in self.start:
            self.end[v.id] = max(self.end[v.id], self.pos)
            for start, used in self.loops:
                if self.start[v.id] < start:
                    used.append(v.id)

    def region(self, region: Region, owner: Op | None) -> None:
        for a in region.args:
            self.define(a, owner)
        for op in region.ops:
            self.pos += 1
            for v in op.operands:
                self.use(v)
            fused = splat_operand(op, self.plan.producers)
            if fused is not None:  # the op reads the splatted scalar itself (a `ts` operand)
                self.use(fused[1])
            if op.regions:
                loop = op.kind in (OpKind.FOR, OpKind.WHILE)
                if loop:
                    self.loops.append((self.pos, []))
                for r in op.regions:
                    self.region(r, op)
                self.pos += 1
                if loop:
                    _, used = self.loops.pop()
                    for vid in used:
                        self.end[vid] = max(self.end[vid], self.pos)
                    for o in op.regions[-1].ops:
                        if o.kind is OpKind.LOAD and o.result.id in self.spread:
                            if o.result.id in self.end:
                                self.end[o.result.id] = self.pos
                    for r in op.regions:
                        for a in r.args:
                            if a.id in self.start:
                                self.start[a.id] = min(self.start[a.id], self.pos - 1)
                                self.end[a.id] = max(self.end[a.id], self.pos)
            for r in op.results:
                self.define(r, op)


def plan_memory(plan: AccelPlan, target) -> MemoryPlan:
    """Allocate SBUF for every needed tile value (see module docstring). Step "multi_buffer":
    the block loads of a loop body each keep their buffer to the end of the body, so no load
    shares bytes with another load of its loop: a load waits only for the readers of its own
    buffer in the previous iteration, not for every tile the body reads after it, and the DMA
    queues run ahead of the engines. When that does not fit, the last loads in program order
    go back to ordinary lifetimes one at a time."""
    spread = _loop_loads(plan) if "multi_buffer" in getattr(target, "steps", ()) else []
    while True:
        for next_fit in (True, False):  # first fit packs tighter when next fit runs out
            try:
                return _plan(plan, target, frozenset(spread), next_fit)
            except OutOfChipMemoryError:
                if not spread and not next_fit:
                    raise
        spread.pop()


def _loop_loads(plan: AccelPlan) -> list[int]:
    """Ids of needed block loads at the top level of a `for` body, in program order."""
    out = []
    for op in walk(plan.fn.body):
        if op.kind is OpKind.FOR:
            for o in op.regions[0].ops:
                if o.kind is OpKind.LOAD and o.result.id in plan.needed and shape_of(o.result.type):
                    out.append(o.result.id)
    return out


def _plan(plan: AccelPlan, target, spread: frozenset[int], next_fit: bool) -> MemoryPlan:
    fn: Function = plan.fn
    life = _Lifetimes(plan, spread)
    life.region(fn.body, None)
    # loop-carried values: the region argument, the loop's result and (for `for`) share a buffer
    alias: dict[int, int] = {}
    _carried_aliases(fn.body, alias)
    _in_place_chains(plan, alias)
    _loop_to_loop(plan, alias)
    _constant_inits(plan, alias)
    for vid, root in alias.items():  # a needed member makes the whole group live
        if vid in life.value and root not in life.value:
            for d in (life.value, life.loc, life.start, life.end):
                d[root] = d[vid]
    need: dict[int, tuple[int, int]] = {}
    for vid, v in life.value.items():
        lay = plan.layouts.get(vid)
        if lay is None:
            continue
        need[vid] = (lay.pn, _align(lay.free * tile_elem_bytes(v)))
    for vid, root in alias.items():
        if vid in life.start and root in life.start:
            life.start[root] = min(life.start[root], life.start[vid])
            life.end[root] = max(life.end[root], life.end[vid])
    rows = [  # a scan gathers a 1-D block onto one partition: a whole block per slot
        _align(v.type.numel * tile_elem_bytes(v))
        for op in walk(fn.body)
        if op.kind is OpKind.SCAN
        for v in op.operands
    ]
    # slots past the lowering's three (SCRATCH_SLOTS) serve single ops and are sized for them
    n_slots, combines, extra = SCRATCH_SLOTS, [], [ALIGN]
    P = target.partitions
    for op in walk(fn.body):
        if (
            op.kind is OpKind.REDUCE
            and combine_kind(op) in (ReduceKind.MAX, ReduceKind.MIN)
            and scalar_dtype(op.operands[0].type).is_float
            and not general_combine(op)
        ):  # NaN-skipping max/min (codegen.accel.reduce): mask, cleaned copy, flags, NaNs
            n_slots = max(n_slots, SCRATCH_SLOTS + 4)
            lay = plan.layouts.get(op.operands[0].id)
            extra.append(_align(4 * (lay.free if lay else op.operands[0].type.numel)))
        if (
            op.kind is OpKind.ATOMIC
            and op.attr.kind.value in ("max", "min")
            and scalar_dtype(op.operands[1].type).is_float
        ):  # float atomic max/min: the operand with NaN as the identity (codegen.accel.memops)
            n_slots = max(n_slots, SCRATCH_SLOTS + 2)
            lay = plan.layouts.get(op.operands[1].id)
            extra.append(_align(4 * (lay.free if lay else 1)))
        if op.kind is OpKind.REDUCE and combine_kind(op) in _ARG:
            if scalar_dtype(op.operands[0].type).is_float:
                n_slots = max(n_slots, SCRATCH_SLOTS + 3)  # NaN-only slices: flag, index, NaN
                lay = plan.layouts.get(op.operands[0].id)
                extra.append(_align(4 * (lay.free if lay else op.operands[0].type.numel)))
        if op.kind is OpKind.DOT and len(shape_of(op.operands[0].type)) == 3:
            _, m, k = shape_of(op.operands[0].type)
            n = shape_of(op.operands[1].type)[2]
            per = max(k // _parts(k, P) * max(m, n), m // _parts(m, P) * n)
            extra.append(_align(per * 4))  # a batched dot's per-batch tiles (codegen.accel.dot)
            n_slots = max(n_slots, SCRATCH_SLOTS + 4)
        if op.kind in (OpKind.SORT, OpKind.FLIP):  # codegen.accel.sort: the working layout
            shape = shape_of(op.operands[0].type)
            axis = op.attr.axis if op.kind is OpKind.FLIP else len(shape) - 1
            pn, o, n, inner = work_layout(shape, axis, target)
            extra.append(_align(o * n * inner * 4))
            n_slots = max(n_slots, SCRATCH_SLOTS + (SORT_SLOTS if op.kind is OpKind.SORT else 2))
        if general_combine(op):
            pn, o, n, inner = work_layout(shape_of(op.operands[0].type), op.attr.axis, target)
            rows.append(_align(o * n * inner * 4))  # tileops' temporaries are this big too
            extra.append(rows[-1])
            n_slots = max(n_slots, SCRATCH_SLOTS + work_slots(op))
            combines.append((rows[-1], op))
    # the lowering's temporaries are as big as the blocks its ops compute on; a block that is
    # only moved by DMA and read by the tensor engine never meets one, so it does not size them
    scratchless = _dma_and_pe_only(plan)
    slot = max([b for vid, (_, b) in need.items() if vid not in scratchless] + rows + [MIN_SCRATCH])
    extra_slot = max(extra)
    spill = _align(target.spill_bytes)
    base = spill + SCRATCH_SLOTS * slot + (n_slots - SCRATCH_SLOTS) * extra_slot
    limit = target.sbuf_bytes_per_partition
    if base > limit and combines:  # (otherwise the largest block is the one to name, below)
        big = max(combines, key=lambda c: c[0])
        what = f"{big[1].kind.value} of {big[1].operands[0].type}"
        raise OutOfChipMemoryError(
            big[1].loc,
            f"the scratch area needs {base - spill} bytes per partition ({n_slots} slots) for "
            f"the {what}, more than a partition's {limit} bytes",
            "use smaller blocks, or reduce/scan along the last axis with a built-in combine",
        )
    order = sorted(
        (vid for vid in need if alias.get(vid, vid) == vid),
        key=lambda vid: (life.start[vid], -need[vid][1]),
    )
    active: list[tuple[int, int, int]] = []  # (end, offset, size)
    buffers: dict[int, Buffer] = {}
    high = base
    cursor = base  # next fit: see _fit
    for vid in order:
        pn, size = need[vid]
        s = life.start[vid]
        active = [a for a in active if a[0] >= s]
        off = _fit(active, cursor, size, limit) if next_fit else None
        if off is None:
            off = _fit(active, base, size, limit)
        if off is None:
            _too_big(life, vid, size, limit, active, base, slot, n_slots)
        cursor = off + size
        active.append((life.end[vid], off, size))
        buffers[vid] = Buffer("sbuf", off, size, pn)
        high = max(high, off + size)
    # a loop's region arguments share its result's buffer even when the body never reads them
    # (`acc2 = acc1 * 2` each iteration): the lowering copies the init and each yield into it
    region_args = {
        a.id for op in walk(fn.body) if op.kind in (OpKind.FOR, OpKind.WHILE)
        for r in op.regions for a in r.args
    }  # fmt: skip
    for vid, root in alias.items():
        if root in buffers and (vid in need or vid in region_args):
            buffers[vid] = buffers[root]
    return MemoryPlan(buffers, 0, spill, spill, slot, high, limit, n_slots, extra_slot)


_BUILTIN_SCAN = (ReduceKind.SUM, ReduceKind.PROD, ReduceKind.MAX, ReduceKind.MIN)
_ARG = (ReduceKind.ARGMAX, ReduceKind.ARGMIN)
_BUILTIN_REDUCE = _BUILTIN_SCAN + (ReduceKind.XOR, ReduceKind.OR, ReduceKind.AND)


def _parts(n: int, partitions: int) -> int:
    pn = min(partitions, n)
    return pn if n % pn == 0 else 1


def general_combine(op: Op) -> bool:
    """Reductions and scans the lowering does through the general combine (see
    `codegen.accel.combine`): no single engine instruction does them."""
    if op.kind not in (OpKind.REDUCE, OpKind.SCAN):
        return False
    kind = combine_kind(op)
    rank = len(shape_of(op.operands[0].type))
    if op.kind is OpKind.SCAN:
        fast = rank == 1 or rank == 2 and op.attr.axis == 1
        return not (len(op.operands) == 1 and kind in _BUILTIN_SCAN and fast)
    if kind in (ReduceKind.ARGMAX, ReduceKind.ARGMIN):
        return False
    return len(op.operands) != 1 or kind not in _BUILTIN_REDUCE or rank > 2


def work_layout(shape: tuple[int, ...], axis: int, target) -> tuple[int, int, int, int]:
    """The general combine's working layout of a block reduced or scanned along `axis`:
    (pn, o, n, inner) -- the dims before the axis (outer = pn * o of them) over pn partitions,
    each partition holding o x n x inner row-major elements (n along the axis)."""
    outer = math.prod(shape[:axis])
    pn = max(d for d in range(1, min(outer, target.partitions) + 1) if outer % d == 0)
    return pn, outer // pn, shape[axis], math.prod(shape[axis + 1 :])


def work_slots(op: Op) -> int:
    """Scratch slots the general combine of `op` uses beyond the lowering's three: two
    ping-pong sets of its operands and one per value its combine region computes."""
    temps = 0
    if op.regions:
        for o in op.regions[0].ops:
            if o.kind not in (OpKind.YIELD, OpKind.CONSTANT):
                temps += len(o.results)
    return 2 * len(op.operands) + temps


def _carried_aliases(region: Region, alias: dict[int, int]) -> None:
    for op in region.ops:
        for r in op.regions:
            _carried_aliases(r, alias)
        if op.kind is OpKind.FOR:
            body = op.regions[0]
            for j, res in enumerate(op.results):
                alias[body.args[1 + j].id] = res.id
                alias.setdefault(res.id, res.id)
                for dot in _dots_in_place(body, j):
                    alias[dot.result.id] = res.id
        elif op.kind is OpKind.WHILE:
            before, after = op.regions
            for j, res in enumerate(op.results):
                if j < len(before.args):
                    alias[before.args[j].id] = res.id
                if j < len(after.args):
                    alias[after.args[j].id] = res.id
                alias.setdefault(res.id, res.id)
        elif op.kind is OpKind.IF:
            for res in op.results:
                alias.setdefault(res.id, res.id)


def _dma_and_pe_only(plan: AccelPlan) -> set[int]:
    """Ids of float blocks that no lowering temporary is sized for: made by an access-pattern
    load (no fill select), a 2-D dot, a float-to-float cast, a constant (memset) or carried by
    a `for`, and used only as a 2-D dot's operand, an access-pattern store's value, a PE
    transpose to a dot's layout, a float-to-float cast, a `for`'s init or a `for` body's yield
    (`codegen.accel.memops`, `dot`, `tileops.transpose_into`, `_cast`, `_constant` and
    `lower.lower_for` use no scratch of their size)."""
    uses: dict[int, list[Op]] = {}
    loops: dict[int, Op] = {}  # id of a for body's yield -> the for
    cands: list[Value] = []
    for op in walk(plan.fn.body):
        for v in op.operands:
            uses.setdefault(v.id, []).append(op)
        if op.kind is OpKind.FOR:
            body = op.regions[0]
            if body.terminator is not None:
                loops[id(body.terminator)] = op
            cands += [a for a in body.args[1:] if _float_block(a)]
            cands += [r for r in op.results if _float_block(r)]
        elif len(op.results) == 1 and _scratchless_producer(op, plan):
            cands.append(op.result)
    return {
        v.id for v in cands if all(_scratchless_use(u, v, plan, loops) for u in uses.get(v.id, ()))
    }


_PE_FLOATS = (DType.F32, DType.BF16, DType.F16)


def _float_block(v: Value) -> bool:
    return scalar_dtype(v.type) in _PE_FLOATS and bool(shape_of(v.type))


def _float_cast(op: Op) -> bool:
    return (
        op.kind is OpKind.CAST
        and not op.attr.bitcast
        and scalar_dtype(op.operands[0].type) in _PE_FLOATS
        and scalar_dtype(op.result.type) in _PE_FLOATS
    )


def _scratchless_producer(op: Op, plan: AccelPlan) -> bool:
    if not _float_block(op.result):
        return False
    if op.kind is OpKind.LOAD:
        acc = plan.access.get(id(op))
        return len(op.operands) <= 2 and acc is not None and acc.kind == "ap"
    if op.kind is OpKind.DOT:
        return len(shape_of(op.result.type)) == 2
    return op.kind is OpKind.CONSTANT or _float_cast(op)


def _scratchless_use(u: Op, v: Value, plan: AccelPlan, loops: dict[int, Op]) -> bool:
    if u.kind is OpKind.DOT:
        return len(shape_of(u.result.type)) == 2
    if u.kind is OpKind.STORE:
        acc = plan.access.get(id(u))
        return acc is not None and acc.kind == "ap" and u.operands[0] is not v
    if u.kind is OpKind.CONVERT_LAYOUT:
        lay = plan.layouts.get(u.result.id)
        return lay is not None and lay.transposed
    if u.kind is OpKind.FOR:
        return v in u.operands[3:] and v not in u.operands[:3]
    if u.kind is OpKind.YIELD:
        return id(u) in loops
    return _float_cast(u)


def _fit(active, start: int, size: int, limit: int) -> int | None:
    """The lowest offset from `start` where `size` bytes are free of `active` buffers. The
    planner searches from where its last buffer ended, and from the bottom only when that
    fails (next fit): consecutive short-lived blocks then take different bytes, so a block
    need not wait for the last reader of the one before it (the scoreboard orders a write
    after every read of the same bytes: with first fit, each of an epilogue's four
    `acc.to(fp16)` + store waited for the previous store)."""
    off = start
    for _, o, sz in sorted(active, key=lambda a: a[1]):
        if o + sz <= off:
            continue
        if off + size <= o:
            break
        off = o + sz
    return off if off + size <= limit else None


def _constant_inits(plan: AccelPlan, alias: dict[int, int]) -> None:
    """A `for` loop's carried block initialised by a constant that nothing else reads (`acc =
    tl.zeros(...)`): the constant is written straight into the carried buffer, with no copy
    into it before the loop."""
    uses: dict[int, int] = {}
    for op in walk(plan.fn.body):
        for v in op.operands:
            uses[v.id] = uses.get(v.id, 0) + 1
    for op in walk(plan.fn.body):
        if op.kind is not OpKind.FOR:
            continue
        for j, (init, a) in enumerate(zip(op.operands[3:], op.regions[0].args[1:], strict=True)):
            p = plan.producers.get(init.id)
            if p is None or p.kind is not OpKind.CONSTANT or uses.get(init.id) != 1:
                continue
            if init.id in alias or plan.layouts.get(init.id) != plan.layouts.get(a.id):
                continue
            alias[init.id] = alias.get(op.results[j].id, op.results[j].id)


_IN_PLACE = (BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.MAX, BinaryOp.MIN)


def _readers(fn: Function) -> dict[int, list[Op]]:
    out: dict[int, list[Op]] = {}
    for o in walk(fn.body):
        for v in o.operands:
            out.setdefault(v.id, []).append(o)
    return out


def _in_place_chains(plan: AccelPlan, alias: dict[int, int]) -> None:
    """A carried block updated by element-wise ops from the body's argument to the yield (`acc
    += x`, or `acc = acc * s + t`: each op the only reader of the one before, at the body's
    top level, same type and layout) has them write into the carried buffer in place: each
    element is read before it is written, so they need no buffer of their own and the yield
    no copy (a vector-engine copy of the whole block per iteration)."""
    readers = _readers(plan.fn)
    for op in walk(plan.fn.body):
        if op.kind is not OpKind.FOR:
            continue
        body = op.regions[0]
        term = body.terminator
        top = {id(o) for o in body.ops}
        for j, res in enumerate(op.results):
            v = body.args[1 + j]
            lay = plan.layouts.get(v.id)
            if lay is None or not shape_of(v.type) or alias.get(v.id) != res.id:
                continue
            chain: list[Op] = []
            while True:
                rs = readers.get(v.id, [])
                if len(rs) != 1 or rs[0] is term:
                    break
                d = rs[0]
                if (
                    d.kind is not OpKind.BINARY
                    or d.attr.op not in _IN_PLACE
                    or id(d) not in top
                    or d.result.type != v.type
                    or d.operands.count(v) != 1
                    or plan.layouts.get(d.result.id) != lay
                    or d.result.id in alias
                ):
                    chain = []
                    break
                chain.append(d)
                v = d.result
            if chain and term is not None and term.operands.count(v) == 1:
                if term.operands[j] is v and readers.get(v.id) == [term]:
                    for d in chain:
                        alias[d.result.id] = res.id


def _loop_to_loop(plan: AccelPlan, alias: dict[int, int]) -> None:
    """A loop's carried block whose init is another loop's result read by nothing else (the
    main loop and the remainder of `accel_hoist`'s unrolling, the full blocks and the partial
    one of `accel_full_blocks`, consecutive loops over one accumulator) carries on in that
    loop's buffer: no copy into it before the loop."""
    readers = _readers(plan.fn)
    regions = [plan.fn.body] + [r for o in walk(plan.fn.body) for r in o.regions]
    # the two loops in one region: a loop inside another loop reads its init every time
    loops = [(op, {id(o) for o in reg.ops}) for reg in regions for op in reg.ops]
    for op, here in loops:
        if op.kind is not OpKind.FOR:
            continue
        for init, a, res in zip(op.operands[3:], op.regions[0].args[1:], op.results, strict=True):
            p = plan.producers.get(init.id)
            if p is None or p.kind is not OpKind.FOR or id(p) not in here:
                continue
            if len(readers.get(init.id, [])) != 1:
                continue
            if plan.layouts.get(init.id) is None or plan.layouts.get(init.id) != plan.layouts.get(
                a.id
            ):
                continue
            src, dst = alias.get(init.id, init.id), alias.get(res.id, res.id)
            if src == dst:
                continue
            for k, r in alias.items():
                if r == dst:
                    alias[k] = src
            alias[dst] = src


def _dots_in_place(body: Region, j: int) -> list[Op]:
    """The dots that carry value j from `dot(a, b, acc)` to the yield, each reading the
    previous one's result (a body unrolled by `accel_hoist`) or the carried value as its
    accumulator, each result read by nothing else: they add their products into the carried
    buffer in place (an elementwise add of each chunk into itself), so they need no buffer of
    their own and the yield no copy."""
    term = body.terminator
    if term is None or j >= len(term.operands):
        return []
    readers: dict[int, list[Op]] = {}
    for o in walk(body):
        for v in o.operands:
            readers.setdefault(v.id, []).append(o)
    v, chain = body.args[1 + j], []
    while True:
        rs = readers.get(v.id, [])
        if len(rs) != 1:
            return []
        d = rs[0]
        if d is term:
            break
        if d.kind is not OpKind.DOT or d not in body.ops or len(shape_of(d.result.type)) != 2:
            return []
        if d.operands[2] is not v or v in d.operands[:2]:
            return []
        chain.append(d)
        v = d.result
    if not chain or term.operands.count(v) != 1 or term.operands[j] is not v:
        return []
    return chain


def _too_big(
    life: _Lifetimes, vid: int, size: int, limit: int, active, base: int, slot: int, slots: int
) -> None:
    v = life.value[vid]
    op = life.loc[vid]
    live = sum(sz for _, _, sz in active)
    raise OutOfChipMemoryError(
        op.loc if op is not None else None,
        f"block {v.name or 'value'} ({v.type}) needs {size} bytes per partition of SBUF, but "
        f"{live} bytes are held by blocks still live here and {base} by the register spill "
        f"area and the lowering's scratch slots ({slots} slots, the first three of {slot} "
        f"bytes: the largest block an op computes on), of a partition's {limit} bytes",
        "use smaller BLOCK sizes (or fewer blocks live at once / fewer stages)",
    )
