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
   Why a calendar with gaps, not one line of transfers: a core has 16 DMA engines that work
   in parallel with compute and with each other; a transfer is triggered by the core and ends
   with a semaphore update, and the hardware splits it into packets that the engines execute
   in parallel ("Introduction to DMA with NKI", awsdocs-neuron.readthedocs-hosted.com/en/latest/
   nki/about/nki-dma-overview.html; Neuron Explorer, "How to identify and reduce inefficient
   DMA transfers", .../tools/neuron-explorer/how-to-reduce-inefficient-dma-transfers.html).
   A transfer whose queue waits on a semaphore (a store behind its conversion) moves no bytes,
   so the engines serving other queues have the HBM to themselves until it starts. What the
   calendar keeps from dispatch order is priority: a transfer booked earlier keeps the
   bandwidth it was given, and a later-dispatched one that is ready at the same moment fills
   around it (splitting across gaps), never both at once (tests/isa/test_dma_calendar.py).
   Sharing the bandwidth between transfers in flight by start time or fairly per engine would
   re-time transfers already booked, which a one-pass loop in dispatch order cannot do.
The model is deterministic: no randomness, no dependence on dict/set iteration of unordered data.

Not modelled (simplifications to revisit with evidence): engine queues are unbounded (the
sequencer never stalls on a full queue); DMA has no latency beyond its queue occupancy (the fixed
cost is charged per instruction); memory written on one core is not tracked on another (programs
on different cores must not race); the sequencer's dispatch cycles are not in its busy time.
Checked against AWS's NKI matmul tutorial by `benchmarks/nki_matmul_steps.py` (hand-written ISA
programs with the tutorial's loops: all four steps within 1.5x of the published times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from isa.machine import MachineConfig
from isa.trace import (
    RECT_COLUMNS,
    CostKind,
    CostParams,
    Engine,
    ExecRecord,
    RecordStream,
    Space,
    Templates,
    body_rects,
    gc_paused,
)

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


# --- the scoreboard and the shared DMA bandwidth, compiled -----------------------------------------
#
# The hot loop of `simulate` runs compiled by numba (`_run`) over columns: per distinct record
# (template) its engine, occupancy, queue, latency, DMA bytes and accesses; per distinct memory
# rectangle the rectangles it overlaps (worked out once per stream). Without numba the same
# functions run as plain Python (slowly).

try:
    import numba as _numba
except ImportError:  # pragma: no cover - numba is a dependency; the same code runs uncompiled
    _numba = None


def _jit(fn=None, *, inline: str = "never"):
    """`numba.njit(cache=True)` (the machine code is kept beside this module, or in numba's user
    cache directory where that is read-only); compiled once per process where neither can be
    written; plain Python without numba. `inline="always"`: inlined into the compiled callers
    (a call that passes arrays pays reference counts on each: 0.25 ms of 1.8 in `_run` for
    the bookings of the DMA bandwidth on matmul 2048^3)."""
    if fn is None:
        return lambda f: _jit(f, inline=inline)
    if _numba is None:  # pragma: no cover
        return fn
    try:
        return _numba.njit(cache=True, inline=inline)(fn)
    except RuntimeError:  # pragma: no cover - numba found nowhere to write its cache
        return _numba.njit(inline=inline)(fn)


# The compiled loops keep their arithmetic inline: a call to another compiled function that
# passes arrays costs reference counts per array (10x the sweep over rectangles, measured).


@_jit(inline="always")
def _apart(a0, a1, pa, oa, wa, b0, b1, pb, ob, wb):
    """`isa.trace.apart`: two HBM patterns share no byte (their windows modulo the gcd of the
    periods are disjoint); False when neither has a period."""
    if pa == 0:
        if pb == 0 or a1 - a0 >= pb:
            return False
        pa, oa, wa = pb, 0, a1 - a0
    elif pb == 0:
        if b1 - b0 >= pa:
            return False
        pb, ob, wb = pa, 0, b1 - b0
    x, y = pa, pb
    while y and x != y:  # (the gcd: most pairs have equal periods)
        x, y = y, x % y
    if wa >= x or wb >= x:
        return False
    ra = (a0 + oa) % x
    rb = (b0 + ob) % x
    return (rb - ra) % x >= wa and (ra - rb) % x >= wb


@_jit(inline="always")
def _contains(i, j, lo, hi, p0, p1, per, off, wid):
    """Rectangle i holds every byte of j (i without a period: all of its range; with one: j has
    the same period and its window lies inside i's)."""
    if not (lo[i] <= lo[j] and hi[j] <= hi[i] and p0[i] <= p0[j] and p1[j] <= p1[i]):
        return False
    if per[i] == 0:
        return True
    if per[j] != per[i]:
        return False
    p = per[i]
    d = ((lo[j] + off[j]) - (lo[i] + off[i])) % p
    return d + wid[j] <= wid[i]


@_jit
def _overlaps(order, space, lo, hi, p0, p1, per, off, wid):
    """Which rectangles overlap which: CSR (ptr, ids) over rectangle ids (a rectangle is among
    its own unless it is empty) and `covers[k]`: the rectangle contains `ids[k]`, another one, so
    a write to it makes an entry of `ids[k]` redundant. A sweep over the rectangles sorted by
    space and start address (`order`) finds each pair from the one that starts first. HBM
    rectangles with a period (`per`, window `off`, `wid`: `isa.trace.MemRange`) overlap only if
    their byte sets can meet (`_apart`)."""
    n = len(space)
    # one sweep finds the pairs (i before j in sweep order, or i == j) in order; the CSR rows
    # are then filled in that order (`_apart` costs a few divisions: tested once per pair).
    # Arrays grown inside the sweep would make numba keep its variables in memory (`_book`)
    most = 0  # the pairs whose ranges meet: room for the pairs found (arrays made once)
    for a in range(n):
        i = order[a]
        for b in range(a, n):
            j = order[b]
            if b > a and (space[j] != space[i] or lo[j] >= hi[i]):
                break
            if not (lo[j] >= hi[i] or lo[i] >= hi[j] or p0[j] >= p1[i] or p0[i] >= p1[j]):
                most += 1
    phase = np.zeros(n, np.int64)  # where each period's window starts
    for i in range(n):
        if per[i] > 0:
            phase[i] = (lo[i] + off[i]) % per[i]
    pi = np.empty(most, np.int64)
    pj = np.empty(most, np.int64)
    m = 0
    count = np.zeros(n, np.int64)
    for a in range(n):
        i = order[a]
        for b in range(a, n):
            j = order[b]
            if b > a and (space[j] != space[i] or lo[j] >= hi[i]):
                break
            if lo[j] >= hi[i] or lo[i] >= hi[j] or p0[j] >= p1[i] or p0[i] >= p1[j]:
                continue
            p = per[i]
            if p > 0 and per[j] == p:  # `_apart` of one period, its remainders made once
                if wid[i] < p and wid[j] < p:
                    dl = phase[j] - phase[i]
                    if dl < 0:
                        dl += p
                    if dl >= wid[i] and (p - dl if dl else 0) >= wid[j]:
                        continue
            elif _apart(lo[i], hi[i], p, off[i], wid[i], lo[j], hi[j], per[j], off[j], wid[j]):
                continue
            pi[m] = i
            pj[m] = j
            m += 1
            count[i] += 1
            if j != i:
                count[j] += 1
    ptr = np.zeros(n + 1, np.int64)
    for i in range(n):
        ptr[i + 1] = ptr[i] + count[i]
    ids = np.empty(ptr[n], np.int64)
    covers = np.zeros(ptr[n], np.bool_)
    fill = ptr[:n].copy()
    for q in range(m):
        i = pi[q]
        j = pj[q]
        ids[fill[i]] = j
        fill[i] += 1
        if j != i:  # whether each contains the other
            covers[fill[i] - 1] = _contains(i, j, lo, hi, p0, p1, per, off, wid)
            ids[fill[j]] = i
            covers[fill[j]] = _contains(j, i, lo, hi, p0, p1, per, off, wid)
            fill[j] += 1
    return ptr, ids, covers


@_jit(inline="always")
def _book(bs, be, n, t, d):
    """Book `d` ns of a core's shared DMA bandwidth from time `t` on: `bs[:n]`, `be[:n]` are its
    sorted disjoint busy intervals [s, e); the transfer fills the free gaps in order (it may be
    split around earlier bookings), in place. Returns (when the last of it is done, n). A call
    adds at most one booking (once it has made one, each later piece starts where that one
    ends and extends it), so the arrays need room for n + 1: `_run` gives them room for all
    of a stream's transfers (arrays made anew inside its loop would cost it 4x: 0.71 vs
    0.16 ms on matmul 2048^3's 6,468 records, numba then keeps them in memory)."""
    i = np.searchsorted(be[:n], t, side="right")  # the first booking that ends after t
    cur = t
    while d > 0.0:
        if i < n and bs[i] <= cur:  # inside a booking: skip to its end
            cur = be[i]
            i += 1
            continue
        gap_end = bs[i] if i < n else np.inf
        use = d if d < gap_end - cur else gap_end - cur
        end = cur + use
        if i > 0 and be[i - 1] >= cur:  # extends the previous booking
            be[i - 1] = end
            j = i - 1
        else:
            for k in range(n, i, -1):
                bs[k] = bs[k - 1]
                be[k] = be[k - 1]
            bs[i] = cur
            be[i] = end
            n += 1
            j = i
            i += 1
        if i < n and bs[i] <= end:  # reaches the next booking: merge them
            be[j] = be[i]
            for k in range(i, n - 1):
                bs[k] = bs[k + 1]
                be[k] = be[k + 1]
            n -= 1
        d -= use
        cur = be[j] if d > 0.0 else end
        i = j + 1
    return cur, n


@_jit(inline="always")
def _prune_bandwidth(bs, be, n, now):
    """Forget bookings over before `now` (no transfer can start before the sequencer's clock)."""
    k = np.searchsorted(be[:n], now, side="right")
    if k > 64:
        for m in range(n - k):
            bs[m] = bs[m + k]
            be[m] = be[m + k]
        n -= k
    return n


_PRUNE_MIN = 4096  # scoreboard entries before the first sweep of finished ones


@_jit
def _run(
    order, core_ends, tids, t_engine, t_occ, t_plain, t_queue, t_lat, t_moved, acc_lo, acc_hi,
    acc_rect, acc_write, nb_ptr, nb_ids, nb_covers, n_queues, n_engines, seq_cycle,
    dma_fixed_ns, link_ns_per_byte, prune_min,
):  # fmt: skip
    """The model's loop over each core's records (`order[core_ends[c-1]:core_ends[c]]`).

    The scoreboard holds an entry per memory rectangle id (alive, last write's done/end times
    and queue, last read's end). An access waits for every alive entry its rectangle overlaps:
    RAW always, WAR and WAW when writing. An entry covered by a later write is dropped (that
    write waited for it, so its times dominate); when the board has doubled, entries whose times
    are all before the sequencer's clock are dropped too (no later instruction starts earlier).
    Returns per-record starts, ends, dones, busy ns per engine (summed in record order) and each
    core's finish."""
    n = len(tids)
    starts = np.zeros(n)
    ends = np.zeros(n)
    dones = np.zeros(n)
    busy = np.zeros(n_engines)
    finishes = np.zeros(len(core_ends))
    n_rects = len(nb_ptr) - 1
    alive = np.zeros(n_rects, np.bool_)
    w_done = np.zeros(n_rects)
    w_end = np.zeros(n_rects)
    w_queue = np.full(n_rects, -1, np.int64)
    r_end = np.zeros(n_rects)
    # room for the entries one instruction may make redundant
    most = 0
    for t in range(len(acc_lo)):
        m = 0
        for a in range(acc_lo[t], acc_hi[t]):
            r = acc_rect[a]
            m += nb_ptr[r + 1] - nb_ptr[r]
        most = max(most, m)
    covered = np.empty(most, np.int64)
    transfers = 0  # bandwidth bookings: each transfer adds at most one (`_book`)
    for x in range(len(order)):
        if t_moved[tids[order[x]]]:
            transfers += 1
    bs = np.empty(transfers + 1)
    be = np.empty(transfers + 1)
    free = np.zeros(n_queues)
    first = 0
    for c in range(len(core_ends)):
        alive[:] = False
        free[:] = 0.0
        live = 0
        nb = 0
        next_prune = prune_min
        now = 0.0  # the sequencer's clock
        finish = 0.0
        for x in range(first, core_ends[c]):
            i = order[x]
            t = tids[i]
            engine = t_engine[t]
            occ = t_occ[t]
            if t_plain[t]:  # most scalar instructions: no memory, no queue
                start = now
                end = start + occ
                done = end
                now = end
                starts[i] = start
                ends[i] = end
                dones[i] = done
                busy[engine] += occ
                if done > finish:
                    finish = done
                continue
            queue = t_queue[t]
            n_cov = 0
            ready = 0.0
            for a in range(acc_lo[t], acc_hi[t]):
                r = acc_rect[a]
                writing = acc_write[a]
                w_max = 0.0
                for k in range(nb_ptr[r], nb_ptr[r + 1]):
                    e = nb_ids[k]
                    if not alive[e]:
                        continue
                    w = w_end[e] if w_queue[e] == queue else w_done[e]
                    if w > w_max:
                        w_max = w
                    if writing:
                        if r_end[e] > w_max:
                            w_max = r_end[e]
                        if nb_covers[k]:
                            covered[n_cov] = e
                            n_cov += 1
                if w_max > ready:
                    ready = w_max
            if engine == 0:  # Engine.SEQ
                start = now if now > ready else ready
                end = start + occ
                done = end
                now = end
            else:
                now += seq_cycle
                start = free[queue]
                if now > start:
                    start = now
                if ready > start:
                    start = ready
                end = start + occ
                if t_moved[t]:  # a DMA's share of the core's DMA bandwidth
                    shared, nb = _book(
                        bs, be, nb, start + dma_fixed_ns, t_moved[t] * link_ns_per_byte
                    )
                    if shared > end:
                        occ += shared - end
                        end = shared
                done = end
                free[queue] = end
                if t_lat[t]:
                    done = end + t_lat[t]
            for k in range(n_cov):
                e = covered[k]
                if alive[e]:
                    alive[e] = False
                    live -= 1
            for a in range(acc_lo[t], acc_hi[t]):
                r = acc_rect[a]
                if not alive[r]:
                    alive[r] = True
                    live += 1
                    w_done[r] = 0.0
                    w_end[r] = 0.0
                    w_queue[r] = -1
                    r_end[r] = 0.0
                if acc_write[a]:
                    w_done[r] = done
                    w_end[r] = end
                    w_queue[r] = queue
                    r_end[r] = 0.0
                elif end > r_end[r]:
                    r_end[r] = end
            starts[i] = start
            ends[i] = end
            dones[i] = done
            busy[engine] += occ
            if done > finish:
                finish = done
            if live >= next_prune:  # amortised: sweep when the board has doubled
                for e in range(n_rects):
                    if alive[e] and max(w_done[e], r_end[e]) <= now:
                        alive[e] = False
                        live -= 1
                nb = _prune_bandwidth(bs, be, nb, now)
                next_prune = max(prune_min, 2 * live)
        finishes[c] = finish
        first = core_ends[c]
    return starts, ends, dones, busy, finishes


# --- the simulation -------------------------------------------------------------------------------


@_jit
def _accesses(b_rows, b_lo, b_write, body, counts, shift, oshift, pshift, total):
    """Each template's accesses, laid out one template after another: the rows
    `b_rows[b_lo[b]:][:counts[u]]` of its body b = body[u], HBM ones (space 0) moved by
    shift[u] bytes (a period's window is relative to the start: it moves too), on-chip ones by
    oshift[u] bytes and pshift[u] partitions. Returns each
    access's rectangle id (rectangles numbered by first appearance, an open-addressing hash
    table over their rows), whether it writes, and the rectangles, one `body_rects` row per id."""
    size = 16
    while size < 2 * total:
        size *= 2
    mask = size - 1
    slot = np.full(size, -1, np.int64)
    cols = b_rows.shape[1]
    rects = np.empty((total, cols), np.int64)
    row = np.empty(cols, np.int64)
    acc_rect = np.empty(total, np.int64)
    acc_write = np.empty(total, np.bool_)
    n = 0
    a = 0
    for u in range(len(body)):
        d = shift[u]
        od = oshift[u]
        pd = pshift[u]
        first = b_lo[body[u]]
        for j in range(first, first + counts[u]):
            for k in range(cols):
                row[k] = b_rows[j, k]
            if row[0] == 0:
                row[1] += d
                row[2] += d
            else:
                row[1] += od
                row[2] += od
                row[3] += pd
                row[4] += pd
            # hashed on space, range and partitions (the window columns rarely tell apart
            # rectangles these don't), mixed once: the multiplies are one dependent chain
            h = np.uint64(1469598103934665603)
            for k in range(5):
                h = (h ^ np.uint64(row[k])) * np.uint64(1099511628211)
            h ^= h >> np.uint64(29)
            s = np.int64(h & np.uint64(mask))
            while True:
                r = slot[s]
                if r < 0:
                    slot[s] = n
                    for k in range(cols):
                        rects[n, k] = row[k]
                    r = n
                    n += 1
                    break
                same = True
                for k in range(cols):
                    if rects[r, k] != row[k]:
                        same = False
                        break
                if same:
                    break
                s = (s + 1) & mask
            acc_rect[a] = r
            acc_write[a] = b_write[j]
            a += 1
    return acc_rect, acc_write, rects[:n]


@_jit
def _first_seen(order, tids, n):
    """The distinct values of tids[order] (each in 0..n-1) in order of first appearance."""
    seen = np.zeros(n, np.bool_)
    out = np.empty(min(n, len(order)), np.int64)
    k = 0
    for x in range(len(order)):
        t = tids[order[x]]
        if not seen[t]:
            seen[t] = True
            out[k] = t
            k += 1
    return out[:k]


def _columns(templates: Templates, used: np.ndarray, config: MachineConfig) -> tuple:
    """What the simulation needs of each distinct record `templates[used[u]]`, as arrays indexed
    by u (not by template id: a stream has a template per pc besides those of its records):
    engine, occupancy (ns), plain (a scalar instruction touching no memory), queue (engine * 64
    + DMA queue), visibility latency of its results, DMA bytes through the shared bandwidth,
    and its accesses `acc_rect[acc_lo[u]:acc_hi[u]]` (rectangle ids, the reads first) with
    `acc_write`; and the distinct rectangles, one `isa.trace.body_rects` row per id. Costs and
    accesses are worked out once per body (in the order of `used`, so the first bad one
    raises), costs once per params object and kind; a template's accesses are its body's,
    moved by its shifts, laid out and numbered as arrays."""
    bodies = templates.bodies
    of_used = templates.body[used]
    ub = _first_seen(np.arange(len(used)), of_used, len(bodies))  # bodies by first use
    rank = np.empty(len(bodies), np.int64)
    rank[ub] = np.arange(len(ub))
    inv = rank[of_used]  # used template -> body number (by first use)
    by_id: dict = {}  # bodies share params objects: looked up by identity, then by value
    by_value: dict = {}
    k_engine, k_occ, k_moved, k_count, k_reads = [], [], [], [], []
    rows: list = []
    rects_of = templates.rects
    for b in ub.tolist():
        mnemonic, engine, kind, params, reads, writes = bodies[b]
        ikey = (id(params), engine, kind)
        occ = by_id.get(ikey)
        if occ is None:
            vkey = (engine, kind, params)
            occ = by_value.get(vkey)
            if occ is None:
                occ = by_value[vkey] = _cost(engine, kind, params, config)
            by_id[ikey] = occ
        k_engine.append(engine)
        k_occ.append(occ)
        k_moved.append(
            params.bytes * (2 if kind == CostKind.ATOMIC else 1) if engine == Engine.DMA else 0
        )
        r = rects_of[b]
        if r is None:
            r = body_rects(bodies[b])
        rows.append(r[0])
        k_count.append(len(r[0]))
        k_reads.append(r[1])
    b_count = np.array(k_count, np.int64)
    b_lo = np.cumsum(b_count) - b_count
    b_rows = np.concatenate(rows) if rows else np.zeros((0, RECT_COLUMNS), np.int64)
    b_write = np.arange(len(b_rows)) - np.repeat(b_lo, b_count) >= np.repeat(k_reads, b_count)
    b_onchip = np.bincount(
        np.repeat(np.arange(len(b_count)), b_count), b_rows[:, 0] != Space.HBM, len(b_count)
    )
    engine = np.array(k_engine, np.int64)[inv]
    occ = np.array(k_occ, np.float64)[inv]
    moved = np.array(k_moved, np.int64)[inv]
    # every used template's accesses: its body's rows, moved by its shifts
    counts = b_count[inv]
    hi = np.cumsum(counts)
    lo = hi - counts
    acc_rect, acc_write, rects = _accesses(
        b_rows, b_lo, b_write, inv, counts, templates.shift[used], templates.oshift[used],
        templates.pshift[used], int(hi[-1]) if len(hi) else 0,
    )  # fmt: skip
    latency = np.zeros(len(Engine))
    for e in (Engine.PE, Engine.ACT, Engine.DVE, Engine.POOL):
        latency[e] = config.sram_access_cycles / engine_clock_ghz(e, config)
    lat = np.where(b_onchip[inv] > 0, latency[engine], 0.0)
    dma = engine == Engine.DMA
    queue = engine * 64 + np.where(dma, templates.queue[used], 0)
    plain = (engine == Engine.SEQ) & (counts == 0)
    return engine, occ, plain, queue, lat, moved, lo, hi, acc_rect, acc_write, rects


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
    tpl = stream.templates
    bad = np.flatnonzero(
        (tpl.engines() == Engine.DMA) & ((tpl.queue < 0) | (tpl.queue >= config.dma_queues))
    )
    bad_queue = None
    if len(bad):
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
    record, which rectangles overlap once per distinct rectangle; the loop over the records runs
    compiled by numba (`_run`; machine code cached beside this module, about 6 s to compile
    after the module changes)."""
    with gc_paused():
        return _simulate(RecordStream.of(records), config)


def _simulate(stream: RecordStream, config: MachineConfig) -> Timeline:
    orders = _core_order(stream, config)
    cores = list(orders)
    order = np.concatenate([orders[c] for c in cores]) if cores else np.zeros(0, np.int64)
    order = order.astype(np.int64, copy=False)
    tids = np.ascontiguousarray(stream.tids, dtype=np.int64)
    # the distinct records in the order the loop first meets them (so the first bad one raises)
    used = _first_seen(order, tids, len(stream.templates))
    *columns, rects = _columns(stream.templates, used, config)
    rank = np.full(len(stream.templates), -1, np.int64)
    rank[used] = np.arange(len(used))
    tids = rank[tids]  # each record's row of the columns
    space, lo, hi, p0, p1, per, off, wid = (
        np.ascontiguousarray(rects[:, k]) for k in range(RECT_COLUMNS)
    )
    by_start = np.lexsort((lo, space)).astype(np.int64)
    neighbours = _overlaps(by_start, space, lo, hi, p0, p1, per, off, wid)
    core_ends = np.cumsum([len(orders[c]) for c in cores]).astype(np.int64)
    n_queues = max(len(Engine) * 64, 64 + config.dma_queues)
    starts, ends, dones, busy, finishes = _run(
        order, core_ends, tids, *columns, *neighbours, n_queues, len(Engine),
        1.0 / config.seq_clock_ghz, float(config.dma_fixed_ns), 1.0 / config.dma_bytes_per_ns,
        _PRUNE_MIN,
    )  # fmt: skip
    core_total = {core: float(f) for core, f in zip(cores, finishes.tolist(), strict=True)}
    total = max(core_total.values(), default=0.0)
    busy_by_name = {name: float(busy[e]) for e, name in enumerate(ENGINE_NAMES)}
    return Timeline(starts, ends, dones, total, config, busy_by_name, core_total)
