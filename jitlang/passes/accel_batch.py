"""Program batching for the accelerator: B consecutive program ids along grid axis 0 run as one
program whose values carry a leading batch dimension, so a kernel written one row per program
(Triton's softmax and layer norm) moves [B, row] tiles with programs on partitions.

Stage: accel backend step "batch_programs" (run by `jitlang.compiler.compile_accel` on the
optimised tile IR, before layout inference). Input: verified tile IR. Output: an equivalent
kernel for a grid whose axis 0 is `cdiv(G, B)`, taking G (the launch's axis-0 size) as one more
integer parameter at the end; the accel driver launches it so (`runtime.accel_driver`).

What it requires (`batchable` checks it; anything else leaves the kernel as it is):
- values that depend on `program_id(0)` ("varying") feed only element-wise ops, shape ops,
  reductions/scans along a block axis, loads, and stores whose pointer varies too;
- control flow is uniform (conditions and loop bounds the same for every program), except the
  grid-stride loop `for i in range(pid + u, ub, step)` with `step` a positive constant or
  `num_programs(0)`, which runs the first lane's trip count with a per-lane active mask;
- no atomics, prints or asserts, no dot or sort of varying values, no store of one address
  from every program, no while loop touching varying values, no varying block of rank 3.
What it guarantees: program id p = b * B + j (lane j of batched program b) computes what
program p computed; lanes with p >= G (the tail) and lanes whose grid-stride loop has ended
neither load nor store (every varying access is masked with the lane's active mask; carried
values of such loops keep their value once a lane is done).

With `copies` = 2 a program runs two groups of B lanes side by side, op by op, each group's
blocks their own tiles, so one group's loads overlap the other's compute. `accel_batch_masks.version_masks` then gives the accesses whose masks only the
batch made non-rectangular an access-pattern path.
"""

from __future__ import annotations

from ..dtypes import DType
from ..ir import (
    Axis,
    Binary,
    BinaryOp,
    BlockType,
    Cmp,
    CmpPred,
    Const,
    Function,
    Op,
    OpKind,
    Param,
    Permute,
    Range,
    Reduce,
    Region,
    ScalarType,
    Scan,
    Type,
    Value,
    elem_type,
    shape_of,
    walk,
)

BATCH_PARAM = "num_programs_0"  # the appended parameter: the launch grid's axis-0 size

I1, I32 = ScalarType(DType.I1), ScalarType(DType.I32)

# ops whose varying operands give varying results with a leading batch dimension
_ELEMENTWISE = {
    OpKind.UNARY,
    OpKind.BINARY,
    OpKind.FMA,
    OpKind.CMP,
    OpKind.SELECT,
    OpKind.CAST,
    OpKind.PTR_ADD,
}
_SHAPE = {
    OpKind.SPLAT,
    OpKind.BROADCAST,
    OpKind.EXPAND_DIMS,
    OpKind.HINT,
    OpKind.REDUCE,
    OpKind.SCAN,
    OpKind.TRANS,
    OpKind.RESHAPE,
    OpKind.FLIP,
}
_NEVER = {OpKind.ATOMIC, OpKind.PRINT, OpKind.ASSERT}
# pure ops that make blocks (what a versioned access's fallback recomputes)
PURE_KINDS = (_ELEMENTWISE | _SHAPE | {OpKind.CONSTANT, OpKind.MAKE_RANGE}) - {
    OpKind.REDUCE,
    OpKind.SCAN,
}


class NotBatchable(Exception):
    """The kernel's programs cannot be proven independent and batchable (the reason says why)."""


def _batched(t: Type, b: int) -> BlockType:
    return BlockType((b,) + shape_of(t), elem_type(t))


# ----------------------------------------------------------------------------------------------
# Which values vary with program_id(0)
# ----------------------------------------------------------------------------------------------


