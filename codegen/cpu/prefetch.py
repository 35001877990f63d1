"""Software prefetch of the rows a `for` loop will load a few iterations ahead.

Stage: codegen/cpu, used by the `for` lowering. The tutorial softmax is a persistent kernel:
program p loads rows p, p + P, p + 2P, ... Each row starts a new stream that the hardware
prefetchers have not seen (a 1024-float row is one 4 KiB page, and the L2 streamer does not
cross pages), so every row begins with a cache miss per line; one program per row, by contrast,
walks memory in order. A load in a loop body whose address is `S(iv) + offsets`, with `S` a
scalar pointer computed from the induction variable and loop invariants, and `offsets` the same
every iteration, reads at `S(iv + k*step) + offsets` k iterations later: each chunk of the load
prefetches that address. Prefetches never fault, so a distance past the end of the array is
harmless. Loads whose offsets change with the loop (a column loop over one row, a K loop over
a tile) are left to the hardware prefetchers, which follow them. A kernel that is nothing but a
grid-stride loop runs its programs in lockstep instead (`lower.lockstep_loop`: rows in order, as
one program per row would), and its loop is not lowered here; prefetch serves the loops that
cannot, such as those carrying a value or after a store.
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.ir import BlockType, Op, OpKind, Region, Value, elem_type, is_ptr, shape_of

from . import llvmutil as U
from .stream import launch_is_big

AHEAD = 2  # iterations ahead: 1 and 4 measured slower on the persistent softmax (Zen 5)
# Loads only: prefetching the stores' lines for writing measured no clear gain (a median 0.94x
# the time, in a spread of 0.5x to 1.2x, on a loaded 2-core Zen 5), so `lower_store` has the
# hook but the plan does not use it.
KINDS = (OpKind.LOAD,)

_SCALAR_OPS = (OpKind.BINARY, OpKind.PTR_ADD, OpKind.CAST, OpKind.CONSTANT)
_SHAPE_OPS = (OpKind.SPLAT, OpKind.BROADCAST, OpKind.EXPAND_DIMS)


def plan_prefetches(low, body: Region, iv: ir.Value, step: ir.Value) -> dict[int, ir.Value]:
    """{id(op): byte distance to prefetch at} for the loads and stores of `body` that qualify;
    the distances are computed here, at the top of the loop body."""
    defs: dict[int, Op] = {}
    for op in body.ops:
        for r in op.results:
            defs[r.id] = op
    varying = {a.id for a in body.args}  # the induction variable and the carried values
    for op in body.ops:
        if op.regions or any(v.id in varying for v in op.operands):
            varying.update(r.id for r in op.results)

    iv_id = body.args[0].id
    out: dict[int, ir.Value] = {}
    cache: dict[int, ir.Value | None] = {}  # values at iv + AHEAD * step
    now: dict[int, ir.Value | None] = {}  # values at iv
    nxt = None
    for op in body.ops:
        if op.kind not in KINDS:
            continue
        if len(shape_of(op.operands[0].type)) != 1:
            continue
        base = _scalar_base(op.operands[0], defs, varying)
        if base is None or base.id not in varying:
            continue  # no base, or one that does not move with the loop
        if nxt is None:
            b = low.b
            nxt = b.add(iv, b.mul(step, ir.Constant(step.type, AHEAD)))
        at_next = _at(low, base, defs, iv_id, nxt, cache)
        at_now = _at(low, base, defs, iv_id, iv, now)
        if at_next is None or at_now is None:
            continue
        out[id(op)] = low.b.sub(at_next, at_now)  # pointers are i64 here
    return out


def _scalar_base(v: Value, defs: dict[int, Op], varying: set[int]) -> Value | None:
    """The scalar pointer a block of pointers is built from, if its offsets are loop-invariant."""
    while True:
        op = defs.get(v.id)
        if not isinstance(v.type, BlockType):
            return v if is_ptr(v.type) else None
        if op is None:
            return None  # a block defined before the loop: loop-invariant, nothing to do
        if op.kind in _SHAPE_OPS:
            v = op.operands[0]
            continue
        if op.kind is OpKind.PTR_ADD:
            ptr, off = op.operands
            if off.id in varying:
                return None
            v = ptr
            continue
        return None


def _at(low, v: Value, defs, iv_id: int, nxt: ir.Value, cache) -> ir.Value | None:
    """Scalar `v` recomputed with the induction variable at `nxt` (None if it cannot be)."""
    if v.id == iv_id:
        return nxt
    if v.id in cache:
        return cache[v.id]
    op = defs.get(v.id)
    if op is None:
        r = low.vals.get(v.id)
        res = r if isinstance(r, ir.Value) and not isinstance(v.type, BlockType) else None
    elif op.kind not in _SCALAR_OPS or isinstance(v.type, BlockType):
        res = None
    else:
        xs = [_at(low, o, defs, iv_id, nxt, cache) for o in op.operands]
        res = None if any(x is None for x in xs) else low.compute(op, xs, 1)
    cache[v.id] = res
    return res


def emit(low, addr: ir.Value, distance: ir.Value, write: bool = False) -> None:
    """Prefetch (for reading, or writing, into every cache level) `distance` bytes past address
    `addr` (an i64, as the lowering keeps pointers)."""
    b = low.b
    target = b.inttoptr(b.add(addr, distance), U.PTR)
    i32 = ir.IntType(32)
    U.intrinsic(
        b,
        "prefetch",
        ir.VoidType(),
        [target, ir.Constant(i32, int(write)), ir.Constant(i32, 3), ir.Constant(i32, 1)],
        overload=[U.PTR],
    )


PROGRAMS_AHEAD = 2  # the rows of the program two launches later (as AHEAD for loops)
MIN_PROGRAM_BYTES = 512  # smaller blocks: a line or two, which the hardware handles


def plan_program_ahead(low, op: Op) -> None:
    """Prefetch for a large contiguous 1-D block load, at the address this load will have in
    the program the thread runs `PROGRAMS_AHEAD` programs from now.

    Why: one program per row reads a new 4 KiB row per program; a numpy row is not page
    aligned, so each row spans two pages and the L2 streamer, which stops at page boundaries,
    starts every page cold. The kernel measures at run time how far apart consecutive programs
    of a thread read (no analysis of how the address depends on the program id) and prefetches
    that far ahead: for programs run in id order (`_aim_in_order`), or for the lockstep
    schedule of a grid-stride kernel, whose thread runs a group of programs per round and then
    jumps to the group's next rows (`_aim_lockstep`). When the launch is small (below the
    streaming threshold: the data is likely cached) or the distance is not known yet, the
    prefetch targets the load's own address, which costs one instruction per chunk and nothing
    else. A load whose address is the same in every program (layer norm's weights) is left
    alone: it is in cache after the first program."""
    ptr_v = op.operands[0]
    if id(op) in low.prefetch or low.bounds is not None or not isinstance(ptr_v.type, BlockType):
        return
    shape = shape_of(ptr_v.type)
    nbytes = shape[0] * elem_type(ptr_v.type).elem.mem_bytes
    if len(shape) != 1 or nbytes < MIN_PROGRAM_BYTES:
        return
    if low.axis.get(ptr_v).contiguity[-1] % shape[0]:
        return
    if ptr_v.id not in program_varying(low):
        return
    saved = getattr(low, "memo", {})
    low.memo = {}  # values computed here stay here
    here = low.ev(ptr_v, (low.zero,), 1)
    low.memo = saved
    big = launch_is_big(low, nbytes)
    ahead = _slot(low, 0)
    if low.lockstep_at is not None:
        _aim_lockstep(low, here, big, ahead, low.lockstep_at)
    else:
        _aim_in_order(low, here, big, ahead)
    # read back where the chunks are evaluated: a lazy load may be evaluated in a block that
    # its registration does not dominate (a peeled iteration, the other branch of a loop)
    low.program_ahead[id(op)] = ahead


def _slot(low, init: int, typ=U.I64) -> ir.Value:
    """An entry-block variable of the call, set to `init` when the call starts."""
    ab = ir.IRBuilder(low.alloca_block)
    slot = ab.alloca(typ)
    ab.store(ir.Constant(typ, init), slot)
    return slot


def _aim_in_order(low, here: ir.Value, big: ir.Value, ahead: ir.Value) -> None:
    """Programs run in id order: the last two executions of the load are one program apart."""
    b = low.b
    last = _slot(low, 0)
    prev = b.load(last, typ=U.I64)
    b.store(here, last)
    known = b.and_(b.icmp_unsigned("!=", prev, low.zero), big)
    step = b.mul(b.sub(here, prev), ir.Constant(U.I64, PROGRAMS_AHEAD))
    b.store(b.select(known, step, low.zero), ahead)


def _aim_lockstep(low, here: ir.Value, big: ir.Value, ahead: ir.Value, at) -> None:
    """The lockstep schedule (`lockstep.LockstepPosition`): the thread runs programs 0..n-1 of
    its call at round k, then the same programs at round k + 1. From (k, pos) the program
    `PROGRAMS_AHEAD` later is (k + r, q) with r, q = divmod(pos + PROGRAMS_AHEAD, n), and its
    row is r rounds and q - pos positions away: two distances measured at run time, `within` a
    round (between consecutive positions) and `across` rounds (position 0 of two consecutive
    rounds). Measuring the one jump the thread's last two rows happened to be apart would aim
    past the group's next rows at the round's first position, and into the rows of the thread
    running the next group at its last positions.

    The distances are measured at the first execution of the load in each (k, pos) (a load in
    an inner loop runs more than once there: its later executions reuse the distance, so chunk
    j of the row prefetches chunk j of the row ahead), only between executions that really are
    consecutive (a load under an `if` may skip positions)."""
    b = low.b
    i64 = U.I64
    tick = b.add(b.mul(at.k, at.count), at.pos)  # the program's place in the thread's sequence
    tick_last = _slot(low, -1)
    row_last, first, first_tick = _slot(low, 0), _slot(low, 0), _slot(low, -1)
    within, across = _slot(low, 0), _slot(low, 0)
    within_ok, across_ok = _slot(low, 0, U.I1), _slot(low, 0, U.I1)
    last_tick = b.load(tick_last, typ=i64)
    with b.if_then(b.icmp_unsigned("!=", tick, last_tick)):
        one = ir.Constant(i64, 1)
        at_zero = b.icmp_unsigned("==", at.pos, low.zero)
        # within a round: the previous position ran just before
        consec = b.and_(b.icmp_unsigned("==", b.add(last_tick, one), tick), b.not_(at_zero))
        w = b.select(consec, b.sub(here, b.load(row_last, typ=i64)), b.load(within, typ=i64))
        w_ok = b.or_(b.load(within_ok, typ=U.I1), consec)
        # across rounds: position 0 of the previous round
        ft = b.load(first_tick, typ=i64)
        seen_zero = b.icmp_signed(">=", ft, low.zero)  # -1: position 0 has not run yet
        again = b.and_(b.and_(at_zero, seen_zero), b.icmp_unsigned("==", b.add(ft, at.count), tick))
        a = b.select(again, b.sub(here, b.load(first, typ=i64)), b.load(across, typ=i64))
        a_ok = b.or_(b.load(across_ok, typ=U.I1), again)
        for slot, v in (
            (within, w), (within_ok, w_ok), (across, a), (across_ok, a_ok), (row_last, here),
            (tick_last, tick),
            (first, b.select(at_zero, here, b.load(first, typ=i64))),
            (first_tick, b.select(at_zero, tick, ft)),
        ):  # fmt: skip
            b.store(v, slot)
        j = b.add(at.pos, ir.Constant(i64, PROGRAMS_AHEAD))
        rounds, q = b.udiv(j, at.count), b.urem(j, at.count)
        same_round = b.icmp_unsigned("==", rounds, low.zero)
        dist = b.add(b.mul(rounds, a), b.mul(b.sub(q, at.pos), w))
        known = b.and_(b.or_(w_ok, b.icmp_unsigned("==", q, at.pos)), b.or_(a_ok, same_round))
        b.store(b.select(b.and_(known, big), dist, low.zero), ahead)


def program_varying(low) -> set[int]:
    """Ids of the values that may differ between programs (or between the rows of a program's
    grid-stride loop): what the program id reaches, and everything a loop or `if` carries or
    returns (conservatively). Built once per kernel."""
    cached = getattr(low, "_program_varying", None)
    if cached is not None:
        return cached
    varying: set[int] = set()

    def visit(region: Region) -> None:
        for o in region.ops:
            moved = o.kind is OpKind.PROGRAM_ID or any(v.id in varying for v in o.operands)
            for r in o.regions:
                for i, a in enumerate(r.args):
                    if moved or o.kind is not OpKind.FOR or i > 0:
                        varying.add(a.id)  # carried values: whatever the body makes of them
                visit(r)
            if moved or o.regions:
                varying.update(r.id for r in o.results)

    visit(low.fn.body)
    low._program_varying = varying
    return varying
