"""CPU lowering of whole-block ops: reductions, scans, dot, transposes/reshapes and atomics.

Stage: codegen/cpu (called by `lower.CpuLowering`). Inputs are materialised into row-major
buffers; results are buffers (or scalars for full reductions of 1-D blocks).
- reduce along the last axis: vector accumulators of `lanes` elements over the axis, then a
  shuffle tree; along another axis: vectors along the last axis, a scalar loop over the axis.
- dot: `dot.lower_dot` (a register-blocked micro-kernel; see codegen/cpu/dot.py).
- trans: a strided view of the materialised input (no copy); reshape: a copy when needed.
- atomics: one `atomicrmw`/`cmpxchg` per active element, sequentially consistent; `poll`
  spins on an acquire load per element against one clock_gettime budget for the whole op.
"""

from __future__ import annotations

import math

from llvmlite import ir

from jitlang.dtypes import DType
from jitlang.ir import (
    AtomicKind,
    BinaryOp,
    BlockType,
    Op,
    OpKind,
    ReduceKind,
    elem_type,
    scalar_dtype,
    shape_of,
    walk,
)

from . import elementwise as E
from . import llvmutil as U
from .debug import ASSERT_FN_TYPE, ASSERT_HOOK
from .dot import lower_dot  # noqa: F401  (dispatched from here by lower.py)
from .values import Lazy, Mat


def _contig_strides(shape) -> tuple[int, ...]:
    return tuple(math.prod(shape[i + 1 :]) for i in range(len(shape)))


# -- combine functions on registers (scalars or vectors) -------------------------------------


def combine(low, op: Op, kind: ReduceKind, accs: list, xs: list) -> list:
    b = low.b
    dt = scalar_dtype(op.operands[0].type)
    if kind is ReduceKind.SUM:
        return [E.binary(b, BinaryOp.ADD, dt, accs[0], xs[0])]
    if kind is ReduceKind.PROD:
        return [E.binary(b, BinaryOp.MUL, dt, accs[0], xs[0])]
    if kind in (ReduceKind.MAX, ReduceKind.MIN):
        bop = BinaryOp.MAX if kind is ReduceKind.MAX else BinaryOp.MIN
        return [E.binary(b, bop, dt, accs[0], xs[0], op.attr.propagate_nan)]
    if kind in (ReduceKind.XOR, ReduceKind.OR, ReduceKind.AND):
        bop = {
            ReduceKind.XOR: BinaryOp.XOR,
            ReduceKind.OR: BinaryOp.OR,
            ReduceKind.AND: BinaryOp.AND,
        }[kind]
        return [E.binary(b, bop, dt, accs[0], xs[0])]
    if kind in (ReduceKind.ARGMAX, ReduceKind.ARGMIN):
        av, ai = accs
        xv, xi = xs
        better = ">" if kind is ReduceKind.ARGMAX else "<"
        from jitlang.ir import CmpPred

        pred = CmpPred.GT if better == ">" else CmpPred.LT
        strictly = E.compare(b, pred, dt, xv, av)
        tie = b.and_(E.compare(b, CmpPred.EQ, dt, xv, av), b.icmp_signed("<", xi, ai))
        if dt.is_float:  # NaN is skipped (Triton); an all-NaN slice gives its last index
            x_nan = b.fcmp_unordered("uno", xv, xv)
            a_nan = b.fcmp_unordered("uno", av, av)
            strictly = b.or_(strictly, b.and_(a_nan, b.not_(x_nan)))
            tie = b.or_(tie, b.and_(b.and_(x_nan, a_nan), b.icmp_signed(">", xi, ai)))
        take = b.or_(strictly, tie)
        return [b.select(take, xv, av), b.select(take, xi, ai)]
    # CUSTOM: evaluate the combine region on these registers
    region = op.regions[0]
    n = len(accs)
    env = {a.id: v for a, v in zip(region.args, accs + xs)}
    lanes = E.lanes_of(accs[0])
    for rop in region.ops:
        if rop.kind is OpKind.YIELD:
            return [env[v.id] for v in rop.operands]
        if rop.kind not in (
            OpKind.CONSTANT,
            OpKind.UNARY,
            OpKind.BINARY,
            OpKind.CMP,
            OpKind.SELECT,
            OpKind.FMA,
            OpKind.CAST,
        ):
            raise low.error(rop, f"{rop.kind.value} is not allowed in a combine function")
        args = [
            env[v.id] if v.id in env else U.splat(b, low.scalar(v), lanes) for v in rop.operands
        ]
        env[rop.result.id] = low.compute(rop, args, lanes)
    raise AssertionError(f"combine region without yield ({n} values)")