def _varying(fn: Function) -> tuple[set[int], dict[int, Op]]:
    """Ids of the values that depend on program_id(0) (a fixed point over loop-carried values),
    and each value's producer. A value carried by a loop whose bounds vary is varying."""
    var: set[int] = set()
    prod: dict[int, Op] = {}
    for op in walk(fn.body):
        for r in op.results:
            prod[r.id] = op

    def mark(vals) -> bool:
        new = [v.id for v in vals if v.id not in var]
        var.update(new)
        return bool(new)

    def region(reg: Region) -> bool:
        changed = False
        for op in reg.ops:
            ins = any(o.id in var for o in op.operands)
            k = op.kind
            if k is OpKind.FOR:
                body = op.regions[0]
                changed |= region(body)
                ys = body.terminator.operands
                vloop = any(o.id in var for o in op.operands[:3])
                if vloop:
                    changed |= mark([body.args[0]] + body.args[1:] + op.results)
                for init, arg, y, r in zip(op.operands[3:], body.args[1:], ys, op.results):
                    if init.id in var or y.id in var:
                        changed |= mark([arg, r])
            elif k is OpKind.IF:
                for r in op.regions:
                    changed |= region(r)
                for j, r in enumerate(op.results):
                    ys = [reg.terminator.operands[j] for reg in op.regions]
                    if ins or any(y.id in var for y in ys):
                        changed |= mark([r])
            elif k is OpKind.WHILE:
                before, after = op.regions
                changed |= region(before) | region(after)
                cond = before.terminator
                for j, arg in enumerate(before.args):
                    y = after.terminator.operands[j]
                    if op.operands[j].id in var or y.id in var:
                        changed |= mark([arg])
                for j, arg in enumerate(after.args):
                    if cond.operands[1 + j].id in var:
                        changed |= mark([arg, op.results[j]])
            else:
                for r in op.regions:
                    changed |= region(r)
                if ins or (k is OpKind.PROGRAM_ID and op.attr.axis == 0):
                    changed |= mark(op.results)
        return changed

    while region(fn.body):
        pass
    return var, prod


def _const(prod: dict[int, Op], v: Value):
    op = prod.get(v.id)
    if op is not None and op.kind is OpKind.CONSTANT and not isinstance(op.attr.value, bool):
        return op.attr.value
    return None


def _is_pid0(prod: dict[int, Op], v: Value) -> bool:
    op = prod.get(v.id)
    return op is not None and op.kind is OpKind.PROGRAM_ID and op.attr.axis == 0


def _grid_stride_start(prod, var, lb: Value) -> Value | None:
    """For `lb` = pid, pid + u or u + pid (u uniform): u (or None for plain pid); raises when
    `lb` varies some other way (the first lane's trip count would not be the largest)."""
    if _is_pid0(prod, lb):
        return None
    op = prod.get(lb.id)
    if op is not None and op.kind is OpKind.BINARY and op.attr.op is BinaryOp.ADD:
        a, b = op.operands
        if _is_pid0(prod, a) and b.id not in var:
            return b
        if _is_pid0(prod, b) and a.id not in var:
            return a
    raise NotBatchable("a loop's start varies with the program id other than as pid + uniform")


def batchable(fn: Function) -> str | None:
    """None when `batch_programs` can batch `fn`, else the reason it cannot."""
    try:
        _check(fn, *_varying(fn))
    except NotBatchable as e:
        return str(e)
    return None


