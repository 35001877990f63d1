"""Timing model: `ExecRecord`s from the emulator -> start/end times of every instruction.

Input: the records of one launch (each program's records in issue order) and a `MachineConfig`.
Output: a `Timeline` (per-record start/end/done times, total time, busy time per engine).

The model, per core:
1. The sequencer walks the core's programs one after another, each in issue order. A sequencer
   instruction (engine SEQ) costs its own time; dispatching an engine instruction costs one
   sequencer cycle and does not wait for the instruction to run.
2. Every engine (PE, ACT, DVE, POOL) and every DMA queue is an in-order queue: an instruction starts
   at max(dispatch, queue free, dependencies) and occupies its queue for `cost_ns`.
3. Dependencies come from a scoreboard on memory rectangles (`MemRange`): RAW (reads what an earlier
   instruction writes), WAW and WAR (overwrites what an earlier one writes or reads). A result is
   visible to other queues `sram_access_cycles` after the producer finishes if it touches SBUF/PSUM;
   that latency pipelines (it is not engine occupancy) and the same queue sees its own results at
   once, so back-to-back instructions on one engine (e.g. accumulating matmuls) stream.
4. Cores run in parallel and independently. A DMA transfer occupies its queue for `cost_ns`
   (fixed cost + bytes at one queue's rate, `COST_DOCS`) and also needs `bytes / dma_bytes_per_ns` of the
   core's shared DMA bandwidth (the sustained figure of `MachineConfig`, bounded by the HBM
   share): the shared bandwidth is a calendar that each transfer fills from the moment its data
   can flow (after the fixed cost), in the earliest free gaps, so a transfer that waits (a store
   behind compute) never holds the bandwidth back from later ones. The transfer ends when both
   its queue time and its share of the bandwidth are done.
The model is deterministic: no randomness, no dependence on dict/set iteration of unordered data.

Not modelled (simplifications to revisit with evidence): engine queues are unbounded (the
sequencer never stalls on a full queue); DMA has no latency beyond its queue occupancy (the fixed
cost is charged per instruction); memory written on one core is not tracked on another (programs
on different cores must not race); the sequencer's dispatch cycles are not in its busy time.
Checked against AWS's NKI matmul tutorial by `benchmarks/nki_matmul_steps.py` (hand-written ISA
programs with the tutorial's loops: all four steps within 1.5x of the published times).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from isa.machine import MachineConfig
from isa.trace import CostKind, CostParams, Engine, ExecRecord, RecordStream, Space, gc_paused

__all__ = ["COST_DOCS", "ENGINE_NAMES", "Timeline", "cost_ns", "engine_clock_ghz", "simulate"]

ENGINE_NAMES: tuple[str, ...] = tuple(e.name for e in Engine)

# N = params.free (elements per partition; for matmul the moving free size), M = params.m
# (stationary free size), P = params.partitions, I = config.min_issue_cycles (64), f = PE dtype
# factor (bf16/fp16: 1; fp32: pe_tflops_bf16 / pe_tflops_fp32, about 4; fp8: bf16 / fp8 rate).
COST_DOCS: dict[CostKind, str] = {
    CostKind.SCALAR: "1 sequencer cycle",
    CostKind.DMA: (
        "dma_fixed_ns + max(bytes, descriptors * dma_min_chunk_bytes) / queue_bw ns, "
        "queue_bw = min(dma_bytes_per_ns_per_queue, hbm_bytes_per_ns / dma_queues)"
    ),
    CostKind.MATMUL: (
        "f * max(min(I, M), N) PE cycles; f = 1 for bf16/fp16, about 4 for fp32 "
        "(bf16/fp32 peak ratio), 1/2 for fp8 where the config doubles fp8 throughput"
    ),
    CostKind.PE_TRANSPOSE: (
        "f * max(min(I, N), P) PE cycles: the [P, N] input is the stationary operand, "
        "the [P, P] identity moves"
    ),
    CostKind.ACTIVATION: "max(I, N) cycles",
    CostKind.TENSOR_SCALAR: "max(I, N) cycles",
    CostKind.TENSOR_TENSOR: (
        "max(I, N) cycles if one input is in PSUM or every operand is bf16, else max(I, 2N)"
    ),
    CostKind.REDUCE: "max(I, N) cycles (free-axis reduction)",
    CostKind.IOTA: "max(I, 150 + N) cycles",
    CostKind.MEMSET: "max(I, N) cycles",
    CostKind.COPY: "max(I, N) cycles",
    CostKind.TRANSPOSE32: "max(I, N) cycles (32x32 block transpose)",
    CostKind.GPSIMD: "max(I, P + N) cycles (cross-partition)",
    CostKind.RNG: "max(I, 4N) cycles (Philox)",
    CostKind.ATOMIC: "2 * DMA cost of `bytes` (an HBM read then a write through one queue)",
}

_SIMPLE_KINDS = frozenset(
    {
        CostKind.ACTIVATION,
        CostKind.TENSOR_SCALAR,
        CostKind.REDUCE,
        CostKind.MEMSET,
        CostKind.COPY,
        CostKind.TRANSPOSE32,
    }
)


def engine_clock_ghz(engine: Engine, config: MachineConfig) -> float:
    """The clock an engine's cycles are counted at (DMA queues have none: they cost in ns)."""
    if engine == Engine.PE:
        return config.pe_clock_ghz
    if engine == Engine.ACT:
        return config.act_clock_ghz
    if engine == Engine.DVE:
        return config.dve_clock_ghz
    if engine == Engine.POOL:
        return config.pool_clock_ghz
    if engine == Engine.SEQ:
        return config.seq_clock_ghz
    raise ValueError(f"engine {engine.name} has no clock: DMA costs are in ns")


