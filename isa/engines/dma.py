"""DMA queue semantics: HBM <-> SBUF transfers with access patterns, masks, casts, indirect
gather/scatter and atomic read-modify-write on HBM."""

from __future__ import annotations

import numpy as np

from isa.dtypes import FP8E5, keep_fp8e5_nan_payloads
from isa.engines.common import Ctx, compute_form, handler, is_float_dtype
from isa.engines.common import convert as _convert
from isa.errors import InvalidInstructionError, TileShapeError
from isa.memory import HbmAccess, TileAccess, tile_descriptors
from isa.operands import SPACE_SBUF, Tile
from isa.table import AtomicOp
from isa.trace import CostParams, MemRange, Space


def convert(x, dt):
    """common.convert, with float8_e5m2 NaN payloads kept (isa.dtypes)."""
    out = _convert(x, dt)
    if out.dtype is FP8E5 or getattr(x, "dtype", None) is FP8E5:  # else: nothing to keep
        return keep_fp8e5_nan_payloads(x, out, dt)
    return out


# --- DMA -------------------------------------------------------------------------------------


def _dma_tile(ctx: Ctx, t: Tile, what: str) -> TileAccess:
    if not t.is_none and t.space != SPACE_SBUF:
        raise TileShapeError(f"DMA {what} must be in SBUF (PSUM is reached through an engine)")
    return ctx.tile(t, engine_rules=False, what=what)


def _dma_params(ta: TileAccess, nbytes: int, descriptors: int) -> CostParams:
    return CostParams(
        partitions=ta.pn,
        free=ta.free,
        dtype_bytes=ta.dtype.itemsize,
        bytes=nbytes,
        descriptors=descriptors,
    )


def _box(shape) -> tuple:
    return tuple(slice(0, n) for n in shape)


@handler("dma_load")
def dma_load(ctx: Ctx, ins):
    q, dst, src, fill = ins.ops
    q = ctx.queue(q)
    ta = _dma_tile(ctx, dst, "destination")
    ha = HbmAccess(ctx.hbm, src, ctx.regs, "source")
    if ta.pn * ta.free != ha.count:
        raise TileShapeError(f"DMA moves {ha.count} elements into a tile of {ta.pn * ta.free}")
    temp = np.empty(ha.shape, ta.dtype)
    temp[...] = convert(np.float64(ctx.scalar(fill, ta.pn, [])), ta.dtype)
    view, mask, rng = ha.select()
    if view is not None:
        if mask is None:
            temp[_box(ha.box)] = convert(view, ta.dtype)
        else:
            sub = temp[_box(ha.box)]
            sub[mask] = convert(ctx.hbm.data.view(ha.dtype)[view], ta.dtype)
    ta.write(temp.reshape(ta.pn, ta.free))
    desc = max(ha.descriptors(), tile_descriptors(dst))
    params = _dma_params(ta, ha.count * ha.size, desc)
    return params, ((rng,) if rng else ()), (ta.range,), q


@handler("dma_store")
def dma_store(ctx: Ctx, ins):
    q, dst, src = ins.ops
    q = ctx.queue(q)
    ta = _dma_tile(ctx, src, "source")
    ha = HbmAccess(ctx.hbm, dst, ctx.regs, "destination")
    if ta.pn * ta.free != ha.count:
        raise TileShapeError(f"DMA moves a tile of {ta.pn * ta.free} elements to {ha.count}")
    vals = convert(ta.read(), ha.dtype).reshape(ha.shape)[_box(ha.box)]
    view, mask, rng = ha.select()
    if view is not None:
        if mask is None:
            view[...] = vals
        else:
            ctx.hbm.data.view(ha.dtype)[view] = vals[mask]
    desc = max(ha.descriptors(), tile_descriptors(src))
    params = _dma_params(ta, ha.count * ha.size, desc)
    return params, (ta.range,), ((rng,) if rng else ()), q


@handler("dma_copy")
def dma_copy(ctx: Ctx, ins):
    q, dst, src = ins.ops
    q = ctx.queue(q)
    ta, sa = _dma_tile(ctx, dst, "destination"), _dma_tile(ctx, src, "source")
    if ta.pn * ta.free != sa.pn * sa.free:
        raise TileShapeError(f"DMA copies {sa.pn * sa.free} elements into {ta.pn * ta.free}")
    ta.write(convert(sa.read().reshape(-1), ta.dtype))
    desc = max(tile_descriptors(dst), tile_descriptors(src))
    params = _dma_params(ta, sa.pn * sa.free * sa.dtype.itemsize, desc)
    return params, (sa.range,), (ta.range,), q


