"""Engine instruction semantics in numpy: DMA queues, tensor engine, activation, vector, GpSimd.

Input: a decoded engine instruction and the running program's context (core memories, HBM,
registers, config). Output: the effect on memory plus what the timing model needs: `CostParams`
and the `MemRange`s read and written. Handlers are looked up by the table entry's `handler` name
(`HANDLERS`); every check that can fail raises an `EmulatorError` subclass that the emulator
locates (pc, mnemonic, line).
"""

from __future__ import annotations

import math

import numpy as np

from isa import dtypes
from isa.errors import InvalidInstructionError, TileShapeError
from isa.memory import HbmAccess, TileAccess, tile_descriptors
from isa.operands import SCALAR_IMM, SCALAR_REG, SPACE_PSUM, SPACE_SBUF, Scalar, Tile
from isa.table import AccMode, ActFn, AtomicOp, RandMode, ReduceOp, TensorOp
from isa.trace import CostParams

HANDLERS: dict = {}
_FLOAT_NP = frozenset(dtypes.NUMPY[d] for d in dtypes.FLOATS)
_BF16 = dtypes.NUMPY[dtypes.DType.BF16]


def handler(name: str):
    def deco(fn):
        HANDLERS[name] = fn
        return fn

    return deco


# --- value helpers ---------------------------------------------------------------------------


def is_float_dtype(dt) -> bool:
    return np.dtype(dt) in _FLOAT_NP


def convert(x, dt) -> np.ndarray:
    """Convert to dtype `dt`: float -> int truncates toward zero and saturates (NaN -> 0); int ->
    int wraps; anything -> float rounds to nearest even."""
    dt = np.dtype(dt)
    x = np.asarray(x)
    if x.dtype == dt:
        return x
    if is_float_dtype(dt):
        if x.dtype in _FLOAT_NP and x.dtype != np.float64 and x.dtype != np.float32:
            x = x.astype(np.float32)
        return x.astype(dt)
    if is_float_dtype(x.dtype):
        info = np.iinfo(dt)
        with np.errstate(invalid="ignore"):
            y = np.trunc(x.astype(np.float64))
            y = np.where(np.isnan(y), 0.0, np.clip(y, info.min, info.max))
        return y.astype(dt)
    return x.astype(np.int64).astype(dt)


def compute_form(*arrays) -> list[np.ndarray]:
    """Promote inputs: all integer -> int64, else float64 (exact for every machine dtype)."""
    if all(not is_float_dtype(a.dtype) for a in arrays):
        return [a.astype(np.int64) for a in arrays]
    return [
        a.astype(np.float32).astype(np.float64) if a.dtype in _FLOAT_NP else a.astype(np.float64)
        for a in arrays
    ]


def f32_of_bits(bits: int) -> float:
    return float(np.array([bits & 0xFFFFFFFF], np.uint32).view(np.float32)[0])


class Ctx:
    """What a handler sees: the core's memories, HBM, registers and the machine config."""

    def __init__(self, mem, hbm, regs, config):
        self.mem, self.hbm, self.regs, self.config = mem, hbm, regs, config

    def tile(self, t: Tile, engine_rules: bool = True, what: str = "") -> TileAccess:
        if t.is_none:
            raise InvalidInstructionError(f"operand {what} must be a tile, not _")
        access = self.mem.tile(t, self.regs)  # bounds first: they are the more basic fault
        if engine_rules:
            check_lanes(t, what)
        return access

    def scalar(self, s: Scalar, pn: int, reads: list) -> np.ndarray | float:
        """A scalar operand as a float (immediate/register) or a [pn, 1] float64 column."""
        if s.tag == SCALAR_IMM:
            return f32_of_bits(s.value)
        if s.tag == SCALAR_REG:
            return f32_of_bits(int(self.regs[s.value]))
        col = self.tile(s.value, what="scalar column")
        if col.pn != pn or col.free != 1:
            raise TileShapeError(f"a scalar column must be [{pn}, 1], got [{col.pn}, {col.free}]")
        reads.append(col.range)
        return compute_form(col.read())[0].astype(np.float64)

    def queue(self, q: int) -> int:
        if q >= self.config.dma_queues:
            raise InvalidInstructionError(
                f"DMA queue {q} does not exist ({self.config.dma_queues} queues per core)"
            )
        return q


