"""Every instruction round-trips: fields -> words -> fields, text -> binary -> text -> binary."""

from __future__ import annotations

import random

import pytest

from isa.asm import assemble, disassemble
from isa.binary import Binary
from isa.encoding import decode_program, encode, encode_program
from isa.table import INSTRUCTIONS, Kind
from tests.isa.randops import rand_instr


def _fix_labels(instrs):
    """Keep branch targets inside the program so the disassembler can name them."""
    out = []
    for ins in instrs:
        ops = tuple(
            (v % (len(instrs) + 1)) if f.kind is Kind.LABEL else v
            for f, v in zip(ins.spec.fields, ins.ops, strict=True)
        )
        out.append(type(ins)(ins.spec, ops))
    return out


@pytest.mark.parametrize("spec", INSTRUCTIONS, ids=lambda s: s.mnemonic)
def test_binary_roundtrip(spec):
    rng = random.Random(spec.opcode)
    for _ in range(30):
        ins = rand_instr(rng, spec)
        words = encode(ins)
        assert len(words) == spec.nwords
        assert decode_program(words) == [ins]


@pytest.mark.parametrize("spec", INSTRUCTIONS, ids=lambda s: s.mnemonic)
def test_text_roundtrip(spec):
    rng = random.Random(1000 + spec.opcode)
    instrs = _fix_labels([rand_instr(rng, spec) for _ in range(20)])
    b = Binary(encode_program(instrs), ["x", "y"], bytes(range(70)), [("tab", 0), ("t2", 64)])
    text = disassemble(b)
    b2 = assemble(text)
    assert b2.to_bytes() == b.to_bytes()
    assert disassemble(b2) == text


def test_mixed_program_roundtrip_through_bytes():
    rng = random.Random(7)
    instrs = _fix_labels([rand_instr(rng, rng.choice(INSTRUCTIONS)) for _ in range(300)])
    b = Binary(encode_program(instrs), [], b"", [], list(range(1, 301)), "k.py")
    b2 = Binary.from_bytes(b.to_bytes())
    assert b2 == b
    assert assemble(disassemble(b2)).to_bytes() == b.to_bytes()


def test_assembler_features():
    src = """
    .arg x
    .arg n
    .data tab f32 1.0, 2.0, 3.0
    start:  arg r1, x        # comment after code
            arg r2, n
            data r3, tab+4
    loop:   addi r4, r4, 1
            b.lt r4, r2, loop
            jmp end
    end:
            halt
    """
    b = assemble(src, "k.s")
    instrs = decode_program(b.code)
    assert [i.mnemonic for i in instrs] == ["arg", "arg", "data", "addi", "b.lt", "jmp", "halt"]
    assert instrs[4].op("target") == 3 and instrs[5].op("target") == 6
    assert instrs[2].op("offset") == 4
    assert b.args == ["x", "n"] and len(b.data) == 12
    assert b.lines == [5, 6, 7, 8, 9, 10, 12]


def test_float_immediates_are_exact():
    for lit in ["1.5", "-0.0", "inf", "-inf", "bits:0x7fc00001", "1e-45", "3.4028235e+38", "0.1"]:
        b = assemble(f"memset sb.f32[0:1, 0], {lit}")
        assert assemble(disassemble(b)).to_bytes() == b.to_bytes()
