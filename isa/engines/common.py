"""Shared machinery of the engine handlers: the handler registry, the context, value conversion.

A handler takes the running program's context (`Ctx`: core memories, HBM, registers, config) and a
decoded instruction, applies its effect, and returns what the timing model needs: `CostParams`,
the `MemRange`s read and written, and the DMA queue. Handlers register by the table entry's
`handler` name (`HANDLERS`).
"""

from __future__ import annotations

import numpy as np

from isa import dtypes
from isa.errors import InvalidInstructionError, TileShapeError
from isa.memory import TileAccess
from isa.operands import SCALAR_IMM, SCALAR_REG, SPACE_PSUM, SPACE_SBUF, Scalar, Tile
from isa.table import ReduceOp, TensorOp
from isa.trace import CostParams

HANDLERS: dict = {}
_FLOAT_NP = frozenset(dtypes.NUMPY[d] for d in dtypes.FLOATS)
BF16 = dtypes.NUMPY[dtypes.DType.BF16]


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
        with np.errstate(over="ignore", invalid="ignore"):  # out of range: inf / NaN, like IEEE
            return x.astype(dt)
    if x.dtype.kind == "f" or is_float_dtype(x.dtype):
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

    deferred = False  # tile writes wait for a read (timing-only emulation: `ShapeCtx`)

    def __init__(self, mem, hbm, regs, config):
        self.mem, self.hbm, self.regs, self.config = mem, hbm, regs, config

    def tile(self, t: Tile, engine_rules: bool = True, what: str = "") -> TileAccess:
        if t.is_none:
            raise InvalidInstructionError(f"operand {what} must be a tile, not _")
        access = self.mem.tile(t, self.regs, self.deferred)  # bounds first: the basic fault
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


def same_shape(dst: TileAccess, *srcs: TileAccess) -> None:
    for s in srcs:
        if (s.pn, s.free) != (dst.pn, dst.free):
            raise TileShapeError(
                f"operand shapes differ: [{dst.pn}, {dst.free}] vs [{s.pn}, {s.free}] "
                "(partitions, free elements)"
            )


def elementwise_params(dst: TileAccess, *srcs: TileAccess) -> CostParams:
    return CostParams(
        partitions=dst.pn,
        free=dst.free,
        dtype_bytes=max(s.dtype.itemsize for s in (dst, *srcs)),
        flops=dst.pn * dst.free,
        psum_input=any(s.tile.space == SPACE_PSUM for s in srcs),
        all_bf16=all(s.dtype == BF16 for s in (dst, *srcs)),
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
        if op == TensorOp.MULHI:  # Philox's umulhi: exact in uint64
            m = np.uint64(0xFFFFFFFF)
            p = (a.astype(np.uint64) & m) * (b.astype(np.uint64) & m)
            return (p >> np.uint64(32)).astype(np.int64)
        if op == TensorOp.AND:
            return a & b
        if op == TensorOp.OR:
            return a | b
        if op == TensorOp.XOR:
            return a ^ b
        if op == TensorOp.SHL:
            return a << (b & 63)
        return a >> (b & 63)


def _bitwise(ufunc):
    def red(x, axis):
        if x.dtype != np.int64:
            raise InvalidInstructionError(f"{ufunc.__name__} reductions need integer tiles")
        return ufunc.reduce(x, axis=axis)

    return red


REDUCE = {
    ReduceOp.ADD: np.sum,
    ReduceOp.MAX: np.max,
    ReduceOp.MIN: np.min,
    ReduceOp.MUL: np.prod,
    ReduceOp.AND: _bitwise(np.bitwise_and),
    ReduceOp.OR: _bitwise(np.bitwise_or),
    ReduceOp.XOR: _bitwise(np.bitwise_xor),
}


def groups(src_free: int, dst_free: int) -> int:
    if dst_free == 0 or src_free % dst_free:
        raise TileShapeError(
            f"cannot reduce {src_free} free elements into {dst_free} groups (must divide)"
        )
    return src_free // dst_free


def check_matmul(cfg, stat, mov, dst, sa, ma, da) -> tuple[int, int, int]:
    """A matmul's operand rules, for the numeric and the timing-only handler alike: `stat`,
    `mov`, `dst` its tiles, `sa`, `ma`, `da` their resolved forms (pn, free, dtype, range).
    Returns (K, M, N)."""
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
    return k, m, n
