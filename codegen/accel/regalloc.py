"""Register allocation: linear scan over the sequencer's integer registers, with spills.

Stage: codegen/accel backend, after `isel`. Input: an `MFunction` on virtual registers and the
target (allocatable registers r1..r56, the top ones reserved as spill scratch). Output: the same
function on physical registers. Liveness is solved on the machine CFG (blocks' successors), each
virtual register gets one interval over the linear instruction order (covering every block it is
live through, so loops are handled), intervals are scanned by start, and when no register is free
the interval ending last is spilled. A spilled register lives in partition 0 of SBUF: a 32-bit
value (`VReg.width == 32`, kept sign-extended) in one i32 slot (`iota` stores it, `ld` reloads
it sign-extended), a 64-bit one as a u32 low word and an i32 high word.
"""

from __future__ import annotations

from dataclasses import dataclass

from isa.operands import SPACE_SBUF, Tile

from .mir import MFunction, MInstr, VReg

_I32, _U32 = 5, 6  # isa.dtypes codes


class RegallocError(Exception):
    """Allocation failed (e.g. more spill slots than the spill area holds)."""


@dataclass
class Interval:
    v: VReg
    start: int
    end: int
    reg: int = -1
    slot: int = -1


def liveness(mf: MFunction) -> tuple[dict[str, set], dict[str, set]]:
    by_name = {b.name: b for b in mf.blocks}
    use: dict[str, set] = {}
    defs: dict[str, set] = {}
    for b in mf.blocks:
        u, d = set(), set()
        for ins in b.instrs:
            for v in ins.uses():
                if v.id not in d:
                    u.add(v.id)
            for v in ins.defs():
                d.add(v.id)
        use[b.name], defs[b.name] = u, d
    live_in = {b.name: set() for b in mf.blocks}
    live_out = {b.name: set() for b in mf.blocks}
    changed = True
    while changed:
        changed = False
        for b in reversed(mf.blocks):
            out = set()
            for s in b.succs:
                if s in by_name:
                    out |= live_in[s]
            inn = use[b.name] | (out - defs[b.name])
            if out != live_out[b.name] or inn != live_in[b.name]:
                live_out[b.name], live_in[b.name] = out, inn
                changed = True
    return live_in, live_out


def intervals(mf: MFunction) -> dict[int, Interval]:
    live_in, live_out = liveness(mf)
    iv: dict[int, Interval] = {}
    vregs: dict[int, VReg] = {}

    def touch(v: VReg, pos: int) -> None:
        vregs[v.id] = v
        it = iv.get(v.id)
        if it is None:
            iv[v.id] = Interval(v, pos, pos)
        else:
            it.start, it.end = min(it.start, pos), max(it.end, pos)

    pos = 0
    for b in mf.blocks:
        first = pos
        for ins in b.instrs:
            for v in ins.uses() + ins.defs():
                touch(v, pos)
            pos += 1
        last = max(first, pos - 1)
        for vid in live_in[b.name]:
            if vid in vregs:
                touch(vregs[vid], first)
        for vid in live_out[b.name]:
            if vid in vregs:
                touch(vregs[vid], last)
    return iv


def linear_scan(iv: dict[int, Interval], regs: tuple[int, ...]) -> list[Interval]:
    """Assign registers; returns the spilled intervals."""
    free = sorted(regs, reverse=True)
    active: list[Interval] = []
    spilled: list[Interval] = []
    for it in sorted(iv.values(), key=lambda i: (i.start, i.end)):
        for a in [a for a in active if a.end < it.start]:
            active.remove(a)
            free.append(a.reg)
        if free:
            it.reg = free.pop()
            active.append(it)
            continue
        victim = max(active, key=lambda a: a.end)
        if victim.end > it.end:
            it.reg, victim.reg = victim.reg, -1
            active.remove(victim)
            active.append(it)
            spilled.append(victim)
        else:
            spilled.append(it)
    return spilled


def allocate(mf: MFunction, target, spill_offset: int) -> MFunction:
    """Rewrite `mf` onto physical registers (see the module docstring)."""
    iv = intervals(mf)
    spilled = linear_scan(iv, target.allocatable_regs)
    words = 0  # 4-byte words of the spill area: one per 32-bit value, two per 64-bit one
    for it in spilled:
        it.slot = words
        words += 1 if it.v.width == 32 else 2
    if 4 * words > target.spill_bytes:
        raise RegallocError(
            f"{len(spilled)} spilled scalars need {4 * words} bytes; the spill area holds "
            f"{target.spill_bytes}"
        )
    mf.spill_slots = len(spilled)
    scratch = target.scratch
    for b in mf.blocks:
        out: list[MInstr] = []
        for ins in b.instrs:
            uses = {v.id for v in ins.uses() if iv[v.id].slot >= 0}
            defs = {v.id for v in ins.defs() if iv[v.id].slot >= 0}
            temp: dict[int, int] = {}
            for vid in sorted(uses | defs):
                if len(temp) >= len(scratch) - 1:
                    raise RegallocError("an instruction reads more spilled registers than fit")
                temp[vid] = scratch[len(temp)]
            spare = scratch[-1]
            for vid in sorted(uses):
                out += _reload(iv[vid], temp[vid], spare, spill_offset, ins.line)

            def phys(v, is_def, temp=temp):
                if not isinstance(v, VReg):
                    return v
                it = iv[v.id]
                return temp[v.id] if it.slot >= 0 else it.reg

            ins.rewrite(phys)
            out.append(ins)
            for vid in sorted(defs):
                out += _store(iv[vid], temp[vid], spare, spill_offset, ins.line)
        b.instrs = out
    return mf


def _slot_tile(dtype: int, off: int) -> Tile:
    return Tile(SPACE_SBUF, dtype, 0, off, 0, 1, ((1, 1),))


def _store(it: Interval, r: int, spare: int, base: int, line: int) -> list[MInstr]:
    off = base + 4 * it.slot
    if it.v.width == 32:
        return [MInstr("iota", [_slot_tile(_I32, off), r, 0, 0], line)]
    return [
        MInstr("iota", [_slot_tile(_U32, off), r, 0, 0], line),
        MInstr("shri", [spare, r, 32], line),
        MInstr("iota", [_slot_tile(_I32, off + 4), spare, 0, 0], line),
    ]


def _reload(it: Interval, r: int, spare: int, base: int, line: int) -> list[MInstr]:
    off = base + 4 * it.slot
    if it.v.width == 32:
        return [MInstr("ld", [r, _slot_tile(_I32, off)], line)]
    return [
        MInstr("ld", [r, _slot_tile(_U32, off)], line),
        MInstr("ld", [spare, _slot_tile(_I32, off + 4)], line),
        MInstr("shli", [spare, spare, 32], line),
        MInstr("or", [r, r, spare], line),
    ]
