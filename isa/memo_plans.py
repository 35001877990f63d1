"""Timing-only memo plans: how each engine instruction's handler result is memoised.

Input: a program's decoded instructions (and its code words, for planning in bulk through
`isa.plan_groups`). Output: per pc a plan (which registers, tile offsets and first partitions
the result depends on; for a shiftable DMA its HBM base register and element size) and a row
of the array the sequencer's compiled loop reads (`ShapePlans.fp`, `isa.sequencer.FP_*`).
Instructions that differ only where a plan leaves a value out (the HBM offset immediate and
queue of a plain DMA, the offsets of the tiles of `_TILED` handlers, the first partitions of
`_PARTED` ones) share a plan: the left-out values are replaced on a hit (HBM) or join the key
(tiles), and `isa.shape_memo` derives one such instruction's result from another's.
"""

from __future__ import annotations

import numpy as np

from isa import dtypes, plan_groups
from isa.operands import SCALAR_REG, SCALAR_TILE, HbmAP, Tile
from isa.sequencer import (
    FP_COLS,
    FP_KIND,
    FP_LINE,
    FP_OFF,
    FP_P0,
    FP_PLAN,
    FP_QUEUE,
    FP_T0,
    MEMO_KEY_REGS,
    MEMO_TILES,
    PR_NP,
    PR_NT,
)
from isa.table import BY_OPCODE, Kind

_MEMO = frozenset(
    {
        "dma_load",
        "dma_store",
        "dma_copy",
        "dma_gather",
        "dma_scatter",
        "atomic",
        "atomic_cas",
        "atomic_ind",
        "matmul",
        "pe_transpose",
        "act",
        "tensor_tensor",
        "tensor_scalar",
        "select",
        "copy",
        "reduce",
        "transpose32",
        "preduce",
        "pbcast",
        "rand",
    }
)
# Handlers of known-value writes: memoised too, their deferred writes (`OnChip.pending`) made
# again on a hit instead of forgets (or the forgets, when a register they read was unknown).
_DEFERS = frozenset({"memset", "iota", "piota"})
# Handlers whose only HBM ranges come from their one HBM pattern (shifted on a hit).
_REBASE = frozenset({"dma_load", "dma_store", "atomic", "atomic_cas"})
# Handlers whose only checks that depend on their tiles' offset immediates are the tiles'
# placement (aligned, inside the partition; a matmul's result inside one PSUM bank): their
# instructions that differ in those offsets only share a plan (the offsets join the key), and
# a miss takes a sibling entry's result with its tiles moved (`isa.sequencer._derive_row`).
_TILED = frozenset({"dma_load", "dma_store", "matmul", "act"})
# Of those, the handlers that check no lane rule: their tiles' first partitions join the key
# too (a load split over partition slices shares one plan), a tile's only such check being
# that it ends within the partitions.
_PARTED = frozenset({"dma_load", "dma_store"})
_SHARED = (Tile, HbmAP)  # operand objects the decoder hands out once per value
_SIZE = {int(d): dtypes.NUMPY[d].itemsize for d in dtypes.DType}


class _Plan:
    """How to memoise one instruction: the registers its result depends on and, for a DMA whose
    HBM range is shifted on a hit, that pattern's base register and element size."""

    __slots__ = ("idx", "nk", "base_reg", "size", "id", "nt", "np", "nv", "tiles", "bank")

    def __init__(self, ins, ap: HbmAP | None, number: int, tiles: tuple = ()):
        self.id = number
        # the positions of the tiles whose offsets (and first partitions: np of them) the key
        # holds (shared among them), nv key values in all, and which of them a matmul writes
        # (its PSUM bank rule)
        self.tiles, self.nt = tiles, len(tiles)
        self.np = self.nt if ins.spec.handler in _PARTED else 0
        self.nv = self.nt + self.np
        self.bank = tiles.index(1) if tiles and ins.spec.handler == "matmul" else -1
        regs: list[int] = []
        ops = ins.ops
        tiles, aps, scalars, plain = _operand_kinds(ins.spec)
        for i in tiles:
            v = ops[i]
            if v.space:
                regs.append(v.reg)
        for i in scalars:
            v = ops[i]
            if v.tag == SCALAR_REG:
                regs.append(v.value)
            elif v.tag == SCALAR_TILE:
                regs.append(v.value.reg)
        for i in plain:
            regs.append(ops[i])
        for i in aps:
            other = ops[i]
            if other is not ap:
                regs.append(other.reg)
                regs.append(other.limit)
                regs.extend(b for _, _, b in other.dims)
        self.base_reg = self.size = 0
        if ap is not None:
            self.base_reg, self.size = ap.reg, _SIZE[ap.dtype]
        key = frozenset(regs)
        idx = _IDX.get(key)
        if idx is None:  # one (read-only) array per register set: most plans share a few
            idx = _IDX[key] = np.array(sorted(key - {0}), np.intp)  # r0 is always 0
            idx.flags.writeable = False
        self.idx = idx
        self.nk = len(idx)