def _check(fn: Function, var: set[int], prod: dict[int, Op]) -> None:
    if not any(op.kind is OpKind.PROGRAM_ID and op.attr.axis == 0 for op in walk(fn.body)):
        raise NotBatchable("the kernel does not use program_id(0)")
    for op in walk(fn.body):
        k = op.kind
        varies = any(o.id in var for o in op.operands) or any(r.id in var for r in op.results)
        if k in _NEVER:
            raise NotBatchable(f"{k.value} at {op.loc}")
        if k is OpKind.STORE and op.operands[0].id not in var:
            raise NotBatchable(f"store through a pointer every program shares at {op.loc}")
        if k in (OpKind.IF, OpKind.WHILE) and op.operands and op.operands[0].id in var:
            raise NotBatchable(f"a condition varies with the program id at {op.loc}")
        if k is OpKind.WHILE and (
            varies or any(r.id in var for reg in op.regions for x in reg.ops for r in x.results)
        ):
            raise NotBatchable(f"a while loop uses values that vary per program at {op.loc}")
        if k is OpKind.FOR:
            lb, ub, step = op.operands[:3]
            if ub.id in var or step.id in var:
                raise NotBatchable(f"a loop bound varies with the program id at {op.loc}")
            if lb.id in var:
                _grid_stride_start(prod, var, lb)
                if not _positive_step(prod, step):
                    raise NotBatchable(
                        f"a grid-stride loop's step is not known positive at {op.loc}"
                    )
        if not varies or k in (OpKind.FOR, OpKind.IF, OpKind.YIELD, OpKind.RETURN):
            continue
        if any(len(shape_of(r.type)) >= 3 for r in op.results):
            raise NotBatchable(f"a rank-3 block would become rank 4 at {op.loc}")
        if k in (OpKind.LOAD, OpKind.STORE, OpKind.CONSTANT, OpKind.PROGRAM_ID):
            continue
        if k in _ELEMENTWISE or k in _SHAPE:
            if op.regions and any(
                o.id in var for reg in op.regions for x in walk(reg) for o in x.operands
            ):
                raise NotBatchable(f"a combine region uses a per-program value at {op.loc}")
            continue
        raise NotBatchable(f"{k.value} of a per-program value at {op.loc}")


def _positive_step(prod: dict[int, Op], step: Value) -> bool:
    op = prod.get(step.id)
    if op is not None and op.kind is OpKind.NUM_PROGRAMS and op.attr.axis == 0:
        return True
    c = _const(prod, step)
    return isinstance(c, int) and c > 0


# ----------------------------------------------------------------------------------------------
# The rewrite
# ----------------------------------------------------------------------------------------------


