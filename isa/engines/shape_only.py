"""Timing-only engine handlers: what every engine instruction touches and costs, without its data.

Each handler mirrors the numeric handler of the same name (`isa.engines.dma`,
`isa.engines.compute`) and returns the same `(CostParams, reads, writes, queue)`, computed from
the operands and registers alone: tile placements, HBM patterns, masks (bound and limit
registers), shapes. No tile data is read or written, so a matmul costs a few microseconds of
Python whatever its size. `tests/isa/test_timing_only.py` checks that both kinds of handler
produce identical records.

What cannot be known without data, and how it is handled:
- a value `ld` reads from a tile: exact when every byte of it was written by `iota`, `piota` or
  `memset` from known registers/immediates (register spills are stored that way), otherwise the
  register becomes unknown ("tainted"); the sequencer refuses to branch on it and an engine
  instruction refuses to use it as an address, bound, limit or iota base (`TimingOnlyError`). A
  tainted register used as an fp32 scalar operand is fine: it changes values, not timing.
- the rows touched by indirect DMA (`dma.gather`/`dma.scatter`/`atomic.ind`): the recorded HBM
  range is conservative: every row the pattern allows (the scoreboard may see a dependency that
  the data would avoid; costs are exact since they depend on the index tile's shape only).
- `check` on an unknown register passes (device assertions on data are not evaluated).
"""

from __future__ import annotations

import math

from isa import dtypes
from isa.engines import compute
from isa.engines.common import Ctx, check_lanes, check_matmul, elementwise_params
from isa.errors import (
    InvalidInstructionError,
    TileShapeError,
    TimingOnlyError,
    UninitializedReadError,
)
from isa.memory import SPACES, HbmAccess, tile_descriptors, tile_extent
from isa.operands import SCALAR_REG, SCALAR_TILE, SPACE_NONE, SPACE_PSUM, SPACE_SBUF, Tile
from isa.table import AccMode
from isa.trace import CostParams, MemRange, Space

SHAPE_HANDLERS: dict = {}
_NP = {int(d): dtypes.NUMPY[d] for d in dtypes.DType}
_INT_DTYPES = frozenset(int(d) for d in dtypes.DType if d not in dtypes.FLOATS)


def _shape(name: str):
    def deco(fn):
        SHAPE_HANDLERS[name] = fn
        return fn

    return deco


class ShapeCtx(Ctx):
    """The handler context of timing-only emulation: `mem` holds only the bytes whose values
    are known (see the module docstring); `taint` is the sequencer's unknown-register array.
    Known values are written when a read needs them (`isa.memory.DeferredTileAccess`)."""

    deferred = True

    def __init__(self, mem, hbm, regs, config, taint, lines):
        super().__init__(mem, hbm, regs, config)
        self.taint = taint
        self.lines = lines
        self.pc = 0  # the instruction being handled (set by the emulator)

    def reg(self, r: int, what: str) -> int:
        src = int(self.taint[r])
        if src:
            line = self.lines[src - 1] if src - 1 < len(self.lines) else 0
            at = f"pc {src - 1}" + (f", line {line}" if line else "")
            raise TimingOnlyError(
                f"{what} comes from register r{r}, which holds a value loaded from a tile by "
                f"`ld` ({at}); its value is tile data, which timing-only emulation does not "
                "compute: run this kernel numerically to time it"
            )
        return int(self.regs[r])


class _T:
    """A tile resolved without data: its MemRange and the facts cost formulas use."""

    __slots__ = ("tile", "range", "pn", "free", "dtype", "mem")

    def __init__(self, ctx: ShapeCtx, t: Tile, what: str, engine_rules: bool = True):
        space = t.space
        if space == SPACE_NONE:
            raise InvalidInstructionError(f"operand {what} must be a tile, not _")
        if ctx.taint[t.reg]:
            ctx.reg(t.reg, f"the address of {what}")  # raises
        mem = ctx.mem.sbuf if space == SPACE_SBUF else ctx.mem.psum
        _, lo, hi = tile_extent(mem, t, ctx.regs, ctx.config.partitions)
        if engine_rules:
            check_lanes(t, what)
        dt = _NP[t.dtype]
        size = dt.itemsize
        self.tile, self.mem, self.dtype = t, mem, dt
        self.pn, self.free = t.pn, t.free_size
        self.range = MemRange(SPACES[space], lo * size, (hi + 1) * size, t.p0, t.pn)

    def forget(self) -> None:
        """This tile is written with data the emulation does not compute."""
        r = self.range
        self.mem.forget(r.p_start, r.p_start + r.p_count, r.start, r.end)


