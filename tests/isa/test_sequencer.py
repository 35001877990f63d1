"""Sequencer semantics: every ALU op, comparison and branch against a Python reference."""

from __future__ import annotations

import random

import numpy as np
import pytest

from isa.asm import assemble
from isa.emulator import Emulator
from isa.encoding import decode_program
from isa.sequencer import ST_HALT, ScalarCode
from isa.table import AluOp, Cond

M64 = (1 << 64) - 1


def wrap(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v >> 63 else v


def ref_alu(op: AluOp, a: int, b: int) -> int:
    if op == AluOp.ADD:
        return wrap(a + b)
    if op == AluOp.SUB:
        return wrap(a - b)
    if op == AluOp.MUL:
        return wrap(a * b)
    if op in (AluOp.DIV, AluOp.REM):
        if b == 0:
            return -1 if op == AluOp.DIV else a
        q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
        return wrap(q) if op == AluOp.DIV else wrap(a - q * b)
    if op == AluOp.AND:
        return a & b
    if op == AluOp.OR:
        return a | b
    if op == AluOp.XOR:
        return a ^ b
    if op == AluOp.SHL:
        return wrap(a << (b & 63))
    if op == AluOp.SHR:
        return a >> (b & 63)
    if op == AluOp.SHRU:
        return wrap((a & M64) >> (b & 63))
    if op == AluOp.MIN:
        return min(a, b)
    return max(a, b)


def ref_cmp(c: Cond, a: int, b: int) -> bool:
    ua, ub = a & M64, b & M64
    return {
        Cond.EQ: a == b,
        Cond.NE: a != b,
        Cond.LT: a < b,
        Cond.LE: a <= b,
        Cond.GT: a > b,
        Cond.GE: a >= b,
        Cond.LTU: ua < ub,
        Cond.GEU: ua >= ub,
    }[c]


def run_regs(text: str, regs_in: dict | None = None) -> np.ndarray:
    code = ScalarCode.from_instrs(decode_program(assemble(text).code))
    regs = np.zeros(64, np.int64)
    for k, v in (regs_in or {}).items():
        regs[k] = v
    pc, st, _, _ = code.run(
        0,
        regs,
        np.zeros(64, np.int64),
        np.array([3, 4, 5]),
        np.array([6, 7, 8]),
        np.array([11, 22], np.int64),
        1000,
        10**6,
        np.zeros(1, np.int64),
        False,
    )
    assert st == ST_HALT
    return regs


EDGE = [0, 1, -1, 2, -2, 63, 64, 65, (1 << 63) - 1, -(1 << 63), 12345, -98765, 1 << 40]


@pytest.mark.parametrize("op", list(AluOp), ids=lambda o: o.name.lower())
def test_alu(op):
    rng = random.Random(int(op))
    pairs = [(a, b) for a in EDGE for b in EDGE]
    pairs += [(wrap(rng.getrandbits(64)), wrap(rng.getrandbits(64))) for _ in range(50)]
    for a, b in pairs:
        r = run_regs(f"{op.name.lower()} r3, r1, r2\nhalt", {1: a, 2: b})
        assert int(r[3]) == ref_alu(op, a, b), (op, a, b)
    for a, imm in [(a, b) for a in EDGE for b in (0, 1, -1, 5, -(1 << 31), (1 << 31) - 1)]:
        r = run_regs(f"{op.name.lower()}i r3, r1, {imm}\nhalt", {1: a})
        assert int(r[3]) == ref_alu(op, a, imm), (op, a, imm)


@pytest.mark.parametrize("c", list(Cond), ids=lambda c: c.name.lower())
def test_compare_and_branch(c):
    n = c.name.lower()
    for a in EDGE:
        for b in EDGE:
            r = run_regs(
                f"cmp.{n} r3, r1, r2\nb.{n} r1, r2, yes\nli r4, 5\nhalt\nyes: li r4, 9\nhalt",
                {1: a, 2: b},
            )
            assert int(r[3]) == int(ref_cmp(c, a, b))
            assert int(r[4]) == (9 if ref_cmp(c, a, b) else 5)
        for imm in (0, -1, 7, -(1 << 15)):
            r = run_regs(
                f"cmpi.{n} r3, r1, {imm}\nbi.{n} r1, {imm}, yes\nli r4, 5\nhalt\n"
                "yes: li r4, 9\nhalt",
                {1: a},
            )
            assert int(r[3]) == int(ref_cmp(c, a, imm))
            assert int(r[4]) == (9 if ref_cmp(c, a, imm) else 5)


def test_moves_ids_args_data_loop():
    r = run_regs("""
        li r1, -81985529216486896
        mov r2, r1
        pid r3, 0
        pid r4, 2
        nprog r5, 1
        arg r6, 1
        data r7, 24
        li r8, 0
        li r9, 10
        li r10, 0
    top: addi r10, r10, 3
        loop r8, r9, 2, top
        jmp end
        li r11, 1
    end: addi r0, r0, 5
        mov r12, r0
        halt""")
    assert int(r[1]) == int(r[2]) == -81985529216486896
    assert (r[3], r[4], r[5], r[6], r[7]) == (3, 5, 7, 22, 1024)
    assert r[8] == 10 and r[10] == 15 and r[11] == 0 and r[12] == 0 and r[0] == 0


def test_registers_through_memory():
    """End to end: program ids reach memory through iota (an engine reading a register)."""
    from isa.runner import run

    out = np.zeros((4, 2), np.int32)
    run(
        """
        arg r1, 0
        pid r2, 0
        nprog r3, 0
        iota sb.i32[0:1, 0, (1,1)], r2, 0, 0
        iota sb.i32[0:1, 4, (1,1)], r3, 0, 0
        shli r4, r2, 3
        add r1, r1, r4
        dma.store 0, hbm.i32[r1+0, (1,2)], sb.i32[0:1, 0, (1,2)]
        halt""",
        [out],
        grid=(4,),
    )
    assert out.tolist() == [[0, 4], [1, 4], [2, 4], [3, 4]]


def test_scalar_loop_speed():
    emu = Emulator(assemble("li r2, 200000\ntop: addi r3, r3, 1\nloop r1, r2, 1, top\nhalt"))
    import time

    hbm = np.zeros(64, np.uint8)
    t = time.perf_counter()
    _, n = emu.run(hbm, np.zeros(0, np.int64), (1, 1, 1), record=False)
    dt = time.perf_counter() - t
    assert n == 400002
    assert n / dt > 100_000


def test_ld_brings_data_dependent_values_to_the_sequencer():
    """A loop bound read from memory: counts[pid] iterations, result stored per program."""
    from isa.runner import run

    counts = np.array([3, 0, 7, -2], np.int32)
    scale = np.array([2.5], np.float32)
    out = np.zeros((4, 2), np.float32)
    run(
        """
        .arg counts
        .arg scale
        .arg out
        arg r1, counts
        arg r2, scale
        arg r3, out
        pid r4, 0
        shli r5, r4, 2
        add r1, r1, r5
        dma.load 0, sb.i32[0:1, 0, (1,1)], hbm.i32[r1+0, (1,1)], 0.0
        dma.load 1, sb.f32[0:1, 4, (1,1)], hbm.f32[r2+0, (1,1)], 0.0
        ld r6, sb.i32[0:1, 0, (1,1)]
        ld r7, sb.f32[0:1, 4, (1,1)]
        li r8, 0
        li r9, 0
        bi.le r6, 0, done
    top:
        addi r9, r9, 1
        loop r8, r6, 1, top
    done:
        iota sb.f32[0:1, 64, (1,1)], r9, 0, 0
        memset sb.f32[0:1, 68, (1,1)], r7
        shli r10, r4, 3
        add r3, r3, r10
        dma.store 2, hbm.f32[r3+0, (1,2)], sb.f32[0:1, 64, (1,2)]
        halt""",
        [counts, scale, out],
        grid=(4,),
    )
    np.testing.assert_array_equal(out, [[3, 2.5], [0, 2.5], [7, 2.5], [0, 2.5]])