def _pe_factor(dtype_bytes: int, config: MachineConfig) -> float:
    if dtype_bytes >= 4:
        return config.pe_tflops_bf16 / config.pe_tflops_fp32
    if dtype_bytes == 1 and config.pe_tflops_fp8 > config.pe_tflops_bf16:
        return config.pe_tflops_bf16 / config.pe_tflops_fp8
    return 1.0


def _dma_ns(p: CostParams, config: MachineConfig) -> float:
    moved = max(p.bytes, max(p.descriptors, 1) * config.dma_min_chunk_bytes)
    return config.dma_fixed_ns + moved / config.dma_queue_bytes_per_ns


def _cycles(kind: CostKind, p: CostParams, config: MachineConfig) -> float:
    issue = config.min_issue_cycles
    n = p.free
    if kind == CostKind.SCALAR:
        return 1.0
    if kind == CostKind.MATMUL:
        return _pe_factor(p.dtype_bytes, config) * max(min(issue, p.m), n)
    if kind == CostKind.PE_TRANSPOSE:
        return _pe_factor(p.dtype_bytes, config) * max(min(issue, n), p.partitions)
    if kind in _SIMPLE_KINDS:
        return max(issue, n)
    if kind == CostKind.TENSOR_TENSOR:
        return max(issue, n if (p.psum_input or p.all_bf16) else 2 * n)
    if kind == CostKind.IOTA:
        return max(issue, 150 + n)
    if kind == CostKind.GPSIMD:
        return max(issue, p.partitions + n)
    if kind == CostKind.RNG:
        return max(issue, 4 * n)
    raise ValueError(f"cost kind {kind.name} is not priced in engine cycles")


def cost_ns(record: ExecRecord, config: MachineConfig) -> float:
    """How long `record` occupies its engine (or DMA queue), in ns; formulas in `COST_DOCS`."""
    return _cost(record.engine, record.cost, record.params, config)