def check_lanes(t: Tile, what: str = "") -> None:
    """Compute engines address partitions in aligned groups: a tile spanning more than 64
    partitions starts at 0, more than 32 at 0 or 64, otherwise it stays within one quadrant."""
    p0, pn = t.p0, t.pn
    ok = p0 == 0 if pn > 64 else p0 in (0, 64) if pn > 32 else p0 // 32 == (p0 + pn - 1) // 32
    if not ok:
        raise TileShapeError(
            f"{what or 'tile'} partitions {p0}:{p0 + pn}: tiles over 64 partitions start at 0, "
            "over 32 at 0 or 64, smaller ones stay within a 32-partition quadrant"
        )


def _same_shape(dst: TileAccess, *srcs: TileAccess) -> None:
    for s in srcs:
        if (s.pn, s.free) != (dst.pn, dst.free):
            raise TileShapeError(
                f"operand shapes differ: [{dst.pn}, {dst.free}] vs [{s.pn}, {s.free}] "
                "(partitions, free elements)"
            )


def _elementwise_params(dst: TileAccess, *srcs: TileAccess) -> CostParams:
    return CostParams(
        partitions=dst.pn,
        free=dst.free,
        dtype_bytes=max(s.dtype.itemsize for s in (dst, *srcs)),
        flops=dst.pn * dst.free,
        psum_input=any(s.tile.space == SPACE_PSUM for s in srcs),
        all_bf16=all(s.dtype == _BF16 for s in (dst, *srcs)),
    )


def _int_only(op, *xs):
    if any(x.dtype != np.int64 for x in xs):
        raise InvalidInstructionError(f"{op.name.lower()} needs integer operands")


def _idiv(a, b):
    safe = np.where(b == 0, 1, b)
    q = np.abs(a) // np.abs(safe) * np.sign(a) * np.sign(safe)
    return np.where(b == 0, -1, q)


def binop(op: TensorOp, a, b):
    """Element-wise `a op b` on int64 or float64 inputs (`TensorOp` semantics)."""
    with np.errstate(all="ignore"):
        if op == TensorOp.ADD:
            return a + b
        if op == TensorOp.SUB:
            return a - b
        if op == TensorOp.MUL:
            return a * b
        if op == TensorOp.DIV:
            return _idiv(a, b) if a.dtype == np.int64 else a / b
        if op == TensorOp.RDIV:
            return binop(TensorOp.DIV, b, a)
        if op == TensorOp.RSUB:
            return b - a
        if op == TensorOp.MAX:
            return np.maximum(a, b)
        if op == TensorOp.MIN:
            return np.minimum(a, b)
        if op == TensorOp.POW:
            return np.power(np.asarray(a, np.float64), b)
        if op == TensorOp.MOD:
            if a.dtype == np.int64:
                return np.where(b == 0, a, a - _idiv(a, b) * b)
            return np.fmod(a, b)
        if op == TensorOp.ABSDIFF:
            return np.abs(a - b)
        cmp = {
            TensorOp.EQ: np.equal,
            TensorOp.NE: np.not_equal,
            TensorOp.LT: np.less,
            TensorOp.LE: np.less_equal,
            TensorOp.GT: np.greater,
            TensorOp.GE: np.greater_equal,
        }.get(op)
        if cmp is not None:
            return cmp(a, b).astype(np.int64)
        a, b = np.asarray(a), np.asarray(b)
        _int_only(op, a, b)
        if op == TensorOp.AND:
            return a & b
        if op == TensorOp.OR:
            return a | b
        if op == TensorOp.XOR:
            return a ^ b
        if op == TensorOp.SHL:
            return a << (b & 63)
        return a >> (b & 63)


