"""The contract between the emulator and the timing model: one `ExecRecord` per executed instruction.

The emulator (functional) produces records in each program's issue order; the timing model
(`isa.timing`) turns them into start/end times using the `MachineConfig`; the profiler
(`isa.profile`) summarises and plots them. Neither side imports the other.

The emulator hands its records over as a `RecordStream`: columns (which template each record
is, which program and core ran it) over the distinct records, so that a loop's instructions
cost an integer each rather than an object each; the timing model and the profiler read the
columns, and an `ExecRecord` is built only when someone indexes or iterates the stream. The
distinct records are columns too (`Templates`): the instruction's pc, source line and queue, and
a shared body (what its handler found: cost parameters and memory ranges) whose HBM ranges a
shift moves, so that a DMA moving along HBM in a loop costs a row of integers per iteration.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import enum
import gc
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

_new = object.__new__
_setattr = object.__setattr__


class Engine(enum.IntEnum):
    SEQ = 0  # scalar sequencer: registers, ALU, branches, dispatch
    DMA = 1  # DMA queues (the record's `queue` says which)
    PE = 2  # tensor engine (systolic matmul, transpose)
    ACT = 3  # scalar/activation engine
    DVE = 4  # vector engine
    POOL = 5  # GpSimd engine


class Space(enum.IntEnum):
    HBM = 0
    SBUF = 1
    PSUM = 2


class CostKind(enum.IntEnum):
    """Which cost formula (in `isa.timing`) prices an instruction; each table entry names one."""

    SCALAR = 0  # sequencer ALU/branch/move: ~1 sequencer cycle
    DMA = 1  # fixed cost + bytes / per-queue bandwidth
    MATMUL = 2  # max(min(64, M), N) PE cycles (bf16/fp16/fp8), 4x for fp32
    PE_TRANSPOSE = 3  # a matmul against the identity
    ACTIVATION = 4  # max(64, N)
    TENSOR_SCALAR = 5  # max(64, N)
    TENSOR_TENSOR = 6  # max(64, N) if an input is in PSUM or all bf16, else max(64, 2N)
    REDUCE = 7  # N
    IOTA = 8  # 150 + N
    MEMSET = 9  # max(64, N)
    COPY = 10  # max(64, N)
    TRANSPOSE32 = 11  # DVE 32x32 block transpose, max(64, N)
    GPSIMD = 12  # cross-partition ops on POOL: ~partitions + N
    RNG = 13  # POOL Philox: ~ N * 4
    ATOMIC = 14  # HBM read-modify-write through a DMA queue


@dataclass(frozen=True, init=False)
class MemRange:
    """A rectangle of memory an instruction reads or writes (conservative for indirect access).

    HBM: bytes [start, end) with partitions unused (0, 1). A strided HBM pattern may also carry
    its period (`period` > 0): every byte x it touches has (x - start - off) mod period < width,
    so that patterns whose rows interleave without sharing a byte are told apart (`overlaps`).
    SBUF/PSUM: partitions [p_start, p_start + p_count) x bytes [start, end) within each partition.
    """

    space: Space
    start: int
    end: int
    p_start: int = 0
    p_count: int = 1
    period: int = 0
    off: int = 0
    width: int = 0

    def __init__(
        self,
        space: Space,
        start: int,
        end: int,
        p_start: int = 0,
        p_count: int = 1,
        period: int = 0,
        off: int = 0,
        width: int = 0,
    ):
        # the fields set in one step: a frozen dataclass's own __init__ sets each through
        # object.__setattr__, and the emulator makes one or more of these per instruction
        _setattr(
            self,
            "__dict__",
            {
                "space": space,
                "start": start,
                "end": end,
                "p_start": p_start,
                "p_count": p_count,
                "period": period,
                "off": off,
                "width": width,
            },
        )

    def moved(self, d: int) -> MemRange:
        """The same pattern d bytes further along (its period moves with it)."""
        return MemRange(
            self.space, self.start + d, self.end + d, self.p_start, self.p_count,
            self.period, self.off, self.width,
        )  # fmt: skip

    def overlaps(self, other: MemRange) -> bool:
        return (
            self.space == other.space
            and self.start < other.end
            and other.start < self.end
            and self.p_start < other.p_start + other.p_count
            and other.p_start < self.p_start + self.p_count
            and not apart(
                self.start,
                self.end,
                self.period,
                self.off,
                self.width,
                other.start,
                other.end,
                other.period,
                other.off,
                other.width,
            )  # fmt: skip
        )


def strided_range(base: int, dims, size: int, lo: int, hi: int) -> MemRange:
    """The HBM `MemRange` [lo, hi) of a pattern: elements base + sum(k_i * stride_i) * size for
    (stride_i, count_i) in `dims` (strides in elements), with the period that describes it most
    tightly. A period P (a dim's stride in bytes) describes the pattern when every dim's stride
    is a multiple of P or the dims that are not span less than P together (`width`, one element
    included): then the pattern's bytes repeat a window of `width` bytes every P. Of the periods
    that do, the densest window (least width / P) wins, then the smaller P. `lo` may be above
    the pattern's own first byte (an address limit masks elements): the window is anchored on
    the pattern's first element, so that it stays a superset of the bytes touched."""
    best_p = best_w = 0
    for s, n in dims:
        if n <= 1 or s == 0:
            continue
        p = abs(s) * size
        w = size
        for s2, n2 in dims:
            if n2 > 1 and (abs(s2) * size) % p:
                w += (n2 - 1) * abs(s2) * size
        if w >= p:
            continue
        if best_p == 0 or w * best_p < best_w * p or (w * best_p == best_w * p and p < best_p):
            best_p, best_w = p, w
    if best_p == 0:
        return MemRange(Space.HBM, lo, hi)
    anchor = base  # the lowest byte of the dims inside the window
    for s, n in dims:
        if n > 1 and (abs(s) * size) % best_p and s < 0:
            anchor += (n - 1) * s * size
    return MemRange(Space.HBM, lo, hi, 0, 1, best_p, (anchor - lo) % best_p, best_w)


def apart(a0, a1, pa, oa, wa, b0, b1, pb, ob, wb) -> bool:
    """Whether two HBM patterns (first byte, end, period, window offset, width; period 0: the
    whole range) can share no byte: both windows, taken modulo the gcd g of the periods, are
    disjoint arcs of the circle of g bytes (a window at least g wide covers it all). A range
    without a period shorter than the other's period is a window of that period."""
    if pa == 0:
        if pb == 0 or a1 - a0 >= pb:
            return False
        pa, oa, wa = pb, 0, a1 - a0
    elif pb == 0:
        if b1 - b0 >= pa:
            return False
        pb, ob, wb = pa, 0, b1 - b0
    g = math.gcd(pa, pb)
    if wa >= g or wb >= g:
        return False
    ra = (a0 + oa) % g
    rb = (b0 + ob) % g
    return (rb - ra) % g >= wa and (ra - rb) % g >= wb


@dataclass(frozen=True, init=False)
class CostParams:
    """Shape facts the cost formulas need; fields an instruction has no use for stay 0/False."""

    partitions: int = 0  # partitions touched
    free: int = 0  # N: elements per partition (moving free size for matmul)
    dtype_bytes: int = 4
    k: int = 0  # matmul contraction (partitions of stationary/moving)
    m: int = 0  # matmul stationary free size
    bytes: int = 0  # DMA/atomic bytes moved
    descriptors: int = 1  # DMA: number of contiguous chunks (small chunks cost more)
    flops: int = 0
    psum_input: bool = False  # TENSOR_TENSOR: one input lives in PSUM
    all_bf16: bool = False  # TENSOR_TENSOR: every operand is bf16

    def __init__(
        self,
        partitions: int = 0,
        free: int = 0,
        dtype_bytes: int = 4,
        k: int = 0,
        m: int = 0,
        bytes: int = 0,
        descriptors: int = 1,
        flops: int = 0,
        psum_input: bool = False,
        all_bf16: bool = False,
    ):
        _setattr(  # in one step, as MemRange
            self,
            "__dict__",
            {
                "partitions": partitions,
                "free": free,
                "dtype_bytes": dtype_bytes,
                "k": k,
                "m": m,
                "bytes": bytes,
                "descriptors": descriptors,
                "flops": flops,
                "psum_input": psum_input,
                "all_bf16": all_bf16,
            },
        )


@dataclass(frozen=True)
class ExecRecord:
    pc: int  # instruction index in the binary
    mnemonic: str
    engine: Engine
    cost: CostKind
    params: CostParams
    reads: tuple[MemRange, ...] = ()
    writes: tuple[MemRange, ...] = ()
    queue: int = 0  # DMA queue index for Engine.DMA
    program: int = 0  # linear program id
    core: int = 0  # core the program ran on
    line: int = 0  # kernel source line from the binary's line table (0 = unknown)
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector off while records (or what is worked out from them) pile
    up: they hold no cycles, and with hundreds of thousands of them alive each collection
    walks them all (allocation cost per record went from ~1 us to ~6 us on a 6k-instruction
    program)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def exec_record(
    pc, mnemonic, engine, cost, params, reads, writes, queue, program, core, line
) -> ExecRecord:
    """ExecRecord(...) with every field given, its fields set in one step (as MemRange's)."""
    r = _new(ExecRecord)
    _setattr(
        r,
        "__dict__",
        {
            "pc": pc,
            "mnemonic": mnemonic,
            "engine": engine,
            "cost": cost,
            "params": params,
            "reads": reads,
            "writes": writes,
            "queue": queue,
            "program": program,
            "core": core,
            "line": line,
            "extra": {},
        },
    )
    return r


# A record without its program and core: (pc, mnemonic, engine, cost, params, reads, writes,
# queue, line), the fields of `ExecRecord` in order.
Template = tuple
# What an instruction did, without where it ran: (mnemonic, engine, cost, params, reads, writes).
# Records of one memoised handler result share it (a DMA's moved along HBM by a shift).
Body = tuple

_HBM = 0  # Space.HBM, for the hot paths
RECT_COLUMNS = 8  # a row of `body_rects`


def moved_ranges(ranges: tuple, d: int, od: int = 0, pd: int = 0) -> tuple:
    """`ranges` with the HBM ones moved by d bytes and the on-chip ones by od bytes and pd
    partitions (the others are the same objects)."""
    if od or pd:
        return tuple(
            (r.moved(d) if d else r) if r.space == _HBM
            else MemRange(r.space, r.start + od, r.end + od, r.p_start + pd, r.p_count,
                          r.period, r.off, r.width)
            for r in ranges
        )  # fmt: skip
    return tuple(r.moved(d) if r.space == _HBM else r for r in ranges)


def body_rects(body: Body) -> tuple[np.ndarray, int]:
    """A body's accesses as an int64 [k, RECT_COLUMNS] array of (space, start, end, first
    partition, end partition, period, window offset, window width), the reads first, and how
    many reads: what the timing model needs of it."""
    ranges = (*body[4], *body[5])
    rows = np.array(
        [
            (m.space, m.start, m.end, m.p_start, m.p_start + m.p_count, m.period, m.off, m.width)
            for m in ranges
        ],
        np.int64,
    ).reshape(-1, RECT_COLUMNS)
    return rows, len(body[4])


class Templates(Sequence):
    """The distinct records of a stream, as columns: template t is the instruction at `pc[t]`
    (source line `line[t]`, DMA queue `queue[t]`) that did `bodies[body[t]]` with its HBM
    ranges moved by `shift[t]` bytes and its on-chip ones by `oshift[t]` bytes and `pshift[t]`
    partitions (an unrolled loop's loads into successive buffers share a body); `body[t]` is -1
    for a sequencer pc that never ran. Indexing builds the `Template` tuple (once; None for
    -1): the timing model and the profiler read the columns and the bodies, one Python step per
    body, not per template."""

    def __init__(
        self, bodies: list, pc, body, shift, queue, line, rects=None, oshift=None, pshift=None
    ) -> None:
        self.bodies = bodies
        # `body_rects` of each body where its maker kept them (None: worked out when needed)
        self.rects = rects if rects is not None else [None] * len(bodies)
        self.pc, self.body, self.shift, self.queue, self.line = (
            np.asarray(c, np.int64) for c in (pc, body, shift, queue, line)
        )
        n = len(self.body)
        self.oshift, self.pshift = (
            np.zeros(n, np.int64) if c is None else np.asarray(c, np.int64)
            for c in (oshift, pshift)
        )
        self._made: dict = {}
        self._engines: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.body)

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[i] for i in range(*t.indices(len(self)))]
        tp = self._made.get(t)
        if tp is None:
            b = int(self.body[t])
            if b < 0:
                return None
            mnemonic, engine, cost, params, reads, writes = self.bodies[b]
            d, od, pd = int(self.shift[t]), int(self.oshift[t]), int(self.pshift[t])
            if d or od or pd:
                reads, writes = moved_ranges(reads, d, od, pd), moved_ranges(writes, d, od, pd)
            tp = (
                int(self.pc[t]),
                mnemonic,
                engine,
                cost,
                params,
                reads,
                writes,
                int(self.queue[t]),
                int(self.line[t]),
            )
            self._made[t] = tp
        return tp

    def engines(self) -> np.ndarray:
        """Each template's engine (-1 for a pc that never ran)."""
        if self._engines is None:
            n = len(self.bodies)
            per_body = np.full(n + 1, -1, np.int64)  # -1 indexes the trailing -1
            has = np.flatnonzero(np.bincount(self.body[self.body >= 0], minlength=n))
            bodies = self.bodies
            per_body[has] = [int(bodies[b][1]) for b in has.tolist()]
            self._engines = per_body[self.body]
        return self._engines