def _cost(engine: Engine, kind: CostKind, p: CostParams, config: MachineConfig) -> float:
    if kind == CostKind.DMA:
        return _dma_ns(p, config)
    if kind == CostKind.ATOMIC:
        return 2.0 * _dma_ns(p, config)
    if engine == Engine.DMA:
        raise ValueError(f"cost kind {kind.name} cannot run on a DMA queue (use DMA or ATOMIC)")
    return _cycles(kind, p, config) / engine_clock_ghz(engine, config)


@dataclass(frozen=True)
class Timeline:
    """When each record ran. Arrays are aligned with the records given to `simulate`.

    `ends_ns` is when the instruction frees its engine/queue; `done_ns` is when its results are
    visible to other engines (ends + SBUF/PSUM access latency). `cycles` counts `total_ns` at the
    PE clock, the reference clock of this model. Busy times are summed over cores (and, for DMA,
    over queues).
    """

    starts_ns: np.ndarray
    ends_ns: np.ndarray
    done_ns: np.ndarray
    total_ns: float
    config: MachineConfig
    busy_ns: dict[str, float]
    core_total_ns: dict[int, float] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return int(round(self.total_ns * self.config.pe_clock_ghz))

    @property
    def cores_used(self) -> int:
        return max(len(self.core_total_ns), 1)


# --- the scoreboard -------------------------------------------------------------------------------

# A rectangle as a plain tuple (hashes in C): (space, start, end, p_start, p_end).
_Rect = tuple[int, int, int, int, int]


class _Entry:
    """Pending accesses to one memory rectangle: the last write (and its queue) and the reads.
    `written`: some write has been booked (until then its write times are 0 and a read never
    waits for it)."""

    __slots__ = ("rect", "b0", "b1", "w_done", "w_end", "w_queue", "r_end", "written")

    def __init__(self, rect: _Rect, b0: int, b1: int, written: bool) -> None:
        self.rect = rect
        self.b0 = b0
        self.b1 = b1
        self.w_done = 0.0
        self.w_end = 0.0
        self.w_queue = -1
        self.r_end = 0.0
        self.written = written


# Address buckets: a rectangle is filed under every bucket its byte range touches; rectangles
# spanning more than _MAX_BUCKETS buckets (conservative ranges of indirect accesses) go to a
# per-space list that every query of that space scans.
_BUCKET_SHIFT = (16, 11, 11)  # indexed by Space: HBM, SBUF, PSUM (2 KiB: a PSUM bank)
_MAX_BUCKETS = 64


