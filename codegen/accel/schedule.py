"""Scheduling: the order of engine instructions and the DMA queue each transfer runs on.

Stage: codegen/accel backend, after `regalloc`. Input: an `MFunction` on physical registers and
the target. Output: the same function, each block's instructions in scheduled order and every
DMA's queue chosen.

Why order matters: the sequencer dispatches in program order and every engine and DMA queue is
an in-order queue, so a block's program order is each engine's execution order. The results do
not depend on it as long as every dependent pair keeps its order (the emulator computes in
program order; the hardware scoreboard only delays), which is what the list scheduler keeps.

Step "list_schedule" (named in `target.steps`; off, blocks keep program order):
1. Dependencies within a block, conservatively: registers (read after write, write after read
   and write after write of one physical register, `r0` excepted); on-chip tiles by their
   bounding rectangles (partitions x bytes; a tile addressed through a register spans its whole
   partitions); HBM patterns by byte ranges relative to one base register when both use the
   same definition of it, otherwise any HBM write conflicts with any HBM access. Branches,
   `halt`, `check` (a device assertion stops the program) and atomics are barriers: nothing
   moves across them.
2. Priority: the critical path to the block's end (the longest chain of costs and result
   latencies below the instruction), with costs from the timing model's table (`isa.timing`).
3. A list scheduler over a model of the machine (one in-order queue per engine, the DMA queues
   and the core's shared DMA bandwidth): it repeatedly takes, of the instructions whose
   predecessors are placed, one that can start earliest, the one with the longest critical
   path among those (program order breaks ties).

Queues: a store, and with the step any transfer that reads what compute writes in its block (a
load of computed indices), is "late": late transfers rotate over the last quarter of the queues, so
that few loads queue behind a transfer that waits for compute; the others rotate over all
queues (keeping loads off the last quarter made NKI step 2 43.44 -> 46.45 ms and gained
nothing on softmax or layer norm). Loads want many queues: a load
behind a load that waits for its buffer (multi-buffered loop loads wait for the previous
readers of their buffer) stalls its queue too (NKI tutorial step 1 on nc-v2: 67.3 ms with
loads on 8 queues, 54.0 ms on 16; layer norm 4096x1024: 874 us with stores on half the queues,
810 us on a quarter).
"""

from __future__ import annotations

import heapq
import math

from isa.dtypes import NUMPY, DType
from isa.machine import get_config
from isa.operands import HbmAP, Tile
from isa.table import Kind
from isa.timing import cost_ns, engine_clock_ghz
from isa.trace import CostKind, CostParams, Engine, exec_record

from .mir import HbmOp, MFunction, MInstr, ScalarOp

STEP = "list_schedule"

_LOADS = ("dma.load", "dma.gather")
_STORES = ("dma.store", "dma.scatter", "dma.copy", "atomic", "cas")
_ATOMICS = frozenset({"atomic", "cas", "atomic.ind"})
_WRITTEN = frozenset({"dst", "accum", "old"})  # tile fields an instruction writes
_PRIORITY_LEVELS = 16  # critical paths compare in steps of 1/16 of the longest
_MAX_BLOCK = 4000  # longer blocks keep program order (the dependency scan is quadratic)
_BYTES = {int(d): NUMPY[d].itemsize for d in DType}  # element bytes by isa dtype code
_BF16 = int(DType.BF16)


def schedule(mf: MFunction, target) -> MFunction:
    """Order each block (step "list_schedule") and choose every DMA's queue."""
    on = STEP in getattr(target, "steps", ())
    late: set[int] = set()
    if on:
        config = get_config(target.config)
        for b in mf.blocks:
            if len(b.instrs) <= _MAX_BLOCK:
                b.instrs, waits = _schedule_block(b.instrs, config)
                late.update(waits)
    _assign_queues(mf, target, late if on else None)
    return mf


# --- queues ------------------------------------------------------------------------------------


