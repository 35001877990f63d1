"""Assembler errors name the file, the line and the offending text."""

from __future__ import annotations

import pytest

from isa.asm import Builder, assemble
from isa.errors import AsmError


@pytest.mark.parametrize(
    "src,line,needle",
    [
        ("nop\nfrobnicate r1", 2, "unknown mnemonic"),
        ("add r1, r2", 1, "takes 3 operands"),
        ("jmp nowhere", 1, "undefined label"),
        ("x:\nx:\nhalt", 2, "duplicate label"),
        ("addi r1, r2, 99999999999", 1, "does not fit"),
        ("add r1, r2, r64", 1, "register"),
        ("memset sb.f33[0:1, 0], 1.0", 1, "unknown dtype"),
        ("memset sb.f32[0:129, 0], 1.0", 1, "partition count"),
        ("memset sb.f32[0, 0], 1.0", 1, "p0:p1"),
        ("memset hbm.f32[r1+0, (1,4)], 1.0", 1, "expected a tile"),
        ("dma.load 0, sb.f32[0:1, 0], hbm.f32[r1+0, (1,4,r2,r3)], 0.0", 1, "HBM dims"),
        ("memset sb.f32[0:1, 0], sb.f32[0:1, 0]", 1, "not a tile"),
        ("act foo, _, _, 0.0, 1.0, _, add", 1, "unknown ActFn"),
        ("arg r1, x_ptr", 1, "unknown kernel argument"),
        ("data r1, table", 1, "unknown data symbol"),
        (".bogus 3", 1, "unknown directive"),
        (".arg x\n.arg x", 2, "duplicate argument"),
    ],
)
def test_assembler_errors(src, line, needle):
    with pytest.raises(AsmError) as info:
        assemble(src, "k.s")
    assert info.value.line == line
    assert needle in str(info.value)
    assert f"k.s:{line}:" in str(info.value)


def test_builder_errors():
    b = Builder()
    with pytest.raises(AsmError, match="takes 3 operands"):
        b.emit("add", 1, 2)
    lab = b.label("l")
    b.emit("jmp", lab)
    with pytest.raises(AsmError, match="never placed"):
        b.build()
    b.place(lab)
    with pytest.raises(AsmError, match="placed twice"):
        b.place(lab)
    with pytest.raises(AsmError, match="argument name"):
        b.arg("not a name")
    b.data("tab", b"123")
    with pytest.raises(AsmError, match="data symbol"):
        b.data("tab", b"456")
    with pytest.raises(AttributeError):
        b.not_an_instruction  # noqa: B018