def _tree(low, op, kind, vecs: list) -> list:
    """Combine the lanes of `vecs` down to scalars. Built-in kinds fold the upper half onto the
    lower one; a custom combine (associative, not necessarily commutative) folds neighbours,
    even lanes with odd ones, so the result is combined in element order as Triton's
    interpreter does."""
    b = low.b
    w = E.lanes_of(vecs[0])
    while w > 1:
        h = w // 2
        if kind is ReduceKind.CUSTOM:
            lo = [_lanes(b, v, range(0, w, 2)) for v in vecs]
            hi = [_lanes(b, v, range(1, w, 2)) for v in vecs]
        elif h == 1:
            lo = [b.extract_element(v, ir.Constant(U.I32, 0)) for v in vecs]
            hi = [b.extract_element(v, ir.Constant(U.I32, 1)) for v in vecs]
        else:
            m_lo = ir.Constant(ir.VectorType(U.I32, h), list(range(h)))
            m_hi = ir.Constant(ir.VectorType(U.I32, h), list(range(h, w)))
            lo = [b.shuffle_vector(v, v, m_lo) for v in vecs]
            hi = [b.shuffle_vector(v, v, m_hi) for v in vecs]
        vecs = combine(low, op, kind, lo, hi)
        w = h
    return vecs


def _lanes(b, v, idx):
    idx = list(idx)
    if len(idx) == 1:
        return b.extract_element(v, ir.Constant(U.I32, idx[0]))
    return b.shuffle_vector(v, v, ir.Constant(ir.VectorType(U.I32, len(idx)), idx))


# -- loops ---------------------------------------------------------------------------------


def _scalar_nest(low, shape, body):
    """All dims step 1, lanes 1; body(idx)."""
    ivs = []

    def rec(d):
        if d == len(shape):
            low.memo = {}
            body(tuple(ivs))
            return
        if shape[d] == 1:
            ivs.append(low.zero)
            rec(d + 1)
            ivs.pop()
            return
        with U.for_range(
            low.b, low.zero, ir.Constant(U.I64, shape[d]), ir.Constant(U.I64, 1), f"r{d}"
        ) as iv:
            ivs.append(iv)
            rec(d + 1)
            ivs.pop()

    rec(0)


# -- reduce --------------------------------------------------------------------------------


def _single_use(low, v) -> bool:
    """`v` is a lazy block (an elementwise expression not yet in a buffer) with one user."""

    if not isinstance(low.vals.get(v.id), Lazy):
        return False
    counts = getattr(low, "use_counts", None)
    if counts is None:
        counts = low.use_counts = {}
        for o in walk(low.fn.body):
            for x in o.operands:
                counts[x.id] = counts.get(x.id, 0) + 1
    return counts.get(v.id, 0) == 1