def _indirect(ctx: Ctx, hbm_ap, idx_tile: Tile, data_elems: int, what: str):
    """Element indices and validity of an indirect access: rows idx[p, g] of the HBM pattern."""
    ia = _dma_tile(ctx, idx_tile, "index tile")
    if is_float_dtype(ia.dtype):
        raise InvalidInstructionError("the index tile of an indirect DMA must be an integer tile")
    ha = HbmAccess(ctx.hbm, hbm_ap, ctx.regs, what)
    idx = ia.read().astype(np.int64)  # [P, G]
    row = int(np.prod(ha.shape[1:]))
    if idx.size * row != data_elems:
        raise TileShapeError(
            f"indirect DMA: {idx.size} indices x {row} elements per row != {data_elems} elements"
        )
    valid = (idx >= 0) & (idx < ha.box[0])
    offs = np.int64(0)
    for d in range(1, 4):
        shape = [1, 1, 1]
        shape[d - 1] = ha.shape[d]
        offs = offs + (np.arange(ha.shape[d], dtype=np.int64) * ha.strides[d]).reshape(shape)
    elem = ha.base // ha.size + idx[..., None] * ha.strides[0] + offs.reshape(-1)  # [P, G, row]
    valid = np.broadcast_to(valid[..., None], elem.shape)
    if ha.limit is not None:
        valid = valid & ((elem + 1) * ha.size <= ha.limit)
    sel = elem[valid]
    rng = None
    if sel.size:
        lo, hi = int(sel.min()) * ha.size, (int(sel.max()) + 1) * ha.size
        ha._check(lo, hi)
        rng = MemRange(Space.HBM, lo, hi)
    return ia, ha, elem, valid, rng


@handler("dma_gather")
def dma_gather(ctx: Ctx, ins):
    q, dst, src, idx, fill = ins.ops
    q = ctx.queue(q)
    ta = _dma_tile(ctx, dst, "destination")
    ia, ha, elem, valid, rng = _indirect(ctx, src, idx, ta.pn * ta.free, "source")
    out = np.empty(elem.shape, ta.dtype)
    out[...] = convert(np.float64(ctx.scalar(fill, ta.pn, [])), ta.dtype)
    out[valid] = convert(ctx.hbm.data.view(ha.dtype)[elem[valid]], ta.dtype)
    ta.write(out.reshape(ta.pn, ta.free))
    params = _dma_params(ta, ta.pn * ta.free * ha.size, elem.shape[0] * elem.shape[1])
    return params, (ia.range,) + ((rng,) if rng else ()), (ta.range,), q


@handler("dma_scatter")
def dma_scatter(ctx: Ctx, ins):
    q, dst, src, idx = ins.ops
    q = ctx.queue(q)
    sa = _dma_tile(ctx, src, "source")
    ia, ha, elem, valid, rng = _indirect(ctx, dst, idx, sa.pn * sa.free, "destination")
    vals = convert(sa.read(), ha.dtype).reshape(elem.shape)
    ctx.hbm.data.view(ha.dtype)[elem[valid]] = vals[valid]
    params = _dma_params(sa, sa.pn * sa.free * ha.size, elem.shape[0] * elem.shape[1])
    return params, (sa.range, ia.range), ((rng,) if rng else ()), q


def _rmw(op: AtomicOp, old, v):
    if op == AtomicOp.ADD:
        return old + v
    if op == AtomicOp.MAX:
        return np.maximum(old, v)
    if op == AtomicOp.MIN:
        return np.minimum(old, v)
    if op == AtomicOp.XCHG:
        return v + 0 * old
    if old.dtype != np.int64 or v.dtype != np.int64:
        raise InvalidInstructionError(f"atomic {op.name.lower()} needs integer operands")
    return {AtomicOp.AND: np.bitwise_and, AtomicOp.OR: np.bitwise_or}.get(op, np.bitwise_xor)(
        old, v
    )


def _apply_atomic(op, typed: np.ndarray, idx: np.ndarray, vals: np.ndarray, cmp=None):
    """Apply the element updates in issue order; returns each element's value before its update
    (in compute form). Elements that alias one address see each other's updates. `op` None with
    `cmp` given is compare-and-swap."""

    def update(old, v, c):
        return np.where(old == c, v, old) if op is None else _rmw(op, old, v)

    uniq, inv = np.unique(idx, return_inverse=True)
    if cmp is None:
        cur, v = compute_form(typed[uniq], vals)
        c = v
    else:
        cur, v, c = compute_form(typed[uniq], vals, cmp)
    if len(uniq) == len(idx):
        old = cur[inv]
        typed[idx] = convert(update(old, v, c), typed.dtype)
        return old
    old = np.empty(len(idx), cur.dtype)
    for i, slot in enumerate(inv.tolist()):  # aliasing: sequential semantics
        old[i] = cur[slot]
        cur[slot] = update(cur[slot : slot + 1], v[i : i + 1], c[i : i + 1])[0]
    typed[uniq] = convert(cur, typed.dtype)
    return old