def _same(dst: _T, *srcs: _T) -> None:
    for s in srcs:
        if (s.pn, s.free) != (dst.pn, dst.free):
            raise TileShapeError(
                f"operand shapes differ: [{dst.pn}, {dst.free}] vs [{s.pn}, {s.free}] "
                "(partitions, free elements)"
            )


def _scalar(ctx: ShapeCtx, s, pn: int, reads: list) -> None:
    """A scalar operand: only a column tile matters (it is read); its value does not."""
    if s.tag == SCALAR_TILE:
        col = _T(ctx, s.value, "scalar column")
        if col.pn != pn or col.free != 1:
            raise TileShapeError(f"a scalar column must be [{pn}, 1], got [{col.pn}, {col.free}]")
        reads.append(col.range)


def _hbm(ctx: ShapeCtx, ap, what: str) -> HbmAccess:
    ctx.reg(ap.reg, f"the HBM {what} address")
    for _, _, b in ap.dims:
        if b:
            ctx.reg(b, f"a bound of the HBM {what}")
    if ap.limit:
        ctx.reg(ap.limit, f"the address limit of the HBM {what}")
    return HbmAccess(ctx.hbm, ap, ctx.regs, what)


def _hbm_range(ha: HbmAccess) -> tuple:
    ext = ha.extent()
    return () if ext is None else (ha.range(ext[0], ext[1]),)


def _dma_tile(ctx: ShapeCtx, t: Tile, what: str) -> _T:
    if not t.is_none and t.space != SPACE_SBUF:
        raise TileShapeError(f"DMA {what} must be in SBUF (PSUM is reached through an engine)")
    return _T(ctx, t, what, engine_rules=False)


def _dma_params(ta: _T, nbytes: int, descriptors: int) -> CostParams:
    return CostParams(
        partitions=ta.pn,
        free=ta.free,
        dtype_bytes=ta.dtype.itemsize,
        bytes=nbytes,
        descriptors=descriptors,
    )


# --- DMA -------------------------------------------------------------------------------------


@_shape("dma_load")
def dma_load(ctx: ShapeCtx, ins):
    q, dst, src, _fill = ins.ops
    q = ctx.queue(q)
    ta = _dma_tile(ctx, dst, "destination")
    ha = _hbm(ctx, src, "source")
    if ta.pn * ta.free != ha.count:
        raise TileShapeError(f"DMA moves {ha.count} elements into a tile of {ta.pn * ta.free}")
    ta.forget()
    desc = max(ha.descriptors(), tile_descriptors(dst))
    return _dma_params(ta, ha.count * ha.size, desc), _hbm_range(ha), (ta.range,), q


@_shape("dma_store")
def dma_store(ctx: ShapeCtx, ins):
    q, dst, src = ins.ops
    q = ctx.queue(q)
    ta = _dma_tile(ctx, src, "source")
    ha = _hbm(ctx, dst, "destination")
    if ta.pn * ta.free != ha.count:
        raise TileShapeError(f"DMA moves a tile of {ta.pn * ta.free} elements to {ha.count}")
    desc = max(ha.descriptors(), tile_descriptors(src))
    return _dma_params(ta, ha.count * ha.size, desc), (ta.range,), _hbm_range(ha), q


@_shape("dma_copy")
def dma_copy(ctx: ShapeCtx, ins):
    q, dst, src = ins.ops
    q = ctx.queue(q)
    ta, sa = _dma_tile(ctx, dst, "destination"), _dma_tile(ctx, src, "source")
    if ta.pn * ta.free != sa.pn * sa.free:
        raise TileShapeError(f"DMA copies {sa.pn * sa.free} elements into {ta.pn * ta.free}")
    ta.forget()
    desc = max(tile_descriptors(dst), tile_descriptors(src))
    params = _dma_params(ta, sa.pn * sa.free * sa.dtype.itemsize, desc)
    return params, (sa.range,), (ta.range,), q