def lower_reduce(low, op: Op) -> None:
    shape = shape_of(op.operands[0].type)
    ax = op.attr.axis
    kind = op.attr.kind
    # along the last axis, an operand used by this reduction only is evaluated chunk by chunk
    # inside the reduction loop (x * x summed straight from the loads, no buffer in between)
    fused = ax == len(shape) - 1 and all(_single_use(low, v) for v in op.operands)
    ins = list(op.operands) if fused else [low.materialize(v) for v in op.operands]
    out_shape = shape[:ax] + shape[ax + 1 :]
    outs = [low.alloc(elem_type(r.type), out_shape) if out_shape else None for r in op.results]
    n = shape[ax]

    def load(m, idx_out, k, lanes):
        idx = idx_out[:ax] + (k,) + idx_out[ax:]
        if fused:
            return low.ev(m, idx, lanes)
        return low.load_buf(m, idx, lanes)

    def in_loop(body):
        # values evaluated inside a loop body must not be reused after it (dominance)
        def run(k, accs):
            saved = low.memo
            low.memo = dict(saved)
            try:
                return body(k, accs)
            finally:
                low.memo = saved

        return run

    if ax == len(shape) - 1:
        w = low.lanes_for((n,))
        results = {}

        # commutative kinds: several independent accumulators hide the combine latency
        nacc = 1
        if kind is not ReduceKind.CUSTOM:
            while nacc < 4 and n % (w * nacc * 2) == 0 and n // (w * nacc * 2) >= 2:
                nacc *= 2
        span = w * nacc

        def ordered(idx_out):
            # custom combine: each chunk of w elements folds to one value in element order,
            # then the chunks fold left to right
            def chunk(k):
                return _tree(low, op, kind, [load(m, idx_out, k, w) for m in ins])

            def step(k, accs):
                return combine(low, op, kind, accs, chunk(k))

            red = U.counted_loop(low.b, w, n, w, chunk(low.zero), in_loop(step))
            if out_shape:
                for m, v in zip(outs, red):
                    low.b.store(E.reg_to_buf(low.b, v), low.buf_addr(m, idx_out))
            else:
                results["v"] = red

        def body(idx_out):
            if kind is ReduceKind.CUSTOM and w > 1:
                ordered(idx_out)
                return
            nin = len(ins)
            first = [
                load(m, idx_out, ir.Constant(U.I64, j * w), w) for j in range(nacc) for m in ins
            ]

            def step(k, accs):
                out = []
                for j in range(nacc):
                    kj = k if j == 0 else low.b.add(k, ir.Constant(U.I64, j * w))
                    xs = [load(m, idx_out, kj, w) for m in ins]
                    out += combine(low, op, kind, accs[j * nin : (j + 1) * nin], xs)
                return out

            accs = U.counted_loop(low.b, span, n, span, first, in_loop(step))
            part = accs[:nin]
            for j in range(1, nacc):
                part = combine(low, op, kind, part, accs[j * nin : (j + 1) * nin])
            accs = part
            red = _tree(low, op, kind, accs) if w > 1 else accs
            if out_shape:
                for m, v in zip(outs, red):
                    low.b.store(E.reg_to_buf(low.b, v), low.buf_addr(m, idx_out))
            else:
                results["v"] = red

        _scalar_nest(low, out_shape, body)
        if not out_shape:
            for r, v in zip(op.results, results["v"]):
                low.vals[r.id] = v
            return
    else:

        def body(idx_out, lanes):
            first = [load(m, idx_out, low.zero, lanes) for m in ins]

            def step(k, accs):
                return combine(low, op, kind, accs, [load(m, idx_out, k, lanes) for m in ins])

            accs = U.counted_loop(low.b, 1, n, 1, first, step)
            for m, v in zip(outs, accs):
                st = low.b.store(E.reg_to_buf(low.b, v), low.buf_addr(m, idx_out))
                st.align = 4 if E.lanes_of(v) == 1 else 4

        low.loop_nest(out_shape, body)
    for r, m in zip(op.results, outs):
        low.vals[r.id] = m


# -- scan ----------------------------------------------------------------------------------