class _Scoreboard:
    """Memory dependencies of one core.

    An entry fully covered by a later write is dropped: that write waited for it, so the write's
    times dominate for every future access that could meet the old entry. Entries whose times are
    all before the sequencer's clock are dropped too (no future instruction can start earlier).

    Entries only ever read (a kernel's input arrays) are filed apart from written ones: a read
    waits only for writes, so it scans the written entries alone.
    """

    def __init__(self) -> None:
        self.exact: dict[_Rect, _Entry] = {}
        # [0]: entries only read so far, [1]: entries written
        self.buckets = tuple(tuple({} for _ in Space) for _ in range(2))
        self.wide = tuple(tuple([] for _ in Space) for _ in range(2))

    def lists(self, space: int, b0: int, b1: int, writing: bool) -> list[list[_Entry]]:
        """The entry lists that may overlap a rectangle of `space` over address buckets b0..b1
        (an entry filed in several buckets repeats): written entries, and for a write also the
        read-only ones."""
        found = []
        for kind in (1, 0) if writing else (1,):
            table = self.buckets[kind][space]
            wide = self.wide[kind][space]
            if wide:
                found.append(wide)
            if b0 == b1:
                lst = table.get(b0)
                if lst:
                    found.append(lst)
            elif b1 - b0 <= _MAX_BUCKETS:
                for b in range(b0, b1 + 1):
                    lst = table.get(b)
                    if lst:
                        found.append(lst)
            else:
                found += [lst for b, lst in table.items() if b0 <= b <= b1]
        return found

    def _insert(self, rect: _Rect, written: bool) -> _Entry:
        shift = _BUCKET_SHIFT[rect[0]]
        b0, b1 = rect[1] >> shift, max(rect[2] - 1, rect[1]) >> shift
        e = _Entry(rect, b0, b1, written)
        self.exact[rect] = e
        self._file(e)
        return e

    def _file(self, e: _Entry) -> None:
        kind, space = int(e.written), e.rect[0]
        if e.b1 - e.b0 > _MAX_BUCKETS:
            self.wide[kind][space].append(e)
        else:
            table = self.buckets[kind][space]
            for b in range(e.b0, e.b1 + 1):
                lst = table.get(b)
                if lst is None:
                    table[b] = [e]
                else:
                    lst.append(e)

    def _unfile(self, e: _Entry) -> None:
        kind, space = int(e.written), e.rect[0]
        if e.b1 - e.b0 > _MAX_BUCKETS:
            self.wide[kind][space].remove(e)
            return
        table = self.buckets[kind][space]
        for b in range(e.b0, e.b1 + 1):
            lst = table[b]
            lst.remove(e)
            if not lst:
                del table[b]

    def remove(self, e: _Entry) -> None:
        if self.exact.get(e.rect) is not e:  # already gone (met twice through two buckets)
            return
        del self.exact[e.rect]
        self._unfile(e)

    def read(self, rect: _Rect, end: float) -> None:
        e = self.exact.get(rect) or self._insert(rect, False)
        if end > e.r_end:
            e.r_end = end

    def write(self, rect: _Rect, queue: int, end: float, done: float) -> None:
        e = self.exact.get(rect)
        if e is None:
            e = self._insert(rect, True)
        elif not e.written:  # first write of a rectangle read before: file it with the written
            self._unfile(e)
            e.written = True
            self._file(e)
        e.w_done, e.w_end, e.w_queue, e.r_end = done, end, queue, 0.0

    def prune(self, now: float) -> None:
        for e in [e for e in self.exact.values() if max(e.w_done, e.r_end) <= now]:
            self.remove(e)


def _wait(
    board: _Scoreboard, rect: _Rect, b0: int, b1: int, queue: int, writing: bool, covered: list
) -> float:
    """When an access to `rect` (over address buckets b0..b1) by `queue` may start: RAW always,
    WAR and WAW when writing.

    Collects into `covered` the entries a write to `rect` makes redundant.
    """
    space, start, end, p0, p1 = rect
    t = 0.0
    for lst in board.lists(space, b0, b1, writing):
        for e in lst:
            _, s, en, q0, q1 = e.rect
            if s >= end or start >= en or q0 >= p1 or p0 >= q1:
                continue
            w = e.w_end if e.w_queue == queue else e.w_done
            if w > t:
                t = w
            if writing:
                if e.r_end > t:
                    t = e.r_end
                if start <= s and en <= end and p0 <= q0 and q1 <= p1 and e.rect != rect:
                    covered.append(e)
    return t


# --- the shared DMA bandwidth of a core -----------------------------------------------------------


class _Bandwidth:
    """When a core's shared DMA bandwidth is taken: sorted disjoint busy intervals [s, e).

    `take(t, d)` books `d` ns of it from time `t` on, filling the free gaps in order (a transfer
    may be split around earlier bookings), and returns when the last of it is done.
    """

    __slots__ = ("s", "e")

    def __init__(self) -> None:
        self.s: list[float] = []
        self.e: list[float] = []

    def take(self, t: float, d: float) -> float:
        s, e = self.s, self.e
        i = bisect.bisect_right(e, t)  # the first booking that ends after t
        cur = t
        while d > 0.0:
            if i < len(s) and s[i] <= cur:  # inside a booking: skip to its end
                cur = e[i]
                i += 1
                continue
            gap_end = s[i] if i < len(s) else math.inf
            use = d if d < gap_end - cur else gap_end - cur
            end = cur + use
            if i > 0 and e[i - 1] >= cur:  # extends the previous booking
                e[i - 1] = end
                j = i - 1
            else:
                s.insert(i, cur)
                e.insert(i, end)
                j = i
                i += 1
            if i < len(s) and s[i] <= end:  # reaches the next booking: merge them
                e[j] = e[i]
                del s[i]
                del e[i]
            d -= use
            cur = e[j] if d > 0.0 else end
            i = j + 1
        return cur

    def prune(self, now: float) -> None:
        """Forget bookings over before `now` (no transfer can start before the sequencer's clock)."""
        k = bisect.bisect_right(self.e, now)
        if k > 64:
            del self.s[:k]
            del self.e[:k]


