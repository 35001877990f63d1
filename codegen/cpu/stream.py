"""Streaming stores for the CPU lowering: a launch's large output bypasses the caches.

Stage: codegen/cpu, a helper of `lower.py`'s `lower_store`. Input: a block store whose rows
(the last dimension) are contiguous in memory and long enough; output: LLVM IR that, at run time,
sends each full row to memory with non-temporal (cache-bypassing) vector stores when the launch
writes more than a threshold through this store (half the host's last-level cache: a global the
driver sets when it loads the kernel, `cachesize.py`), and runs the ordinary chunked store
otherwise.

Why: a plain store first reads its cache line (read-for-ownership), so an output that does not
fit in the caches costs a read and a write of memory, and it evicts the kernel's inputs. A
non-temporal store writes whole lines without reading them and leaves the caches to the inputs
(the same trade glibc's memcpy makes above a fraction of the last-level cache). For an output that
the caches hold, plain stores are faster; hence the size test, made once per launch from the grid
and the trip counts of the enclosing loops (`CpuLowering.trips`), not from guesses at compile time.
A store with Triton's `cache_modifier=".cs"` (streaming: likely accessed once) always streams.

A non-temporal vector store needs an address aligned to its width, and user arrays are not (numpy
places large arrays 16 bytes past a page); it also should write whole cache lines (a partial line
leaves its write-combining buffer half full). The row's chunks are therefore evaluated at the
elements whose addresses start a cache line (`head`, `head + lanes`, ...: a shifted chunk grid)
up to the row's last line boundary, and the `head` elements before them and the `tail` after
take plain stores: whole chunks of the ordinary chunk grid, and of the one partial chunk on each
side, constant power-of-two runs of lanes picked by a switch on its length (no masked store:
AVX2's `vmaskmov` store is slow on AMD). Evaluating a chunk at any element is sound when every
value of the stored expression is, along the row, either contiguous/constant over the whole row
or not vector-accessed at all (`_shift_safe`); other stores never stream.

Non-temporal stores are weakly ordered: the entry point ends with `sfence` when any were emitted,
so the launching thread sees the results, and kernels with atomics never stream (a release would
not order them).
"""

from __future__ import annotations

import math

from llvmlite import ir

from jitlang.ir import BlockType, Op, OpKind, elem_type, shape_of, walk

from . import elementwise as E
from . import llvmutil as U
from .cachesize import DEFAULT_LLC_BYTES, STREAM_GLOBAL
from .chunkmask import chunk_full
from .values import Lazy, Offset

MIN_ROW_BYTES = 512  # shorter rows: head and tail stores would be most of the row
LINE_BYTES = 64  # x86's cache line: the unit a non-temporal store should write whole


def kernel_may_stream(low) -> bool:
    """Whether the kernel may use non-temporal stores at all: an x86 target (the only place the
    closing `sfence` exists), no bounds checks, and no atomics (their ordering would not cover
    non-temporal stores)."""
    if not low.target.nontemporal or low.bounds is not None:
        return False
    return not any(o.kind is OpKind.ATOMIC for o in walk(low.fn.body))


def plan(low, op: Op) -> int | None:
    """The chunk width when `op` is a store that can stream, else None."""
    if not low.may_stream or op.attr is not None and getattr(op.attr, "volatile", False):
        return None
    ptr_v = op.operands[0]
    if not isinstance(ptr_v.type, BlockType):
        return None
    shape = shape_of(ptr_v.type)
    length = shape[-1]
    esize = elem_type(ptr_v.type).elem.mem_bytes
    lanes = low.lanes_for(shape)
    if esize not in (1, 2, 4, 8) or lanes == 1 or length * esize < MIN_ROW_BYTES:
        return None
    if lanes * esize != low.target.vector_bytes or length % lanes:
        return None  # a chunk is one whole register: the unit of alignment
    if low.axis.get(ptr_v).contiguity[-1] % length:  # the whole row at consecutive addresses
        return None
    if not all(_shift_safe(low, v, length, lanes) for v in op.operands[1:]):
        return None
    return lanes