def lower_scan(low, op: Op) -> None:
    ins = [low.materialize(v) for v in op.operands]
    shape = ins[0].shape
    ax = op.attr.axis
    kind = op.attr.kind
    rev = op.attr.reverse
    outs = [low.alloc(elem_type(r.type), shape) for r in op.results]
    n = shape[ax]
    outer = shape[:ax] + shape[ax + 1 :]

    def run(idx_out, lanes):
        def at(k):
            return idx_out[:ax] + (k,) + idx_out[ax:]

        first_k = ir.Constant(U.I64, n - 1 if rev else 0)
        first = [low.load_buf(m, at(first_k), lanes) for m in ins]
        for m, v in zip(outs, first):
            low.b.store(E.reg_to_buf(low.b, v), low.buf_addr(m, at(first_k)))

        def step(k, accs):
            new = combine(low, op, kind, accs, [low.load_buf(m, at(k), lanes) for m in ins])
            for m, v in zip(outs, new):
                low.b.store(E.reg_to_buf(low.b, v), low.buf_addr(m, at(k)))
            return new

        if rev:
            U.counted_loop(low.b, n - 2, -1, -1, first, step)
        else:
            U.counted_loop(low.b, 1, n, 1, first, step)

    if ax == len(shape) - 1 or not outer:
        _scalar_nest(low, outer, lambda idx: run(idx, 1))
    else:
        low.loop_nest(outer, run)
    for r, m in zip(op.results, outs):
        low.vals[r.id] = m


# -- shape changes ---------------------------------------------------------------------------


def lower_convert_layout(low, op: Op) -> None:
    """To dense row-major: a contiguous copy (a no-op when the value already is one)."""
    src = low.vals.get(op.operands[0].id)

    if isinstance(src, Mat) and src.strides == _contig_strides(src.shape):
        low.vals[op.result.id] = src
        return
    dense = low.alloc(elem_type(op.result.type), shape_of(op.result.type))
    low.materialize_into(dense, op.operands[0])
    low.vals[op.result.id] = dense


def lower_trans(low, op: Op) -> None:
    src = low.materialize(op.operands[0])
    order = op.attr.order

    view = Mat(src.ptr, shape_of(op.result.type), src.elem)
    view.strides = tuple(src.strides[i] for i in order)
    low.vals[op.result.id] = view


def lower_reshape(low, op: Op) -> None:
    src = low.materialize(op.operands[0])

    if src.strides != _contig_strides(src.shape):
        dense = low.alloc(src.elem, src.shape)
        low.materialize_into(dense, op.operands[0])
        src = dense
    low.vals[op.result.id] = Mat(src.ptr, shape_of(op.result.type), src.elem)


def lower_flip(low, op: Op) -> None:
    src = low.materialize(op.operands[0])

    d = op.attr.axis
    n = src.shape[d]
    b = low.b
    off = (n - 1) * src.strides[d]
    ptr = b.gep(src.ptr, [ir.Constant(U.I64, off)], source_etype=E.buf_type(src.elem))
    view = Mat(ptr, src.shape, src.elem)
    view.strides = tuple(-s if i == d else s for i, s in enumerate(src.strides))
    low.vals[op.result.id] = view