_REDUCE = {ReduceOp.ADD: np.sum, ReduceOp.MAX: np.max, ReduceOp.MIN: np.min, ReduceOp.MUL: np.prod}


def _groups(src_free: int, dst_free: int) -> int:
    if dst_free == 0 or src_free % dst_free:
        raise TileShapeError(
            f"cannot reduce {src_free} free elements into {dst_free} groups (must divide)"
        )
    return src_free // dst_free


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
        from isa.trace import MemRange, Space

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


_ATOMIC = {AtomicOp.ADD: np.add, AtomicOp.MAX: np.maximum, AtomicOp.MIN: np.minimum}


@handler("atomic")
def atomic(ctx: Ctx, ins):
    op, q, dst, src = ins.ops
    q = ctx.queue(q)
    sa = _dma_tile(ctx, src, "source")
    ha = HbmAccess(ctx.hbm, dst, ctx.regs, "destination")
    if sa.pn * sa.free != ha.count:
        raise TileShapeError(f"atomic combines a tile of {sa.pn * sa.free} into {ha.count}")
    vals = sa.read().reshape(ha.shape)[_box(ha.box)]
    rng = None
    if all(ha.box):
        addr = ha._addresses()
        mask = np.ones(ha.box, bool) if ha.limit is None else addr + ha.size <= ha.limit
        if mask.any():
            idx = addr[mask] // ha.size
            lo, hi = int(idx.min()) * ha.size, (int(idx.max()) + 1) * ha.size
            ha._check(lo, hi)
            from isa.trace import MemRange, Space

            rng = MemRange(Space.HBM, lo, hi)
            typed = ctx.hbm.data.view(ha.dtype)
            uniq, inv = np.unique(idx, return_inverse=True)
            acc, v = compute_form(typed[uniq], vals[mask])
            _ATOMIC[op].at(acc, inv, v)
            typed[uniq] = convert(acc, ha.dtype)
    params = _dma_params(sa, ha.count * ha.size, max(ha.descriptors(), tile_descriptors(src)))
    rw = (rng,) if rng else ()
    return params, (sa.range,) + rw, rw, q


# --- tensor engine ---------------------------------------------------------------------------


@handler("matmul")
def matmul(ctx: Ctx, ins):
    mode, dst, stat, mov = ins.ops
    cfg = ctx.config
    sa, ma = ctx.tile(stat, what="stationary"), ctx.tile(mov, what="moving")
    da = ctx.tile(dst, what="destination")
    if stat.space != SPACE_SBUF or mov.space != SPACE_SBUF:
        raise TileShapeError("matmul operands must be in SBUF")
    if dst.space != SPACE_PSUM or da.dtype != np.float32:
        raise TileShapeError("matmul writes an f32 tile in PSUM")
    if sa.dtype != ma.dtype or not is_float_dtype(sa.dtype):
        raise TileShapeError(f"matmul operands must share a float dtype ({sa.dtype}, {ma.dtype})")
    k, m, n = sa.pn, sa.free, ma.free
    if ma.pn != k or k > cfg.pe_rows or m > cfg.pe_cols or n > cfg.pe_max_moving:
        raise TileShapeError(
            f"matmul stationary [{k}, {m}] x moving [{ma.pn}, {n}]: need equal K <= "
            f"{cfg.pe_rows}, M <= {cfg.pe_cols}, N <= {cfg.pe_max_moving}"
        )
    if (da.pn, da.free) != (m, n):
        raise TileShapeError(f"matmul result is [{m}, {n}], destination is [{da.pn}, {da.free}]")
    bank = cfg.psum_bank_bytes
    if da.range.start // bank != (da.range.end - 1) // bank:
        raise TileShapeError(
            f"matmul destination bytes {da.range.start}:{da.range.end} cross a {bank}-byte PSUM "
            "bank boundary"
        )
    s = sa.read().astype(np.float32)
    mv = ma.read().astype(np.float32)
    res = s.T @ mv
    reads = [sa.range, ma.range]
    if mode == AccMode.ACC:
        res = da.read() + res
        reads.append(da.range)
    da.write(res.astype(np.float32))
    params = CostParams(
        partitions=k, free=n, dtype_bytes=sa.dtype.itemsize, k=k, m=m, flops=2 * k * m * n
    )
    return params, tuple(reads), (da.range,), 0


