"""Encoding: machine IR on physical registers -> an `isa.binary.Binary` with a line table.

Stage: the last step of the accel backend. Input: a scheduled `MFunction`, the kernel's source
file and argument names. Output: the binary built through `isa.asm.Builder` (every instruction
carries its kernel source line: `Binary.lines`, the line table), and `annotate`, the
disassembly with each `.loc` followed by the source line it names (`kernel.asm["accel"]`).
Jumps to the block that follows are dropped.
"""

from __future__ import annotations

import linecache

from isa.asm import Builder, disassemble
from isa.binary import Binary
from isa.table import Kind

from .mir import HbmOp, MFunction, ScalarOp


def encode(mf: MFunction, file: str, arg_names: list[str]) -> Binary:
    b = Builder(file=file)
    for name in arg_names:
        b.arg(name)
    for name, blob in mf.data.items():
        b.data(name, blob)
    labels = {blk.name: b.label(blk.name) for blk in mf.blocks}
    order = [blk.name for blk in mf.blocks]
    for i, blk in enumerate(mf.blocks):
        b.place(labels[blk.name])
        nxt = order[i + 1] if i + 1 < len(order) else None
        for ins in blk.instrs:
            if ins.mnemonic == "jmp" and ins.ops[0] == nxt:
                continue
            b.loc(ins.line)
            ops = []
            for f, v in zip(ins.spec.fields, ins.ops, strict=True):
                if f.kind is Kind.LABEL:
                    v = labels[v]
                elif isinstance(v, HbmOp):
                    v = v.resolve()
                elif isinstance(v, ScalarOp):
                    v = v.resolve()
                ops.append(v)
            b.emit(ins.mnemonic, *ops)
    if not any(blk.instrs for blk in mf.blocks):
        b.halt()
    return b.build()


def annotate(binary: Binary) -> str:
    """Disassembly with the kernel source line after every `.loc`."""
    out = []
    for line in disassemble(binary).splitlines():
        out.append(line)
        if line.startswith(".loc ") and binary.file:
            n = int(line.split()[1])
            src = linecache.getline(binary.file, n).strip() if n else ""
            if src:
                out[-1] = f"{line:<12}# {src}"
    return "\n".join(out) + "\n"
