"""Shared helpers for the accelerator tests: random operand values for any table field."""

from __future__ import annotations

import random

from isa import dtypes
from isa.encoding import Instr
from isa.operands import (
    HBM_DIMS,
    SCALAR_IMM,
    SCALAR_REG,
    SCALAR_TILE,
    TILE_DIMS,
    HbmAP,
    Scalar,
    Tile,
)
from isa.table import Field, InstrSpec, Kind


def _s(rng: random.Random, bits: int) -> int:
    return rng.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def rand_tile(rng: random.Random, allow_none: bool = True) -> Tile:
    if allow_none and rng.random() < 0.1:
        return Tile.NONE
    pn = rng.randint(1, 128)
    return Tile(
        rng.choice([1, 2]),
        int(rng.choice(list(dtypes.DType))),
        rng.randint(0, 63),
        _s(rng, 20),
        rng.randint(0, 127),
        pn,
        tuple((_s(rng, 16), rng.randint(0, 65535)) for _ in range(TILE_DIMS)),
    )


def rand_hbm(rng: random.Random) -> HbmAP:
    dims = tuple(
        (_s(rng, 24), rng.randint(0, (1 << 20) - 1), rng.randint(0, 63)) for _ in range(HBM_DIMS)
    )
    return HbmAP(
        int(rng.choice(list(dtypes.DType))),
        rng.randint(0, 63),
        _s(rng, 32),
        dims,
        rng.randint(0, 63),
    )


def rand_value(rng: random.Random, f: Field):
    k = f.kind
    if k is Kind.REG:
        return rng.randint(0, 63)
    if k is Kind.ENUM:
        return rng.choice(list(f.enum))
    if k is Kind.TILE:
        return rand_tile(rng)
    if k is Kind.HBM:
        return rand_hbm(rng)
    if k in (Kind.SCALAR, Kind.FSCALAR):
        tags = [SCALAR_IMM, SCALAR_REG] + ([SCALAR_TILE] if k is Kind.SCALAR else [])
        tag = rng.choice(tags)
        if tag == SCALAR_IMM:
            return Scalar(tag, rng.getrandbits(32))
        if tag == SCALAR_REG:
            return Scalar(tag, rng.randint(0, 63))
        return Scalar(tag, rand_tile(rng, allow_none=False))
    if f.signed:
        return _s(rng, f.bits)
    return rng.randint(0, (1 << f.bits) - 1)


def rand_instr(rng: random.Random, spec: InstrSpec) -> Instr:
    return Instr(spec, tuple(rand_value(rng, f) for f in spec.fields))


def plausible_engine_program(rng: random.Random):
    """A short program of engine instructions with small, mostly in-bounds operands (after some
    memsets), so that fuzzing reaches the engines' semantics rather than the first bounds check."""
    from isa.asm import Builder
    from isa.table import INSTRUCTIONS, Uop

    def tile() -> Tile:
        pn = rng.choice([1, 4, 16, 32, 64, 128])
        dims = tuple(
            (rng.choice([1, 1, 2, 0, -1]), rng.randint(1, 8)) for _ in range(rng.randint(1, 3))
        )
        return Tile(
            rng.choice([1, 1, 1, 2]),
            int(rng.choice(list(dtypes.DType))),
            0,
            rng.choice([0, 64, 256, 1024]),
            0 if pn > 32 else rng.choice([0, 32]),
            pn,
            dims,
        )

    def hbm() -> HbmAP:
        dims = tuple(
            (rng.choice([1, 2, 0, 8]), rng.randint(1, 8), rng.choice([0, 0, 7]))
            for _ in range(rng.randint(1, 4))
        )
        return HbmAP(
            int(rng.choice(list(dtypes.DType))),
            1,
            rng.choice([0, 16, 64]),
            dims,
            rng.choice([0, 0, 8]),
        )

    def value(f: Field):
        k = f.kind
        if k is Kind.TILE:
            return tile() if rng.random() > 0.1 else Tile.NONE
        if k is Kind.HBM:
            return hbm()
        if k is Kind.SCALAR and rng.random() < 0.3:
            return Scalar(SCALAR_TILE, tile())
        if k in (Kind.SCALAR, Kind.FSCALAR):
            return Scalar.imm(rng.uniform(-3, 3)) if rng.random() < 0.7 else Scalar.reg(9)
        if k is Kind.ENUM:
            return rng.choice(list(f.enum))
        if k is Kind.REG:
            return rng.choice([0, 7, 9])
        return rng.randint(-3, 3) if f.signed else rng.randint(0, 3)

    engine_specs = [s for s in INSTRUCTIONS if s.uop == Uop.ENGINE]
    b = Builder()
    b.arg("x")
    b.emit("arg", 1, 0)
    b.emit("li", 7, rng.randint(-2, 20))
    b.emit("li", 9, rng.randint(0, 1 << 32))
    b.emit("addi", 8, 1, rng.randint(0, 2048))
    for space in (1, 2):
        b.emit("memset", Tile(space, 0, 0, 0, 0, 128, ((1, 1024),)), Scalar.imm(1.0))
    for _ in range(rng.randint(1, 3)):
        s = rng.choice(engine_specs)
        b.emit(s.mnemonic, *[value(f) for f in s.fields])
    b.emit("halt")
    return b.build()