def lower_sort(low, op: Op) -> None:
    """Bitonic sort of every row (last axis) of a materialised copy; O(n log^2 n) per row."""
    from jitlang.ir import CmpPred

    b = low.b
    m = low.alloc(elem_type(op.result.type), shape_of(op.result.type))
    low.materialize_into(m, op.operands[0])
    shape = m.shape
    n = shape[-1]
    dt = scalar_dtype(op.result.type)
    desc = op.attr.descending
    bt = E.buf_type(m.elem)

    def row(idx_out):
        base = low.buf_addr(m, idx_out + (low.zero,))
        k = 2
        while k <= n:
            j = k // 2
            while j >= 1:
                with U.for_range(
                    b, low.zero, ir.Constant(U.I64, n), ir.Constant(U.I64, 1), "bs"
                ) as i:
                    partner = b.xor(i, ir.Constant(U.I64, j))
                    with b.if_then(b.icmp_unsigned(">", partner, i)):
                        pi = b.gep(base, [i], source_etype=bt)
                        pl = b.gep(base, [partner], source_etype=bt)
                        vi = E.buf_to_reg(b, b.load(pi, typ=bt), m.elem)
                        vl = E.buf_to_reg(b, b.load(pl, typ=bt), m.elem)
                        up = b.icmp_unsigned("==", b.and_(i, ir.Constant(U.I64, k)), low.zero)
                        if desc:
                            up = b.not_(up)
                        gt = E.compare(b, CmpPred.GT, dt, vi, vl)
                        if dt.is_float:  # NaN orders above everything (numpy puts it last)
                            nan_i = b.fcmp_unordered("uno", vi, vi)
                            num_l = b.fcmp_ordered("ord", vl, vl)
                            gt = b.or_(gt, b.and_(nan_i, num_l))
                        swap = b.icmp_unsigned("==", gt, up)
                        with b.if_then(swap):
                            b.store(E.reg_to_buf(b, vl), pi)
                            b.store(E.reg_to_buf(b, vi), pl)
                j //= 2
            k *= 2

    _scalar_nest(low, shape[:-1], row)
    low.vals[op.result.id] = m


# -- atomics ---------------------------------------------------------------------------------

_RMW = {
    AtomicKind.ADD: ("add", "fadd"),
    AtomicKind.MAX: ("max", "fmax"),
    AtomicKind.MIN: ("min", "fmin"),
    AtomicKind.AND: ("and", None),
    AtomicKind.OR: ("or", None),
    AtomicKind.XOR: ("xor", None),
    AtomicKind.XCHG: ("xchg", "xchg"),
}


def _atomic_one(low, op: Op, ptr, vals: list, dt: DType):
    b = low.b
    kind = op.attr.kind
    if dt is DType.I1:
        raise low.error(op, "atomics on int1 are not supported (nor in Triton)")
    addr = b.inttoptr(ptr, U.PTR)
    if dt in (DType.F16, DType.BF16) or (dt.is_float and kind is AtomicKind.CAS):
        return _float_atomic_on_bits(low, op, addr, vals, dt)
    if kind is AtomicKind.CAS:
        cmp, val = vals
        res = b.cmpxchg(
            addr, E.reg_to_mem(b, cmp, dt), E.reg_to_mem(b, val, dt), "seq_cst", "seq_cst"
        )
        return E.mem_to_reg(b, b.extract_value(res, 0), dt)
    name_i, name_f = _RMW[kind]
    if dt.is_float:
        rmw = name_f
        if rmw is None:
            raise low.error(op, f"atomic_{kind.value} needs integers")
    else:
        rmw = name_i
        if kind in (AtomicKind.MAX, AtomicKind.MIN) and dt.is_unsigned:
            rmw = "u" + rmw
    v = E.reg_to_mem(b, vals[0], dt)
    return E.mem_to_reg(b, b.atomic_rmw(rmw, addr, v, "seq_cst"), dt)