@handler("pe_transpose")
def pe_transpose(ctx: Ctx, ins):
    dst, src = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    if dst.space != SPACE_PSUM:
        raise TileShapeError("transpose writes PSUM")
    k, m = sa.pn, sa.free
    if k > ctx.config.pe_rows or m > ctx.config.pe_cols or (da.pn, da.free) != (m, k):
        raise TileShapeError(
            f"transpose of [{k}, {m}] needs a [{m}, {k}] destination, "
            f"both <= 128; got [{da.pn}, {da.free}]"
        )
    da.write(convert(sa.read().T, da.dtype))
    params = CostParams(partitions=k, free=m, dtype_bytes=sa.dtype.itemsize, k=k, m=m)
    return params, (sa.range,), (da.range,), 0


# --- activation engine -----------------------------------------------------------------------

_SQ2PI = np.float32(math.sqrt(2.0 / math.pi))
_ERF = np.vectorize(math.erf, otypes=[np.float64])

_ACT = {
    ActFn.COPY: lambda x: x,
    ActFn.EXP: np.exp,
    ActFn.LOG: np.log,
    ActFn.TANH: np.tanh,
    ActFn.SIGMOID: lambda x: 1 / (1 + np.exp(-x)),
    ActFn.GELU: lambda x: 0.5 * x * (1 + np.tanh(_SQ2PI * (x + np.float32(0.044715) * x**3))),
    ActFn.RELU: lambda x: np.maximum(x, 0),
    ActFn.SQRT: np.sqrt,
    ActFn.RSQRT: lambda x: 1 / np.sqrt(x),
    ActFn.SQUARE: lambda x: x * x,
    ActFn.ABS: np.abs,
    ActFn.SIN: np.sin,
    ActFn.COS: np.cos,
    ActFn.RECIPROCAL: lambda x: 1 / x,
    ActFn.SILU: lambda x: x / (1 + np.exp(-x)),
    ActFn.SOFTPLUS: lambda x: np.logaddexp(np.float32(0), x),
    ActFn.SIGN: np.sign,
    ActFn.ERF: lambda x: _ERF(x).astype(np.float32),
    ActFn.NEG: np.negative,
}


@handler("act")
def act(ctx: Ctx, ins):
    fn, dst, src, bias, scale, accum, rop = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    _same_shape(da, sa)
    reads = [sa.range]
    x = compute_form(sa.read())[0].astype(np.float32)
    sc = ctx.scalar(scale, sa.pn, reads)
    bi = ctx.scalar(bias, sa.pn, reads)
    with np.errstate(all="ignore"):
        y = _ACT[fn]((x * np.float32(sc) + np.float32(bi)).astype(np.float32))
        y = np.asarray(y, np.float32)
    da.write(convert(y, da.dtype))
    writes = [da.range]
    if not accum.is_none:
        aa = ctx.tile(accum, what="accumulator")
        if aa.pn != da.pn:
            raise TileShapeError(f"accumulator has {aa.pn} partitions, result {da.pn}")
        r = _groups(da.free, aa.free)
        red = _REDUCE[rop](y.astype(np.float64).reshape(da.pn, aa.free, r), axis=2)
        aa.write(convert(red, aa.dtype))
        writes.append(aa.range)
    params = _elementwise_params(da, sa)
    return params, tuple(reads), tuple(writes), 0


# --- vector engine ---------------------------------------------------------------------------