def _indirect(ctx: ShapeCtx, ap, idx_tile: Tile, data_elems: int, what: str):
    """The index tile, the pattern and a conservative HBM range: every row the pattern allows."""
    ia = _dma_tile(ctx, idx_tile, "index tile")
    if idx_tile.dtype not in _INT_DTYPES:
        raise InvalidInstructionError("the index tile of an indirect DMA must be an integer tile")
    ha = _hbm(ctx, ap, what)
    row = math.prod(ha.shape[1:])
    if ia.pn * ia.free * row != data_elems:
        raise TileShapeError(
            f"indirect DMA: {ia.pn * ia.free} indices x {row} elements per row != "
            f"{data_elems} elements"
        )
    rng: tuple = ()
    if ha.box[0]:
        extents = [(ha.strides[0], ha.box[0])] + list(zip(ha.strides[1:], ha.shape[1:]))
        lo = ha.base + sum(min(0, (n - 1) * s) for s, n in extents) * ha.size
        hi = ha.base + sum(max(0, (n - 1) * s) for s, n in extents) * ha.size + ha.size
        if ha.limit is not None:
            hi = min(hi, ha.limit)
        if lo < hi:
            rng = (MemRange(Space.HBM, lo, hi),)
    return ia, ha, rng


@_shape("dma_gather")
def dma_gather(ctx: ShapeCtx, ins):
    q, dst, src, idx, _fill = ins.ops
    q = ctx.queue(q)
    ta = _dma_tile(ctx, dst, "destination")
    ia, ha, rng = _indirect(ctx, src, idx, ta.pn * ta.free, "source")
    ta.forget()
    params = _dma_params(ta, ta.pn * ta.free * ha.size, ia.pn * ia.free)
    return params, (ia.range, *rng), (ta.range,), q


@_shape("dma_scatter")
def dma_scatter(ctx: ShapeCtx, ins):
    q, dst, src, idx = ins.ops
    q = ctx.queue(q)
    sa = _dma_tile(ctx, src, "source")
    ia, ha, rng = _indirect(ctx, dst, idx, sa.pn * sa.free, "destination")
    params = _dma_params(sa, sa.pn * sa.free * ha.size, ia.pn * ia.free)
    return params, (sa.range, ia.range), rng, q


def _atomic(ctx: ShapeCtx, q, dst, src, old_tile, cmp_tile=None):
    q = ctx.queue(q)
    sa = _dma_tile(ctx, src, "source")
    ha = _hbm(ctx, dst, "destination")
    if sa.pn * sa.free != ha.count:
        raise TileShapeError(f"atomic combines a tile of {sa.pn * sa.free} into {ha.count}")
    reads = [sa.range]
    if cmp_tile is not None:
        ca = _dma_tile(ctx, cmp_tile, "compare tile")
        if (ca.pn, ca.free) != (sa.pn, sa.free):
            raise TileShapeError(f"the compare tile must be [{sa.pn}, {sa.free}]")
        reads.append(ca.range)
    oa = None if old_tile.is_none else _dma_tile(ctx, old_tile, "old-value tile")
    if oa is not None and (oa.pn, oa.free) != (sa.pn, sa.free):
        raise TileShapeError(f"the old-value tile must be [{sa.pn}, {sa.free}]")
    rng = _hbm_range(ha)
    writes = rng
    if oa is not None:
        oa.forget()
        writes = (*rng, oa.range)
    params = _dma_params(sa, ha.count * ha.size, max(ha.descriptors(), tile_descriptors(src)))
    return params, (*reads, *rng), writes, q


@_shape("atomic")
def atomic(ctx: ShapeCtx, ins):
    _op, q, dst, src, old_tile = ins.ops
    return _atomic(ctx, q, dst, src, old_tile)


@_shape("atomic_cas")
def atomic_cas(ctx: ShapeCtx, ins):
    q, dst, cmp, src, old_tile = ins.ops
    return _atomic(ctx, q, dst, src, old_tile, cmp)


@_shape("atomic_ind")
def atomic_ind(ctx: ShapeCtx, ins):
    _op, q, dst, src, idx_tile, old_tile = ins.ops
    q = ctx.queue(q)
    sa = _dma_tile(ctx, src, "source")
    ia, ha, rng = _indirect(ctx, dst, idx_tile, sa.pn * sa.free, "destination")
    oa = None if old_tile.is_none else _dma_tile(ctx, old_tile, "old-value tile")
    if oa is not None and (oa.pn, oa.free) != (sa.pn, sa.free):
        raise TileShapeError(f"the old-value tile must be [{sa.pn}, {sa.free}]")
    writes = rng
    if oa is not None:
        oa.forget()
        writes = (*rng, oa.range)
    params = _dma_params(sa, sa.pn * sa.free * ha.size, ia.pn * ia.free)
    return params, (sa.range, ia.range, *rng), writes, q


# --- tensor engine ---------------------------------------------------------------------------


