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

from jitlang.ir import BlockType, Op, OpKind, Region, Value, is_ptr, shape_of

from . import llvmutil as U

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
