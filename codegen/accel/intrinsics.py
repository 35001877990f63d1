"""The one table of `accel.*` intrinsics: LLVM declarations and the ISA instruction each selects to.

Stage: shared by `lower` (declares and calls them) and `isel` (selects them). A tile operation in
LLVM IR is a call whose operands are either compile-time constants (tile and HBM-pattern indices
into the kernel's tables, enum codes, immediates, the source line) or scalar values that live in
sequencer registers (HBM addresses, bounds, fp32 bit patterns). The attributes tell LLVM what it
may do: `readnone` calls (program ids) may be hoisted, CSE'd and deleted; `read` calls
(register loads of a tile) only read on-chip memory; every other call reads and writes on-chip
memory that LLVM cannot see (`inaccessiblememonly`), so they keep their order and survive.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from llvmlite import ir


class Opnd(enum.Enum):
    TILE = "tile"  # i32 constant: index into the tile table (-1: absent)
    HBM = "hbm"  # i32 constant: index into the HBM access-pattern table
    ENUM = "enum"  # i32 constant: an isa enum code
    IMM = "imm"  # i32 constant immediate
    REG = "reg"  # i64 value held in a sequencer register (r0 when the constant 0)
    F32 = "f32"  # i32 fp32 bit pattern: a constant is an immediate, anything else a register
    LINE = "line"  # i32 constant: the kernel source line (the line table)


class Effect(enum.Enum):
    NONE = "none"  # reads nothing LLVM can't see: pure
    READ = "read"  # reads on-chip memory
    WRITE = "write"  # reads and writes on-chip memory (or HBM)


@dataclass(frozen=True)
class Intrinsic:
    name: str  # LLVM function name
    mnemonic: str  # ISA instruction it selects to ("" when isel expands it itself)
    operands: tuple[tuple[str, Opnd], ...]
    effect: Effect = Effect.WRITE
    result: str = ""  # "", "i32" or "i64"


_T, _H, _E, _I, _R, _F, _L = (
    Opnd.TILE,
    Opnd.HBM,
    Opnd.ENUM,
    Opnd.IMM,
    Opnd.REG,
    Opnd.F32,
    Opnd.LINE,
)
_BOUNDS = (("limit", _R), ("b0", _R), ("b1", _R), ("b2", _R), ("b3", _R))

TABLE: tuple[Intrinsic, ...] = (
    Intrinsic("accel.pid", "pid", (("axis", _I),), Effect.NONE, "i32"),
    Intrinsic("accel.nprog", "nprog", (("axis", _I),), Effect.NONE, "i32"),
    Intrinsic("accel.data", "data", (("offset", _I),), Effect.NONE, "i64"),
    Intrinsic("accel.ld", "ld", (("src", _T), ("line", _L)), Effect.READ, "i64"),
    Intrinsic("accel.check", "check", (("rs1", _R), ("code", _I), ("line", _L))),
    Intrinsic(
        "accel.dma.load",
        "dma.load",
        (("dst", _T), ("src", _H), ("base", _R), *_BOUNDS, ("fill", _F), ("line", _L)),
    ),
    Intrinsic(
        "accel.dma.store",
        "dma.store",
        (("dst", _H), ("base", _R), *_BOUNDS, ("src", _T), ("line", _L)),
    ),
    Intrinsic(
        "accel.atomic",
        "atomic",
        (("op", _E), ("dst", _H), ("base", _R), *_BOUNDS, ("src", _T), ("old", _T), ("line", _L)),
    ),
    Intrinsic(
        "accel.cas",
        "cas",
        (("dst", _H), ("base", _R), *_BOUNDS, ("cmp", _T), ("src", _T), ("old", _T), ("line", _L)),
    ),
    Intrinsic(
        "accel.atomic.ind",
        "atomic.ind",
        (
            ("op", _E),
            ("dst", _H),
            ("base", _R),
            ("src", _T),
            ("idx", _T),
            ("old", _T),
            ("line", _L),
        ),
    ),
    Intrinsic("accel.dma.copy", "dma.copy", (("dst", _T), ("src", _T), ("line", _L))),
    Intrinsic(
        "accel.dma.gather",
        "dma.gather",
        (("dst", _T), ("src", _H), ("base", _R), ("idx", _T), ("fill", _F), ("line", _L)),
    ),
    Intrinsic(
        "accel.dma.scatter",
        "dma.scatter",
        (("dst", _H), ("base", _R), ("src", _T), ("idx", _T), ("line", _L)),
    ),
    Intrinsic(
        "accel.act",
        "act",
        (
            ("fn", _E),
            ("dst", _T),
            ("src", _T),
            ("bias", _F),
            ("scale", _F),
            ("accum", _T),
            ("rop", _E),
            ("line", _L),
        ),
    ),
    Intrinsic(
        "accel.act.col",
        "act",
        (
            ("fn", _E),
            ("dst", _T),
            ("src", _T),
            ("bias", _T),
            ("scale", _F),
            ("accum", _T),
            ("rop", _E),
            ("line", _L),
        ),
    ),
    Intrinsic(
        "accel.act.scol",
        "act",
        (
            ("fn", _E),
            ("dst", _T),
            ("src", _T),
            ("bias", _F),
            ("scale", _T),
            ("accum", _T),
            ("rop", _E),
            ("line", _L),
        ),
    ),
    Intrinsic("accel.tt", "tt", (("op", _E), ("dst", _T), ("a", _T), ("b", _T), ("line", _L))),
    Intrinsic("accel.ts", "ts", (("op", _E), ("dst", _T), ("a", _T), ("s", _F), ("line", _L))),
    Intrinsic("accel.ts.col", "ts", (("op", _E), ("dst", _T), ("a", _T), ("s", _T), ("line", _L))),
    Intrinsic(
        "accel.select",
        "select",
        (("dst", _T), ("mask", _T), ("a", _T), ("b", _T), ("line", _L)),
    ),
    Intrinsic("accel.copy", "copy", (("dst", _T), ("src", _T), ("line", _L))),
    Intrinsic("accel.reduce", "reduce", (("op", _E), ("dst", _T), ("src", _T), ("line", _L))),
    Intrinsic("accel.preduce", "preduce", (("op", _E), ("dst", _T), ("src", _T), ("line", _L))),
    Intrinsic("accel.pbcast", "pbcast", (("dst", _T), ("src", _T), ("line", _L))),
    Intrinsic(
        "accel.iota",
        "iota",
        (("dst", _T), ("base", _R), ("off", _I), ("step", _I), ("line", _L)),
    ),
    Intrinsic(
        "accel.piota",
        "piota",
        (("dst", _T), ("base", _R), ("off", _I), ("step", _I), ("line", _L)),
    ),
    Intrinsic("accel.memset", "memset", (("dst", _T), ("value", _F), ("line", _L))),
    Intrinsic(
        "accel.matmul",
        "matmul",
        (("mode", _E), ("dst", _T), ("stat", _T), ("mov", _T), ("line", _L)),
    ),
    Intrinsic("accel.transpose", "transpose", (("dst", _T), ("src", _T), ("line", _L))),
)

BY_NAME: dict[str, Intrinsic] = {i.name: i for i in TABLE}

_LLTYPE = {
    Opnd.TILE: ir.IntType(32),
    Opnd.HBM: ir.IntType(32),
    Opnd.ENUM: ir.IntType(32),
    Opnd.IMM: ir.IntType(32),
    Opnd.REG: ir.IntType(64),
    Opnd.F32: ir.IntType(32),
    Opnd.LINE: ir.IntType(32),
}
_RESULT = {"": ir.VoidType(), "i32": ir.IntType(32), "i64": ir.IntType(64)}


def declare(module: ir.Module, name: str) -> ir.Function:
    """The declaration of intrinsic `name` in `module` (created on first use)."""
    if name in module.globals:
        return module.globals[name]
    it = BY_NAME[name]
    fnty = ir.FunctionType(_RESULT[it.result], [_LLTYPE[k] for _, k in it.operands])
    fn = ir.Function(module, fnty, name)
    fn.attributes.add("nounwind")
    if it.effect is Effect.NONE:
        fn.attributes.add("readnone")
    elif it.effect is Effect.READ:
        fn.attributes.add("inaccessiblememonly")
        fn.attributes.add("readonly")
    else:
        fn.attributes.add("inaccessiblememonly")
    return fn


def llvm_type(kind: Opnd) -> ir.Type:
    return _LLTYPE[kind]