@_shape("matmul")
def matmul(ctx: ShapeCtx, ins):
    mode, dst, stat, mov = ins.ops
    cfg = ctx.config
    sa, ma = _T(ctx, stat, "stationary"), _T(ctx, mov, "moving")
    da = _T(ctx, dst, "destination")
    k, m, n = check_matmul(cfg, stat, mov, dst, sa, ma, da)
    reads = (sa.range, ma.range, da.range) if mode == AccMode.ACC else (sa.range, ma.range)
    da.forget()
    params = CostParams(
        partitions=k, free=n, dtype_bytes=sa.dtype.itemsize, k=k, m=m, flops=2 * k * m * n
    )
    return params, reads, (da.range,), 0


@_shape("pe_transpose")
def pe_transpose(ctx: ShapeCtx, ins):
    dst, src = ins.ops
    sa, da = _T(ctx, src, "source"), _T(ctx, dst, "destination")
    if dst.space != SPACE_PSUM:
        raise TileShapeError("transpose writes PSUM")
    k, m = sa.pn, sa.free
    if k > ctx.config.pe_rows or m > ctx.config.pe_cols or (da.pn, da.free) != (m, k):
        raise TileShapeError(
            f"transpose of [{k}, {m}] needs a [{m}, {k}] destination, "
            f"both <= 128; got [{da.pn}, {da.free}]"
        )
    da.forget()
    params = CostParams(partitions=k, free=m, dtype_bytes=sa.dtype.itemsize, k=k, m=m)
    return params, (sa.range,), (da.range,), 0


# --- activation, vector and GpSimd engines ------------------------------------------------------


@_shape("act")
def act(ctx: ShapeCtx, ins):
    _fn, dst, src, bias, scale, accum, _rop = ins.ops
    sa, da = _T(ctx, src, "source"), _T(ctx, dst, "destination")
    _same(da, sa)
    reads = [sa.range]
    _scalar(ctx, scale, sa.pn, reads)
    _scalar(ctx, bias, sa.pn, reads)
    da.forget()
    writes = [da.range]
    if not accum.is_none:
        aa = _T(ctx, accum, "accumulator")
        if aa.pn != da.pn:
            raise TileShapeError(f"accumulator has {aa.pn} partitions, result {da.pn}")
        if da.free % aa.free:
            raise TileShapeError(
                f"cannot reduce {da.free} free elements into {aa.free} groups (must divide)"
            )
        aa.forget()
        writes.append(aa.range)
    return elementwise_params(da, sa), tuple(reads), tuple(writes), 0


@_shape("tensor_tensor")
def tensor_tensor(ctx: ShapeCtx, ins):
    _op, dst, a, b = ins.ops
    aa, ba = _T(ctx, a, "a"), _T(ctx, b, "b")
    da = _T(ctx, dst, "destination")
    _same(da, aa, ba)
    da.forget()
    return elementwise_params(da, aa, ba), (aa.range, ba.range), (da.range,), 0


@_shape("tensor_scalar")
def tensor_scalar(ctx: ShapeCtx, ins):
    _op, dst, a, s = ins.ops
    aa, da = _T(ctx, a, "a"), _T(ctx, dst, "destination")
    _same(da, aa)
    reads = [aa.range]
    _scalar(ctx, s, aa.pn, reads)
    da.forget()
    return elementwise_params(da, aa), tuple(reads), (da.range,), 0


@_shape("select")
def select(ctx: ShapeCtx, ins):
    dst, mask, a, b = ins.ops
    ma, aa, ba = _T(ctx, mask, "mask"), _T(ctx, a, "a"), _T(ctx, b, "b")
    da = _T(ctx, dst, "destination")
    _same(da, ma, aa, ba)
    da.forget()
    return elementwise_params(da, ma, aa, ba), (ma.range, aa.range, ba.range), (da.range,), 0


@_shape("copy")
def copy(ctx: ShapeCtx, ins):
    dst, src = ins.ops
    sa, da = _T(ctx, src, "source"), _T(ctx, dst, "destination")
    _same(da, sa)
    da.forget()
    return elementwise_params(da, sa), (sa.range,), (da.range,), 0


@_shape("reduce")
def reduce(ctx: ShapeCtx, ins):
    _op, dst, src = ins.ops
    sa, da = _T(ctx, src, "source"), _T(ctx, dst, "destination")
    if sa.pn != da.pn:
        raise TileShapeError(f"reduce keeps partitions: source {sa.pn}, destination {da.pn}")
    if da.free == 0 or sa.free % da.free:
        raise TileShapeError(
            f"cannot reduce {sa.free} free elements into {da.free} groups (must divide)"
        )
    da.forget()
    params = CostParams(
        partitions=sa.pn,
        free=sa.free,
        dtype_bytes=sa.dtype.itemsize,
        flops=sa.pn * sa.free,
        psum_input=src.space == SPACE_PSUM,
    )
    return params, (sa.range,), (da.range,), 0


