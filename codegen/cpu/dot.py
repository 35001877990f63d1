"""CPU lowering of `dot`: a register-blocked micro-kernel over the operands' packed buffers.

Stage: codegen/cpu (called by `blockops.lower_dot`, which `lower.CpuLowering` dispatches to).
Input: a DOT op with its `DotTiling` (from `passes/layout.py`); its operands are materialised
into dense row-major buffers first (the loads copy them there: the "packing" of a BLAS, done
per block). Output: LLVM IR that updates a buffer of the result.

- The micro-kernel keeps MR rows x NV vectors of accumulators in registers across the K loop:
  per k, NV vector loads of B, MR broadcasts of A and MR*NV FMAs (on AVX2 a 6x2 tile: 12
  accumulators, 2 B vectors and a broadcast in 15 of 16 ymm registers, as OpenBLAS's Haswell
  kernel). It accumulates in place into a loop-carried accumulator when nothing else reads it.
- Next-panel prefetch: a dot inside a K loop whose operands are loads from memory copies
  them at the start of every iteration; those copies miss the caches (rows of a large matrix,
  4 KiB or more apart: one stream per row, more than the hardware prefetchers track), which
  cost 6-7% of a 1024^3 fp32 matmul on Zen 5 with AVX2 (paired against the same kernel reading
  the same, cached, panels every iteration). So the micro-kernel's tiles prefetch, a few lines
  each, the lines the same loads will read one iteration later. The distance is measured at run time (the load's
  address now minus at this dot's previous execution in the same program, or the previous
  program's distance at a program's first execution), so no analysis of how the pointers
  move is needed.
"""

from __future__ import annotations

from llvmlite import ir

from jitlang.dtypes import DType
from jitlang.ir import BlockType, Op, OpKind, elem_type, scalar_dtype, shape_of, walk

from . import elementwise as E
from . import llvmutil as U
from .prefetch import emit as emit_prefetch

LINE = 64  # bytes per cache line on every x86-64 and AArch64 host we target


