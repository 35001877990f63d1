"""Memoised timing-only handler results: a loop body's engine instructions handled once.

A shape-only handler (`isa.engines.shape_only`) is a pure function of its instruction, the
values (and taint) of the registers it reads, the machine config and HBM's allocations, with one
side effect: it marks the on-chip bytes it writes as unknown (`OnChip.forget`). So the result
of an instruction at a given pc can be reused whenever those registers hold the same values
again (a matmul in a loop over K meets the same handful of tile addresses over and over); a hit
replays the forgets and costs a dictionary lookup instead of the handler's checks and range
arithmetic.

A DMA between a tile and one plain HBM pattern (no bound or limit registers) changes its HBM
address every iteration. Its result is memoised without the HBM base register and shifted on a
hit: the HBM range moves by the change in the base, everything else (sizes, descriptors,
costs, the tile's range) stays. The shifted access is checked as the handler would check it
(alignment, inside one HBM allocation); if a check fails the real handler runs and raises its
error, so errors are those of the handlers, word for word.

Handlers on the `isa.memo_plans._MEMO` list are memoised (every one forgets exactly its on-chip write
ranges), and those on `_DEFERS` (iota/piota/memset: known values, deferred until a read needs
them, `OnChip.pending`), whose hits make their deferred writes again; the others (reg_load and
check read values, new instructions) always run their handler.

Instructions that differ only in their tiles' offsets (and a DMA's in its tiles' first
partitions: an unrolled loop's loads into successive buffers and partition slices) share a plan
(`isa.memo_plans`) whose key holds those values; a miss of such a plan is derived from a sibling
entry (the same plan and registers, its tiles elsewhere) with its tiles' ranges and forgets
moved, once the moved tiles pass the handler's placement checks (aligned, inside the
partition and the partitions, a matmul's result inside one PSUM bank).

Hits run in the sequencer's compiled loop (`isa.sequencer._memo_hit`) where they can: every
instruction is planned at the first timing-only run (`ShapePlans.plan_all`), and each entry
has a row in arrays the loop reads (its plan and key values in an open-addressing index, HBM
span and allocation, queue, forgets, its tiles' placement, the template last made of it). The
loop takes a hit whose forgets are no-ops against the known rectangles of SBUF/PSUM and whose
moved HBM range passes the checks, and derives a miss from a sibling found in a second index
(`isa.sequencer._derive_row`); it appends the record's template id, or a new template row.
Python makes the derived entries' bodies after the loop (`made_derived`) and their entry
objects only if it meets them (`_lookup`). Anything else (a miss without a sibling, a forget
to make, a deferred write, a failing check) stops the loop: `run_block` handles that
instruction in Python, and hands back after its next hit or before an instruction the loop
may derive.
"""

from __future__ import annotations

import bisect
import itertools

import numpy as np

from isa.errors import EmulatorError
from isa.memo_plans import _SIZE, ShapePlans, _Plan
from isa.memory import _MAX_KNOWN, DeferredTileAccess, tile_extent
from isa.operands import SPACE_SBUF
from isa.sequencer import (
    C_DISJOINT,
    C_NBODY,
    C_NDEFER,
    C_NDERIV,
    C_NENT,
    C_NROWS,
    C_ON,
    C_QUEUES,
    C_TNEXT,
    E_BID,
    E_COLS,
    E_DEFERS,
    E_DERIV,
    E_FORGET,
    E_FORGETS,
    E_FSLOT,
    E_OSH,
    E_PLAN,
    E_PSH,
    E_TBANK,
    E_THI,
    E_TID,
    E_TLIM,
    E_TLO,
    E_TMASK,
    E_TPC,
    E_TPMAX,
    E_TSZ,
    FP_KIND,
    FP_PLAN,
    MEMO_FORGETS,
    MEMO_KEY_REGS,
    PR_NT,
    memo_insert,
)
from isa.trace import MemRange, Space, body_rects, moved_ranges

_MAX_ENTRIES = 1 << 16  # results kept (~0.5 KB each) before the memo starts over
_HBM = Space.HBM
_SB = Space.SBUF
_new = object.__new__


