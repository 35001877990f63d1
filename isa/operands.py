"""Composite operands of engine instructions: on-chip tiles, HBM access patterns and scalars.

Each composite is a frozen dataclass plus a bit layout (a list of sub-fields); the encoder packs
the sub-fields in that order, the assembler prints and parses them. The layouts are defined here
once and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from isa.dtypes import DType

# Sub-field layouts: (name, bits, signed).
TILE_DIMS = 3  # free dims of an on-chip tile
HBM_DIMS = 4  # dims of an HBM access pattern

TILE_LAYOUT: tuple[tuple[str, int, bool], ...] = (
    ("space", 2, False),  # 0 none, 1 SBUF, 2 PSUM
    ("dtype", 4, False),
    ("reg", 6, False),  # byte offset register (r0 = 0)
    ("off", 20, True),  # byte offset immediate within each partition
    ("p0", 7, False),  # first partition
    ("pn", 8, False),  # partition count
) + tuple(
    item for d in range(1, TILE_DIMS + 1) for item in ((f"s{d}", 16, True), (f"n{d}", 16, False))
)

HBM_LAYOUT: tuple[tuple[str, int, bool], ...] = (
    ("dtype", 4, False),
    ("reg", 6, False),  # base address register
    ("off", 32, True),  # byte offset immediate
    ("limit", 6, False),  # register holding an exclusive address limit (r0: none)
) + tuple(
    item
    for d in range(HBM_DIMS)
    for item in ((f"s{d}", 24, True), (f"n{d}", 20, False), (f"b{d}", 6, False))
)

SPACE_NONE, SPACE_SBUF, SPACE_PSUM = 0, 1, 2
SPACE_NAMES = {SPACE_SBUF: "sb", SPACE_PSUM: "ps"}

SCALAR_IMM, SCALAR_REG, SCALAR_TILE = 0, 1, 2


def _dt(dtype) -> int:
    """A dtype code from a DType, its code or its name ("bf16")."""
    from isa.dtypes import BY_NAME

    return int(BY_NAME[dtype]) if isinstance(dtype, str) else int(DType(dtype))


def layout_bits(layout) -> int:
    return sum(bits for _, bits, _ in layout)


@dataclass(frozen=True)
class Tile:
    """An on-chip access pattern: partitions [p0, p0+pn) x up to 3 free dims (stride, size).

    The first element of each partition sits at byte `regs[reg] + off`; strides count elements.
    Unused dims are (0, 1). `Tile.NONE` (space 0) marks an absent optional operand.
    """

    space: int
    dtype: int
    reg: int = 0
    off: int = 0
    p0: int = 0
    pn: int = 1
    dims: tuple[tuple[int, int], ...] = ((1, 1), (0, 1), (0, 1))

    def __post_init__(self):
        dims = self.dims
        if type(dims) is tuple and len(dims) == TILE_DIMS:  # already canonical: the fast path
            if all(type(d) is tuple and len(d) == 2 for d in dims):
                return
        dims = tuple(tuple(d) for d in dims)
        if len(dims) > TILE_DIMS:
            raise ValueError(f"a tile has at most {TILE_DIMS} free dims, got {len(dims)}")
        dims = dims + ((0, 1),) * (TILE_DIMS - len(dims))
        object.__setattr__(self, "dims", dims)

    @property
    def is_none(self) -> bool:
        return self.space == SPACE_NONE

    @property
    def free_shape(self) -> tuple[int, ...]:
        return tuple(n for _, n in self.dims)

    @property
    def free_size(self) -> int:
        out = 1
        for _, n in self.dims:
            out *= n
        return out

    def to_fields(self) -> tuple[int, ...]:
        flat = [v for d in self.dims for v in d]
        return (self.space, self.dtype, self.reg, self.off, self.p0, self.pn, *flat)

    @classmethod
    def from_fields(cls, f) -> Tile:
        dims = tuple((f[6 + 2 * d], f[7 + 2 * d]) for d in range(TILE_DIMS))
        return cls(f[0], f[1], f[2], f[3], f[4], f[5], dims)


Tile.NONE = Tile(SPACE_NONE, 0, 0, 0, 0, 0, ((0, 0), (0, 0), (0, 0)))


def sb(dtype, p0: int, pn: int, *dims, reg: int = 0, off: int = 0) -> Tile:
    """Convenience for builders: an SBUF tile; dims as (stride, size) pairs."""
    return Tile(SPACE_SBUF, _dt(dtype), reg, off, p0, pn, tuple(dims) or ((1, 1),))


def ps(dtype, p0: int, pn: int, *dims, reg: int = 0, off: int = 0) -> Tile:
    """Convenience for builders: a PSUM tile."""
    return Tile(SPACE_PSUM, _dt(dtype), reg, off, p0, pn, tuple(dims) or ((1, 1),))


@dataclass(frozen=True)
class HbmAP:
    """An HBM access pattern: base `regs[reg] + off` (bytes) and up to 4 dims (stride, size, bound).

    Strides count elements. `bound` names a register holding the number of valid indices of that
    dim (r0: all valid); `limit` names a register holding an exclusive byte address past which
    elements are masked (r0: none). Masked elements read as the instruction's fill value and are
    not written. Unused dims are (0, 1, r0).
    """

    dtype: int
    reg: int = 0
    off: int = 0
    dims: tuple[tuple[int, int, int], ...] = ((1, 1, 0),)
    limit: int = 0

    def __post_init__(self):
        dims = self.dims
        if type(dims) is tuple and len(dims) == HBM_DIMS:  # already canonical: the fast path
            if all(type(d) is tuple and len(d) == 3 for d in dims):
                return
        dims = tuple(tuple(d) if len(d) == 3 else (d[0], d[1], 0) for d in dims)
        if len(dims) > HBM_DIMS:
            raise ValueError(f"an HBM pattern has at most {HBM_DIMS} dims, got {len(dims)}")
        dims = dims + ((0, 1, 0),) * (HBM_DIMS - len(dims))
        object.__setattr__(self, "dims", dims)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n for _, n, _ in self.dims)

    def to_fields(self) -> tuple[int, ...]:
        flat = [v for d in self.dims for v in d]
        return (self.dtype, self.reg, self.off, self.limit, *flat)

    @classmethod
    def from_fields(cls, f) -> HbmAP:
        dims = tuple((f[4 + 3 * d], f[5 + 3 * d], f[6 + 3 * d]) for d in range(HBM_DIMS))
        return cls(f[0], f[1], f[2], dims, f[3])


def hbm(dtype, reg: int, *dims, off: int = 0, limit: int = 0) -> HbmAP:
    """Convenience for builders: dims as (stride, size) or (stride, size, bound_reg)."""
    return HbmAP(_dt(dtype), reg, off, tuple(dims) or ((1, 1, 0),), limit)


@dataclass(frozen=True)
class Scalar:
    """A scalar engine operand: an fp32 immediate (`bits`), a register's low 32 bits read as
    fp32, or (where allowed) a per-partition column tile [P, 1]."""

    tag: int
    value: int | Tile = 0

    @staticmethod
    def imm(x: float) -> Scalar:
        import numpy as np

        return Scalar(SCALAR_IMM, int(np.float32(x).view(np.uint32)))

    @staticmethod
    def reg(r: int) -> Scalar:
        return Scalar(SCALAR_REG, r)

    @staticmethod
    def tile(t: Tile) -> Scalar:
        return Scalar(SCALAR_TILE, t)