# --- the simulation -------------------------------------------------------------------------------

_PRUNE_MIN = 4096  # scoreboard entries before the first sweep of finished ones


def _facts(template, config: MachineConfig, costs: dict, latency: list) -> tuple:
    """What the simulation needs of one distinct record: (engine, occupancy, plain (a scalar
    instruction touching no memory), queue, accesses, visibility latency, DMA bytes through the
    shared bandwidth). Accesses are (rectangle, first and last address bucket, written), the
    reads first."""
    _, _, engine, kind, params, reads, writes, queue, _ = template
    # records of one instruction share their params object: look it up by identity (the
    # templates keep it alive) before hashing its fields
    key = (id(params), engine, kind)
    occ = costs.get(key)
    if occ is None:
        vkey = (engine, kind, params)
        occ = costs.get(vkey)
        if occ is None:
            occ = costs[vkey] = _cost(engine, kind, params, config)
        costs[key] = occ
    if engine == Engine.SEQ and not reads and not writes:
        return engine, occ, True, 0, (), 0.0, 0
    accesses = []
    onchip = False
    for writing, ranges in ((False, reads), (True, writes)):
        for r in ranges:
            space, start, end, p0 = r.space, r.start, r.end, r.p_start
            shift = _BUCKET_SHIFT[space]
            last = end - 1 if end - 1 > start else start
            rect = (space, start, end, p0, p0 + r.p_count)
            accesses.append((rect, start >> shift, last >> shift, writing))
            onchip = onchip or space != Space.HBM
    moved = 0
    q = engine * 64
    if engine == Engine.DMA:
        moved = params.bytes * (2 if kind == CostKind.ATOMIC else 1)
        q += queue
    return engine, occ, False, q, accesses, latency[engine] if onchip else 0.0, moved


def _core_order(records: Sequence[ExecRecord], config: MachineConfig) -> dict[int, np.ndarray]:
    """Record indices per core: programs in order of first appearance, each in issue order.

    Also checks that every core and DMA queue exists on `config`.
    """
    stream = RecordStream.of(records)
    per_core: dict[int, dict[int, list]] = {}
    bad_core = None
    for start, end, program, core in stream.segments():
        if start == end:
            continue
        if bad_core is None and not 0 <= core < config.cores:
            bad_core = start
        per_core.setdefault(core, {}).setdefault(program, []).append(np.arange(start, end))
    bad = [
        t
        for t, tp in enumerate(stream.templates)
        if tp is not None and tp[2] == Engine.DMA and not 0 <= tp[7] < config.dma_queues
    ]
    bad_queue = None
    if bad:
        hit = np.isin(stream.tids, bad)
        if hit.any():
            bad_queue = int(np.argmax(hit))
    if bad_core is not None and (bad_queue is None or bad_core <= bad_queue):
        r = stream[bad_core]
        raise ValueError(
            f"record {bad_core} ({r.mnemonic}, pc {r.pc}) ran on core {r.core}, but {config.name} "
            f"has {config.cores} cores; distribute programs over range(config.cores)"
        )
    if bad_queue is not None:
        r = stream[bad_queue]
        raise ValueError(
            f"record {bad_queue} ({r.mnemonic}, pc {r.pc}) uses DMA queue {r.queue}, but "
            f"{config.name} has {config.dma_queues} queues per core"
        )
    return {
        core: np.concatenate([r for prog in programs.values() for r in prog])
        for core, programs in sorted(per_core.items())
    }