def _float_atomic_on_bits(low, op: Op, addr, vals: list, dt: DType):
    """A float atomic as integer `cmpxchg` on the element's bits: LLVM's cmpxchg takes no
    floats, and half/bfloat `atomicrmw` is not portable. CAS compares bits (like PTX's
    atom.cas.b32); add/max/min retry until no other thread changed the element meanwhile."""
    b = low.b
    kind = op.attr.kind
    ity = ir.IntType(dt.bits)

    def to_bits(v):
        if dt is DType.F16:
            return b.bitcast(b.fptrunc(v, E.HALF), ity)
        if dt is DType.BF16:
            return E.bf16_round_bits(b, v)
        return b.bitcast(v, ity)

    def from_bits(v):
        if dt is DType.F16:
            return b.fpext(b.bitcast(v, E.HALF), U.F32)
        if dt is DType.BF16:
            return E.bf16_bits_to_f32(b, v)
        return b.bitcast(v, E.reg_type_of(dt))

    if kind is AtomicKind.CAS:
        res = b.cmpxchg(addr, to_bits(vals[0]), to_bits(vals[1]), "seq_cst", "seq_cst")
        return from_bits(b.extract_value(res, 0))
    if kind is AtomicKind.XCHG:
        return from_bits(b.atomic_rmw("xchg", addr, to_bits(vals[0]), "seq_cst"))
    bop = {AtomicKind.ADD: BinaryOp.ADD, AtomicKind.MAX: BinaryOp.MAX, AtomicKind.MIN: BinaryOp.MIN}
    if kind not in bop:
        raise low.error(op, f"atomic_{kind.value} needs integers")
    pre = b.block
    first = b.load(addr, typ=ity)
    first.align = dt.mem_bytes
    loop = b.append_basic_block("atomic.retry")
    done = b.append_basic_block("atomic.done")
    b.branch(loop)
    b.position_at_end(loop)
    cur = b.phi(ity)
    cur.add_incoming(first, pre)
    new = E.binary(b, bop[kind], dt, from_bits(cur), vals[0])
    res = b.cmpxchg(addr, cur, to_bits(new), "seq_cst", "seq_cst")
    cur.add_incoming(b.extract_value(res, 0), b.block)
    b.cbranch(b.extract_value(res, 1), done, loop)
    b.position_at_end(done)
    return from_bits(cur)


def _now_ns(low) -> ir.Value:
    """CLOCK_MONOTONIC in nanoseconds (libc's clock_gettime, found in the process by the JIT)."""
    b = low.b
    if getattr(low, "poll_timespec", None) is None:
        low.poll_timespec = ir.IRBuilder(low.alloca_block).alloca(ir.ArrayType(U.I64, 2))
    fn = U.declare(low.module, "clock_gettime", U.I32, [U.I32, U.PTR])
    ts = low.poll_timespec
    b.call(fn, [ir.Constant(U.I32, 1), b.bitcast(ts, U.PTR)])  # 1: CLOCK_MONOTONIC
    sec = b.load(b.gep(ts, [low.zero, low.zero]), typ=U.I64)
    nsec = b.load(b.gep(ts, [low.zero, ir.Constant(U.I64, 1)]), typ=U.I64)
    return b.add(b.mul(sec, ir.Constant(U.I64, 1_000_000_000)), nsec)


def _lower_poll(low, op: Op) -> None:
    """tl.atomic_poll: per element, acquire loads until the value equals `expected` (true) or
    the budget since the op began runs out (false; each element is loaded at least once). A
    negative budget -g is an untimed poll: after g ns it fails the launch at its line."""
    b = low.b
    ptr_v, exp_v, t_v = op.operands
    dt = elem_type(ptr_v.type).elem
    ity = ir.IntType(dt.bits)
    site = len(low.assert_sites)
    low.assert_sites.append(
        (
            "tl.atomic_poll without timeout_ns gave up waiting (deadlock guard): the value it waits for is never stored, or is stored by a program of this launch "
            "that cannot run before this one ends (CPU programs share a few threads); pass "
            "timeout_ns, or set the value before the launch",
            op.loc,
        )
    )
    start = _now_ns(low)

    def one(ptr, expected, budget, index):
        addr = b.inttoptr(ptr, U.PTR)
        want = E.reg_to_mem(b, expected, dt)
        guard = b.icmp_signed("<", budget, ir.Constant(U.I64, 0))
        limit = b.select(guard, b.neg(budget), budget)
        loop = b.append_basic_block("poll.load")
        wait = b.append_basic_block("poll.wait")
        fail = b.append_basic_block("poll.guard")
        done = b.append_basic_block("poll.done")
        b.branch(loop)
        b.position_at_end(loop)
        cur = b.load_atomic(addr, "acquire", dt.mem_bytes, typ=ity)
        b.cbranch(b.icmp_unsigned("==", cur, want), done, wait)
        b.position_at_end(wait)
        spent = b.sub(_now_ns(low), start)
        out = b.icmp_signed(">=", spent, limit)
        with b.if_then(b.and_(out, guard), likely=False):
            x, y, z = low.pids
            b.call(
                low._hook(ASSERT_HOOK, ASSERT_FN_TYPE), [ir.Constant(U.I32, site), x, y, z, index]
            )
        b.cbranch(out, fail, loop)
        b.position_at_end(fail)
        b.branch(done)
        b.position_at_end(done)
        ok = b.phi(U.I1)
        ok.add_incoming(ir.Constant(U.I1, 1), loop)
        ok.add_incoming(ir.Constant(U.I1, 0), fail)
        return ok

    if not isinstance(ptr_v.type, BlockType):
        low.vals[op.result.id] = one(
            low.scalar(ptr_v), low.scalar(exp_v), low.scalar(t_v), low.zero
        )
        return
    shape = shape_of(ptr_v.type)
    out = low.alloc(elem_type(op.result.type), shape)
    strides = _contig_strides(shape)

    def body(idx):
        flat = low.zero
        for i, st in zip(idx, strides):
            flat = b.add(flat, b.mul(i, ir.Constant(U.I64, st)))
        ok = one(low.ev(ptr_v, idx, 1), low.ev(exp_v, idx, 1), low.ev(t_v, idx, 1), flat)
        b.store(E.reg_to_buf(b, ok), low.buf_addr(out, idx))

    _scalar_nest(low, shape, body)
    low.vals[op.result.id] = out