def lower_dot(low, op: Op) -> None:
    a_v, b_v, c_v = op.operands
    A = low.materialize(a_v)
    B = low.materialize(b_v)
    out_elem = elem_type(op.result.type)
    dt = scalar_dtype(op.result.type)
    inplace = low.inplace_dot.get(id(op))
    # an accumulator that is a constant (`tl.zeros`, the peeled first K iteration) starts in
    # the registers: no buffer of it is written and read back
    src = low.vals.get(c_v.id)
    start = getattr(src, "op", None) if inplace is None else None
    start = c_v if start is not None and start.kind is OpKind.CONSTANT else None
    if inplace is not None:
        C = inplace
    else:
        C = low.alloc(out_elem, shape_of(op.result.type))
        if start is None:
            low.materialize_into(C, c_v)
    shape = shape_of(op.result.type)
    batch = shape[0] if len(shape) == 3 else 1
    M, N = shape[-2], shape[-1]
    K = shape_of(a_v.type)[-1]
    ebytes = 8 if dt in (DType.F64, DType.I64, DType.U64) else 4
    tiling = op.attr.tiling if op.attr is not None else None
    if tiling is None:  # IR that skipped the layout pass: the target's default choice
        from jitlang.passes.layout import choose_tiling

        tiling = choose_tiling(M, N, ebytes, low.target)
    W, NV, MR = tiling.lanes, tiling.nv, tiling.mr
    b = low.b
    is_float = dt.is_float
    vt = E.vec(E.reg_type(out_elem), W)
    ahead = next_panels(low, op) if len(shape) == 2 else []

    def elem_addr(m, bi, i, j):
        idx = ((bi,) if len(shape) == 3 else ()) + (i, j)
        return low.buf_addr(m, idx)

    def vload(m, bi, i, j):
        return low.load_buf(m, ((bi,) if len(shape) == 3 else ()) + (i, j), W)

    def micro(bi):
        full = M - M % MR
        if full:
            sweep(bi, 0, full, MR, NV, ahead)
        if M % MR:  # leftover rows: one shorter tile, as wide as the registers allow
            nv = _leftover_nv(M % MR, N // W, NV, low.target)
            sweep(bi, full, M, M % MR, nv, [] if full else ahead)

    def sweep(bi, lo: int, hi: int, MR: int, NV: int, ahead: list):
        """Tiles of rows lo..hi, row stripes outer: a stripe of A (MR rows of K) stays in L1
        while the tiles walk B (column panels outer measured 1-2% slower on Zen 5, AVX2).
        The prefetches of the next panels are spread over the tiles, in order."""
        n_cols = -(-N // (W * NV))
        parts = -(-(hi - lo) // MR) * n_cols
        step = ir.Constant(U.I64, MR)
        with U.for_range(b, ir.Constant(U.I64, lo), ir.Constant(U.I64, hi), step, "mi") as i0:
            stripe = b.udiv(b.sub(i0, ir.Constant(U.I64, lo)), step)
            with U.for_range(
                b, low.zero, ir.Constant(U.I64, N), ir.Constant(U.I64, W * NV), "nj"
            ) as j0:
                if ahead:
                    col = b.udiv(j0, ir.Constant(U.I64, W * NV))
                    part = b.add(b.mul(stripe, ir.Constant(U.I64, n_cols)), col)
                    for panel in ahead:
                        panel.emit(low, part, parts)
                tile(bi, i0, j0, MR, NV)

    def tile(bi, i0, j0, MR: int, NV: int):
        rows = [i0 if r == 0 else b.add(i0, ir.Constant(U.I64, r)) for r in range(MR)]
        cols = [j0 if v == 0 else b.add(j0, ir.Constant(U.I64, v * W)) for v in range(NV)]
        if start is not None:
            init = [low.ev(start, (rows[0], cols[0]), W)] * (MR * NV)
        else:
            init = [vload(C, bi, rows[r], cols[v]) for r in range(MR) for v in range(NV)]

        def kstep(k, accs):
            bvecs = [vload(B, bi, k, cols[v]) for v in range(NV)]
            out = list(accs)
            for r in range(MR):
                a = low.load_buf(A, ((bi,) if len(shape) == 3 else ()) + (rows[r], k), 1)
                av = U.splat(b, a, W) if W > 1 else a
                for v in range(NV):
                    acc = out[r * NV + v]
                    if is_float:
                        out[r * NV + v] = U.intrinsic(b, "fma", vt, [av, bvecs[v], acc])
                    else:
                        out[r * NV + v] = b.add(acc, b.mul(av, bvecs[v]))
            return out

        accs = U.counted_loop(b, 0, K, 1, init, kstep, "kk")
        for r in range(MR):
            for v in range(NV):
                st = b.store(accs[r * NV + v], elem_addr(C, bi, rows[r], cols[v]))
                st.align = ebytes

    if batch == 1 and len(shape) == 2:
        micro(low.zero)
    else:
        with U.for_range(b, low.zero, ir.Constant(U.I64, batch), ir.Constant(U.I64, 1), "bt") as bi:
            micro(bi)
    low.vals[op.result.id] = C


def _leftover_nv(rows: int, vectors: int, nv: int, target) -> int:
    """Vectors per row of the leftover tile (`rows` < MR rows): a short tile with the full
    tile's NV has too few accumulators to hide the FMA latency, so it takes the widest NV that
    divides the row's `vectors` and fits the register budget (accumulators plus B vectors)."""
    budget = target.vector_registers - target.reserved_registers
    for wide in (8, 6, 4, 3, 2):
        if wide > nv and vectors % wide == 0 and rows * wide + wide <= budget:
            return wide
    return nv


# -- next-panel prefetch ---------------------------------------------------------------------


class _Panel:
    """The lines one operand's load reads, to prefetch at `delta` bytes (the load's run-time
    advance per execution of the dot). The block is `outer` runs of contiguous elements (along
    `axis`, the contiguous one); a run is prefetched at every `step`-th element and at its last
    one (a run need not start on a line): `per_run` prefetches, `outer * per_run` in all."""

    def __init__(self, ptr_v, axis: int, shape: tuple[int, int], ebytes: int, delta) -> None:
        self.ptr_v = ptr_v
        self.axis = axis
        self.outer = shape[1 - axis]
        self.run = shape[axis]
        self.step = max(1, LINE // ebytes)
        self.per_run = (self.run - 1) // self.step + 1 + (1 if (self.run - 1) % self.step else 0)
        self.total = self.outer * self.per_run
        self.delta = delta
        self.on: ir.Value = ir.Constant(U.I1, 1)  # prefetch at all (`_worth_it`)

    def offsets(self) -> list[int]:
        """The elements of a run that are prefetched (`emit` computes the i-th in the IR)."""
        return [min(i * self.step, self.run - 1) for i in range(self.per_run)]

    def emit(self, low, part: ir.Value, parts: int) -> None:
        """Part `part` of `parts` (the tiles of the micro-kernel, in order) prefetches its
        share: a few lines per tile keep the misses in flight few and spread over the dot."""
        b = low.b
        per = -(-self.total // parts)
        i64 = lambda c: ir.Constant(U.I64, c)  # noqa: E731
        first = b.mul(part, i64(per))
        stop = b.add(first, i64(per))
        stop = b.select(b.icmp_signed("<", stop, i64(self.total)), stop, i64(self.total))
        saved = low.memo
        with b.if_then(self.on), U.for_range(b, first, stop, i64(1), "pf") as e:
            low.memo = {}  # values evaluated in this loop stay in it
            o = b.udiv(e, i64(self.per_run))
            at = b.mul(b.urem(e, i64(self.per_run)), i64(self.step))
            at = b.select(b.icmp_signed("<", at, i64(self.run)), at, i64(self.run - 1))
            idx = (o, at) if self.axis == 1 else (at, o)
            emit_prefetch(low, low.ev(self.ptr_v, idx, 1), self.delta)
        low.memo = saved


def next_panels(low, op: Op) -> list[_Panel]:
    """The operand loads of a 2-D `dot` in a loop worth prefetching one execution ahead (see
    the module docstring), with their measured advance; [] for other dots and operands."""
    if low.bounds is not None or not _in_loop(low, op):  # bounds checks: plain accesses
        return []
    producers = _producers(low)
    panels = []
    for v in op.operands[:2]:
        src = producers.get(v.id)
        if src is not None and src.kind is OpKind.CAST:  # fp16 read as fp32 and the like
            src = producers.get(src.operands[0].id)
        if src is None or src.kind is not OpKind.LOAD:
            continue
        ptr_v = src.operands[0]
        if not isinstance(ptr_v.type, BlockType) or len(shape_of(ptr_v.type)) != 2:
            continue
        contiguity = low.axis.get(ptr_v).contiguity
        axis = 1 if contiguity[1] > 1 else 0 if contiguity[0] > 1 else None
        shape = shape_of(ptr_v.type)
        if axis is None or shape[1 - axis] == 1:  # a gather; or a single run, streamed by
            continue  # the hardware prefetchers
        ebytes = elem_type(ptr_v.type).elem.mem_bytes
        panel = _Panel(ptr_v, axis, shape, ebytes, _advance(low, op, len(panels), ptr_v))
        panel.on = _worth_it(low, panel, ebytes)
        panels.append(panel)
    return panels


def _worth_it(low, panel: _Panel, ebytes: int) -> ir.Value:
    """At run time: the load moves (a load before the loop reads the same lines every time),
    and its runs are apart (runs that join into one contiguous range, such as the rows of a
    64x64 tile of a [N, 64] array, are one stream that the hardware prefetchers follow; the
    prefetches would only cost instructions: 15% of the tutorial attention on Zen 5)."""
    b = low.b
    saved = low.memo
    low.memo = {}
    one = ir.Constant(U.I64, 1)
    first = low.ev(panel.ptr_v, (low.zero, low.zero), 1)
    second = low.ev(panel.ptr_v, (one, low.zero) if panel.axis == 1 else (low.zero, one), 1)
    low.memo = saved
    apart = b.icmp_unsigned("!=", b.sub(second, first), ir.Constant(U.I64, panel.run * ebytes))
    return b.and_(apart, b.icmp_unsigned("!=", panel.delta, low.zero))


def _producers(low) -> dict[int, Op]:
    prods = getattr(low, "dot_producers", None)
    if prods is None:
        prods = low.dot_producers = {}
        for o in walk(low.fn.body):
            for r in o.results:
                prods[r.id] = o
    return prods


def _in_loop(low, op: Op) -> bool:
    """`op` lies in the body of a loop (for or while), where it runs more than once."""
    loops = getattr(low, "dot_in_loop", None)
    if loops is None:
        loops = low.dot_in_loop = set()
        for o in walk(low.fn.body):
            if o.kind in (OpKind.FOR, OpKind.WHILE):
                for region in o.regions:
                    loops.update(id(x) for x in walk(region))
    return id(op) in loops


def _advance(low, op: Op, which: int, ptr_v) -> ir.Value:
    """Bytes between the address of `ptr_v[0, 0]` now and at the previous execution of this
    dot by the same program; at a program's first execution, the last distance measured (the
    previous program of this thread moved its pointers alike), or 0 if none was. The slots live
    in the function's entry block and are keyed by the op, so the peeled first iteration of a
    loop and the loop itself (one op lowered twice) share them."""
    b = low.b
    slots = getattr(low, "dot_slots", None)
    if slots is None:
        slots = low.dot_slots = {}
    key = (id(op), which)
    if key not in slots:  # [address, last distance, program id x, y, z]
        ab = ir.IRBuilder(low.alloca_block)
        cells = [ab.alloca(U.I64) for _ in range(2 + len(low.pids))]
        for c, init in zip(cells, [0, 0] + [-1] * len(low.pids)):
            ab.store(ir.Constant(U.I64, init), c)
        slots[key] = cells
    cells = slots[key]
    saved = low.memo
    low.memo = {}
    here = low.ev(ptr_v, (low.zero, low.zero), 1)
    low.memo = saved
    prev = b.load(cells[0], typ=U.I64)
    known = b.icmp_unsigned("!=", prev, low.zero)
    for c, pid in zip(cells[2:], low.pids):
        pid = b.sext(pid, U.I64) if pid.type != U.I64 else pid
        known = b.and_(known, b.icmp_signed("==", b.load(c, typ=U.I64), pid))
        b.store(pid, c)
    b.store(here, cells[0])
    delta = b.select(known, b.sub(here, prev), b.load(cells[1], typ=U.I64))
    b.store(delta, cells[1])
    return delta