@handler("tensor_tensor")
def tensor_tensor(ctx: Ctx, ins):
    op, dst, a, b = ins.ops
    aa, ba = ctx.tile(a, what="a"), ctx.tile(b, what="b")
    da = ctx.tile(dst, what="destination")
    _same_shape(da, aa, ba)
    x, y = compute_form(aa.read(), ba.read())
    da.write(convert(binop(op, x, y), da.dtype))
    return _elementwise_params(da, aa, ba), (aa.range, ba.range), (da.range,), 0


@handler("tensor_scalar")
def tensor_scalar(ctx: Ctx, ins):
    op, dst, a, s = ins.ops
    aa, da = ctx.tile(a, what="a"), ctx.tile(dst, what="destination")
    _same_shape(da, aa)
    reads = [aa.range]
    sv = ctx.scalar(s, aa.pn, reads)
    (x,) = compute_form(aa.read())
    if x.dtype == np.int64 and float(np.max(sv)) == float(np.min(sv)):
        sv_i = np.asarray(sv)
        if np.all(sv_i == np.trunc(sv_i)):
            sv = sv_i.astype(np.int64)
    if x.dtype == np.int64 and np.asarray(sv).dtype != np.int64:
        x = x.astype(np.float64)
    da.write(convert(binop(op, x, np.asarray(sv)), da.dtype))
    return _elementwise_params(da, aa), tuple(reads), (da.range,), 0


@handler("select")
def select(ctx: Ctx, ins):
    dst, mask, a, b = ins.ops
    ma, aa, ba = ctx.tile(mask, what="mask"), ctx.tile(a, what="a"), ctx.tile(b, what="b")
    da = ctx.tile(dst, what="destination")
    _same_shape(da, ma, aa, ba)
    x, y = compute_form(aa.read(), ba.read())
    m = ma.read()
    da.write(convert(np.where(m != 0, x, y), da.dtype))
    return _elementwise_params(da, ma, aa, ba), (ma.range, aa.range, ba.range), (da.range,), 0


@handler("copy")
def copy(ctx: Ctx, ins):
    dst, src = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    _same_shape(da, sa)
    da.write(convert(sa.read(), da.dtype))
    return _elementwise_params(da, sa), (sa.range,), (da.range,), 0


@handler("reduce")
def reduce(ctx: Ctx, ins):
    op, dst, src = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    if sa.pn != da.pn:
        raise TileShapeError(f"reduce keeps partitions: source {sa.pn}, destination {da.pn}")
    r = _groups(sa.free, da.free)
    (x,) = compute_form(sa.read())
    da.write(convert(_REDUCE[op](x.reshape(sa.pn, da.free, r), axis=2), da.dtype))
    params = CostParams(
        partitions=sa.pn,
        free=sa.free,
        dtype_bytes=sa.dtype.itemsize,
        flops=sa.pn * sa.free,
        psum_input=src.space == SPACE_PSUM,
    )
    return params, (sa.range,), (da.range,), 0