def lower_atomic(low, op: Op) -> None:
    if op.attr.kind is AtomicKind.POLL:
        _lower_poll(low, op)
        return
    b = low.b
    ptr_v = op.operands[0]
    dt = elem_type(ptr_v.type).elem
    kind = op.attr.kind
    nvals = 2 if kind is AtomicKind.CAS else 1
    val_vs = op.operands[1 : 1 + nvals]
    mask_v = op.operands[1 + nvals] if len(op.operands) > 1 + nvals else None
    rt = E.reg_type(elem_type(op.result.type))
    if not isinstance(ptr_v.type, BlockType):
        ptr = low.scalar(ptr_v)
        vals = [low.scalar(v) for v in val_vs]
        mask = low.scalar(mask_v) if mask_v is not None else None
        if low.bounds is not None:
            mask = low.bounds.check(low, op, "atomic", ptr_v, ptr, mask, low.zero)
        if mask is None:
            low.vals[op.result.id] = _atomic_one(low, op, ptr, vals, dt)
            return
        pre = b.block
        with b.if_then(mask):
            old = _atomic_one(low, op, ptr, vals, dt)
            then_b = b.block
        phi = b.phi(rt)
        phi.add_incoming(old, then_b)
        phi.add_incoming(ir.Constant(rt, 0.0 if dt.is_float else 0), pre)
        low.vals[op.result.id] = phi
        return
    shape = shape_of(ptr_v.type)
    out = low.alloc(elem_type(op.result.type), shape)

    def body(idx):
        ptr = low.ev(ptr_v, idx, 1)
        vals = [low.ev(v, idx, 1) for v in val_vs]
        dst = low.buf_addr(out, idx)
        mask = low.ev(mask_v, idx, 1) if mask_v is not None else None
        if low.bounds is not None:
            mask = low._check(op, "atomic", ptr_v, idx, 1, mask)
        if mask is None:
            b.store(E.reg_to_buf(b, _atomic_one(low, op, ptr, vals, dt)), dst)
            return
        with b.if_else(mask) as (then, other):
            with then:
                b.store(E.reg_to_buf(b, _atomic_one(low, op, ptr, vals, dt)), dst)
            with other:
                b.store(
                    ir.Constant(E.buf_type(elem_type(op.result.type)), 0.0 if dt.is_float else 0),
                    dst,
                )

    _scalar_nest(low, shape, body)
    low.vals[op.result.id] = out