class _Entry:
    """A memoised result and its record body; its row `k` of the memo's table `tab` (the
    compiled hit path's, `isa.sequencer.E_*` columns) holds the last record template made of it
    and at which pc (reused at the same pc within one program) and its body's id in the stream
    being written."""

    __slots__ = (
        "out",
        "body",
        "forgets",
        "defers",
        "marks",
        "rects",
        "accesses",
        "base",
        "span",
        "region",
        "tab",
        "k",
        "replayed",
        "toffs",
        "slotmap",
        "fslots",
        "ranges",
        "nreads",
    )

    def __init__(self, out, body, forgets, base, span):
        self.out, self.body, self.forgets, self.base, self.span = out, body, forgets, base, span
        # known-value writes to make again: (space, tile, values)
        self.defers: tuple = ()
        self.marks: tuple = ()  # their rectangles (space, p0, p1, b0, b1)
        self.rects = None  # `isa.trace.body_rects` of its body
        self.accesses: dict = {}
        self.region = None
        self.tab, self.k = None, -1
        # (SBUF, PSUM) versions just after its forgets last ran: the same again, they are no-ops
        self.replayed = None
        # a derivable entry (`ShapeMemo._derivable`): its tile offsets, its reads and writes
        # and which tile each of them and of its forgets moves with (-1: none)
        self.toffs: tuple = ()
        self.slotmap = self.fslots = self.ranges = None
        self.nreads = 0