class _Batcher:
    """The rewrite. `copies` > 1 runs that many groups of B lanes side by side in one program,
    op by op (each group's blocks are their own tiles), so one group's loads overlap another's
    compute; per-group state is indexed by `cur`."""

    def __init__(self, fn: Function, b: int, copies: int = 1, group_major: bool = False) -> None:
        self.fn, self.b, self.copies, self.group_major = fn, b, copies, group_major
        self.var, self.prod = _varying(fn)
        _check(fn, self.var, self.prod)
        self.ms: list[dict[int, Value]] = [{} for _ in range(copies)]  # old id -> new value
        self.actives: list[Value | None] = [None] * copies  # block<B x i1>: lanes that run
        self.cur = 0
        self.out: list[Op] = []  # the region being built

    @property
    def m(self) -> dict[int, Value]:
        return self.ms[self.cur]

    @property
    def active(self) -> Value:
        return self.actives[self.cur]

    @active.setter
    def active(self, v: Value) -> None:
        self.actives[self.cur] = v

    def share(self, olds) -> None:
        """Values made once for every group (uniform ones): the current group's to all."""
        for o in olds:
            for m in self.ms:
                m[o.id] = self.m[o.id]

    # -- building -------------------------------------------------------------------------
    def emit(self, kind, operands, t: Type, loc, attr=None, name: str = "") -> Value:
        v = Value(t, name)
        self.out.append(Op(kind, list(operands), [v], loc, attr))
        return v

    def const(self, value, t: Type, loc) -> Value:
        return self.emit(OpKind.CONSTANT, [], t, loc, Const(value))

    def binary(self, bop: BinaryOp, a: Value, b: Value, loc) -> Value:
        return self.emit(OpKind.BINARY, [a, b], a.type, loc, Binary(bop))

    def lift(self, old: Value, shape: tuple[int, ...], loc) -> Value:
        """`old`'s new value as a batched block of `shape` (B first): uniform values are
        broadcast over the lanes, varying scalars over the trailing dims."""
        nv = self.m[old.id]
        want = BlockType(shape, elem_type(old.type))
        if nv.type == want:
            return nv
        src = shape_of(nv.type)
        if not src:
            return self.emit(OpKind.SPLAT, [nv], want, loc)
        if old.id in self.var:  # [B, s] -> [B, s, 1, ...] -> shape
            at = len(src)
        else:  # [s] -> [1, s] -> shape
            at, src = 0, ()
            op = self.prod.get(old.id)
            if op is not None and op.kind is OpKind.CONSTANT:  # stays a constant (a DMA fill)
                return self.emit(OpKind.CONSTANT, [], want, loc, op.attr)
            if op is not None and op.kind is OpKind.SPLAT:  # a splat at the batched shape
                return self.emit(OpKind.SPLAT, [self.m[op.operands[0].id]], want, loc)
            if op is not None and op.kind is OpKind.PTR_ADD:
                # a pointer block is rebuilt at the batched shape (its access pattern just
                # gains a zero stride) rather than broadcast as a tile of addresses
                parts = [self.lift(x, shape, loc) for x in op.operands]
                return self.emit(OpKind.PTR_ADD, parts, want, loc, op.attr)
        v = nv
        while len(shape_of(v.type)) < len(shape):
            s = list(shape_of(v.type))
            s.insert(at, 1)
            v = self.emit(OpKind.EXPAND_DIMS, [v], BlockType(tuple(s), want.elem), loc, Axis(at))
        return v if v.type == want else self.emit(OpKind.BROADCAST, [v], want, loc)

    def active_as(self, shape: tuple[int, ...], loc) -> Value:
        v = self.active
        while len(shape_of(v.type)) < len(shape):
            s = shape_of(v.type) + (1,)
            v = self.emit(OpKind.EXPAND_DIMS, [v], BlockType(s, I1), loc, Axis(len(s) - 1))
        want = BlockType(shape, I1)
        return v if v.type == want else self.emit(OpKind.BROADCAST, [v], want, loc)

    def new(self, old: Value) -> Value:
        t = _batched(old.type, self.b) if old.id in self.var else old.type
        v = self.m[old.id] = Value(t, old.name)
        return v

    # -- the function ---------------------------------------------------------------------
    def run(self) -> Function:
        fn = self.fn
        args = [self.new(a) for a in fn.body.args]
        self.share(fn.body.args)
        grid = Value(I32, BATCH_PARAM)
        index = max((p.index for p in fn.params), default=-1) + 1
        params = list(fn.params) + [Param(BATCH_PARAM, I32, 1, index)]
        self.grid = grid
        loc = fn.loc
        b = self.b
        pid = self.emit(OpKind.PROGRAM_ID, [], I32, loc, Axis(0), "pid")
        base = self.binary(BinaryOp.MUL, pid, self.const(b * self.copies, I32, loc), loc)
        vec = BlockType((b,), I32)
        self.lanes = self.emit(OpKind.MAKE_RANGE, [], vec, loc, Range(0, b))
        g = self.emit(OpKind.SPLAT, [grid], vec, loc)
        self.first = base  # group 0's first program id: the smallest
        self.pids, self.offsets = [], []  # per group: its program ids, and minus `first`
        for u in range(self.copies):
            off = self.lanes
            if u:
                off = self.binary(BinaryOp.ADD, off, self.const(u * b, vec, loc), loc)
            self.offsets.append(off)
            pids = self.binary(BinaryOp.ADD, self.emit(OpKind.SPLAT, [base], vec, loc), off, loc)
            self.pids.append(pids)
            self.actives[u] = self.emit(
                OpKind.CMP, [pids, g], BlockType((b,), I1), loc, Cmp(CmpPred.LT)
            )
        body = Region(args + [grid], self.out)
        self.region_ops(fn.body.ops, True)
        return Function(fn.name, params, body, fn.loc, fn.source_files)

    def region(self, old: Region, args: list[Value], types: list | None = None) -> Region:
        """`old` rebuilt; its yield lifted to `types` (every group's, in group order; None:
        a combine region, copied)."""
        saved = self.out, self._yield_fix, self._yield_types
        self.out, self._yield_fix, self._yield_types = [], None, types
        reg = Region(args, self.out)
        self.region_ops(old.ops, types is not None)
        self.out, self._yield_fix, self._yield_types = saved
        return reg

    def region_ops(self, ops: list[Op], control: bool = False) -> None:
        """`ops` rebuilt; `control`: the body of the function, a loop or an if (not a combine
        region), whose straight-line runs go group by group when `group_major`."""
        if not (control and self.group_major and self.copies > 1):
            for op in ops:
                self.op(op)
            return
        run: list[Op] = []
        for op in ops:
            if op.kind in (OpKind.FOR, OpKind.IF, OpKind.WHILE, OpKind.YIELD, OpKind.RETURN):
                self._run_by_group(run)
                run = []
                self.op(op)
            else:
                run.append(op)
        self._run_by_group(run)

    def _run_by_group(self, run: list[Op]) -> None:
        """Straight-line `run` as all of group 0's ops, then group 1's, ... (uniform ones once,
        first), so a group's chain is not queued behind the next group's on an in-order engine."""
        for u in range(self.copies):
            for op in run:
                if not any(o.id in self.var for o in op.operands):
                    if u == 0:
                        self.op(op)
                else:
                    self.cur = u
                    self.varying(op)
                    self.cur = 0

    def each(self, fn) -> None:
        """`fn()` once per group, with `cur` set."""
        for u in range(self.copies):
            self.cur = u
            fn()
        self.cur = 0

    def op(self, op: Op) -> None:
        k = op.kind
        loc = op.loc
        if k is OpKind.PROGRAM_ID and op.attr.axis == 0:
            for m, pids in zip(self.ms, self.pids, strict=True):
                m[op.result.id] = pids
            return
        if k is OpKind.NUM_PROGRAMS and op.attr.axis == 0:
            for m in self.ms:
                m[op.result.id] = self.grid
            return
        if k is OpKind.FOR:
            return self.for_(op)
        if k is OpKind.IF:
            return self.if_(op)
        if k is OpKind.YIELD and self._yield_fix is not None:
            return self._yield_fix(op)
        if k is OpKind.YIELD and self._yield_types is not None:
            n, ys = len(op.operands), []
            for u in range(self.copies):
                self.cur = u
                ys += self._lift_all(op.operands, self._yield_types[u * n : (u + 1) * n], loc)
            self.cur = 0
            self.out.append(Op(k, ys, [], loc, op.attr))
            return
        if not any(o.id in self.var for o in op.operands):
            # the same for every lane: made once (its regions rewritten too), for every group
            regions = [self.region(r, [self.new(a) for a in r.args]) for r in op.regions]
            results = [self.new(r) for r in op.results]
            operands = [self.m[o.id] for o in op.operands]
            self.out.append(Op(k, operands, results, loc, op.attr, regions))
            self.share(op.results)
            return
        self.each(lambda: self.varying(op))

    def varying(self, op: Op) -> None:
        k, loc = op.kind, op.loc
        if k is OpKind.LOAD:
            return self.load(op)
        if k is OpKind.STORE:
            return self.store(op)
        res = op.results[0] if op.results else None
        shape = (self.b,) + shape_of(res.type)
        if k in _ELEMENTWISE:
            operands = op.operands
            if k is OpKind.SELECT and not shape_of(operands[0].type) and shape_of(res.type):
                c = operands[0]
                cond = self.m[c.id] if c.id not in self.var else self.lift(c, shape, loc)
                vals = [self.lift(o, shape, loc) for o in operands[1:]]
                new_ops = [cond] + vals
            else:
                new_ops = [self.lift(o, shape, loc) for o in operands]
            self.out.append(Op(k, new_ops, [self.new(res)], loc, op.attr))
            return
        src = op.operands[0]
        x = self.lift(src, (self.b,) + shape_of(src.type), loc)
        if k is OpKind.HINT:  # the hint is about the unbatched block; dropped
            self.m[res.id] = x
            return
        if k is OpKind.SPLAT:
            self.m[res.id] = self.lift(src, shape, loc)
            return
        attr = op.attr
        if k in (OpKind.EXPAND_DIMS, OpKind.FLIP):
            attr = Axis(attr.axis + 1)
        elif k is OpKind.TRANS:
            attr = Permute((0,) + tuple(o + 1 for o in attr.order))
        elif k is OpKind.REDUCE:
            attr = Reduce(attr.axis + 1, attr.kind, attr.propagate_nan)
        elif k is OpKind.SCAN:
            attr = Scan(attr.axis + 1, attr.kind, attr.reverse)
        operands = [x] + [self.lift(o, (self.b,) + shape_of(o.type), loc) for o in op.operands[1:]]
        cur = self.cur
        regions = [self.region(r, [self.new(a) for a in r.args]) for r in op.regions]
        self.cur = cur
        results = [self.new(r) for r in op.results]
        self.out.append(Op(k, operands, results, loc, attr, regions))

    # how the yield of the region being built is rewritten: `_yield_fix(op)` (a grid-stride
    # loop), or lifted to `_yield_types` (a loop's or an if's results), or copied (None)
    _yield_fix = None
    _yield_types: list | None = None

    def _lift_all(self, olds, types, loc) -> list[Value]:
        return [
            self.m[o.id] if self.m[o.id].type == t else self.lift(o, shape_of(t), loc)
            for o, t in zip(olds, types, strict=True)
        ]

    # -- memory ---------------------------------------------------------------------------
    def _mask(self, old_mask: Value | None, shape, loc) -> Value:
        act = self.active_as(shape, loc)
        if old_mask is None:
            return act
        return self.binary(BinaryOp.AND, self.lift(old_mask, shape, loc), act, loc)

    def load(self, op: Op) -> None:
        ptr = op.operands[0]
        shape = (self.b,) + shape_of(ptr.type)
        mask = self._mask(op.operands[1] if len(op.operands) > 1 else None, shape, op.loc)
        operands = [self.lift(ptr, shape, op.loc), mask]
        if len(op.operands) > 2:
            operands.append(self.lift(op.operands[2], shape, op.loc))
        self.out.append(Op(OpKind.LOAD, operands, [self.new(op.result)], op.loc, op.attr))

    def store(self, op: Op) -> None:
        ptr, val = op.operands[:2]
        shape = (self.b,) + shape_of(ptr.type)
        mask = self._mask(op.operands[2] if len(op.operands) > 2 else None, shape, op.loc)
        operands = [self.lift(ptr, shape, op.loc), self.lift(val, shape, op.loc), mask]
        self.out.append(Op(OpKind.STORE, operands, [], op.loc, op.attr))

    # -- control flow ---------------------------------------------------------------------
    def _carried_types(self, vals) -> list[Type]:
        one = [_batched(v.type, self.b) if v.id in self.var else v.type for v in vals]
        return one * self.copies  # every group carries its own

    def _results(self, op: Op, values: list[Value]) -> None:
        n = len(op.results)
        for u, m in enumerate(self.ms):
            for r, v in zip(op.results, values[u * n : (u + 1) * n], strict=True):
                m[r.id] = v

    def _inits(self, olds, types, loc) -> list[Value]:
        n, out = len(olds), []
        for u in range(self.copies):
            self.cur = u
            out += self._lift_all(olds, types[u * n : (u + 1) * n], loc)
        self.cur = 0
        return out

    def if_(self, op: Op) -> None:
        types = self._carried_types(op.results)
        regions = [self.region(r, [], types) for r in op.regions]
        results = [Value(t, r.name) for t, r in zip(types, op.results * self.copies)]
        self.out.append(
            Op(OpKind.IF, [self.m[op.operands[0].id]], results, op.loc, op.attr, regions)
        )
        self._results(op, results)

    def for_(self, op: Op) -> None:
        lb, ub, step = op.operands[:3]
        body = op.regions[0]
        loc = op.loc
        types = self._carried_types(op.results)
        inits = self._inits(op.operands[3:], types, loc)
        carried = [Value(t, a.name) for t, a in zip(types, body.args[1:] * self.copies)]
        n = len(op.results)
        for u, m in enumerate(self.ms):
            for a, c in zip(body.args[1:], carried[u * n : (u + 1) * n], strict=True):
                m[a.id] = c
        results = [Value(t, r.name) for t, r in zip(types, op.results * self.copies)]
        if lb.id not in self.var:  # uniform trip count: the lanes run in step
            iv = self.new(body.args[0])
            self.share(body.args[:1])
            reg = self.region(body, [iv] + carried, types)
            bounds = [self.m[v.id] for v in (lb, ub, step)]
            self.out.append(Op(OpKind.FOR, bounds + inits, results, loc, op.attr, [reg]))
            self._results(op, results)
            return
        # grid-stride loop: lane 0 (the smallest start) runs the original loop, i0 = lb0, lb0 +
        # step, ...; lane j is at i0 + j (its start is lb0 + j) and runs while that is < ub
        it = elem_type(lb.type)
        u0 = _grid_stride_start(self.prod, self.var, lb)
        lb0 = self.first
        if u0 is not None:
            lb0 = self.binary(BinaryOp.ADD, self.first, self.m[u0.id], loc)
        if lb0.type != it or self.m[ub.id].type != it or self.m[step.id].type != it:
            raise NotBatchable(f"a grid-stride loop mixes integer types at {loc}")
        i0 = Value(it, body.args[0].name)
        saved_out, saved_active = self.out, list(self.actives)
        saved_fix = (self._yield_fix, self._yield_types)
        self.out = []
        reg = Region([i0] + carried, self.out)
        vec = BlockType((self.b,), it)
        at = self.emit(OpKind.SPLAT, [i0], vec, loc)
        ubv = self.emit(OpKind.SPLAT, [self.m[ub.id]], vec, loc)
        for u, m in enumerate(self.ms):
            iv = m[body.args[0].id] = self.binary(BinaryOp.ADD, at, self.offsets[u], loc)
            running = self.emit(
                OpKind.CMP, [iv, ubv], BlockType((self.b,), I1), loc, Cmp(CmpPred.LT)
            )
            self.actives[u] = self.binary(BinaryOp.AND, running, saved_active[u], loc)

        def fix(y: Op) -> None:  # a lane that has finished keeps its carried values
            outs = []
            for u in range(self.copies):
                self.cur = u
                for o, c in zip(y.operands, carried[u * n : (u + 1) * n], strict=True):
                    v = self.lift(o, shape_of(c.type), y.loc)
                    keep = self.active_as(shape_of(c.type), y.loc)
                    outs.append(self.emit(OpKind.SELECT, [keep, v, c], c.type, y.loc))
            self.cur = 0
            self.out.append(Op(OpKind.YIELD, outs, [], y.loc))

        self._yield_fix, self._yield_types = fix, types
        self.region_ops(body.ops, True)
        self.out, self.actives = saved_out, saved_active
        self._yield_fix, self._yield_types = saved_fix
        bounds = [lb0, self.m[ub.id], self.m[step.id]]
        self.out.append(Op(OpKind.FOR, bounds + inits, results, loc, op.attr, [reg]))
        self._results(op, results)


def batch_programs(fn: Function, b: int, copies: int = 1, group_major: bool = False) -> Function:
    """`fn` rewritten to run `b * copies` consecutive program ids of axis 0 as one program,
    `copies` groups of `b` lanes (see the module docstring); raises `NotBatchable` when it
    cannot prove that legal."""
    return _Batcher(fn, b, copies, group_major).run()