def simulate(records: Sequence[ExecRecord], config: MachineConfig) -> Timeline:
    """Time `records` on `config` (see the module docstring for the model).

    Works on the records' `RecordStream` (made here for a plain list): what an instruction
    costs, which queue it uses and the rectangles it touches are worked out once per distinct
    record."""
    with gc_paused():
        return _simulate(RecordStream.of(records), config)


def _simulate(stream: RecordStream, config: MachineConfig) -> Timeline:
    n = len(stream)
    starts, ends, dones = [0.0] * n, [0.0] * n, [0.0] * n
    busy = [0.0] * len(Engine)
    core_total: dict[int, float] = {}
    cost_cache: dict[tuple[Engine, CostKind, CostParams], float] = {}
    templates = stream.templates
    facts: list = [None] * len(templates)
    seq_cycle = 1.0 / config.seq_clock_ghz
    latency = [0.0] * len(Engine)
    for e in (Engine.PE, Engine.ACT, Engine.DVE, Engine.POOL):
        latency[e] = config.sram_access_cycles / engine_clock_ghz(e, config)
    seq = Engine.SEQ

    link_ns_per_byte = 1.0 / config.dma_bytes_per_ns
    for core, order in _core_order(stream, config).items():
        board = _Scoreboard()
        link = _Bandwidth()
        next_prune = _PRUNE_MIN
        free: dict[int, float] = {}
        now = 0.0  # the sequencer's clock
        finish = 0.0
        for i, t in zip(order.tolist(), stream.tids[order].tolist(), strict=True):
            f = facts[t]
            if f is None:
                f = facts[t] = _facts(templates[t], config, cost_cache, latency)
            engine, occ, plain, queue, accesses, lat, moved = f
            if plain:  # most scalar instructions: no memory, no queue
                start = now
                end = done = now = start + occ
                starts[i] = start
                ends[i] = end
                dones[i] = done
                busy[engine] += occ
                if done > finish:
                    finish = done
                continue
            covered: list[_Entry] = []
            ready = 0.0
            for rect, b0, b1, writing in accesses:
                w = _wait(board, rect, b0, b1, queue, writing, covered)
                if w > ready:
                    ready = w
            if engine == seq:
                start = now if now > ready else ready
                end = done = now = start + occ
            else:
                now += seq_cycle
                start = free.get(queue, 0.0)
                if now > start:
                    start = now
                if ready > start:
                    start = ready
                end = start + occ
                if moved:  # a DMA's share of the core's DMA bandwidth
                    shared = link.take(start + config.dma_fixed_ns, moved * link_ns_per_byte)
                    if shared > end:
                        occ += shared - end
                        end = shared
                end = done = free[queue] = end
                if lat:
                    done = end + lat
            for e in covered:
                board.remove(e)
            for rect, _, _, writing in accesses:
                if writing:
                    board.write(rect, queue, end, done)
                else:
                    board.read(rect, end)
            starts[i] = start
            ends[i] = end
            dones[i] = done
            busy[engine] += occ
            if done > finish:
                finish = done
            if len(board.exact) >= next_prune:  # amortised: sweep when the board has doubled
                board.prune(now)
                link.prune(now)
                next_prune = max(_PRUNE_MIN, 2 * len(board.exact))
        core_total[core] = finish

    total = max(core_total.values(), default=0.0)
    busy_by_name = {name: busy[e] for e, name in enumerate(ENGINE_NAMES)}
    arrays = (np.array(x, dtype=np.float64) for x in (starts, ends, dones))
    return Timeline(*arrays, total, config, busy_by_name, core_total)
