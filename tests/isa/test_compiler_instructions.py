"""Instructions added for the compiler: bitwise reductions (`reduce`/`preduce` and/or/xor), `mulhi`,
`check` (device assertions) and `atomic.ind`: semantics, faults and assembly round trips."""

from __future__ import annotations

import numpy as np
import pytest

import isa
from isa.asm import assemble, disassemble
from isa.errors import EmulatorError

PROGRAM = """
.arg x
.arg out
    arg r1, x
    arg r2, out
    dma.load 0, sb.i32[0:4, 0, (1,8)], hbm.i32[r1+0, (8,4), (1,8)], 0.0
    reduce {op}, sb.i32[0:4, 64, (1,1)], sb.i32[0:4, 0, (1,8)]
    preduce {op}, sb.i32[0:4, 128, (1,1)], sb.i32[0:4, 64, (1,1)]
    dma.store 8, hbm.i32[r2+0, (1,4)], sb.i32[0:4, 128, (1,1)]
    halt
"""


@pytest.mark.parametrize(
    "op,ufunc", [("and", np.bitwise_and), ("or", np.bitwise_or), ("xor", np.bitwise_xor)]
)
def test_bitwise_reductions(op, ufunc):
    x = np.random.default_rng(0).integers(-(2**31), 2**31 - 1, (4, 8)).astype(np.int32)
    out = np.zeros(4, np.int32)
    b = assemble(PROGRAM.format(op=op))
    assert assemble(disassemble(b)).to_bytes() == b.to_bytes()
    isa.run(b, [x, out])
    np.testing.assert_array_equal(out, ufunc.reduce(ufunc.reduce(x, axis=1)))


def test_bitwise_reduction_of_floats_faults():
    text = PROGRAM.replace("i32", "f32").format(op="xor")
    with pytest.raises(EmulatorError, match="integer tiles"):
        isa.run(assemble(text), [np.zeros((4, 8), np.float32), np.zeros(4, np.float32)])


def test_mulhi_is_the_high_word_of_the_unsigned_product():
    a = np.random.default_rng(2).integers(0, 2**32, 16, dtype=np.uint64).astype(np.uint32)
    b = np.random.default_rng(3).integers(0, 2**32, 16, dtype=np.uint64).astype(np.uint32)
    out = np.zeros(16, np.uint32)
    text = """
.arg a
.arg b
.arg out
    arg r1, a
    arg r2, b
    arg r3, out
    dma.load 0, sb.u32[0:1, 0, (1,16)], hbm.u32[r1+0, (1,16)], 0.0
    dma.load 1, sb.u32[0:1, 64, (1,16)], hbm.u32[r2+0, (1,16)], 0.0
    tt mulhi, sb.u32[0:1, 128, (1,16)], sb.u32[0:1, 0, (1,16)], sb.u32[0:1, 64, (1,16)]
    dma.store 8, hbm.u32[r3+0, (1,16)], sb.u32[0:1, 128, (1,16)]
    halt
"""
    isa.run(assemble(text), [a, b, out])
    ref = (a.astype(np.uint64) * b.astype(np.uint64)) >> np.uint64(32)
    np.testing.assert_array_equal(out, ref.astype(np.uint32))


def test_check_faults_with_its_code_only_when_the_register_is_zero():
    from isa.errors import DeviceAssertError

    ok = assemble(".arg n\n    arg r1, n\n    check r1, 3\n    halt\n")
    isa.run(ok, [1])
    with pytest.raises(DeviceAssertError, match="assertion 3") as e:
        isa.run(ok, [0])
    assert e.value.code == 3 and e.value.program == 0


def test_indirect_atomic_add_applies_aliasing_indices_in_order():
    idx = np.array([[0, 3, 3, -1, 5, 99]], np.int32)  # -1 and 99 are outside: skipped
    vals = np.array([[1, 2, 3, 4, 5, 6]], np.int32)
    dst = np.zeros(8, np.int32)
    old = np.zeros(6, np.int32)
    text = """
.arg dst
.arg vals
.arg idx
.arg old
    arg r1, dst
    arg r2, vals
    arg r3, idx
    arg r4, old
    dma.load 0, sb.i32[0:1, 0, (1,6)], hbm.i32[r2+0, (1,6)], 0.0
    dma.load 1, sb.i32[0:1, 64, (1,6)], hbm.i32[r3+0, (1,6)], 0.0
    atomic.ind add, 2, hbm.i32[r1+0, (1,8)], sb.i32[0:1, 0, (1,6)], sb.i32[0:1, 64, (1,6)], sb.i32[0:1, 128, (1,6)]
    dma.store 8, hbm.i32[r4+0, (1,6)], sb.i32[0:1, 128, (1,6)]
    halt
"""
    b = assemble(text)
    assert assemble(disassemble(b)).to_bytes() == b.to_bytes()
    isa.run(b, [dst, vals, idx, old])
    np.testing.assert_array_equal(dst, [1, 0, 0, 5, 0, 5, 0, 0])
    np.testing.assert_array_equal(old, [0, 0, 2, 0, 0, 0])
