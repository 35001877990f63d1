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