def _shift_safe(low, root, length: int, lanes: int) -> bool:
    """Every block value `root` is computed from can be evaluated for a chunk starting at any
    element of the row: the lowering picks vector loads and whole-chunk mask tests from
    contiguity and constancy in multiples of `lanes`, which hold for a shifted chunk only when
    they hold for the whole row."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        v = todo.pop()
        if v.id in seen or not isinstance(v.type, BlockType):
            continue
        seen.add(v.id)
        info = low.axis.get(v)
        for run in (info.contiguity[-1], info.constancy[-1]):
            if run % lanes == 0 and run % length:
                return False
        r = low.vals.get(v.id)
        if isinstance(r, Lazy):
            todo.extend(r.op.operands)
        elif isinstance(r, Offset):
            todo.append(r.init)
    return True


def emit(low, op: Op, lanes: int, chunk) -> None:
    """Lower store `op` row by row: streamed when the launch is large and the row is whole,
    `chunk(idx, lanes)` (the ordinary per-chunk store) otherwise."""
    b = low.b
    ptr_v, val_v = op.operands[0], op.operands[1]
    mask_v = op.operands[2] if len(op.operands) > 2 else None
    shape = shape_of(ptr_v.type)
    dt = elem_type(ptr_v.type).elem
    mt = E.mem_type(dt)
    vt = ir.VectorType(mt, lanes)
    esize = dt.mem_bytes
    vbytes = lanes * esize
    length = shape[-1]
    if getattr(op.attr, "cache", "") == ".cs":  # Triton's "cache streaming": read once, if at all
        big = ir.Constant(U.I1, 1)
    else:
        big = launch_is_big(low, math.prod(shape) * esize)
    low.streamed = True

    def rows(d: int, ivs: list) -> None:
        if d == len(shape) - 1:
            row(tuple(ivs))
            return
        one = ir.Constant(U.I64, 1)
        with U.for_range(b, low.zero, ir.Constant(U.I64, shape[d]), one, f"d{d}") as iv:
            ivs.append(iv)
            rows(d + 1, ivs)
            ivs.pop()

    def value(at: tuple) -> ir.Value:
        low.memo = {}
        return E.reg_to_mem(b, low.ev(val_v, at, lanes), dt)

    def at_elem(base, j) -> ir.Value:
        return b.inttoptr(b.add(base, b.mul(j, ir.Constant(U.I64, esize))), U.PTR)

    def row(outer: tuple) -> None:
        low.memo = {}
        first = (*outer, low.zero)
        base = low.ev(ptr_v, first, 1)  # byte address of the row's first element
        whole = None if mask_v is None else chunk_full(low, mask_v, first, length)
        if mask_v is not None and whole is None:  # no row-wide test of this mask: never stream
            cond = ir.Constant(U.I1, 0)
        else:
            cond = big
            if whole is not None:
                cond = b.and_(cond, whole)
            if esize > 1:  # an element-aligned row (numpy's always are)
                low_bits = b.and_(base, ir.Constant(U.I64, esize - 1))
                cond = b.and_(cond, b.icmp_unsigned("==", low_bits, low.zero))
        with b.if_else(cond) as (then, otherwise):
            with then:
                stream_row(outer, base)
            with otherwise:
                step = ir.Constant(U.I64, lanes)
                last = f"d{len(shape) - 1}"  # the chunk loop, named as lower.loop_nest names it
                with U.for_range(b, low.zero, ir.Constant(U.I64, length), step, last) as j:
                    low.memo = {}
                    chunk((*outer, j), lanes)

    def stream_row(outer: tuple, base) -> None:
        # non-temporal stores cover whole cache lines only: elements before the row's first
        # line boundary (`head`) and after its last (`tail`) take plain stores
        line = max(LINE_BYTES, vbytes)
        per_line = line // esize
        skew = b.and_(b.sub(low.zero, base), ir.Constant(U.I64, line - 1))
        head = b.udiv(skew, ir.Constant(U.I64, esize))
        body_len = b.and_(b.sub(ir.Constant(U.I64, length), head), ir.Constant(U.I64, -per_line))
        stop = b.add(head, body_len)
        tail = b.sub(ir.Constant(U.I64, length), stop)
        edge(outer, base, head, lanes, per_line, prefix=True)
        edge(outer, base, tail, lanes, per_line, prefix=False)
        with U.for_range(b, head, stop, ir.Constant(U.I64, lanes), "nt") as p:
            st = b.store(value((*outer, p)), at_elem(base, p))
            st.align = vbytes
            st.set_metadata("nontemporal", low.module.add_metadata([ir.Constant(U.I32, 1)]))

    def edge(outer: tuple, base, n, lanes: int, per_line: int, prefix: bool) -> None:
        """Plain stores of the row's first (`prefix`) or last `n` elements, n < per_line: whole
        chunks of the ordinary chunk grid, then the part of one chunk, in pieces of constant
        width chosen by a switch on the part's length (a masked store, `vmaskmov` on AVX2, is
        slow on AMD; these are one or two plain stores each)."""
        for k in range(per_line // lanes):
            j = k * lanes if prefix else length - (k + 1) * lanes  # the chunk's first element
            rel = b.sub(n, ir.Constant(U.I64, k * lanes))  # elements of it to store, if > 0
            with b.if_then(b.icmp_signed(">", rel, low.zero)):
                jj = ir.Constant(U.I64, j)
                v = value((*outer, jj))
                whole = b.icmp_signed(">=", rel, ir.Constant(U.I64, lanes))
                with b.if_else(whole) as (then, otherwise):
                    with then:
                        b.store(v, at_elem(base, jj)).align = esize
                    with otherwise:
                        pieces(v, base, j, rel, prefix)

    def pieces(v, base, j: int, n, prefix: bool) -> None:
        """Store the first (`prefix`) or last `n` lanes of chunk `v` (element `j` on), 0 < n <
        lanes: one case per n, each a few stores of power-of-two lane runs."""
        done = b.append_basic_block("part.done")
        sw = b.switch(n, done)
        for count in range(1, lanes):
            case = b.append_basic_block(f"part.{count}")
            sw.add_case(ir.Constant(U.I64, count), case)
            b.position_at_end(case)
            first = 0 if prefix else lanes - count
            for at, width in _runs(first, count):
                if width == 1:
                    part = b.extract_element(v, ir.Constant(U.I32, at))
                else:
                    idx = ir.Constant(ir.VectorType(U.I32, width), list(range(at, at + width)))
                    part = b.shuffle_vector(v, ir.Constant(vt, ir.Undefined), idx)
                b.store(part, at_elem(base, ir.Constant(U.I64, j + at))).align = esize
            b.branch(done)
        b.position_at_end(done)

    rows(0, [])
    low.memo = {}


def launch_is_big(low, bytes_per_program: int) -> ir.Value:
    """i1: this store writes at least the driver-set threshold (`STREAM_GLOBAL`) over the
    launch: programs x enclosing loops' trip counts x block bytes, in f64 (no overflow)."""
    b = low.b
    g = low.module.globals.get(STREAM_GLOBAL)
    if g is None:
        g = ir.GlobalVariable(low.module, U.I64, STREAM_GLOBAL)
        g.initializer = ir.Constant(U.I64, DEFAULT_LLC_BYTES // 2)
    limit = b.sitofp(b.load(g, typ=U.I64), U.F64)
    gx, gy, gz = low.grid
    total = b.uitofp(b.mul(b.mul(gx, gy), gz), U.F64)
    for t in low.trips:
        total = b.fmul(total, t)
    total = b.fmul(total, ir.Constant(U.F64, float(bytes_per_program)))
    return b.fcmp_ordered(">=", total, limit)


def trip_count(b: ir.IRBuilder, lb: ir.Value, ub: ir.Value, step: ir.Value) -> ir.Value:
    """f64 estimate of a `range(lb, ub, step)` loop's trip count (0 when it does not run)."""
    f = [b.sitofp(v, U.F64) for v in (lb, ub, step)]
    n = b.fdiv(b.fsub(f[1], f[0]), f[2])
    n = U.intrinsic(b, "ceil", U.F64, [n])
    pos = b.fcmp_ordered(">", n, ir.Constant(U.F64, 0.0))
    return b.select(pos, n, ir.Constant(U.F64, 0.0))


def fence(low) -> None:
    """Order the entry's non-temporal stores before its return (x86 `sfence`)."""
    fn = U.declare(low.module, "llvm.x86.sse.sfence", U.VOID, [])
    low.b.call(fn, [])


def _runs(first: int, count: int) -> list[tuple[int, int]]:
    """Lanes [first, first + count) as few runs of power-of-two width, each starting at a
    multiple of its width (a run is one part of the register: an xmm half, a pair, a lane)."""
    out = []
    at, end = first, first + count
    while at < end:
        width = 1
        while at % (width * 2) == 0 and at + width * 2 <= end:
            width *= 2
        out.append((at, width))
        at += width
    return out