_IDX: dict = {}  # frozenset of registers -> a plan's `idx` of them


_LAYOUTS: dict = {}  # opcode -> how its instructions are memoised (see `_layout`)
_KINDS: dict = {}  # opcode -> `_operand_kinds`
_REBASE_FIELDS: dict = {}  # opcode -> (HBM field, queue field) of the layouts that name them


def _layout(spec):
    """How instructions of `spec` are memoised: False (not at all), None (by identity: one plan
    per decoded instruction), or, for a DMA with one HBM pattern and a queue number, the
    positions among its operands of (that pattern, the queue, tiles, scalars, the others)."""
    out = _LAYOUTS.get(spec.opcode, 0)
    if out != 0:
        return out
    out = None
    if spec.handler not in _MEMO and spec.handler not in _DEFERS:
        out = False
    elif spec.handler in _REBASE:
        ap, queue, tiles, scalars, others = [], [], [], [], []
        for i, f in enumerate(spec.fields):
            if f.kind is Kind.HBM:
                ap.append(i)
            elif f.name == "queue":
                queue.append(i)
            elif f.kind is Kind.TILE:
                tiles.append(i)
            elif f.kind in (Kind.FSCALAR, Kind.SCALAR):
                scalars.append(i)
            else:
                others.append(i)
        if len(ap) == 1 and len(queue) == 1:
            out = (ap[0], queue[0], tuple(tiles), tuple(scalars), tuple(others))
    _LAYOUTS[spec.opcode] = out
    return out


def _operand_kinds(spec) -> tuple:
    """The positions among `spec`'s operands of its tiles, HBM patterns, scalars and
    registers (what a plan's key registers come from)."""
    out = _KINDS.get(spec.opcode)
    if out is None:
        kinds = [f.kind for f in spec.fields]
        out = _KINDS[spec.opcode] = tuple(
            tuple(i for i, k in enumerate(kinds) if k in want)
            for want in ((Kind.TILE,), (Kind.HBM,), (Kind.SCALAR, Kind.FSCALAR), (Kind.REG,))
        )
    return out


def _tile_fields(spec) -> tuple:
    """The positions of `spec`'s tiles when its instructions share plans among tile offsets."""
    if spec.handler not in _TILED:
        return ()
    tiles = _operand_kinds(spec)[0]
    return tiles if len(tiles) <= MEMO_TILES else ()


def _sans_off(t: Tile, parted: bool = False) -> tuple:
    """A tile's key in a plan shared among tile offsets (and first partitions)."""
    return (Tile, t.space, t.dtype, t.reg, -1 if parted else t.p0, t.pn, t.dims)


_TILE_FIELDS: dict = {}


def _tiled_fields() -> dict:
    """The opcodes whose plans leave out their tiles' offsets: their tile fields and whether
    the plans leave out the tiles' first partitions too."""
    if not _TILE_FIELDS:
        for spec in BY_OPCODE.values():
            tiles = _tile_fields(spec)
            if tiles:
                _TILE_FIELDS[spec.opcode] = (tiles, spec.handler in _PARTED)
    return _TILE_FIELDS


