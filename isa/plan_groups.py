"""Timing-only memo plans in bulk: a program's engine instructions grouped by their encoding.

Input: the binary's code words and which instructions the memo plans (`isa.shape_memo`).
Output: per instruction its group (equal encoding once the bits a plan leaves out are masked:
the HBM offset immediate and the DMA queue of a shiftable DMA, the tiles' offset immediates of
an instruction whose plan holds them in its key) and those values. A group
is planned once, through its first instruction, and the plan's row is given to every member
with numpy; an unrolled program of thousands of DMAs that differ in offset and queue costs a
few hundred plans instead of one Python call each.

The grouping is exact (masked words compared, not a hash), in one compiled pass over the
words. What is masked follows `isa.memo_plans._layout` and `_tile_fields`: a layout that names
one HBM pattern and a queue field has those bits masked, so have the tiles of the handlers
whose plans are shared among tile offsets; any other memoised instruction groups by its whole
encoding (equal encodings decode to equal instructions, which share a plan).
"""

from __future__ import annotations

import numpy as np

from isa.encoding import _PLANS
from isa.operands import HBM_LAYOUT, TILE_LAYOUT
from isa.sequencer import (
    FP_BASE_REG,
    FP_KIND,
    FP_OFF,
    FP_PLAN,
    FP_QUEUE,
    FP_SIZE,
    FP_T0,
    MEMO_TILES,
    njit,
)
from isa.table import BY_OPCODE, OPCODE_BITS, WORD_BITS

_MAX_WORDS = max(spec.nwords for spec in BY_OPCODE.values())
_OFF_AT = sum(bits for name, bits, _ in HBM_LAYOUT[: [n for n, _, _ in HBM_LAYOUT].index("off")])
_OFF_BITS = dict((n, b) for n, b, _ in HBM_LAYOUT)["off"]
_TILE_NAMES = [n for n, _, _ in TILE_LAYOUT]
_TOFF_AT = sum(b for _, b, _ in TILE_LAYOUT[: _TILE_NAMES.index("off")])
_TOFF_BITS = dict((n, b) for n, b, _ in TILE_LAYOUT)["off"]
_TP0_AT = sum(b for _, b, _ in TILE_LAYOUT[: _TILE_NAMES.index("p0")])
_TP0_BITS = dict((n, b) for n, b, _ in TILE_LAYOUT)["p0"]


def _tables(rebase: dict, tiled: dict) -> tuple:
    """Per opcode: its length in words, the mask of the bits a group compares, and where its
    masked fields lie (HBM offset bit, width, queue bit, width, then bit and width of each
    tile offset, then of each tile's first partition; -1 when not masked). `rebase[opcode]` =
    (HBM field index, queue field index) for the shiftable DMAs, `tiled[opcode]` = (its tile
    fields' indices, whether their first partitions are masked too)."""
    nwords = np.zeros(1 << OPCODE_BITS, np.int64)
    masks = np.zeros((1 << OPCODE_BITS, _MAX_WORDS), np.uint64)
    fields = np.full((1 << OPCODE_BITS, 4 + 4 * MEMO_TILES), -1, np.int64)
    for op, spec in BY_OPCODE.items():
        nwords[op] = spec.nwords
        mask = (1 << spec.nbits) - 1
        tiles, parted = tiled.get(op, ((), False))
        for j, i in enumerate(tiles):
            at = _PLANS[op][i][1]
            mask &= ~(((1 << _TOFF_BITS) - 1) << (at + _TOFF_AT))
            fields[op, 4 + 2 * j : 6 + 2 * j] = (at + _TOFF_AT, _TOFF_BITS)
            if parted:
                mask &= ~(((1 << _TP0_BITS) - 1) << (at + _TP0_AT))
                c = 4 + 2 * (MEMO_TILES + j)
                fields[op, c : c + 2] = (at + _TP0_AT, _TP0_BITS)
        if op in rebase:
            ap, queue = rebase[op]
            plan = _PLANS[op]
            off_at = plan[ap][1] + _OFF_AT
            q_at, q_bits = plan[queue][1], plan[queue][0].bits
            mask &= ~(((1 << _OFF_BITS) - 1) << off_at)
            mask &= ~(((1 << q_bits) - 1) << q_at)
            fields[op, :4] = (off_at, _OFF_BITS, q_at, q_bits)
        for j in range(spec.nwords):
            masks[op, j] = (mask >> (WORD_BITS * j)) & ((1 << WORD_BITS) - 1)
    return nwords, masks, fields


_TABLES: dict = {}  # frozensets of the rebase and tiled items -> `_tables` of them


def tables(rebase: dict, tiled: dict | None = None) -> tuple:
    tiled = tiled or {}
    key = (frozenset(rebase.items()), frozenset(tiled.items()))
    out = _TABLES.get(key)
    if out is None:
        out = _TABLES[key] = _tables(rebase, tiled)
    return out


