"""The scalar sequencer: a numba-compiled interpreter loop over pre-decoded scalar instructions.

Input: the program's instructions flattened into parallel arrays (uop, sub-op, registers,
immediate, branch target). The loop runs sequencer instructions until it reaches an engine
instruction, a halt, the instruction budget or an error, and returns the pc and a status; the
emulator then runs the engine instruction with numpy and calls back in. This keeps scalar code
(loops, address arithmetic) fast while engine semantics stay in readable numpy. In timing-only
emulation an engine instruction whose result the memo holds (`isa.shape_memo`) is taken here
too, from the memo's arrays: no call back for a loop body met again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from isa.table import AluOp, Cond, Kind, Uop

try:
    from numba import njit as _numba_njit
except ImportError:  # pragma: no cover - numba is a dependency; keep a (slow) fallback working
    _numba_njit = None


def njit(*args, _njit=None, **kwargs):
    """`numba.njit(**kwargs)` as a decorator; where numba finds nowhere to keep `cache=True`'s
    machine code (a read-only install and no writable user cache directory: a RuntimeError at
    decoration), the function is compiled once per process instead; plain Python without numba."""
    jit = _njit or _numba_njit
    if args and callable(args[0]):
        return njit(_njit=_njit, **kwargs)(args[0])

    def deco(fn):
        if jit is None:  # pragma: no cover
            return fn
        try:
            return jit(**kwargs)(fn)
        except RuntimeError:
            if not kwargs.get("cache"):
                raise
            return jit(**{k: v for k, v in kwargs.items() if k != "cache"})(fn)

    return deco


ST_ENGINE, ST_HALT, ST_BUDGET, ST_PC_RANGE, ST_TRACE_FULL, ST_BAD_ARG, ST_TAINTED = range(7)

# The timing-only memo's tables as `run_scalar` reads them (made by `isa.shape_memo`).
# `fp[pc]`: how the engine instruction at pc is memoised: kind (0: ask Python, 1: by registers,
# 2: by registers with its HBM range moved by its base register), plan, base register, HBM
# offset, DMA queue, element size, its tiles' offset immediates and first partitions (a plan
# shared by instructions that differ in them holds them in its key), source line.
FP_KIND, FP_PLAN, FP_BASE_REG, FP_OFF, FP_QUEUE, FP_SIZE, FP_T0 = range(7)
MEMO_TILES = 3  # tiles an fp row holds the offsets (and first partitions) of
FP_P0 = FP_T0 + MEMO_TILES
FP_LINE = FP_P0 + MEMO_TILES
FP_COLS = FP_LINE + 1
# key values an entry may hold: its plan's registers, then its tiles' offsets, then (a DMA's)
# their first partitions (`plan_regs[p] = count, reg, reg, ..., tiles, tiles' partitions`)
MEMO_KEY_REGS = 8
PR_NT = MEMO_KEY_REGS + 1
PR_NP = PR_NT + 1
# `ent[k]`: memo entry k: its plan, the template last made of it and at which pc, its body's
# id in this run's stream (-1: none yet), HBM base, queue, HBM span, the allocation around it
# (-1: none), how many on-chip rectangles it forgets, or else how many it writes with known
# values (a memset's deferred write: marked known, the entry logged for Python to make the
# write), and from E_FORGET on up to MEMO_FORGETS of them (space, p0, p1, b0, b1); `ekeys[k]`
# its register values.
E_PLAN, E_TID, E_TPC, E_BID, E_BASE, E_QUEUE, E_LO, E_HI, E_RLO, E_RHI, E_FORGETS = range(11)
E_DEFERS = 11
E_FORGET = 12
MEMO_FORGETS = 4
# An entry another of its plan can be derived from (`_derive_row`: the same registers, its
# tiles elsewhere): E_DERIV set, per tile its bytes [E_TLO, E_THI) in each partition, the
# highest end its memory allows (E_TLIM), the PSUM bank it must stay in (E_TBANK bytes, 0: no
# such rule), its element size (E_TSZ), the highest first partition it may take (E_TPMAX);
# per forget the tile it moves with (E_FSLOT, -1: none); which tiles its on-chip ranges move
# with (E_TMASK, a bit per tile). An entry derived with every one of those tiles moved alike
# shares its sibling's body (E_BID) and moves its on-chip ranges by (E_OSH bytes, E_PSH
# partitions) in its records' templates; others have a body of their own (E_OSH = E_PSH = 0).
E_DERIV = E_FORGET + 5 * MEMO_FORGETS
E_TLO = E_DERIV + 1
E_THI = E_TLO + MEMO_TILES
E_TLIM = E_THI + MEMO_TILES
E_TBANK = E_TLIM + MEMO_TILES
E_TSZ = E_TBANK + MEMO_TILES
E_TPMAX = E_TSZ + MEMO_TILES
E_FSLOT = E_TPMAX + MEMO_TILES
E_TMASK = E_FSLOT + MEMO_FORGETS
E_OSH = E_TMASK + 1
E_PSH = E_OSH + 1
E_COLS = E_PSH + 1
# `known[space]` (SBUF 1, PSUM 2) of the core's `OnChip`s: [0, 0] how many rectangles of known
# values it lists (-1: too many, only their bounding box), [1] that box, [2:] the rectangles
# (p0, p1, b0, b1): a forget that meets none of them is a no-op (`OnChip.forget`).
# `ctl`: memo on, DMA queues, allocations disjoint, the next template id, the next entry row
# and body id; out: template rows written (`rows[:, :n]` = pc, body, shift, queue, line,
# on-chip shift in bytes and in partitions: `isa.trace.Templates`' columns),
# entries logged (`dlog[:n]`), entries derived (`vlog[:n]` = new row, the row it came from).
C_ON, C_QUEUES, C_DISJOINT, C_TNEXT, C_NROWS, C_NDEFER, C_NENT, C_NBODY, C_NDERIV = range(9)

_U_ALU, _U_ALUI, _U_CMP, _U_CMPI = int(Uop.ALU), int(Uop.ALUI), int(Uop.CMP), int(Uop.CMPI)
_U_BR, _U_BRI, _U_JMP, _U_LI = int(Uop.BR), int(Uop.BRI), int(Uop.JMP), int(Uop.LI)
_U_MOV, _U_PID, _U_NPROG, _U_ARG = int(Uop.MOV), int(Uop.PID), int(Uop.NPROG), int(Uop.ARG)
_U_DATA, _U_HALT, _U_NOP, _U_LOOP = int(Uop.DATA), int(Uop.HALT), int(Uop.NOP), int(Uop.LOOP)
_U_ENGINE = int(Uop.ENGINE)
_INT64_MIN = -(1 << 63)

_ADD, _SUB, _MUL, _DIV, _REM = (
    int(AluOp.ADD),
    int(AluOp.SUB),
    int(AluOp.MUL),
    int(AluOp.DIV),
    int(AluOp.REM),
)
_AND, _OR, _XOR, _SHL, _SHR, _SHRU = (
    int(AluOp.AND),
    int(AluOp.OR),
    int(AluOp.XOR),
    int(AluOp.SHL),
    int(AluOp.SHR),
    int(AluOp.SHRU),
)
_MIN, _MAX = int(AluOp.MIN), int(AluOp.MAX)
_EQ, _NE, _LT, _LE, _GT, _GE, _LTU, _GEU = (int(c) for c in Cond)


@njit(cache=True, inline="always")
def _alu(op, a, b):
    if op == _ADD:
        return a + b
    if op == _SUB:
        return a - b
    if op == _MUL:
        return a * b
    if op == _DIV or op == _REM:
        if b == 0:
            return np.int64(-1) if op == _DIV else a
        if a == _INT64_MIN and b == -1:
            return a if op == _DIV else np.int64(0)
        q = a // b
        if (a % b != 0) and ((a < 0) != (b < 0)):
            q += 1
        return q if op == _DIV else a - q * b
    if op == _AND:
        return a & b
    if op == _OR:
        return a | b
    if op == _XOR:
        return a ^ b
    if op == _SHL:
        return a << (b & 63)
    if op == _SHR:
        return a >> (b & 63)
    if op == _SHRU:
        return np.int64(np.uint64(a) >> np.uint64(b & 63))
    if op == _MIN:
        return min(a, b)
    return max(a, b)


@njit(cache=True, inline="always")
def _cmp(c, a, b):
    if c == _EQ:
        return a == b
    if c == _NE:
        return a != b
    if c == _LT:
        return a < b
    if c == _LE:
        return a <= b
    if c == _GT:
        return a > b
    if c == _GE:
        return a >= b
    if c == _LTU:
        return np.uint64(a) < np.uint64(b)
    return np.uint64(a) >= np.uint64(b)


@njit(cache=True, inline="always")
def _hash_start(plan):
    return np.uint64(plan) * np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def _hash_step(h, value):
    h = (h ^ np.uint64(value)) * np.uint64(0x100000001B3)
    return h ^ (h >> np.uint64(31))


@njit(cache=True, _nrt=False)
def memo_insert(slots, ent, ekeys, plan_regs, rows, siblings):
    """Put the entries `rows` into the open-addressing table `slots` (a power of two long, at
    most half full), hashed as `_memo_hit` looks them up: by their whole key, or with
    `siblings` by their registers only (`_derive_row`'s table)."""
    for k in rows:
        _insert(slots, ent, ekeys, plan_regs, k, siblings)


@njit(cache=True, inline="always", _nrt=False)
def _insert(slots, ent, ekeys, plan_regs, k, siblings):
    mask = slots.shape[0] - 1
    p = ent[k, E_PLAN]
    nk = plan_regs[p, 0] + (0 if siblings else plan_regs[p, PR_NT] + plan_regs[p, PR_NP])
    h = _hash_start(p)
    for i in range(nk):
        h = _hash_step(h, ekeys[k, i])
    s = np.int64(h & np.uint64(mask))
    while slots[s] >= 0:
        s = (s + 1) & mask
    slots[s] = k


@njit(cache=True, inline="always", _nrt=False)
def _derive_row(pc, p, regs, fp, plan_regs, sslots, ent, ekeys, vlog, ctl):
    """A miss of plan p at pc whose plan shares it among tile offsets: a new entry row made
    from a sibling (the same plan and registers, its tiles elsewhere), its tiles and forgets
    moved and placed as the handler would check them (aligned, inside the partition, a
    matmul's result inside one PSUM bank; a DMA's tile may start at another partition, within
    the partitions). Returns the row (written past `ctl[C_NENT]`, not
    yet counted: `_commit` does that once every other check passed), or -1."""
    k = ctl[C_NENT]
    if k >= ent.shape[0] or ctl[C_NDERIV] >= vlog.shape[0]:
        return -1
    nk = plan_regs[p, 0]
    h = _hash_start(p)
    for i in range(nk):
        h = _hash_step(h, regs[plan_regs[p, 1 + i]])
    mask = sslots.shape[0] - 1
    s = np.int64(h & np.uint64(mask))
    ks = -1
    while sslots[s] >= 0:
        e = sslots[s]
        if ent[e, E_PLAN] == p:
            same = True
            for i in range(nk):
                if ekeys[e, i] != regs[plan_regs[p, 1 + i]]:
                    same = False
                    break
            if same:
                ks = e
                break
        s = (s + 1) & mask
    if ks < 0 or ent[ks, E_DERIV] == 0:
        return -1
    nt = plan_regs[p, PR_NT]
    npart = plan_regs[p, PR_NP]
    for j in range(npart):
        if fp[pc, FP_P0 + j] > ent[ks, E_TPMAX + j]:
            return -1
    for j in range(nt):
        dl = fp[pc, FP_T0 + j] - ekeys[ks, nk + j]
        if dl % ent[ks, E_TSZ + j] != 0:
            return -1
        lo = ent[ks, E_TLO + j] + dl
        hi = ent[ks, E_THI + j] + dl
        if lo < 0 or hi > ent[ks, E_TLIM + j]:
            return -1
        bank = ent[ks, E_TBANK + j]
        if bank > 0 and lo // bank != (hi - 1) // bank:
            return -1
    for c in range(E_COLS):
        ent[k, c] = ent[ks, c]
    for i in range(nk):
        ekeys[k, i] = ekeys[ks, i]
    for j in range(nt):
        dl = fp[pc, FP_T0 + j] - ekeys[ks, nk + j]
        ekeys[k, nk + j] = fp[pc, FP_T0 + j]
        ent[k, E_TLO + j] += dl
        ent[k, E_THI + j] += dl
    for j in range(npart):
        ekeys[k, nk + nt + j] = fp[pc, FP_P0 + j]
    for j in range(ent[ks, E_FORGETS]):
        slot = ent[ks, E_FSLOT + j]
        if slot >= 0:
            c = E_FORGET + 5 * j
            dl = fp[pc, FP_T0 + slot] - ekeys[ks, nk + slot]
            ent[k, c + 3] += dl
            ent[k, c + 4] += dl
            if npart:
                dp = fp[pc, FP_P0 + slot] - ekeys[ks, nk + nt + slot]
                ent[k, c + 1] += dp
                ent[k, c + 2] += dp
    # its body: the sibling's, its on-chip ranges moved in the template, when every tile they
    # move with moves alike (a DMA's one tile); else one of its own (`_commit`)
    tmask = ent[ks, E_TMASK]
    share = tmask != 0
    osh = psh = 0
    seen = False
    for j in range(nt):
        if share and (tmask >> j) & 1:
            dl = fp[pc, FP_T0 + j] - ekeys[ks, nk + j]
            dp = fp[pc, FP_P0 + j] - ekeys[ks, nk + nt + j] if j < npart else 0
            if not seen:
                osh, psh, seen = dl, dp, True
            elif dl != osh or dp != psh:
                share = False
    ent[k, E_OSH] = osh if share else 0
    ent[k, E_PSH] = psh if share else 0
    if not share:
        ent[k, E_BID] = -1
    ent[k, E_TID] = -1
    ent[k, E_TPC] = -1
    ent[k, E_DERIV] = 0  # siblings are entries a handler made (Python holds their ranges)
    vlog[ctl[C_NDERIV], 1] = ks
    return k


@njit(cache=True, inline="always", _nrt=False)
def _commit(k, slots, ent, ekeys, plan_regs, vlog, ctl):
    """Count the row `_derive_row` made: indexed, given the next body id unless it shares
    its sibling's (Python makes the body, `isa.shape_memo.ShapeMemo.made_derived`), logged."""
    ctl[C_NENT] = k + 1
    if ent[k, E_BID] < 0:
        ent[k, E_BID] = ctl[C_NBODY]
        ctl[C_NBODY] += 1
    vlog[ctl[C_NDERIV], 0] = k
    ctl[C_NDERIV] += 1
    _insert(slots, ent, ekeys, plan_regs, k, False)


@njit(cache=True, inline="always", _nrt=False)
def _memo_hit(
    pc, regs, taint, fp, plan_regs, slots, ent, ekeys, known, dlog, rows, ctl, sslots, vlog, record
):
    """The timing-only memo's entry for the engine instruction at pc and its registers'
    values (and tile offsets), as `isa.shape_memo.ShapeMemo.run_block` would find it, or one
    derived from a sibling (`_derive_row`): returns the template id of its record (an entry
    met again at this pc), -2 when a new template row was written to `rows`, -1 when Python
    must handle it (no entry, a check to make, a forget to replay, a body not yet in this
    stream, the rows buffer full)."""
    p = fp[pc, FP_PLAN]
    nk = plan_regs[p, 0]
    nt = plan_regs[p, PR_NT]
    npart = plan_regs[p, PR_NP]
    h = _hash_start(p)
    for i in range(nk):
        h = _hash_step(h, regs[plan_regs[p, 1 + i]])
    for j in range(nt):
        h = _hash_step(h, fp[pc, FP_T0 + j])
    for j in range(npart):
        h = _hash_step(h, fp[pc, FP_P0 + j])
    mask = slots.shape[0] - 1
    s = np.int64(h & np.uint64(mask))
    k = -1
    while slots[s] >= 0:
        e = slots[s]
        if ent[e, E_PLAN] == p:
            hit = True
            for i in range(nk):
                if ekeys[e, i] != regs[plan_regs[p, 1 + i]]:
                    hit = False
                    break
            for j in range(nt):
                if ekeys[e, nk + j] != fp[pc, FP_T0 + j]:
                    hit = False
                    break
            for j in range(npart):
                if ekeys[e, nk + nt + j] != fp[pc, FP_P0 + j]:
                    hit = False
                    break
            if hit:
                k = e
                break
        s = (s + 1) & mask
    derived = False
    if k < 0:
        if nt == 0 or not record:
            return -1
        k = _derive_row(pc, p, regs, fp, plan_regs, sslots, ent, ekeys, vlog, ctl)
        if k < 0:
            return -1
        derived = True
    nf = ent[k, E_FORGETS]
    if nf > MEMO_FORGETS:
        return -1
    for j in range(nf):  # each forget must be a no-op: Python replays the others
        c = E_FORGET + 5 * j
        sp = ent[k, c]
        p0 = ent[k, c + 1]
        p1 = ent[k, c + 2]
        b0 = ent[k, c + 3]
        b1 = ent[k, c + 4]
        count = known[sp, 0, 0]
        first = 1 if count < 0 else 2
        last = 2 if count < 0 else 2 + count
        for r in range(first, last):
            if (
                p0 < known[sp, r, 1]
                and known[sp, r, 0] < p1
                and b0 < known[sp, r, 3]
                and known[sp, r, 2] < b1
            ):
                return -1
    d = 0
    q = ent[k, E_QUEUE]
    if fp[pc, FP_KIND] == 2:  # a DMA: its HBM range moves with the base register
        br = fp[pc, FP_BASE_REG]
        if taint[br] != 0:
            return -1
        base = regs[br] + fp[pc, FP_OFF]
        d = base - ent[k, E_BASE]
        q = fp[pc, FP_QUEUE]
        if d != 0 or q != ent[k, E_QUEUE]:  # moved: checked as the handler would
            lo = ent[k, E_LO] + d
            hi = ent[k, E_HI] + d
            if (
                base % fp[pc, FP_SIZE] != 0
                or ent[k, E_RLO] < 0
                or q < 0
                or q >= ctl[C_QUEUES]
                or ctl[C_DISJOINT] == 0
                or lo < ent[k, E_RLO]
                or hi > ent[k, E_RHI]
            ):
                return -1
            if not record:
                return 0
            n = ctl[C_NROWS]
            if (ent[k, E_BID] < 0 and not derived) or n >= rows.shape[1]:
                return -1
            if derived:
                _commit(k, slots, ent, ekeys, plan_regs, vlog, ctl)
            b = ent[k, E_BID]
            rows[0, n] = pc
            rows[1, n] = b
            rows[2, n] = d
            rows[3, n] = q
            rows[4, n] = fp[pc, FP_LINE]
            rows[5, n] = ent[k, E_OSH]
            rows[6, n] = ent[k, E_PSH]
            ctl[C_NROWS] = n + 1
            return -2
    t = 0
    if record:
        if ent[k, E_TPC] == pc:
            t = ent[k, E_TID]
        elif (ent[k, E_BID] < 0 and not derived) or ctl[C_NROWS] >= rows.shape[1]:
            return -1
        else:
            t = -2
    nd = ent[k, E_DEFERS]
    if nd:  # its known-value writes: marked known here as OnChip._mark would, made by Python
        nl = ctl[C_NDEFER]
        if nl >= dlog.shape[0]:
            return -1
        for j in range(nd):  # room for every rectangle, or Python marks them
            sp = ent[k, E_FORGET + 5 * j]
            count = known[sp, 0, 0]
            if count < 0 or count + nd > known.shape[1] - 2:
                return -1
        for j in range(nd):
            c = E_FORGET + 5 * j
            sp = ent[k, c]
            p0 = ent[k, c + 1]
            p1 = ent[k, c + 2]
            b0 = ent[k, c + 3]
            b1 = ent[k, c + 4]
            count = known[sp, 0, 0]
            inside = False
            for r in range(2, 2 + count):
                if (
                    known[sp, r, 0] <= p0
                    and p1 <= known[sp, r, 1]
                    and known[sp, r, 2] <= b0
                    and b1 <= known[sp, r, 3]
                ):
                    inside = True
                    break
            if not inside:
                known[sp, 2 + count, 0] = p0
                known[sp, 2 + count, 1] = p1
                known[sp, 2 + count, 2] = b0
                known[sp, 2 + count, 3] = b1
                known[sp, 0, 0] = count + 1
        dlog[nl] = k
        ctl[C_NDEFER] = nl + 1
    if t != -2:
        return t
    if derived:  # (a derived entry has no deferred writes: `ShapeMemo._derivable`)
        _commit(k, slots, ent, ekeys, plan_regs, vlog, ctl)
    n = ctl[C_NROWS]
    rows[0, n] = pc
    rows[1, n] = ent[k, E_BID]
    rows[2, n] = 0
    rows[3, n] = q
    rows[4, n] = fp[pc, FP_LINE]
    rows[5, n] = ent[k, E_OSH]
    rows[6, n] = ent[k, E_PSH]
    ctl[C_NROWS] = n + 1
    ent[k, E_TID] = ctl[C_TNEXT] + n
    ent[k, E_TPC] = pc
    return -2


# No reference counting in the loop (`_nrt=False`): it allocates nothing, and with NRT on, the
# arrays handed to the inlined `_memo_hit` were increfed/decrefed per engine instruction (an
# atomic each, ~100 ns per memo hit: 0.84 -> 0.07 ms on a 6.5k-instruction unrolled matmul).
@njit(cache=True, _nrt=False)
def run_scalar(
    pc,
    regs,
    taint,
    uop,
    sub,
    rd,
    rs1,
    rs2,
    imm,
    tgt,
    pid,
    nprog,
    args,
    data_base,
    budget,
    trace,
    record,
    fp,
    plan_regs,
    slots,
    ent,
    ekeys,
    known,
    dlog,
    rows,
    ctl,
    sslots,
    vlog,
):
    """Run sequencer instructions from pc. Returns (pc, status, executed, traced).

    In timing-only emulation (`ctl[C_ON]`) an engine instruction whose memo entry exists for
    its registers' values runs here too (`_memo_hit`); any other stops with ST_ENGINE.

    `taint[r]` is nonzero while register r holds a value derived from tile data that
    timing-only emulation does not know (1 + pc of the `ld` it came from); it propagates through
    the ALU, and a branch on such a register stops with ST_TAINTED (the pc is the branch's).
    Numeric emulation never sets it."""
    n = uop.shape[0]
    executed = 0
    ntrace = 0
    while True:
        if pc < 0 or pc >= n:
            return pc, ST_PC_RANGE, executed, ntrace
        u = uop[pc]
        if u == _U_ENGINE:
            if ctl[C_ON] == 0 or executed >= budget or fp[pc, FP_KIND] == 0:
                return pc, ST_ENGINE, executed, ntrace
            t = _memo_hit(
                pc,
                regs,
                taint,
                fp,
                plan_regs,
                slots,
                ent,
                ekeys,
                known,
                dlog,
                rows,
                ctl,
                sslots,
                vlog,
                record,
            )
            if t == -1:
                return pc, ST_ENGINE, executed, ntrace
            if record:
                if ntrace >= trace.shape[0]:
                    return pc, ST_TRACE_FULL, executed, ntrace
                if t == -2:  # a new template row (written by _memo_hit)
                    t = ctl[C_TNEXT] + ctl[C_NROWS] - 1
                trace[ntrace] = t
                ntrace += 1
            executed += 1
            pc += 1
            continue
        if executed >= budget:
            return pc, ST_BUDGET, executed, ntrace
        if record:
            if ntrace >= trace.shape[0]:
                return pc, ST_TRACE_FULL, executed, ntrace
            trace[ntrace] = pc
            ntrace += 1
        executed += 1
        nxt = pc + 1
        if u == _U_ALU:
            regs[rd[pc]] = _alu(sub[pc], regs[rs1[pc]], regs[rs2[pc]])
            taint[rd[pc]] = max(taint[rs1[pc]], taint[rs2[pc]])
        elif u == _U_ALUI:
            regs[rd[pc]] = _alu(sub[pc], regs[rs1[pc]], imm[pc])
            taint[rd[pc]] = taint[rs1[pc]]
        elif u == _U_CMP:
            regs[rd[pc]] = 1 if _cmp(sub[pc], regs[rs1[pc]], regs[rs2[pc]]) else 0
            taint[rd[pc]] = max(taint[rs1[pc]], taint[rs2[pc]])
        elif u == _U_CMPI:
            regs[rd[pc]] = 1 if _cmp(sub[pc], regs[rs1[pc]], imm[pc]) else 0
            taint[rd[pc]] = taint[rs1[pc]]
        elif u == _U_BR:
            if taint[rs1[pc]] or taint[rs2[pc]]:
                return pc, ST_TAINTED, executed - 1, ntrace - (1 if record else 0)
            if _cmp(sub[pc], regs[rs1[pc]], regs[rs2[pc]]):
                nxt = tgt[pc]
        elif u == _U_BRI:
            if taint[rs1[pc]]:
                return pc, ST_TAINTED, executed - 1, ntrace - (1 if record else 0)
            if _cmp(sub[pc], regs[rs1[pc]], imm[pc]):
                nxt = tgt[pc]
        elif u == _U_JMP:
            nxt = tgt[pc]
        elif u == _U_LOOP:
            if taint[rd[pc]] or taint[rs1[pc]]:
                return pc, ST_TAINTED, executed - 1, ntrace - (1 if record else 0)
            v = regs[rd[pc]] + imm[pc]
            regs[rd[pc]] = v
            if rd[pc] == 0:
                v = 0
            if v < regs[rs1[pc]]:
                nxt = tgt[pc]
        elif u == _U_LI:
            regs[rd[pc]] = imm[pc]
            taint[rd[pc]] = 0
        elif u == _U_MOV:
            regs[rd[pc]] = regs[rs1[pc]]
            taint[rd[pc]] = taint[rs1[pc]]
        elif u == _U_PID:
            regs[rd[pc]] = pid[imm[pc]] if imm[pc] < 3 else 0
            taint[rd[pc]] = 0
        elif u == _U_NPROG:
            regs[rd[pc]] = nprog[imm[pc]] if imm[pc] < 3 else 1
            taint[rd[pc]] = 0
        elif u == _U_ARG:
            if imm[pc] >= args.shape[0]:
                return pc, ST_BAD_ARG, executed - 1, ntrace
            regs[rd[pc]] = args[imm[pc]]
            taint[rd[pc]] = 0
        elif u == _U_DATA:
            regs[rd[pc]] = data_base + imm[pc]
            taint[rd[pc]] = 0
        elif u == _U_HALT:
            return pc, ST_HALT, executed, ntrace
        taint[0] = 0
        regs[0] = 0
        pc = nxt


_COLUMNS = ("uop", "sub", "rd", "rs1", "rs2", "imm", "tgt")
_PLANS: dict[int, tuple] = {}


def _plan(spec) -> tuple:
    """(column, operand index) of the operands the sequencer reads, for one table entry."""
    out = []
    for i, f in enumerate(spec.fields):
        if f.kind is Kind.LABEL:
            out.append(("tgt", i))
        elif f.kind is Kind.REG and f.name in ("rd", "rs1", "rs2"):
            out.append((f.name, i))
        elif f.kind in (Kind.IMM, Kind.ARG, Kind.DATA) and spec.uop != Uop.ENGINE:
            out.append(("imm", i))
    return tuple(out)


@dataclass
class ScalarCode:
    """The program as parallel arrays for `run_scalar` (engine instructions have uop ENGINE)."""

    uop: np.ndarray
    sub: np.ndarray
    rd: np.ndarray
    rs1: np.ndarray
    rs2: np.ndarray
    imm: np.ndarray
    tgt: np.ndarray

    @classmethod
    def from_instrs(cls, instrs) -> ScalarCode:
        n = len(instrs)
        cols = {k: [0] * n for k in _COLUMNS}
        uop, sub = cols["uop"], cols["sub"]
        for pc, ins in enumerate(instrs):
            s = ins.spec
            plan = _PLANS.get(s.opcode)
            if plan is None:
                plan = _PLANS[s.opcode] = _plan(s)
            uop[pc], sub[pc] = int(s.uop), int(s.sub)
            ops = ins.ops
            for col, i in plan:
                cols[col][pc] = ops[i]
        return cls(**{k: np.array(v, np.int64) for k, v in cols.items()})

    def run(self, pc, regs, taint, pid, nprog, args, data_base, budget, trace, record, memo=None):
        """`run_scalar` over this code; `memo`: the timing-only memo's tables (fp, plan_regs,
        slots, ent, ekeys, known, dlog, rows, ctl, sslots, vlog), or None."""
        return run_scalar(
            pc,
            regs,
            taint,
            self.uop,
            self.sub,
            self.rd,
            self.rs1,
            self.rs2,
            self.imm,
            self.tgt,
            pid,
            nprog,
            args,
            data_base,
            budget,
            trace,
            record,
            *(memo or _NO_MEMO),
        )


_NO_MEMO = (
    np.zeros((1, FP_COLS), np.int64),
    np.zeros((1, PR_NP + 1), np.int64),
    np.full(1, -1, np.int64),
    np.zeros((1, E_COLS), np.int64),
    np.zeros((1, MEMO_KEY_REGS), np.int64),
    np.zeros((3, 2, 4), np.int64),
    np.zeros(1, np.int64),
    np.zeros((7, 1), np.int64),
    np.zeros(9, np.int64),
    np.full(1, -1, np.int64),
    np.zeros((1, 2), np.int64),
)
