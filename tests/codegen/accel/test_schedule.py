"""The accel list scheduler (step "list_schedule", codegen.accel.schedule): random blocks give
bit-identical results in program order and scheduled, dependent pairs keep their order, and the
step's effect on the modelled time of the tutorial softmax and layer norm."""

from __future__ import annotations

import numpy as np
import pytest

import codegen.accel.target as T
from codegen.accel import emit
from codegen.accel.mir import HbmOp, MBlock, MFunction, MInstr, ScalarOp
from codegen.accel.schedule import STEP, schedule
from codegen.accel.target import accel_target
from isa import run
from isa.operands import SPACE_SBUF, HbmAP, Tile
from isa.table import ActFn, TensorOp
from jitlang.testing import profile
from tests.e2e import tutorial_kernels as tk

ON = accel_target("nc-v2", steps=T.OPT_STEPS)
OFF = accel_target("nc-v2", steps=tuple(s for s in T.OPT_STEPS if s != STEP))
F32 = 0
COLS = 64  # fp32 elements per partition of every tile
SLOTS = 6  # tile offsets 0, 128, ..., 640 bytes: tiles of 256 bytes overlap their neighbours


def _bits(x: float) -> int:
    return int(np.float32(x).view(np.uint32))


def _tile(p0: int, slot: int) -> Tile:
    return Tile(SPACE_SBUF, F32, 0, 128 * slot, p0, 32, ((1, COLS),))


def _hbm(reg: int, row: int) -> HbmOp:
    # [32, COLS] fp32 at row `row` of a [64, COLS] array whose address is in `reg`
    ap = HbmAP(F32, 0, row * COLS * 4, ((COLS, 32, 0), (1, COLS, 0)))
    return HbmOp(ap, reg)


def _random_block(rng) -> list[MInstr]:
    """Straight-line code over overlapping tiles: the region is set first (no read of unwritten
    memory), then random DVE/ACT/POOL ops, HBM round trips through two arrays whose base
    registers get redefined, and finally the whole region is stored."""
    out = [MInstr("arg", [1, 0]), MInstr("arg", [2, 1]), MInstr("arg", [3, 1])]
    width = (SLOTS - 1) * 128 // 4 + COLS  # fp32 elements per partition the slots cover
    for p0 in (0, 32):
        t = Tile(SPACE_SBUF, F32, 0, 0, p0, 32, ((1, width),))
        out.append(MInstr("memset", [t, ScalarOp(imm=_bits(1.0 + p0))]))

    def tile():
        return _tile(int(rng.integers(2)) * 32, int(rng.integers(SLOTS)))

    for _ in range(int(rng.integers(20, 45))):
        k = int(rng.integers(9))
        if k == 0:
            out.append(MInstr("ts", [TensorOp.ADD, tile(), tile(), ScalarOp(imm=_bits(0.5))]))
        elif k == 1:
            op = (TensorOp.ADD, TensorOp.MUL, TensorOp.SUB)[int(rng.integers(3))]
            out.append(MInstr("tt", [op, tile(), tile(), tile()]))
        elif k == 2:
            fn = (ActFn.NEG, ActFn.ABS, ActFn.COPY)[int(rng.integers(3))]
            none = Tile.NONE
            out.append(
                MInstr(
                    "act", [fn, tile(), tile(), ScalarOp(imm=0), ScalarOp(imm=_bits(1.5)), none, 0]
                )
            )
        elif k == 3:
            out.append(MInstr("copy", [tile(), tile()]))
        elif k == 4:
            src = _tile(int(rng.integers(2)) * 32, int(rng.integers(SLOTS)))
            dst = Tile(SPACE_SBUF, F32, 0, src.off, 64, 32, ((1, COLS),))
            out.append(MInstr("dma.copy", [0, dst, src]))
            out.append(MInstr("copy", [tile(), dst]))
        elif k in (5, 6):
            reg = 2 + int(rng.integers(2))
            out.append(MInstr("dma.store", [0, _hbm(reg, int(rng.integers(2)) * 32), tile()]))
        elif k == 7:
            reg = 2 + int(rng.integers(2))
            fill = ScalarOp(imm=0)
            out.append(MInstr("dma.load", [0, tile(), _hbm(reg, int(rng.integers(2)) * 32), fill]))
        else:  # move a base register: later accesses through it land elsewhere
            reg = 2 + int(rng.integers(2))
            out.append(MInstr("arg", [reg, 1]))
            out.append(MInstr("addi", [reg, reg, int(rng.choice((0, 8, 16))) * COLS * 4]))
    for p0 in (0, 32):
        whole = Tile(SPACE_SBUF, F32, 0, 0, p0, 32, ((1, width),))
        ap = HbmAP(F32, 0, p0 * width * 4, ((width, 32, 0), (1, width, 0)))
        out.append(MInstr("dma.store", [0, HbmOp(ap, 1), whole]))
    out.append(MInstr("halt", []))
    return out


def _run(instrs: list[MInstr], target) -> tuple[np.ndarray, np.ndarray, list[str]]:
    mf = MFunction("k", ["out", "scratch"], [MBlock("entry", list(instrs))])
    mf = schedule(mf, target)
    binary = emit.encode(mf, "", ["out", "scratch"])
    width = (SLOTS - 1) * 128 // 4 + COLS
    out = np.zeros((64, width), np.float32)
    scratch = np.full((64 + 16, COLS), 3.0, np.float32)
    run(binary, [out, scratch], grid=(1,), config="nc-v2")
    return out, scratch, [id(i) for i in mf.blocks[0].instrs]


