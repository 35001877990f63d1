"""The generated spec is current and complete; the CLI assembles, disassembles, runs, profiles."""

from __future__ import annotations

import json

import numpy as np

from isa.__main__ import main
from isa.asm import Builder, assemble, disassemble
from isa.engines import HANDLERS
from isa.examples import EXAMPLES
from isa.operands import hbm, sb
from isa.runner import run
from isa.spec import SPEC_PATH, generate
from isa.table import INSTRUCTIONS, TensorOp, Uop


def test_spec_md_is_current():
    assert SPEC_PATH.read_text() == generate(), "run `python -m isa spec` and commit isa/SPEC.md"


def test_every_instruction_is_specified_and_executable():
    text = generate()
    for s in INSTRUCTIONS:
        assert f"#### `{s.mnemonic}`" in text
        assert s.uop != Uop.ENGINE or s.handler in HANDLERS, s.mnemonic
    assert len({s.opcode for s in INSTRUCTIONS}) == len(INSTRUCTIONS)


def test_examples_round_trip_exactly():
    for ex in EXAMPLES.values():
        b = ex.binary()
        assert assemble(disassemble(b)).to_bytes() == b.to_bytes()


def test_cli_asm_disasm_run_profile(tmp_path, capsys):
    src = tmp_path / "k.s"
    src.write_text(
        ".arg x\n.arg y\narg r1, x\narg r2, y\n"
        "dma.load 0, sb.f32[0:4, 0, (1,8)], hbm.f32[r1+0, (8,4), (1,8)], 0.0\n"
        "act exp, sb.f32[0:4, 64, (1,8)], sb.f32[0:4, 0, (1,8)], 0.0, 1.0, _, add\n"
        "dma.store 1, hbm.f32[r2+0, (8,4), (1,8)], sb.f32[0:4, 64, (1,8)]\nhalt\n"
    )
    out = tmp_path / "k.bin"
    assert main(["asm", str(src), "-o", str(out)]) == 0
    assert main(["disasm", str(out)]) == 0
    text = capsys.readouterr().out
    assert "act exp" in text
    assert main(["run", str(out), "--arg", "f32:4x8", "--arg", "zeros:f32:4x8"]) == 0
    assert main(["profile", str(src), "--arg", "f32:32", "--arg", "f32:32", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["engines"]["ACT"]["instructions"] == 1
    bad = tmp_path / "bad.s"
    bad.write_text("bogus r1\n")
    assert main(["asm", str(bad)]) == 1
    assert "bad.s:1" in capsys.readouterr().err


def test_builder_emits_a_kernel_with_a_line_table():
    b = Builder(file="kernel.py")
    x, out = b.arg("x"), b.arg("out")
    b.loc(3)
    b.emit("arg", 1, x)
    b.emit("arg", 2, out)
    b.loc(4)
    b.li(3, 0)
    b.li(4, 4)
    top = b.place(b.label("top"))
    b.dma_load(0, sb("f32", 0, 4, (1, 16)), hbm("f32", 1, (16, 4), (1, 16)), 0.0)
    b.loc(5)
    b.ts(TensorOp.MUL, sb("f32", 0, 4, (1, 16), off=128), sb("f32", 0, 4, (1, 16)), 2.0)
    b.dma_store(1, hbm("f32", 2, (16, 4), (1, 16)), sb("f32", 0, 4, (1, 16), off=128))
    b.loop(3, 4, 1, top)
    b.halt()
    binary = b.build()
    assert binary.file == "kernel.py" and binary.lines[0] == 3 and binary.lines[-1] == 5
    xs = np.arange(64, dtype=np.float32)
    o = np.zeros(64, np.float32)
    run(binary, [xs, o])
    np.testing.assert_array_equal(o, 2 * xs)
    assert assemble(disassemble(binary)).to_bytes() == binary.to_bytes()


def test_readme_builder_example_runs():
    import re

    from isa.spec import SPEC_PATH as spec_path

    text = spec_path.with_name("README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    ns: dict = {}
    exec(code, ns)
    binary = ns["binary"]
    assert assemble(disassemble(binary)).to_bytes() == binary.to_bytes()
    x = np.ones(128 * 512 * 8, np.float32)
    run(binary, [x])
