"""Tile and HBM-pattern tables shared by the accel lowering and instruction selection.

Stage: codegen/accel support. `lower` builds the tables while it emits `accel.*` calls whose
TILE/HBM operands are indices into them; `isel` turns the indices back into `isa.operands`
values (filling in the registers an HBM pattern's base, bounds and limit live in).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from isa.dtypes import DType as IDT
from isa.operands import SPACE_PSUM, SPACE_SBUF, HbmAP, Tile
from jitlang.dtypes import DType

ISA_DTYPE = {
    DType.F32: IDT.F32,
    DType.BF16: IDT.BF16,
    DType.F16: IDT.F16,
    DType.F8E4NV: IDT.FP8E4,  # float8_e4m3fn
    DType.F8E5: IDT.FP8E5,  # float8_e5m2
    DType.I32: IDT.I32,
    DType.U32: IDT.U32,
    DType.I16: IDT.I16,
    DType.U16: IDT.U16,
    DType.I8: IDT.I8,
    DType.U8: IDT.U8,
    DType.I1: IDT.U8,  # booleans are bytes holding 0 or 1
}


def isa_dtype(dt: DType) -> int:
    return int(ISA_DTYPE[dt])


@dataclass(frozen=True)
class TileRef:
    """A tile value: its buffer as an isa Tile [pn, (1, free)] plus the jitlang dtype."""

    tile: Tile
    dtype: DType

    @property
    def pn(self) -> int:
        return self.tile.pn

    @property
    def free(self) -> int:
        return self.tile.free_size

    def view(self, *dims, pn: int | None = None, dtype: DType | None = None, off: int = 0):
        """The same buffer through other free dims (stride, size) / partition count / dtype."""
        t = self.tile
        dt = dtype or self.dtype
        return Tile(
            t.space,
            isa_dtype(dt),
            t.reg,
            t.off + off,
            t.p0,
            pn if pn is not None else t.pn,
            tuple(dims) or t.dims,
        )

    def as_dtype(self, dt: DType) -> TileRef:
        return TileRef(self.view(dtype=dt), dt)


def sbuf_tile(dt: DType, offset: int, pn: int, free: int, space: str = "sbuf") -> TileRef:
    sp = SPACE_PSUM if space == "psum" else SPACE_SBUF
    return TileRef(Tile(sp, isa_dtype(dt), 0, offset, 0, pn, ((1, free),)), dt)


@dataclass
class Tables:
    """Operand tables of one kernel: tiles and HBM-pattern templates, deduplicated."""

    tiles: list[Tile] = field(default_factory=list)
    hbm: list[HbmAP] = field(default_factory=list)
    assert_sites: list[tuple[str, str]] = field(default_factory=list)  # (message, file:line:col)
    print_sites: list[tuple] = field(default_factory=list)  # (prefix, hex, operands, position)
    data: dict[str, bytes] = field(default_factory=dict)  # data-section blobs, in order
    data_names: list[str] = field(default_factory=list)  # symbols `accel.data` operands name
    _tix: dict = field(default_factory=dict)
    _hix: dict = field(default_factory=dict)

    def tile(self, t: Tile | TileRef) -> int:
        if isinstance(t, TileRef):
            t = t.tile
        if t not in self._tix:
            self._tix[t] = len(self.tiles)
            self.tiles.append(t)
        return self._tix[t]

    def data_symbol(self, name: str) -> int:
        """Index of data-section symbol `name` (the `accel.data` operand)."""
        if name not in self.data_names:
            self.data_names.append(name)
        return self.data_names.index(name)

    def pattern(self, dtype: DType, dims, bounded: tuple[bool, ...]) -> int:
        """An HBM pattern template: dims (stride, size); bound flag per dim (isel fills the
        registers)."""
        ap = HbmAP(
            isa_dtype(dtype),
            0,
            0,
            tuple((s, n, 1 if b else 0) for (s, n), b in zip(dims, bounded, strict=True)),
            0,
        )
        if ap not in self._hix:
            self._hix[ap] = len(self.hbm)
            self.hbm.append(ap)
        return self._hix[ap]