def _assign_queues(mf: MFunction, target, late: set[int] | None) -> None:
    """Round-robin queues: late transfers (stores; with the step, also loads waiting on
    compute) over the last quarter, the others over all queues."""
    nq = target.dma_queues
    nst = max(1, nq // 4)
    nload = nstore = 0
    for b in mf.blocks:
        for ins in b.instrs:
            m = ins.mnemonic
            if m not in _LOADS and m not in _STORES:
                continue
            is_late = m in _STORES if late is None else (m in _STORES or id(ins) in late)
            i = 1 if m == "atomic" else 0
            if is_late:
                ins.ops[i] = (nq - nst) + nstore % nst
                nstore += 1
            else:
                ins.ops[i] = nload % nq
                nload += 1


# --- what an instruction reads and writes ----------------------------------------------------


def _elem_bytes(dtype: int) -> int:
    return _BYTES[dtype]


def _reach(dims, size: int) -> tuple[int, int]:
    """Byte offsets [lo, hi) a pattern reaches from its first element."""
    lo = hi = 0
    for d in dims:
        s, n = d[0], d[1]
        step = (n - 1) * s
        if step < 0:
            lo += step
        else:
            hi += step
    return lo * size, (hi + 1) * size


class _Acc:
    """One memory access: space (0 HBM, 1 SBUF, 2 PSUM), partitions [p0, p1), bytes [lo, hi)
    relative to `base` (None: absolute; a key of one register definition for HBM; "any":
    unknown, overlaps everything in its partitions)."""

    __slots__ = ("space", "p0", "p1", "lo", "hi", "base", "write")

    def __init__(self, space, p0, p1, lo, hi, base, write):
        self.space, self.p0, self.p1 = space, p0, p1
        self.lo, self.hi, self.base, self.write = lo, hi, base, write

    def conflicts(self, o: _Acc) -> bool:
        if self.space != o.space or not (self.write or o.write):
            return False
        if self.p0 >= o.p1 or o.p0 >= self.p1:
            return False
        if self.base == "any" or o.base == "any" or self.base != o.base:
            return True
        return self.lo < o.hi and o.lo < self.hi


def _tile_acc(t: Tile, write: bool) -> _Acc | None:
    if t.space == 0:
        return None
    size = _elem_bytes(t.dtype)
    lo, hi = _reach(t.dims, size)
    base = None if t.reg == 0 else "any"
    return _Acc(t.space, t.p0, t.p0 + t.pn, t.off + lo, t.off + hi, base, write)


def _facts(ins: MInstr, version: dict) -> tuple[list, list, list]:
    """(registers read, registers written, memory accesses) of one instruction; `version`
    counts the definitions of each register so far (HBM bases compare per definition)."""
    uses, defs, accs = [], [], []
    m = ins.mnemonic
    indirect = m in ("dma.gather", "dma.scatter", "atomic.ind")
    for f, v in zip(ins.spec.fields, ins.ops, strict=True):
        if f.kind is Kind.REG:
            if f.name == "rd":
                defs.append(v)
                if m == "loop":
                    uses.append(v)
            else:
                uses.append(v)
        elif isinstance(v, HbmOp):
            uses += v.regs()
            t: HbmAP = v.template
            lo, hi = _reach(t.dims, _elem_bytes(t.dtype))
            write = f.name == "dst"
            base = "any" if indirect or m in _ATOMICS else (v.base, version.get(v.base, 0))
            accs.append(_Acc(0, 0, 1, t.off + lo, t.off + hi, base, write))
        elif isinstance(v, ScalarOp):
            if v.reg is not None:
                uses.append(v.reg)
            if v.tile is not None:
                accs.append(_tile_acc(v.tile, False))
                if v.tile.reg:
                    uses.append(v.tile.reg)
        elif isinstance(v, Tile):
            a = _tile_acc(v, f.name in _WRITTEN)
            if a is not None:
                accs.append(a)
                if v.reg:
                    uses.append(v.reg)
    if m == "matmul" and ins.ops[0] == 1:  # accumulate: reads its destination too
        accs += [_Acc(a.space, a.p0, a.p1, a.lo, a.hi, a.base, False) for a in accs if a.write]
    uses = [r for r in uses if isinstance(r, int) and r != 0]
    defs = [r for r in defs if isinstance(r, int) and r != 0]
    return uses, defs, [a for a in accs if a is not None]


def _reads_tile_of(a: _Acc, b: _Acc) -> bool:
    """`a` reads on-chip memory that `b` writes (HBM aliasing is only assumed, never a reason
    to call a load late)."""
    return a.space != 0 and b.write and not a.write and a.conflicts(b)


def _is_barrier(ins: MInstr) -> bool:
    spec = ins.spec
    if ins.mnemonic in ("halt", "check") or ins.mnemonic in _ATOMICS:
        return True
    return any(f.kind is Kind.LABEL for f in spec.fields)


# --- costs -------------------------------------------------------------------------------------


def _params(ins: MInstr) -> CostParams:
    """The cost formula's inputs, as the timing-only handlers compute them, where they do not
    depend on register values (DMA masks are taken as all valid)."""
    m, ops = ins.mnemonic, ins.ops
    tiles = [v for v in ops if isinstance(v, Tile) and v.space]
    if m == "matmul":
        stat, mov = ops[2], ops[3]
        return CostParams(
            partitions=stat.pn, free=mov.free_size, dtype_bytes=_elem_bytes(stat.dtype),
            m=stat.free_size,
        )  # fmt: skip
    if m == "transpose":
        src = ops[1]
        return CostParams(partitions=src.pn, free=src.free_size, dtype_bytes=_elem_bytes(src.dtype))
    spec = ins.spec
    if spec.engine == Engine.DMA:
        t = next((v for v in ops if isinstance(v, Tile) and v.space), None)
        if t is None:
            return CostParams()
        size = _elem_bytes(t.dtype)
        hbm = next((v.template for v in ops if isinstance(v, HbmOp)), None)
        desc = t.pn * max(1, t.free_size // _run(hbm.dims)) if hbm is not None else t.pn
        return CostParams(
            partitions=t.pn, free=t.free_size, dtype_bytes=size,
            bytes=t.pn * t.free_size * size, descriptors=desc,
        )  # fmt: skip
    if not tiles:
        return CostParams()
    dst = tiles[0]
    src = tiles[1] if len(tiles) > 1 else dst
    free = src.free_size if m in ("reduce",) else dst.free_size
    return CostParams(
        partitions=dst.pn, free=free,
        dtype_bytes=max(_elem_bytes(t.dtype) for t in tiles),
        psum_input=any(t.space == 2 for t in tiles[1:]),
        all_bf16=all(t.dtype == _BF16 for t in tiles),
    )  # fmt: skip


def _run(dims) -> int:
    """Elements of an HBM pattern's innermost contiguous run."""
    run = 1
    for s, n, _b in reversed(dims):
        if n == 1:
            continue
        if s == run:
            run *= n
        else:
            break
    return run


def _cost(ins: MInstr, config) -> tuple[float, float, float]:
    """(occupancy ns, result latency ns, bytes through the shared DMA bandwidth)."""
    spec = ins.spec
    if spec.engine == Engine.SEQ:
        return 1.0 / config.seq_clock_ghz, 0.0, 0.0
    p = _params(ins)
    rec = exec_record(0, ins.mnemonic, spec.engine, spec.cost, p, (), (), 0, 0, 0, 0)
    occ = cost_ns(rec, config)
    if spec.engine == Engine.DMA:
        moved = p.bytes * (2 if spec.cost == CostKind.ATOMIC else 1)
        return occ, 0.0, float(moved)
    lat = config.sram_access_cycles / engine_clock_ghz(spec.engine, config)
    return occ, lat, 0.0


# --- the list scheduler -------------------------------------------------------------------------


def _schedule_block(instrs: list[MInstr], config) -> tuple[list[MInstr], set[int]]:
    """The block's instructions in scheduled order, and the ids of its late transfers.
    Barriers stay in place; the runs between them are scheduled separately."""
    out: list[MInstr] = []
    late: set[int] = set()
    version: dict = {}
    run: list = []
    for ins in instrs:
        if _is_barrier(ins):
            out += _schedule_run(run, config, late)
            run = []
            out.append(ins)
            for r in _facts(ins, version)[1]:
                version[r] = version.get(r, 0) + 1
            continue
        uses, defs, accs = _facts(ins, version)
        run.append((ins, uses, defs, accs))
        for r in defs:
            version[r] = version.get(r, 0) + 1
    out += _schedule_run(run, config, late)
    return out, late


def _schedule_run(run: list, config, late: set[int]) -> list[MInstr]:
    n = len(run)
    if n <= 1:
        return [x[0] for x in run]
    succs: list[list[int]] = [[] for _ in range(n)]
    npred = [0] * n
    preds: list[list[int]] = [[] for _ in range(n)]
    last_def: dict = {}
    reads_since: dict = {}
    mem: list[tuple[int, list]] = []  # earlier instructions with memory accesses
    reads_from: list[list[int]] = [[] for _ in range(n)]  # memory read-after-write sources

    def edge(a: int, b: int) -> None:
        if a != b and b not in succs[a]:
            succs[a].append(b)
            preds[b].append(a)
            npred[b] += 1

    for j, (_ins, uses, defs, accs) in enumerate(run):
        for r in uses:
            if r in last_def:
                edge(last_def[r], j)
        for r in defs:
            if r in last_def:
                edge(last_def[r], j)
            for k in reads_since.get(r, ()):
                edge(k, j)
        for r in uses:
            reads_since.setdefault(r, []).append(j)
        for r in defs:
            last_def[r] = j
            reads_since[r] = []
        if accs:
            for k, kaccs in mem:
                if any(a.conflicts(b) for a in accs for b in kaccs):
                    edge(k, j)
                    if any(_reads_tile_of(a, b) for a in accs for b in kaccs):
                        reads_from[j].append(k)
            mem.append((j, accs))

    costs = [_cost(x[0], config) for x in run]
    engines = [x[0].spec.engine for x in run]
    # a transfer is late when it reads data an engine instruction of the run computes
    # (directly or through other transfers); one that only waits for its buffer's readers is
    # not (multi-buffered loads want many queues)
    waits = [False] * n
    for j in range(n):
        waits[j] = any(
            waits[k] or engines[k] not in (Engine.SEQ, Engine.DMA) for k in reads_from[j]
        )
        if engines[j] == Engine.DMA and waits[j]:
            late.add(id(run[j][0]))

    def delay(a: int, b: int) -> float:
        occ, lat, _ = costs[a]
        return occ + (lat if engines[a] != engines[b] else 0.0)

    prio = [0.0] * n
    for j in range(n - 1, -1, -1):
        below = max((delay(j, s) + prio[s] - costs[j][0] for s in succs[j]), default=0.0)
        prio[j] = costs[j][0] + max(below, 0.0)

    # the machine model: engine queues (DMA queues modelled as one pool of `dma_queues`
    # servers, each transfer on the one free first), the shared DMA bandwidth
    free: dict = {}
    dma_free = [0.0] * config.dma_queues
    link = 0.0
    link_ns = 1.0 / config.dma_bytes_per_ns
    done = [0.0] * n
    end = [0.0] * n
    ready_at = [0.0] * n
    heap: list = []  # (earliest start, -priority, index)

    def est(j: int) -> float:
        e = engines[j]
        if e == Engine.DMA:
            return max(ready_at[j], min(dma_free))
        return max(ready_at[j], free.get(e, 0.0))

    # priorities closer than a quantum tie (program order decides): the kernel's own order
    # (e.g. the matmuls of one PSUM accumulation group back to back) stays unless a chain is
    # clearly longer
    quantum = max(prio) / _PRIORITY_LEVELS or 1.0
    rank = [-math.floor(p / quantum) for p in prio]
    for j in range(n):
        if npred[j] == 0:
            heapq.heappush(heap, (est(j), rank[j], j))
    order: list[int] = []
    while heap:
        t, _negp, j = heapq.heappop(heap)
        cur = est(j)
        if cur > t + 1e-9:  # its engine got busier since it was queued
            heapq.heappush(heap, (cur, rank[j], j))
            continue
        # among the instructions that can start as early, the longest critical path first
        order.append(j)
        occ, lat, moved = costs[j]
        e = engines[j]
        if e == Engine.DMA:
            q = min(range(len(dma_free)), key=dma_free.__getitem__)
            start = max(ready_at[j], dma_free[q])
            fin = start + occ
            if moved:
                flow = max(link, start + config.dma_fixed_ns) + moved * link_ns
                link = flow
                fin = max(fin, flow)
            dma_free[q] = fin
        else:
            start = max(ready_at[j], free.get(e, 0.0))
            fin = start + occ
            free[e] = fin
        end[j] = fin
        done[j] = fin + lat
        for s in succs[j]:
            arrive = end[j] if engines[s] == e else done[j]
            if arrive > ready_at[s]:
                ready_at[s] = arrive
            npred[s] -= 1
            if npred[s] == 0:
                heapq.heappush(heap, (est(s), rank[s], s))
    assert len(order) == n, "dependency cycle in a block"
    return [run[j][0] for j in order]
