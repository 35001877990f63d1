"""Linear-scan register allocation: intervals over loops, and spills to SBUF when more values
are live than registers (64-bit and 32-bit slots), checked by running the result."""

from __future__ import annotations

import numpy as np

import isa
from codegen.accel import emit, regalloc
from codegen.accel.mir import HbmOp, MBlock, MFunction, MInstr, VReg
from codegen.accel.target import accel_target
from isa.operands import HbmAP, sb


def _many_live(n: int, width: int, big: int) -> MFunction:
    """out[0] = sum of n values all live at once (v_i = i * big)."""
    ins, vs = [], []
    out = VReg(1000, 64)
    ins.append(MInstr("arg", [out, 0]))
    for i in range(n):
        v = VReg(i + 1, width)
        ins.append(MInstr("li", [v, i * big]))
        vs.append(v)
    acc = VReg(2000, 64)
    ins.append(MInstr("mov", [acc, 0]))
    for v in vs:
        ins.append(MInstr("add", [acc, acc, v]))
    lo = VReg(2001, 64)
    ins.append(MInstr("mov", [lo, acc]))
    tile = sb("i32", 0, 1, (1, 1), off=1024)
    ins.append(MInstr("iota", [tile, lo, 0, 0]))
    hi = VReg(2002, 64)
    ins.append(MInstr("shri", [hi, acc, 32]))
    ins.append(MInstr("iota", [sb("i32", 0, 1, (1, 1), off=1028), hi, 0, 0]))
    tmpl = HbmAP(5, 0, 0, ((1, 2, 0),), 0)
    ins.append(MInstr("dma.store", [8, HbmOp(tmpl, out), sb("i32", 0, 1, (1, 2), off=1024)]))
    ins.append(MInstr("halt", []))
    return MFunction("k", ["out"], [MBlock("entry", ins)])


def _run(mf) -> int:
    b = emit.encode(mf, "k.py", ["out"])
    out = np.zeros(2, np.int32)
    isa.run(b, [out])
    return int(out.view(np.int64)[0])


def test_no_spills_when_registers_suffice():
    mf = _many_live(20, 64, 3)
    regalloc.allocate(mf, accel_target(), 0)
    assert mf.spill_slots == 0
    assert _run(mf) == 3 * sum(range(20))


def test_spills_64_bit_values():
    big = (1 << 40) + 7
    mf = _many_live(80, 64, big)
    regalloc.allocate(mf, accel_target(), 0)
    assert mf.spill_slots > 0
    mns = [i.mnemonic for i in mf.blocks[0].instrs]
    assert "ld" in mns and mns.count("iota") > 2
    assert _run(mf) == big * sum(range(80))


def test_spills_32_bit_values_use_one_slot_each():
    mf = _many_live(80, 32, -5)
    regalloc.allocate(mf, accel_target(num_regs=16), 0)
    assert mf.spill_slots > 60
    assert _run(mf) == -5 * sum(range(80))


def test_intervals_cover_loops():
    a, b = VReg(1), VReg(2)
    blocks = [
        MBlock("entry", [MInstr("li", [a, 1]), MInstr("jmp", ["L"])], ["L"]),
        MBlock("L", [MInstr("addi", [b, a, 1]), MInstr("bi.ne", [b, 0, "L"])], ["L", "X"]),
        MBlock("X", [MInstr("halt", [])], []),
    ]
    iv = regalloc.intervals(MFunction("k", [], blocks))
    assert iv[a.id].end >= 3  # a is live around the back edge


def test_a_compiled_kernel_with_more_live_scalars_than_registers(tmp_path):
    """70 loaded scalars all live at once: the kernel spills and still computes the sum."""
    import importlib.util

    n = 70
    body = "\n".join(f"    v{i} = tl.load(x_ptr + {i})" for i in range(n))
    total = " + ".join(f"v{i} * {i + 1}" for i in reversed(range(n)))
    src = (
        "import jitlang as jl\nimport jitlang.language as tl\n\n\n@jl.jit\n"
        f"def many(x_ptr, out_ptr):\n{body}\n    tl.store(out_ptr, {total})\n"
    )
    path = tmp_path / "many_scalars.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("many_scalars", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x = np.arange(n, dtype=np.int32) * 3 - 50
    out = np.zeros(1, np.int32)
    k = mod.many[(1,)](x, out, target="accel")
    assert out[0] == int(sum(int(v) * (i + 1) for i, v in enumerate(x)))
    text = k.asm["accel"]
    assert text.count("ld r") > n  # the loads themselves plus reloads of spilled values
