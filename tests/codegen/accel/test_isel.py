"""Instruction selection from LLVM IR text: ALU immediates, i32 re-sign-extension, compares,
phis as edge copies, and intrinsic calls matched to instruction fields."""

from __future__ import annotations

import numpy as np

import isa
from codegen.accel import emit, regalloc, schedule
from codegen.accel.isel import select
from codegen.accel.target import accel_target
from codegen.accel.tiles import Tables, sbuf_tile
from jitlang.dtypes import DType

TARGET = accel_target()

LOOP = """
declare void @accel.iota(i32, i64, i32, i32, i32)
declare void @accel.dma.store(i32, i64, i64, i64, i64, i64, i64, i32, i32)
define void @k(i64 %out, i64 %n) {
entry:
  %n32 = trunc i64 %n to i32
  br label %head
head:
  %i = phi i32 [ 0, %entry ], [ %i1, %body ]
  %s = phi i32 [ 0, %entry ], [ %s1, %body ]
  %c = icmp slt i32 %i, %n32
  br i1 %c, label %body, label %done
body:
  %sq = mul i32 %i, %i
  %s1 = add i32 %s, %sq
  %i1 = add i32 %i, 1
  br label %head
done:
  %w = sext i32 %s to i64
  call void @accel.iota(i32 0, i64 %w, i32 0, i32 0, i32 3)
  call void @accel.dma.store(i32 0, i64 %out, i64 0, i64 0, i64 0, i64 0, i64 0, i32 0, i32 4)
  ret void
}
"""


def _tables() -> Tables:
    t = Tables()
    t.tile(sbuf_tile(DType.I32, 1024, 1, 1))
    t.pattern(DType.I32, [(1, 1)], (False,))
    return t


def _build(text: str):
    mf = select(text, "k", _tables())
    mf = regalloc.allocate(mf, TARGET, 0)
    mf = schedule.schedule(mf, TARGET)
    return emit.encode(mf, "k.py", ["out", "n"])


def test_selected_loop_runs_on_the_emulator():
    out = np.zeros(1, np.int32)
    isa.run(_build(LOOP), [out, 10])
    assert out[0] == sum(i * i for i in range(10))


def test_selection_uses_immediates_compares_and_edge_copies():
    mf = select(LOOP, "k", _tables())
    mns = [i.mnemonic for b in mf.blocks for i in b.instrs]
    assert "addi" in mns and "cmp.lt" in mns and "bi.ne" in mns and "mov" in mns
    # i32 adds and multiplies are re-sign-extended (registers are 64-bit)
    assert "shri" in mns
    assert mns.count("dma.store") == 1 and "iota" in mns


def test_line_table_maps_instructions_to_source_lines():
    b = _build(LOOP)
    text = isa.asm.disassemble(b)
    assert ".loc 4" in text
    pcs = [pc for pc in range(len(b.lines)) if b.lines[pc] == 4]
    assert pcs  # the store carries line 4