class ShapeMemo:
    """The memo of timing-only runs over one set of HBM allocations (a handler's result
    depends on them: its bounds checks); kept for the next run when that has the same ones."""

    def __init__(self, plans: ShapePlans, hbm):
        self.plans = plans
        self.entries: dict = {}
        self.regions = regions = list(hbm.regions)
        # Allocations that do not overlap: a shifted access inside the allocation its entry
        # was checked in passes `Hbm.check` without a search.
        self.fault_pc = -1
        self.disjoint = all(regions[i][1] <= regions[i + 1][0] for i in range(len(regions) - 1))
        self.tainted = False
        cap = 256  # entry rows: about one per 16 instructions of an unrolled program
        while cap < min(len(plans.at) // 16, 1 << 14):
            cap *= 2
        self._new_tables(cap)
        # out of the compiled loop, each written before it is read (`ctl` counts them):
        self.rows = np.empty((7, 1 << 14), np.int64)  # template rows of compiled hits
        self.dlog = np.empty(1 << 12, np.int64)  # entries whose deferred writes Python makes
        self.vlog = np.empty((1 << 12, 2), np.int64)  # entries derived (`made_derived`)
        self.ctl = np.zeros(9, np.int64)
        self.known = np.zeros((3, 2 + _MAX_KNOWN, 4), np.int64)
        self.ctl[C_DISJOINT] = self.disjoint
        self.writer = None

    def _new_tables(self, cap: int = 256) -> None:
        """Empty tables for the compiled hit path: entry rows, their key registers, and an
        open-addressing index over them (an entry replaced is marked dead, its row kept)."""
        self.tab = np.zeros((cap, E_COLS), np.int64)
        self.ekeys = np.zeros((cap, MEMO_KEY_REGS), np.int64)
        self.slots = np.full(4 * cap, -1, np.int64)
        self.sslots = np.full(4 * cap, -1, np.int64)  # by registers only: derivable entries
        # the entries by row (None: one the compiled loop derived, made when Python asks for
        # it: `_lookup`), and each row's body and `body_rects` (what a run's stream holds)
        self.listed: list = []
        self.bodies: list = []
        self.rects: list = []
        # the row whose body each row's records use: itself, or the sibling a derived entry
        # shares its body with (its on-chip ranges moved in its templates: E_OSH, E_PSH)
        self.owner: list = []
        self.lazy: dict = {}  # key -> row of a derived entry not made yet
        # plan id -> arrays of rows of its derived entries not in `lazy` yet (a key of one
        # plan can only be an entry of that plan: Python's lookups make no keys of others)
        self._unlooked: dict = {}
        self._moved: dict = {}  # (start, end, p0, pn) -> a derived entry's moved range
        self.src: dict = {}  # row of a derived entry not made yet -> the row it came from
        self.keyed: list = []  # whether each row is in the index
        self._unindexed: list = []  # rows keyed but not in the index yet (`_index`)
        self._unsibled: list = []  # derivable rows not in the sibling index yet

    def serves(self, hbm) -> bool:
        """Whether this memo holds for a run over `hbm` (the same allocations)."""
        return hbm.regions == self.regions

    def next_run(self) -> None:
        """Another run starts: its records go to a new stream."""
        self.fault_pc = -1

    def start_run(self, writer, dma_queues: int) -> None:
        """A run starts writing to `writer`: the bodies of the entries kept go into it (the
        compiled path then never lacks one), no template is made of them yet."""
        n = len(self.listed)
        tab = self.tab
        tab[:n, E_TID] = -1
        tab[:n, E_TPC] = -1
        first = len(writer.bodies)
        owner = np.array(self.owner, np.int64)
        own = owner == np.arange(n)
        if own.all():
            writer.bodies.extend(self.bodies)
            writer.rects.extend(self.rects)
            tab[:n, E_BID] = np.arange(first, first + n)
        else:  # one body per owner row, the rows sharing it given its id
            keep = own.tolist()
            writer.bodies.extend(itertools.compress(self.bodies, keep))
            writer.rects.extend(itertools.compress(self.rects, keep))
            tab[:n, E_BID] = (np.cumsum(own) - 1 + first)[owner]
        self.writer = writer
        self.ctl[C_QUEUES] = dma_queues

    def tables(self, mem, writer) -> tuple:
        """The tables `isa.sequencer.run_scalar` reads, its controls set for now."""
        self.plans.flush()
        if len(self.listed) + 64 > len(self.tab):  # room for entries the loop derives
            self._grow()
        self._index()
        ctl = self.ctl
        ctl[C_ON] = not self.tainted
        ctl[C_TNEXT] = len(writer.pc)
        ctl[C_NROWS] = 0
        ctl[C_NDEFER] = 0
        ctl[C_NENT] = len(self.listed)
        ctl[C_NBODY] = len(writer.bodies)
        ctl[C_NDERIV] = 0
        known = self.known
        for m in (mem.sbuf, mem.psum):
            row = known[m.space]
            rects = m._known
            if m._dirty is None:
                row[0, 0] = 0
            elif rects is None:
                row[0, 0] = -1
                row[1] = m._dirty
            else:
                row[0, 0] = len(rects)
                if rects:
                    row[2 : 2 + len(rects)] = rects
        return (self.plans.fp, self.plans.plan_regs, self.slots, self.tab, self.ekeys,
                known, self.dlog, self.rows, ctl, self.sslots, self.vlog)  # fmt: skip

    def made_derived(self) -> None:
        """After the compiled loop: the bodies of the entries it derived
        (`isa.sequencer._derive_row`), in order: each the result of the entry it came from
        with its tiles' ranges moved, its body given the id the loop gave it (the next ones in
        the stream), or, where it shares its sibling's body (its on-chip ranges moved by its
        templates' shifts), that one. The entries themselves are made when Python first asks
        (`_lookup`)."""
        n = int(self.ctl[C_NDERIV])
        if not n:
            return
        listed, tab, ekeys, moved_of = self.listed, self.tab, self.ekeys, self._moved
        rows_k, rows_s = self.vlog[:n, 0], self.vlog[:n, 1]
        k_list, s_list = rows_k.tolist(), rows_s.tolist()
        shared = tab[rows_k, E_BID] == tab[rows_s, E_BID]
        self.src.update(zip(k_list, s_list))
        # keyed for Python when it looks up one of their plan (`_lookup`)
        plans = tab[rows_k, E_PLAN]
        unlooked = self._unlooked
        if (plans == plans[0]).all():
            unlooked.setdefault(int(plans[0]), []).append(rows_k.copy())
        else:
            for p in np.unique(plans).tolist():
                unlooked.setdefault(p, []).append(rows_k[plans == p])
        listed.extend([None] * n)
        self.keyed.extend([True] * n)
        if shared.all():
            self.bodies.extend([listed[ks].body for ks in s_list])
            self.rects.extend([self.rects[ks] for ks in s_list])
            self.owner.extend(s_list)
            return
        mine = np.flatnonzero(~shared)
        own_k, own_s = rows_k[mine], rows_s[mine]
        by_id = self.plans.by_id
        bodies = []
        dsh: list = []  # per range: how far it moves, in bytes and partitions
        psh: list = []
        for ks, p, keys in zip(
            own_s.tolist(), tab[own_k, E_PLAN].tolist(), ekeys[own_k].tolist(), strict=True
        ):
            sib = listed[ks]  # (made by a handler: only those are in the sibling index)
            plan = by_id[p]
            nk, nt, parted, st = plan.nk, plan.nt, plan.np, sib.toffs
            ranges = []
            for r, j in zip(sib.ranges, sib.slotmap):
                d = q = 0
                if j >= 0:
                    d = keys[nk + j] - st[j]
                    if parted:
                        q = keys[nk + nt + j] - st[nt + j]
                    if d or q:  # equal moved ranges are one object (a tile many matmuls read)
                        mk = (r.start + d, r.end + d, r.p_start + q, r.p_count)
                        m = moved_of.get(mk)
                        if m is None or m.space != r.space:
                            m = moved_of[mk] = MemRange(r.space, *mk)
                        r = m
                ranges.append(r)
                dsh.append(d)
                psh.append(q)
            nr = sib.nreads
            b = sib.body
            bodies.append((b[0], b[1], b[2], b[3], tuple(ranges[:nr]), tuple(ranges[nr:])))
        # their `body_rects`: the siblings' rows, on-chip ones moved (in one step)
        rects = np.concatenate([self.rects[ks][0] for ks in own_s.tolist()])
        rects[:, 1:3] += np.array(dsh, np.int64)[:, None]
        rects[:, 3:5] += np.array(psh, np.int64)[:, None]
        made = []
        at = 0
        for body in bodies:
            m = len(body[4]) + len(body[5])
            made.append((rects[at : at + m], len(body[4])))
            at += m
        writer = self.writer
        writer.bodies.extend(bodies)
        writer.rects.extend(made)
        # per row in order: its own body, or its sibling's
        own_at = iter(zip(bodies, made))
        for k, ks, sh in zip(k_list, s_list, shared.tolist(), strict=True):
            if sh:
                self.bodies.append(listed[ks].body)
                self.rects.append(self.rects[ks])
                self.owner.append(ks)
            else:
                body, r = next(own_at)
                self.bodies.append(body)
                self.rects.append(r)
                self.owner.append(k)

    def _lookup(self, key) -> _Entry | None:
        """The entry of `key`, made now if the compiled loop derived it."""
        e = self.entries.get(key)
        if e is None and (self.lazy or self._unlooked):
            plan = key[0] if type(key) is tuple else key
            chunks = self._unlooked.pop(plan.id, None)
            if chunks:  # the keys of its plan's entries derived since the last time
                ekeys, lazy, nk, nv = self.ekeys, self.lazy, plan.nk, plan.nv
                for rows in chunks:
                    for k, keys in zip(rows.tolist(), ekeys[rows].tolist(), strict=True):
                        regs = np.array(keys[:nk], np.int64).tobytes() if nk else b""
                        lazy[(plan, regs, tuple(keys[nk : nk + nv]))] = k
            k = self.lazy.pop(key, None)
            if k is not None:
                e = self.entries[key] = self._made(k)
        return e

    def _made(self, k: int) -> _Entry:
        """The entry of row k, which the compiled loop derived from row `src[k]`."""
        sib = self.listed[self.src.pop(k)]
        body = self.bodies[k]
        reads, writes = body[4], body[5]
        if self.owner[k] != k:  # the sibling's body: its on-chip ranges move
            od, pd = self.tab.item(k, E_OSH), self.tab.item(k, E_PSH)
            reads, writes = moved_ranges(reads, 0, od, pd), moved_ranges(writes, 0, od, pd)
        plan = self.plans.by_id[self.tab.item(k, E_PLAN)]
        nk = len(plan.idx)
        toffs = tuple(self.ekeys[k, nk : nk + plan.nv].tolist())
        dl, dp = _deltas(toffs, sib.toffs, plan)
        forgets = tuple(
            (x[0], x[1] + dp[j], x[2] + dp[j], x[3] + dl[j], x[4] + dl[j])
            for x, j in zip(sib.forgets, sib.fslots)
        )
        e = _Entry((body[3], reads, writes, sib.out[3]), body, forgets, sib.base, sib.span)
        e.region, e.tab, e.k, e.rects = sib.region, self.tab, k, self.rects[k]
        e.toffs, e.slotmap, e.fslots, e.ranges, e.nreads = (
            toffs, sib.slotmap, sib.fslots, [*reads, *writes], len(reads))  # fmt: skip
        self.listed[k] = e
        return e

    def made_defers(self, ctx) -> None:
        """After the compiled loop: make the deferred writes of the entries it logged, in
        order (it marked their rectangles known as they ran)."""
        n = int(self.ctl[C_NDEFER])
        if n:
            listed = self.listed
            for k in self.dlog[:n].tolist():
                _redefer(ctx, listed[k])

    def drop_accesses(self) -> None:
        """Forget the entries' views of on-chip memories (those are being dropped)."""
        for e in self.listed:
            if e is not None and e.accesses:
                e.accesses = {}

    def _add(self, e: _Entry, plan: _Plan, regs, old: _Entry | None, tiles=None) -> None:
        """Give `e` its table row (its body in this run's stream) and, when the compiled path
        can find it, its place in the index; `old`, the entry it replaces, is found no more.
        `tiles`: a derivable entry's tile columns (`_derivable`)."""
        if old is not None and old.tab is self.tab:
            self.tab[old.k, E_PLAN] = -1
        k = len(self.listed)
        if k == len(self.tab):
            self._grow()
        tab = self.tab
        e.tab, e.k = tab, k
        self.listed.append(e)
        span = e.span or (0, 0)
        region = e.region or (-1, -1)
        e.rects = body_rects(e.body)
        self.bodies.append(e.body)
        self.rects.append(e.rects)
        self.owner.append(k)
        bid = self.writer.add_body(e.body, e.rects)
        row = tab[k]
        row[:E_FORGET] = (plan.id, -1, -1, bid, e.base or 0, e.out[3], *span, *region, 0, 0)
        row[E_FORGET:] = 0  # (a row the compiled loop began to derive and dropped)
        # the rectangles it forgets, or marks known (its deferred writes); more than the
        # compiled path takes: it leaves the entry to Python
        rects = e.marks or e.forgets
        row[E_FORGETS] = MEMO_FORGETS + 1 if len(rects) > MEMO_FORGETS else len(e.forgets)
        row[E_DEFERS] = len(e.marks)
        if rects and len(rects) <= MEMO_FORGETS:
            row[E_FORGET : E_FORGET + 5 * len(rects)] = [v for f in rects for v in f]
        nk = len(plan.idx)
        keyed = nk + plan.nv <= MEMO_KEY_REGS and not self.tainted  # tainted: keys hold taint
        self.keyed.append(keyed)
        if keyed:  # into the index before the compiled loop next runs (`_index`)
            self.ekeys[k, :nk] = regs[plan.idx]
            self.ekeys[k, nk : nk + plan.nv] = e.toffs
            self._unindexed.append(k)
            if tiles is not None:
                row[E_DERIV] = 1
                for j, (lo, hi, lim, bank, size, pmax) in enumerate(tiles):
                    row[E_TLO + j], row[E_THI + j], row[E_TLIM + j] = lo, hi, lim
                    row[E_TBANK + j], row[E_TSZ + j], row[E_TPMAX + j] = bank, size, pmax
                row[E_FSLOT : E_FSLOT + len(e.fslots)] = e.fslots
                # the tiles its on-chip ranges move with (a derived entry moving them all
                # alike shares its body: `isa.sequencer._derive_row`)
                row[E_TMASK] = sum({1 << j for j in (*e.slotmap, *e.fslots) if j >= 0})
                self._unsibled.append(k)

    def _index(self) -> None:
        """Put the entries added since the last call into the compiled path's index."""
        if self._unindexed:
            rows = np.array(self._unindexed, np.int64)
            self._unindexed = []
            memo_insert(self.slots, self.tab, self.ekeys, self.plans.plan_regs, rows, False)
        if self._unsibled:
            rows = np.array(self._unsibled, np.int64)
            self._unsibled = []
            memo_insert(self.sslots, self.tab, self.ekeys, self.plans.plan_regs, rows, True)

    def _grow(self) -> None:
        n = len(self.listed)
        self.tab = np.concatenate((self.tab, np.zeros_like(self.tab)))
        self.ekeys = np.concatenate((self.ekeys, np.zeros_like(self.ekeys)))
        self.slots = np.full(4 * len(self.tab), -1, np.int64)
        self.sslots = np.full(4 * len(self.tab), -1, np.int64)
        for e in self.listed:
            if e is not None:
                e.tab = self.tab
        keyed = np.array(self.keyed, bool) & (self.tab[:n, E_PLAN] >= 0)
        self._unindexed = self._unsibled = []  # all in again
        regs = self.plans.plan_regs
        memo_insert(self.slots, self.tab, self.ekeys, regs, np.flatnonzero(keyed), False)
        sibs = np.flatnonzero(keyed & (self.tab[:n, E_DERIV] > 0))
        memo_insert(self.sslots, self.tab, self.ekeys, regs, sibs, True)

    def start_program(self) -> None:
        """A program starts: its registers (and their taint) are zero."""
        self.tainted = False

    def _key(self, plan: _Plan, regs, taint, toffs: tuple = ()):
        """The memo key: the plan and the values of its registers (and, once some register
        may hold unknown data, their taint), and its tile offsets if the plan is shared among
        them."""
        idx = plan.idx
        if plan.nt:
            if self.tainted:
                return (plan, regs[idx].tobytes(), taint[idx].tobytes(), toffs)
            return (plan, regs[idx].tobytes(), toffs)
        if not len(idx):
            return plan
        if self.tainted:
            return (plan, regs[idx].tobytes(), taint[idx].tobytes())
        return (plan, regs[idx].tobytes())

    def run_block(self, ctx, pc, left, record, records, emu):
        """Handle engine instructions from `pc` on while they follow each other, appending
        their records to the `StreamWriter` `records`; returns (pc, budget left). Stops at a sequencer instruction, the end of
        the program, an exhausted budget or an instruction without a handler (the caller deals
        with those). On an error `fault_pc` is the failing instruction's pc."""
        instrs, handlers, lines, engine_at = (
            emu.instrs,
            emu.shape_handlers,
            emu.lines,
            emu._engine_at,
        )
        n = len(instrs)
        plans = self.plans
        at_list = plans.at
        regs = ctx.regs
        mem = ctx.mem
        sbuf, psum = mem.sbuf, mem.psum
        append, add_row, add_engine = records.tids.append, records.add_row, records.add_engine
        fp = plans.fp
        dma_queues = ctx.config.dma_queues
        # plan (and tile offsets) -> its entry for the registers as they are: registers change
        # only in a handler that is not memoised (reg_load), which empties this
        seen: dict = {}
        reg, tainted = regs.item, ctx.taint.item
        try:
            while pc < n and engine_at[pc] and left > 0:
                h = handlers[pc]
                if h is None:
                    break
                left -= 1
                at = at_list[pc]
                if at is None:
                    at = plans.plan(pc, instrs[pc])
                # the result: `src` (an entry) moved by d bytes on queue q, the same record
                # as `src`'s last when `same`; or `out`, a handler's result of its own
                src = out = None
                d = q = 0
                same = False
                if at:  # a hit inline: the entry of this plan and register values
                    plan = at[0]
                    sk = (plan, at[3]) if plan.nt else plan
                    m = seen.get(sk)
                    if m is None:
                        m = self._lookup(self._key(plan, regs, ctx.taint, at[3]))
                        if m is not None:
                            seen[sk] = m
                    if m is not None:
                        br = plan.base_reg
                        q = m.out[3]
                        if not br:
                            src, same = m, True
                        elif not tainted(br):  # a DMA: its HBM range moves with the base
                            base = reg(br) + at[1]
                            d = base - m.base
                            q = at[2]
                            if d == 0 and q == m.out[3]:
                                src, same = m, True
                            elif self._fits(m, d, base, plan.size, ctx, q, dma_queues):
                                src = m
                        if (
                            src is not None
                            and m.forgets
                            and (sbuf._dirty or psum._dirty)
                            and m.replayed != (sbuf.version, psum.version)
                        ):
                            _replay(mem, m.forgets)
                            m.replayed = (sbuf.version, psum.version)
                        if src is not None and m.defers:
                            _redefer(ctx, m)
                hit = src is not None
                if src is None:  # a miss, or a check the handler must make (and fail)
                    ctx.pc = pc
                    src, d, q, out = self.handle(ctx, pc, instrs[pc], h)
                    same = src is not None and d == 0 and q == src.out[3]
                    if not at:
                        seen.clear()
                if record:
                    if src is None:
                        add_engine(pc, instrs[pc].spec, out, lines[pc])
                    else:
                        tab, k = src.tab, src.k
                        if same and tab.item(k, E_TPC) == pc:
                            append(tab.item(k, E_TID))  # a memoised result met again here
                        else:
                            t = add_row(pc, tab.item(k, E_BID), d, q, lines[pc],
                                        tab.item(k, E_OSH), tab.item(k, E_PSH))  # fmt: skip
                            if same:
                                tab[k, E_TID] = t
                                tab[k, E_TPC] = pc
                pc += 1
                # back to the compiled loop after a hit when it may go on from here, or
                # before an instruction it may derive from an entry (`_derive_row`)
                if pc < n and fp[pc, FP_KIND] and (hit or plans.plan_regs[fp[pc, FP_PLAN], PR_NT]):
                    break
        except BaseException:
            self.fault_pc = pc
            raise
        return pc, left

    def handle(self, ctx, pc: int, ins, handler):
        """`ins` at `pc` handled: (entry, d, queue, None) for the memoised result `entry` with
        its HBM range moved by d bytes on DMA queue `queue`, or (None, 0, 0, out) for the
        handler's (params, reads, writes, queue) `out` when it is not memoised."""
        at = self.plans.at[pc]
        if at is None:
            at = self.plans.plan(pc, ins)
        if at is False:
            out = handler(ctx, ins)
            if not self.tainted and ctx.taint.any():  # reg_load met unknown data
                self.tainted = True
            return None, 0, 0, out
        plan, off, queue, toffs = at
        regs = ctx.regs
        key = self._key(plan, regs, ctx.taint, toffs)
        e = self._lookup(key)
        br = plan.base_reg
        if e is not None:
            if not br:
                if e.forgets:
                    _replay(ctx.mem, e.forgets)
                if e.defers:
                    _redefer(ctx, e)
                return e, 0, e.out[3], None
            if not ctx.taint[br]:
                base = int(regs[br]) + off
                d = base - e.base
                if self._fits(e, d, base, plan.size, ctx, queue, ctx.config.dma_queues):
                    if e.forgets:
                        _replay(ctx.mem, e.forgets)
                    return e, d, queue, None
        mem = ctx.mem
        waiting = (
            (mem.sbuf, mem.sbuf.pending, len(mem.sbuf.pending)),
            (
                mem.psum,
                mem.psum.pending,
                len(mem.psum.pending),
            ),
        )
        out = handler(ctx, ins)  # raises the handler's own error on a bad access
        params, reads, writes, q = out
        reads, writes = tuple(reads), tuple(writes)
        # what it deferred (a known-value write) or else forgot (the on-chip bytes it wrote)
        made = [
            (m.space, access, values)
            for m, pending, n in waiting
            if m.pending is pending
            for access, values in pending[n:]
        ]
        defers = tuple((space, access.tile, values) for space, access, values in made)
        forgets = () if defers else tuple(
            (w.space, w.p_start, w.p_start + w.p_count, w.start, w.end)
            for w in writes
            if w.space != _HBM
        )  # fmt: skip
        spec = ins.spec
        body = (spec.mnemonic, spec.engine, spec.cost, params, reads, writes)
        e = _Entry(out, body, forgets, None, None)
        e.defers = defers
        e.marks = tuple(
            (space, a.range.p_start, a.range.p_start + a.range.p_count, a.range.start, a.range.end)
            for space, a, _ in made
        )
        if br:
            e.base = int(regs[br]) + off
            e.span = _hbm_span(out)
            if e.span is not None:
                e.region = _region(ctx.hbm, *e.span)
        e.toffs = toffs
        tiles = self._derivable(e, ctx, ins, plan) if plan.nt and not self.tainted else None
        self._keep(e, plan, regs, key, tiles)
        return e, 0, q, None

    def _derivable(self, e: _Entry, ctx, ins, plan: _Plan) -> list | None:
        """Whether the compiled loop may derive the results of `plan` at other tile offsets
        from `e` (`isa.sequencer._derive_row`): each on-chip range it reads or writes and each
        rectangle it forgets is one of its tiles' (and no two tiles cover the same bytes), it
        defers no write. If so, which tile each moves with (set on `e`) and per tile its bytes
        in a partition, the end its memory allows, its PSUM bank rule and its element size."""
        if e.defers or len(e.forgets) > MEMO_FORGETS:
            return None
        mem, cfg, ops = ctx.mem, ctx.config, ins.ops
        rects, cols = [], []
        for j, i in enumerate(plan.tiles):
            t = ops[i]
            if not t.space:
                rects.append(None)
                cols.append((0, 0, 0, 0, 1, 0))
                continue
            onchip = mem.sbuf if t.space == SPACE_SBUF else mem.psum
            try:
                _, lo, hi = tile_extent(onchip, t, ctx.regs, cfg.partitions)
            except EmulatorError:
                return None
            size = _SIZE[t.dtype]
            lo, hi = lo * size, (hi + 1) * size
            rects.append((t.space, t.p0, t.p0 + t.pn, lo, hi))
            bank = cfg.psum_bank_bytes if j == plan.bank else 0
            cols.append((lo, hi, onchip.nbytes // size * size, bank, size, cfg.partitions - t.pn))

        def slot(rect) -> int:
            found = [j for j, r in enumerate(rects) if r == rect]
            return found[0] if len(found) == 1 else -2

        ranges = (*e.out[1], *e.out[2])
        slotmap = tuple(
            -1 if r.space == _HBM else slot((r.space, r.p_start, r.p_start + r.p_count, r.start,
                                             r.end)) if not r.period else -2
            for r in ranges
        )  # fmt: skip
        fslots = tuple(slot(f) for f in e.forgets)
        if -2 in slotmap or -2 in fslots:
            return None
        e.slotmap, e.fslots, e.ranges, e.nreads = slotmap, fslots, list(ranges), len(e.out[1])
        return cols

    def _keep(self, e: _Entry, plan: _Plan, regs, key, tiles=None) -> None:
        if len(self.listed) >= _MAX_ENTRIES:  # addresses that never repeat: start over
            self.entries.clear()
            self._new_tables()
        old = self._lookup(key)
        self.entries[key] = e
        self._add(e, plan, regs, old, tiles)

    def _fits(self, e: _Entry, d: int, base: int, size: int, ctx, queue: int, queues: int):
        """Whether the memoised DMA moved by d bytes (to `base`) on queue `queue` passes the
        handler's checks (aligned, inside one allocation, an existing queue); the moved
        ranges are those of `e` shifted by d (`Templates` makes them when asked)."""
        if d == 0 and queue == e.out[3]:
            return True
        if base % size or e.span is None or not 0 <= queue < queues:
            return False
        lo, hi = e.span
        lo += d
        hi += d
        region = e.region
        if self.disjoint and region is not None and region[0] <= lo and hi <= region[1]:
            return True
        return _region(ctx.hbm, lo, hi) is not None


def _deltas(toffs: tuple, base: tuple, plan: _Plan) -> tuple[list, list]:
    """Per tile of `plan`, how far an entry with key values `toffs` has it from one with
    `base`: bytes and partitions (a last 0 for the ranges that do not move, tile -1)."""
    nt = plan.nt
    dl = [a - b for a, b in zip(toffs[:nt], base[:nt])]
    dp = [a - b for a, b in zip(toffs[nt:], base[nt:])] if plan.np else [0] * nt
    dl.append(0)
    dp.append(0)
    return dl, dp


def _redefer(ctx, e: _Entry) -> None:
    """Make `e`'s known-value writes again (deferred) on this core's memories: the registers
    its key holds are those it was made with, so are the tiles' addresses. The accesses are
    made once per memory and kept (`e.accesses`, dropped by `ShapeMemo.drop_accesses`)."""
    mem = ctx.mem
    for i, (space, tile, values) in enumerate(e.defers):
        onchip = mem.sbuf if space == SPACE_SBUF else mem.psum
        key = (id(onchip), i)
        access = e.accesses.get(key)
        if access is None or access.mem is not onchip:
            access = DeferredTileAccess(onchip, tile, ctx.regs, ctx.config.partitions)
            e.accesses[key] = access
        onchip.defer(access, values)


def _replay(mem, forgets) -> None:
    """The handler's `forget`s of its on-chip writes (nothing to do for a rectangle outside the
    bounding box of what was written since the last reset: `OnChip._dirty`)."""
    for space, p0, p1, b0, b1 in forgets:
        m = mem.sbuf if space == SPACE_SBUF else mem.psum
        d = m._dirty
        if d is None or p1 <= d[0] or d[1] <= p0 or b1 <= d[2] or d[3] <= b0:
            continue
        m.forget(p0, p1, b0, b1)


def _region(hbm, lo: int, hi: int):
    """The allocation (start, end) that `Hbm.check(lo, hi)` accepts [lo, hi) in, or None."""
    i = bisect.bisect_right(hbm.starts, lo) - 1
    if i < 0:
        return None
    start, end, _ = hbm.regions[i]
    return (start, end) if start <= lo and hi <= end else None


def _hbm_span(out):
    lo = hi = None
    for r in (*out[1], *out[2]):
        if r.space == _HBM:
            lo = r.start if lo is None else min(lo, r.start)
            hi = r.end if hi is None else max(hi, r.end)
    return None if lo is None else (lo, hi)