def test_random_blocks_give_the_same_bits_scheduled():
    moved = 0
    for seed in range(40):
        block = _random_block(np.random.default_rng(seed))
        # the same instruction objects scheduled in place, so copy the operand lists
        a = [MInstr(i.mnemonic, list(i.ops), i.line) for i in block]
        b = [MInstr(i.mnemonic, list(i.ops), i.line) for i in block]
        out_a, scr_a, order_a = _run(a, OFF)
        out_b, scr_b, order_b = _run(b, ON)
        np.testing.assert_array_equal(out_a.view(np.uint32), out_b.view(np.uint32))
        np.testing.assert_array_equal(scr_a.view(np.uint32), scr_b.view(np.uint32))
        pos_b = {x: k for k, x in enumerate(order_b)}
        moved += [pos_b[id(i)] for i in b] != sorted(pos_b[id(i)] for i in b)
    assert moved >= 20, f"the scheduler reordered only {moved} of 40 blocks"


def test_dependent_pairs_keep_their_order_and_barriers_stay():
    t0, t1 = _tile(0, 0), _tile(0, 2)
    load = MInstr("dma.load", [0, t0, _hbm(2, 0), ScalarOp(imm=0)])
    use = MInstr("ts", [TensorOp.ADD, t1, t0, ScalarOp(imm=0)])  # reads what the load writes
    war = MInstr("memset", [t0, ScalarOp(imm=0)])  # overwrites what `use` reads
    indep = [MInstr("memset", [_tile(32, s), ScalarOp(imm=0)]) for s in (0, 2, 4)]
    redef = MInstr("addi", [2, 2, 4096])  # the load's base register
    store = MInstr("dma.store", [0, _hbm(2, 0), t1])  # after the redefinition: another place
    branch = MInstr("bi.ne", [2, 0, "entry"])
    instrs = [load, *indep, use, war, redef, store, branch]
    mf = MFunction("k", [], [MBlock("entry", list(instrs))])
    got = schedule(mf, ON).blocks[0].instrs
    pos = {id(i): k for k, i in enumerate(got)}
    for a, b in [(load, use), (use, war), (load, redef), (use, store), (redef, store)]:
        assert pos[id(a)] < pos[id(b)]
    assert got[-1] is branch
    # the late store on the last quarter of the queues, the load on the others
    assert store.ops[0] >= ON.dma_queues * 3 // 4 and load.ops[0] < ON.dma_queues * 3 // 4


def _modelled(kernel, grid, *args, on: bool, **meta) -> dict:
    """The summary with the step on or off, both with the default batch shape (the driver's
    choice by modelled time would otherwise pick each build its own)."""
    import runtime.accel_driver as D

    old, shapes = T.OPT_STEPS, D.BATCH_SHAPES
    T.OPT_STEPS = old if on else tuple(s for s in old if s != STEP)
    D.BATCH_SHAPES = ((2, False),)
    kernel.cache.clear()
    try:
        return profile(kernel, grid, *args, **meta).summary()
    finally:
        T.OPT_STEPS, D.BATCH_SHAPES = old, shapes
        kernel.cache.clear()


@pytest.mark.parametrize("which", ["softmax", "layer_norm"])
def test_the_step_speeds_up_row_kernels_with_the_same_bits(which):
    # one row per program, batched onto the partitions: scheduled, one group's rows are
    # reduced and stored while the other's still load (4096x1024 nc-v2: softmax 213.1 ->
    # 171.8 us, DMA 77.2% -> 95.8%; layer norm 447.4 -> 341.5 us, 73.7% -> 96.6%)
    rows, cols = 1024, 1024
    x = np.random.default_rng(3).standard_normal((rows, cols)).astype(np.float32)
    outs, times = [], []
    for on in (False, True):
        y = np.zeros_like(x)
        if which == "softmax":
            args = (y, x, cols, cols, rows, cols)
            s = _modelled(tk.softmax_kernel, (rows,), *args, on=on, BLOCK_SIZE=cols)
            e = np.exp(x - x.max(1, keepdims=True))
            np.testing.assert_allclose(y, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
        else:
            w = np.linspace(0.5, 1.5, cols, dtype=np.float32)
            b = np.linspace(-1, 1, cols, dtype=np.float32)
            mean, rstd = np.zeros(rows, np.float32), np.zeros(rows, np.float32)
            args = (x, y, w, b, mean, rstd, cols, cols, 1e-5)
            s = _modelled(tk.layer_norm_fwd, (rows,), *args, on=on, BLOCK_SIZE=cols)
            ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
            np.testing.assert_allclose(y, ref * w + b, rtol=1e-4, atol=1e-4)
        outs.append(y)
        times.append(s["time_ns"])
    np.testing.assert_array_equal(outs[0].view(np.uint32), outs[1].view(np.uint32))
    # 1024x1024 nc-v2: layer norm 94.8 -> 85.4 us
    assert times[1] < (0.9 if which == "softmax" else 0.95) * times[0], times


def test_program_order_without_the_step():
    block = _random_block(np.random.default_rng(7))
    mf = MFunction("k", [], [MBlock("entry", list(block))])
    assert schedule(mf, OFF).blocks[0].instrs == block