@handler("transpose32")
def transpose32(ctx: Ctx, ins):
    dst, src = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    _same_shape(da, sa)
    if sa.pn % 32 or sa.free % 32:
        raise TileShapeError(f"transpose32 needs [32a, 32b] tiles, got [{sa.pn}, {sa.free}]")
    x = sa.read().reshape(sa.pn // 32, 32, sa.free // 32, 32)
    da.write(convert(x.transpose(0, 3, 2, 1).reshape(sa.pn, sa.free), da.dtype))
    return _elementwise_params(da, sa), (sa.range,), (da.range,), 0


def _iota(ctx, ins, axis: int):
    dst, base, off, step = ins.ops
    da = ctx.tile(dst, what="destination")
    start = int(ctx.regs[base]) + off
    if axis == 1:
        v = start + np.arange(da.free, dtype=np.int64)[None, :] * step
    else:
        v = start + np.arange(da.pn, dtype=np.int64)[:, None] * step
    da.write(convert(np.broadcast_to(v, (da.pn, da.free)), da.dtype))
    params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
    return params, (), (da.range,), 0


@handler("iota")
def iota(ctx: Ctx, ins):
    return _iota(ctx, ins, 1)


@handler("piota")
def piota(ctx: Ctx, ins):
    return _iota(ctx, ins, 0)


@handler("memset")
def memset(ctx: Ctx, ins):
    dst, value = ins.ops
    da = ctx.tile(dst, what="destination")
    v = convert(np.float64(ctx.scalar(value, da.pn, [])), da.dtype)
    da.write(np.broadcast_to(v, (da.pn, da.free)))
    params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
    return params, (), (da.range,), 0


# --- GpSimd engine ---------------------------------------------------------------------------


@handler("preduce")
def preduce(ctx: Ctx, ins):
    op, dst, src = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    if sa.free != da.free:
        raise TileShapeError(f"preduce keeps the free size: {sa.free} vs {da.free}")
    (x,) = compute_form(sa.read())
    r = convert(_REDUCE[op](x, axis=0), da.dtype)
    da.write(np.broadcast_to(r, (da.pn, da.free)))
    params = CostParams(
        partitions=sa.pn, free=sa.free, dtype_bytes=sa.dtype.itemsize, flops=sa.pn * sa.free
    )
    return params, (sa.range,), (da.range,), 0


@handler("pbcast")
def pbcast(ctx: Ctx, ins):
    dst, src = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    if sa.pn != 1 or sa.free != da.free:
        raise TileShapeError(f"pbcast takes a [1, {da.free}] source, got [{sa.pn}, {sa.free}]")
    da.write(np.broadcast_to(convert(sa.read(), da.dtype), (da.pn, da.free)))
    params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
    return params, (sa.range,), (da.range,), 0


_PHILOX_KEY_A, _PHILOX_KEY_B = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_PHILOX_ROUND_A, _PHILOX_ROUND_B = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)


def philox(seed: int, c0: np.ndarray) -> np.ndarray:
    """Word 0 of Philox 4x32-10 on counter (c0, 0, 0, 0) with key = seed (as Triton's randint)."""
    c0 = c0.astype(np.uint32)
    c1 = np.zeros_like(c0)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    seed &= (1 << 64) - 1
    k0, k1 = np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32)
    with np.errstate(over="ignore"):
        for _ in range(10):
            p0 = _PHILOX_ROUND_B * c2.astype(np.uint64)
            p1 = _PHILOX_ROUND_A * c0.astype(np.uint64)
            n0 = (p0 >> np.uint64(32)).astype(np.uint32) ^ c1 ^ k0
            n2 = (p1 >> np.uint64(32)).astype(np.uint32) ^ c3 ^ k1
            c1 = p0.astype(np.uint32)
            c3 = p1.astype(np.uint32)
            c0, c2 = n0, n2
            k0 = np.uint32(k0 + _PHILOX_KEY_A)
            k1 = np.uint32(k1 + _PHILOX_KEY_B)
    return c0


def uniform_of_u32(x: np.ndarray) -> np.ndarray:
    """Triton's uint_to_uniform_float: [0, 1) from 32 random bits."""
    s = x.astype(np.uint32).view(np.int32).astype(np.int64)
    s = np.where(s < 0, -s - 1, s)
    return (s.astype(np.float32) * np.float32(4.6566127342e-10)).astype(np.float32)


@handler("rand")
def rand(ctx: Ctx, ins):
    mode, dst, seed, offs = ins.ops
    oa, da = ctx.tile(offs, what="offsets"), ctx.tile(dst, what="destination")
    _same_shape(da, oa)
    if is_float_dtype(oa.dtype):
        raise InvalidInstructionError("rand offsets must be an integer tile")
    bits = philox(int(ctx.regs[seed]), oa.read().astype(np.int64))
    out = uniform_of_u32(bits) if mode == RandMode.UNIFORM else bits
    da.write(convert(out, da.dtype))
    params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
    return params, (oa.range,), (da.range,), 0