def _rebase_fields() -> dict:
    """The opcodes whose plans leave out an HBM offset and a queue: (HBM field, queue field)."""
    if not _REBASE_FIELDS:
        for spec in BY_OPCODE.values():
            layout = _layout(spec)
            if layout:
                _REBASE_FIELDS[spec.opcode] = layout[:2]
    return _REBASE_FIELDS


class ShapePlans:
    """The memo plans of one program's instructions, made on first execution and kept across
    runs. Instructions that differ only in the immediate offset of a shiftable HBM pattern
    (one plain pattern: no bound or limit register, a base register no other operand uses)
    and in their DMA queue share a plan (an unrolled loop's loads), so do equal instructions
    at different pcs.

    Plans are found by the identity of the decoded objects (the decoder hands out one object
    per distinct instruction and operand, and `Emulator.instrs` keeps them alive): cheaper than
    hashing them, and two equal objects that are not the same merely get two plans."""

    def __init__(self, n: int, lines=None):
        # pc -> (plan, HBM immediate offset, queue, tile offsets) or False
        self.at: list = [None] * n
        self.shared: dict = {}
        # the same for the compiled hit path (`isa.sequencer._memo_hit`): a row per pc (kind 0
        # until planned) and each plan's key registers
        self.fp = np.zeros((max(n, 1), FP_COLS), np.int64)
        if lines is not None and n:
            self.fp[:n, FP_LINE] = lines[:n]
        self.plan_regs = np.zeros((16, PR_NP + 1), np.int64)
        self.n_plans = 0
        self.by_ins: dict = {}  # id(decoded instruction) -> its `at` and `fp` row
        self.by_id: list = []  # plan number -> plan
        self._rows: list = []  # (pc, fp row) not yet in `fp` (`flush`)
        self.all_planned = False

    def plan_all(self, instrs, engine_at, code=None) -> None:
        """Plan every engine instruction now (the compiled loop then finds their entries from
        the first run on). With the code words, by groups (`isa.plan_groups`): a group's first
        instruction is planned and its row given to the others; `at` is then filled from `fp`
        when Python asks (`plan`). Without them, or on code the grouping cannot walk, one by
        one (the same decoded instruction is planned once). `engine_at`: whether each pc holds
        an engine instruction (a list, or a bool array: no conversion for the grouping)."""
        n = len(instrs)
        plan = self.plan
        grouped = False
        if code is not None and n:
            words = code if type(code) is np.ndarray else np.array(code, np.uint64)
            want = np.asarray(engine_at[:n], np.bool_)  # no copy of an array (`Emulator`'s)
            group, reps, offs, queues, toffs, grouped = plan_groups.group_words(
                words, n, want, *plan_groups.tables(_rebase_fields(), _tiled_fields())
            )
        if not grouped:
            if type(engine_at) is np.ndarray:
                engine_at = engine_at.tolist()
            for pc in range(n):
                if engine_at[pc] and self.at[pc] is None:
                    plan(pc, instrs[pc])
            self.flush()
            self.all_planned = True
            return
        # per group: kind (0: members planned when met, -1: each now), plan id, base reg, size
        rows = np.zeros((len(reps), 4), np.int64)
        for g, pc in enumerate(reps.tolist()):
            ins = instrs[pc]
            out = plan(pc, ins)
            if not out or len(out[0].idx) + out[0].nv > MEMO_KEY_REGS:
                continue
            p = out[0]
            opcode = ins.spec.opcode
            if p.base_reg:  # shared: members differ in offset and queue (and tile offsets)
                rows[g] = (2, p.id, p.base_reg, p.size)
            elif opcode in _rebase_fields() or (opcode in _tiled_fields() and not p.nt):
                rows[g, 0] = -1  # by identity: members differ
            else:  # the same encoding but for tile offsets the plan's key holds
                rows[g] = (1, p.id, 0, 0)
        self.flush()
        # each member's row from its group's (in one compiled pass); members of by-identity
        # groups are planned one by one
        if plan_groups.fill_members(self.fp, group, rows, offs, queues, toffs):
            kinds = rows[:, 0][group]  # (group -1 picks the last row: masked out)
            for pc in np.flatnonzero((group >= 0) & (kinds < 0)).tolist():
                plan(pc, instrs[pc])
            self.flush()
        self.all_planned = True

    def flush(self) -> None:
        """Write the `fp` rows of the instructions planned since the last flush."""
        if self._rows:
            pcs, rows = zip(*self._rows)
            self.fp[list(pcs), :FP_LINE] = rows
            self._rows = []

    def _new_plan(self, ins, ap, tiles=()):
        k = self.n_plans
        plan = _Plan(ins, ap, k, tiles)
        if k == len(self.plan_regs):
            self.plan_regs = np.concatenate((self.plan_regs, np.zeros_like(self.plan_regs)))
        nk = len(plan.idx)
        if nk + plan.nv <= MEMO_KEY_REGS:
            self.plan_regs[k, 0] = nk
            self.plan_regs[k, 1 : 1 + nk] = plan.idx
            self.plan_regs[k, PR_NT] = plan.nt
            self.plan_regs[k, PR_NP] = plan.np
        self.n_plans += 1
        self.by_id.append(plan)
        return plan

    def plan(self, pc: int, ins):
        if self.fp.item(pc, FP_KIND):  # planned by group (`plan_all`)
            fp = self.fp
            plan = self.by_id[fp.item(pc, FP_PLAN)]
            toffs = tuple(fp[pc, FP_T0 : FP_T0 + plan.nt].tolist()) + tuple(
                fp[pc, FP_P0 : FP_P0 + plan.np].tolist()
            )
            self.at[pc] = out = (plan, fp.item(pc, FP_OFF), fp.item(pc, FP_QUEUE), toffs)
            return out
        known = self.by_ins.get(id(ins))
        if known is not None:
            out, row = known
            self.at[pc] = out
            if row is not None:
                self._rows.append((pc, row))
            return out
        spec = ins.spec
        layout = _layout(spec)
        if layout is False:
            self.at[pc] = False
            self.by_ins[id(ins)] = (False, None)
            return False
        norm, ap, off, queue = id(ins), None, 0, 0
        ops = ins.ops
        tiled = _tile_fields(spec)
        parted = spec.handler in _PARTED
        if layout is not None:
            pos, qpos, tiles, scalars, others = layout
            a = ops[pos]
            d = a.dims
            reg = a.reg
            if reg and not (a.limit or d[0][2] or d[1][2] or d[2][2] or d[3][2]):
                # the HBM offset and the queue number are left out: replaced on a hit
                key = [spec.opcode, a.dtype, reg, d]
                for i in tiles:
                    v = ops[i]
                    if v.space and v.reg == reg:  # the tile moves with the base: no sharing
                        tiled = ()
                        break
                    key.append(_sans_off(v, parted) if tiled else id(v))
                else:
                    for i in scalars:
                        v = ops[i]
                        if v.tag != 0:
                            tiled = ()
                            break
                        key.append(v.value)
                    else:
                        for i in others:
                            v = ops[i]
                            key.append(id(v) if type(v) in _SHARED else v)
                        norm, ap, off, queue = tuple(key), a, a.off, ops[qpos]
        elif tiled:  # the same instruction but for its tiles' offsets
            norm = (spec.opcode,) + tuple(
                _sans_off(v) if i in tiled else id(v) if type(v) in _SHARED else v
                for i, v in enumerate(ops)
            )
        if type(norm) is not tuple:
            tiled = ()
        offs = tuple(ops[i].off for i in tiled)
        p0s = tuple(ops[i].p0 for i in tiled) if parted else ()
        plan = self.shared.get(norm)
        if plan is None:
            plan = self.shared[norm] = self._new_plan(ins, ap, tiled)
        self.at[pc] = out = (plan, off, queue, offs + p0s)
        row = None
        if len(plan.idx) + plan.nv <= MEMO_KEY_REGS:
            row = (2 if plan.base_reg else 1, plan.id, plan.base_reg, off, queue, plan.size)
            pad = (0,) * (MEMO_TILES - len(offs))
            row += offs + pad + (p0s or (0,) * len(offs)) + pad
            self._rows.append((pc, row))
        self.by_ins[id(ins)] = (out, row)
        return out