@njit(cache=True, inline="always", _nrt=False)
def _bits(words, start, at, width):
    w = start + (at >> 6)
    b = at & 63
    v = words[w] >> np.uint64(b)
    if b + width > 64:
        v |= words[w + 1] << np.uint64(64 - b)
    return np.int64(v & np.uint64((1 << width) - 1))


def group_words(words, n: int, want, nwords, masks, fields) -> tuple:
    """Group the first n instructions of `words` whose `want` is set: returns each one's group
    (-1: not wanted), the first member of each group, and each one's HBM offset (sign-extended),
    queue field, tile offsets (sign-extended) and tiles' first partitions (0 where not
    masked), and whether the words
    held them all. Stops early on a length that runs past the words (False, no groups); the
    caller then plans one by one."""
    group = np.full(n, -1, np.int64)
    off = np.zeros(n, np.int64)
    queue = np.zeros(n, np.int64)
    toff = np.zeros((n, (fields.shape[1] - 4) // 2), np.int64)
    reps = np.empty(n, np.int64)
    size = 16
    while size < 2 * n:
        size *= 2
    k = _group(words, n, want, nwords, masks, fields, group, off, queue, toff, reps,
               np.empty(n, np.int64), np.full(size, -1, np.int64))  # fmt: skip
    return group, reps[: max(k, 0)], off, queue, toff, k >= 0


# Compiled without reference counting (it allocates nothing; see `isa.sequencer.run_scalar`).
@njit(cache=True, _nrt=False)
def _group(words, n, want, nwords, masks, fields, group, off, queue, toff, reps, starts, slot):
    """`group_words`' pass, into the arrays given; returns the number of groups, or -1."""
    size = slot.shape[0]
    k = 0
    pos = 0
    end = len(words)
    for pc in range(n):
        if pos >= end:
            return -1
        op = np.int64(words[pos] & np.uint64(255))
        nw = nwords[op]
        if nw == 0 or pos + nw > end:
            return -1
        starts[pc] = pos
        if want[pc]:
            h = np.uint64(1469598103934665603)
            for j in range(nw):
                h = (h ^ (words[pos + j] & masks[op, j])) * np.uint64(1099511628211)
                h ^= h >> np.uint64(29)
            s = np.int64(h & np.uint64(size - 1))
            while True:
                g = slot[s]
                if g < 0:
                    slot[s] = k
                    reps[k] = pc
                    group[pc] = k
                    k += 1
                    break
                other = starts[reps[g]]
                same = np.int64(words[other] & np.uint64(255)) == op
                j = 0
                while same and j < nw:
                    m = masks[op, j]
                    same = (words[pos + j] & m) == (words[other + j] & m)
                    j += 1
                if same:
                    group[pc] = g
                    break
                s = (s + 1) & (size - 1)
            if fields[op, 0] >= 0:
                v = _bits(words, pos, fields[op, 0], fields[op, 1])
                width = fields[op, 1]
                if v >> (width - 1):
                    v -= np.int64(1) << width
                off[pc] = v
                queue[pc] = _bits(words, pos, fields[op, 2], fields[op, 3])
            for j in range(toff.shape[1]):
                width = fields[op, 5 + 2 * j]
                if width < 0:
                    continue
                v = _bits(words, pos, fields[op, 4 + 2 * j], width)
                if j < toff.shape[1] // 2 and v >> (width - 1):  # offsets are signed
                    v -= np.int64(1) << width
                toff[pc, j] = v
        pos += nw
    return k


@njit(cache=True, _nrt=False)
def fill_members(fp, group, rows, off, queue, toff):
    """Give each grouped instruction (`group[pc]` >= 0) its group's `fp` row: `rows[g]` =
    (kind, plan, base register, element size); kind 1 or 2 is written, with (kind 2: a DMA
    moved along HBM) the member's own HBM offset and queue, and its tiles' offsets and first
    partitions; kind 0 (planned when met) and -1 (each planned now, by the caller) are left
    alone. Returns how many members have kind -1."""
    by_one = 0
    for pc in range(group.shape[0]):
        g = group[pc]
        if g < 0:
            continue
        kind = rows[g, 0]
        if kind <= 0:
            by_one += kind < 0
            continue
        fp[pc, FP_KIND] = kind
        fp[pc, FP_PLAN] = rows[g, 1]
        fp[pc, FP_BASE_REG] = rows[g, 2]
        fp[pc, FP_SIZE] = rows[g, 3]
        fp[pc, FP_OFF] = off[pc] if kind == 2 else 0
        fp[pc, FP_QUEUE] = queue[pc] if kind == 2 else 0
        for j in range(toff.shape[1]):
            fp[pc, FP_T0 + j] = toff[pc, j]
    return by_one