class RecordStream(Sequence):
    """The records of a run as columns.

    `templates[t]` is a `Template` (of the columns `Templates`); record i is template `tids[i]` run by the program and core
    of its segment: segment j covers records `seg_start[j]` up to the next segment's start.
    Indexing or iterating builds `ExecRecord`s, once per (template, segment): a record met
    again (a loop's instruction with the same operands) is the same object. Equal to any
    sequence of equal records."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, templates: Templates, tids: np.ndarray, segments: list) -> None:
        self.templates = templates
        self.tids = tids
        self.seg_start = [s for s, _, _ in segments]
        self.seg_program = [p for _, p, _ in segments]
        self.seg_core = [c for _, _, c in segments]
        self._made: dict = {}
        self._source: Sequence[ExecRecord] | None = None

    @classmethod
    def of(cls, records: Sequence[ExecRecord]) -> RecordStream:
        """`records` as a stream (itself if it is one): one template per distinct record
        object, one segment per run of records of one program and core."""
        if isinstance(records, RecordStream):
            return records
        bodies: list = []
        cols = [array.array("q") for _ in range(3)]  # pc, queue, line; body: the row number
        tids = array.array("q")
        segments: list = []
        index: dict = {}
        at = None
        for i, r in enumerate(records):
            t = index.get(id(r))
            if t is None:
                t = index[id(r)] = len(bodies)
                bodies.append((r.mnemonic, r.engine, r.cost, r.params, r.reads, r.writes))
                cols[0].append(r.pc)
                cols[1].append(r.queue)
                cols[2].append(r.line)
            tids.append(t)
            if at != (r.program, r.core):
                at = (r.program, r.core)
                segments.append((i, r.program, r.core))
        n = len(bodies)
        pc, queue, line = (_int64(c) for c in cols)
        templates = Templates(bodies, pc, np.arange(n), np.zeros(n, np.int64), queue, line)
        stream = cls(templates, _int64(tids), segments)
        stream._source = records  # indexing gives back the very objects given
        return stream

    def __len__(self) -> int:
        return len(self.tids)

    def segments(self):
        """(first record, end, program, core) of each segment."""
        starts = self.seg_start
        ends = starts[1:] + [len(self.tids)] if starts else []
        return zip(starts, ends, self.seg_program, self.seg_core, strict=True)

    def _record(self, t: int, seg: int) -> ExecRecord:
        r = self._made.get((t, seg))
        if r is None:
            pc, mn, engine, cost, params, reads, writes, queue, line = self.templates[t]
            r = exec_record(
                pc,
                mn,
                engine,
                cost,
                params,
                reads,
                writes,
                queue,
                self.seg_program[seg],
                self.seg_core[seg],
                line,
            )
            self._made[(t, seg)] = r
        return r

    def __getitem__(self, i):
        if self._source is not None:
            return self._source[i]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self.tids)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("record index out of range")
        return self._record(int(self.tids[i]), bisect.bisect_right(self.seg_start, i) - 1)

    def __iter__(self):
        if self._source is not None:
            yield from self._source
            return
        record = self._record
        for seg, (start, end, _, _) in enumerate(self.segments()):
            for t in self.tids[start:end].tolist():
                yield record(t, seg)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"RecordStream({len(self)} records, {len(self.templates)} distinct)"


def _int64(a: array.array) -> np.ndarray:
    return np.frombuffer(a, np.int64) if len(a) else np.zeros(0, np.int64)


class StreamWriter:
    """Builds a `RecordStream` as the emulator runs: template ids 0..n-1 are the sequencer
    instructions at those pcs (their bodies filled in by `finish`), later ids are engine
    records, each a row (pc, body, HBM shift, queue, line, on-chip shift in bytes and in
    partitions) over the bodies added."""

    def __init__(self, n_pcs: int) -> None:
        self.n_pcs = n_pcs
        self.bodies: list = []
        self.rects: list = []  # `body_rects` of each body, or None
        # from bytes: array("q", range(n)) steps through n Python ints (1.4 ms for 29k pcs)
        self.pc = array.array("q", np.arange(n_pcs, dtype=np.int64).tobytes())
        self.body = array.array("q", bytes(8 * n_pcs))
        self.shift = array.array("q", bytes(8 * n_pcs))
        self.queue = array.array("q", bytes(8 * n_pcs))
        self.line = array.array("q", bytes(8 * n_pcs))
        self.oshift = array.array("q", bytes(8 * n_pcs))
        self.pshift = array.array("q", bytes(8 * n_pcs))
        self.tids = array.array("q")
        self.segments: list = []

    def program(self, program: int, core: int) -> None:
        """The records that follow are program `program`'s, run on `core`."""
        self.segments.append((len(self.tids), program, core))

    def add_body(self, body: Body, rects: tuple | None = None) -> int:
        """Keep `body` (and its `body_rects`, if known); returns its id for `add_row`."""
        self.bodies.append(body)
        self.rects.append(rects)
        return len(self.bodies) - 1

    def add_row(
        self, pc: int, body: int, shift: int, queue: int, line: int, oshift: int = 0,
        pshift: int = 0,
    ) -> int:  # fmt: skip
        """Append a record of a new template; returns its id (append it again by `tids`)."""
        t = len(self.pc)
        self.pc.append(pc)
        self.body.append(body)
        self.shift.append(shift)
        self.queue.append(queue)
        self.line.append(line)
        self.oshift.append(oshift)
        self.pshift.append(pshift)
        self.tids.append(t)
        return t

    def add_rows(self, rows: np.ndarray, n: int) -> None:
        """Append template rows `rows[:, :n]` (pc, body, shift, queue, line, oshift, pshift),
        whose ids follow the last one; their records are in `tids` already."""
        if n:
            cols = (self.pc, self.body, self.shift, self.queue, self.line, self.oshift,
                    self.pshift)  # fmt: skip
            for col, values in zip(cols, rows, strict=True):
                col.frombytes(values[:n].tobytes())

    def add_engine(self, pc: int, spec, out: tuple, line: int) -> int:
        """`add_row` of engine instruction `spec` (an `InstrSpec`) at `pc`, given its
        handler's result `out` = (params, reads, writes, queue), as a body of its own."""
        params, reads, writes, queue = out
        body = (spec.mnemonic, spec.engine, spec.cost, params, tuple(reads), tuple(writes))
        return self.add_row(pc, self.add_body(body), 0, queue, line)

    def finish(self, seq_body, lines) -> RecordStream:
        """The stream; `seq_body(pc)` gives the `Body` of the sequencer instruction at `pc`
        and `lines[pc]` its source line, for every pc that ran."""
        tids = _int64(self.tids)
        body, line = _int64(self.body).copy(), _int64(self.line).copy()
        n = self.n_pcs
        body[:n] = -1
        seq = np.flatnonzero(np.bincount(tids[tids < n], minlength=n)).tolist()
        ids: dict = {}
        for pc in seq:
            b = seq_body(pc)
            k = ids.get(id(b))
            if k is None:
                k = ids[id(b)] = self.add_body(b)
            body[pc] = k
            line[pc] = lines[pc]
        templates = Templates(
            self.bodies,
            _int64(self.pc),
            body,
            _int64(self.shift),
            _int64(self.queue),
            line,
            self.rects,
            _int64(self.oshift),
            _int64(self.pshift),
        )
        return RecordStream(templates, tids, self.segments)