def _atomic(ctx: Ctx, op, q, dst, src, old_tile, cmp_tile=None):
    q = ctx.queue(q)
    sa = _dma_tile(ctx, src, "source")
    ha = HbmAccess(ctx.hbm, dst, ctx.regs, "destination")
    if sa.pn * sa.free != ha.count:
        raise TileShapeError(f"atomic combines a tile of {sa.pn * sa.free} into {ha.count}")
    reads = [sa.range]
    ca = None
    if cmp_tile is not None:
        ca = _dma_tile(ctx, cmp_tile, "compare tile")
        if (ca.pn, ca.free) != (sa.pn, sa.free):
            raise TileShapeError(f"the compare tile must be [{sa.pn}, {sa.free}]")
        reads.append(ca.range)
    oa = None if old_tile.is_none else _dma_tile(ctx, old_tile, "old-value tile")
    if oa is not None and (oa.pn, oa.free) != (sa.pn, sa.free):
        raise TileShapeError(f"the old-value tile must be [{sa.pn}, {sa.free}]")
    olds = np.zeros(ha.shape, np.float64 if is_float_dtype(ha.dtype) else np.int64)
    rng = None
    if all(ha.box):
        vals = sa.read().reshape(ha.shape)[_box(ha.box)]
        cmps = None if ca is None else ca.read().reshape(ha.shape)[_box(ha.box)]
        addr = ha._addresses()
        mask = np.ones(ha.box, bool) if ha.limit is None else addr + ha.size <= ha.limit
        if mask.any():
            idx = addr[mask] // ha.size
            lo, hi = int(idx.min()) * ha.size, (int(idx.max()) + 1) * ha.size
            ha._check(lo, hi)
            rng = MemRange(Space.HBM, lo, hi)
            typed = ctx.hbm.data.view(ha.dtype)
            old = _apply_atomic(op, typed, idx, vals[mask], None if cmps is None else cmps[mask])
            olds[_box(ha.box)][mask] = old
    writes = ((rng,) if rng else ()) + ((oa.range,) if oa is not None else ())
    if oa is not None:
        oa.write(convert(olds, oa.dtype).reshape(oa.pn, oa.free))
    params = _dma_params(sa, ha.count * ha.size, max(ha.descriptors(), tile_descriptors(src)))
    return params, tuple(reads) + ((rng,) if rng else ()), writes, q


@handler("atomic")
def atomic(ctx: Ctx, ins):
    op, q, dst, src, old_tile = ins.ops
    return _atomic(ctx, op, q, dst, src, old_tile)


@handler("atomic_cas")
def atomic_cas(ctx: Ctx, ins):
    q, dst, cmp, src, old_tile = ins.ops
    return _atomic(ctx, None, q, dst, src, old_tile, cmp)


@handler("atomic_ind")
def atomic_ind(ctx: Ctx, ins):
    op, q, dst, src, idx_tile, old_tile = ins.ops
    q = ctx.queue(q)
    sa = _dma_tile(ctx, src, "source")
    ia, ha, elem, valid, rng = _indirect(ctx, dst, idx_tile, sa.pn * sa.free, "destination")
    oa = None if old_tile.is_none else _dma_tile(ctx, old_tile, "old-value tile")
    if oa is not None and (oa.pn, oa.free) != (sa.pn, sa.free):
        raise TileShapeError(f"the old-value tile must be [{sa.pn}, {sa.free}]")
    vals = sa.read().reshape(elem.shape)
    olds = np.zeros(elem.shape, np.float64 if is_float_dtype(ha.dtype) else np.int64)
    if valid.any():
        typed = ctx.hbm.data.view(ha.dtype)
        olds[valid] = _apply_atomic(op, typed, elem[valid], vals[valid])
    writes = ((rng,) if rng else ()) + ((oa.range,) if oa is not None else ())
    if oa is not None:
        oa.write(convert(olds, oa.dtype).reshape(oa.pn, oa.free))
    params = _dma_params(sa, sa.pn * sa.free * ha.size, elem.shape[0] * elem.shape[1])
    return params, (sa.range, ia.range) + ((rng,) if rng else ()), writes, q