@_shape("transpose32")
def transpose32(ctx: ShapeCtx, ins):
    dst, src = ins.ops
    sa, da = _T(ctx, src, "source"), _T(ctx, dst, "destination")
    _same(da, sa)
    if sa.pn % 32 or sa.free % 32:
        raise TileShapeError(f"transpose32 needs [32a, 32b] tiles, got [{sa.pn}, {sa.free}]")
    da.forget()
    return elementwise_params(da, sa), (sa.range,), (da.range,), 0


def _known_write(ctx: ShapeCtx, ins, numeric, dst: Tile, value_regs: list[int]):
    """iota/piota/memset: values from registers and immediates, so written for real (a later
    `ld` of them, e.g. a register spill, stays exact) unless a register is unknown."""
    da = _T(ctx, dst, "destination")
    if any(ctx.taint[r] for r in value_regs):
        da.forget()
        params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
        return params, (), (da.range,), 0
    return numeric(ctx, ins)


@_shape("iota")
def iota(ctx: ShapeCtx, ins):
    return _known_write(ctx, ins, compute.iota, ins.ops[0], [ins.ops[1]])


@_shape("piota")
def piota(ctx: ShapeCtx, ins):
    return _known_write(ctx, ins, compute.piota, ins.ops[0], [ins.ops[1]])


@_shape("memset")
def memset(ctx: ShapeCtx, ins):
    dst, value = ins.ops
    if value.tag == SCALAR_TILE:  # a value from tile data
        da = _T(ctx, dst, "destination")
        da.forget()
        params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
        return params, (), (da.range,), 0
    regs = [value.value] if value.tag == SCALAR_REG else []
    return _known_write(ctx, ins, compute.memset, dst, regs)


@_shape("preduce")
def preduce(ctx: ShapeCtx, ins):
    _op, dst, src = ins.ops
    sa, da = _T(ctx, src, "source"), _T(ctx, dst, "destination")
    if sa.free != da.free:
        raise TileShapeError(f"preduce keeps the free size: {sa.free} vs {da.free}")
    da.forget()
    params = CostParams(
        partitions=sa.pn, free=sa.free, dtype_bytes=sa.dtype.itemsize, flops=sa.pn * sa.free
    )
    return params, (sa.range,), (da.range,), 0


@_shape("pbcast")
def pbcast(ctx: ShapeCtx, ins):
    dst, src = ins.ops
    sa, da = _T(ctx, src, "source"), _T(ctx, dst, "destination")
    if sa.pn != 1 or sa.free != da.free:
        raise TileShapeError(f"pbcast takes a [1, {da.free}] source, got [{sa.pn}, {sa.free}]")
    da.forget()
    params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
    return params, (sa.range,), (da.range,), 0


@_shape("rand")
def rand(ctx: ShapeCtx, ins):
    _mode, dst, _seed, offs = ins.ops
    oa, da = _T(ctx, offs, "offsets"), _T(ctx, dst, "destination")
    _same(da, oa)
    if offs.dtype not in _INT_DTYPES:
        raise InvalidInstructionError("rand offsets must be an integer tile")
    da.forget()
    params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
    return params, (oa.range,), (da.range,), 0


# --- sequencer reads of on-chip memory -------------------------------------------------------


@_shape("reg_load")
def reg_load(ctx: ShapeCtx, ins):
    rd, src = ins.ops
    sa = _T(ctx, src, "source", engine_rules=False)
    try:  # exact when every byte of the tile holds a known value
        out = compute.reg_load(ctx, ins)
    except UninitializedReadError:
        if rd:
            ctx.regs[rd] = 0
            ctx.taint[rd] = ctx.pc + 1
        return CostParams(partitions=1, free=1, dtype_bytes=sa.dtype.itemsize), (sa.range,), (), 0
    ctx.taint[rd] = 0
    return out


@_shape("check")
def check(ctx: ShapeCtx, ins):
    rs, _code = ins.ops
    if ctx.taint[rs]:  # an assertion on tile data: not evaluated without data
        return CostParams(partitions=1, free=1, dtype_bytes=8), (), (), 0
    return compute.check(ctx, ins)
