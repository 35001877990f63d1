"""Compute engine semantics: tensor engine (matmul, transpose), activation engine, vector engine
and GpSimd engine (cross-partition ops, iota, Philox random numbers)."""

from __future__ import annotations

import math

import numpy as np

from isa.dtypes import FP8E5, keep_fp8e5_nan_payloads
from isa.engines.common import (
    REDUCE,
    Ctx,
    binop,
    check_matmul,
    compute_form,
    elementwise_params,
    groups,
    handler,
    is_float_dtype,
    same_shape,
)
from isa.engines.common import convert as _convert
from isa.errors import DeviceAssertError, InvalidInstructionError, TileShapeError
from isa.operands import SPACE_PSUM
from isa.table import AccMode, ActFn, RandMode
from isa.trace import CostParams


def convert(x, dt):
    """common.convert, with float8_e5m2 NaN payloads kept (isa.dtypes)."""
    out = _convert(x, dt)
    if out.dtype is FP8E5 or getattr(x, "dtype", None) is FP8E5:  # else: nothing to keep
        return keep_fp8e5_nan_payloads(x, out, dt)
    return out


# --- tensor engine ---------------------------------------------------------------------------


@handler("matmul")
def matmul(ctx: Ctx, ins):
    mode, dst, stat, mov = ins.ops
    cfg = ctx.config
    sa, ma = ctx.tile(stat, what="stationary"), ctx.tile(mov, what="moving")
    da = ctx.tile(dst, what="destination")
    k, m, n = check_matmul(cfg, stat, mov, dst, sa, ma, da)
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
    same_shape(da, sa)
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
        r = groups(da.free, aa.free)
        red = REDUCE[rop](y.astype(np.float64).reshape(da.pn, aa.free, r), axis=2)
        aa.write(convert(red, aa.dtype))
        writes.append(aa.range)
    params = elementwise_params(da, sa)
    return params, tuple(reads), tuple(writes), 0


# --- vector engine ---------------------------------------------------------------------------


@handler("tensor_tensor")
def tensor_tensor(ctx: Ctx, ins):
    op, dst, a, b = ins.ops
    aa, ba = ctx.tile(a, what="a"), ctx.tile(b, what="b")
    da = ctx.tile(dst, what="destination")
    same_shape(da, aa, ba)
    x, y = compute_form(aa.read(), ba.read())
    da.write(convert(binop(op, x, y), da.dtype))
    return elementwise_params(da, aa, ba), (aa.range, ba.range), (da.range,), 0


@handler("tensor_scalar")
def tensor_scalar(ctx: Ctx, ins):
    op, dst, a, s = ins.ops
    aa, da = ctx.tile(a, what="a"), ctx.tile(dst, what="destination")
    same_shape(da, aa)
    reads = [aa.range]
    sv = ctx.scalar(s, aa.pn, reads)
    (x,) = compute_form(aa.read())
    sv = np.asarray(sv, np.float64)
    if x.dtype == np.int64:
        # integer tiles keep integer semantics when the scalar is integral (shifts, masks, //)
        integral = np.all(np.isfinite(sv)) and np.all(sv == np.trunc(sv))
        if integral and np.all(np.abs(sv) < 2.0**63):
            sv = sv.astype(np.int64)
        else:
            x = x.astype(np.float64)
    da.write(convert(binop(op, x, sv), da.dtype))
    return elementwise_params(da, aa), tuple(reads), (da.range,), 0


@handler("select")
def select(ctx: Ctx, ins):
    dst, mask, a, b = ins.ops
    ma, aa, ba = ctx.tile(mask, what="mask"), ctx.tile(a, what="a"), ctx.tile(b, what="b")
    da = ctx.tile(dst, what="destination")
    same_shape(da, ma, aa, ba)
    x, y = compute_form(aa.read(), ba.read())
    m = ma.read()
    da.write(convert(np.where(m != 0, x, y), da.dtype))
    return elementwise_params(da, ma, aa, ba), (ma.range, aa.range, ba.range), (da.range,), 0


@handler("copy")
def copy(ctx: Ctx, ins):
    dst, src = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    same_shape(da, sa)
    da.write(convert(sa.read(), da.dtype))
    return elementwise_params(da, sa), (sa.range,), (da.range,), 0


@handler("reduce")
def reduce(ctx: Ctx, ins):
    op, dst, src = ins.ops
    sa, da = ctx.tile(src, what="source"), ctx.tile(dst, what="destination")
    if sa.pn != da.pn:
        raise TileShapeError(f"reduce keeps partitions: source {sa.pn}, destination {da.pn}")
    r = groups(sa.free, da.free)
    (x,) = compute_form(sa.read())
    da.write(convert(REDUCE[op](x.reshape(sa.pn, da.free, r), axis=2), da.dtype))
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
    same_shape(da, sa)
    if sa.pn % 32 or sa.free % 32:
        raise TileShapeError(f"transpose32 needs [32a, 32b] tiles, got [{sa.pn}, {sa.free}]")
    x = sa.read().reshape(sa.pn // 32, 32, sa.free // 32, 32)
    da.write(convert(x.transpose(0, 3, 2, 1).reshape(sa.pn, sa.free), da.dtype))
    return elementwise_params(da, sa), (sa.range,), (da.range,), 0


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
    r = convert(REDUCE[op](x, axis=0), da.dtype)
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
    same_shape(da, oa)
    if is_float_dtype(oa.dtype):
        raise InvalidInstructionError("rand offsets must be an integer tile")
    bits = philox(int(ctx.regs[seed]), oa.read().astype(np.int64))
    out = uniform_of_u32(bits) if mode == RandMode.UNIFORM else bits
    da.write(convert(out, da.dtype))
    params = CostParams(partitions=da.pn, free=da.free, dtype_bytes=da.dtype.itemsize)
    return params, (oa.range,), (da.range,), 0


# --- sequencer reads of on-chip memory -------------------------------------------------------


@handler("reg_load")
def reg_load(ctx: Ctx, ins):
    rd, src = ins.ops
    sa = ctx.tile(src, engine_rules=False, what="source")
    v = sa.read()[0, 0]
    if is_float_dtype(sa.dtype):
        value = int(np.array([v], np.float32).view(np.uint32)[0])
    else:
        value = int(v)
    if rd:
        ctx.regs[rd] = value
    return CostParams(partitions=1, free=1, dtype_bytes=sa.dtype.itemsize), (sa.range,), (), 0


@handler("check")
def check(ctx: Ctx, ins):
    rs, code = ins.ops
    if int(ctx.regs[rs]) == 0:
        raise DeviceAssertError(f"assertion {code} does not hold", code=code)
    return CostParams(partitions=1, free=1, dtype_bytes=8), (), (), 0
