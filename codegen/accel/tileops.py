"""Block operations of the tile IR as `accel.*` intrinsic calls on tiles.

Stage: part of the accel lowering (`lower`). Input: an op with tile operands or results (blocks,
float scalars in [1, 1] tiles) whose buffers the memory plan fixed; output: calls selecting to
the vector engine (`tt`, `ts`, `select`, `copy`, `reduce`, `iota`, `memset`), the activation
engine (`act`: exp, log, sqrt, ...), GpSimd (`piota`, `preduce`, `pbcast`) and SBUF-to-SBUF DMA
(`convert_layout`). Broadcasts are stride-0 tile views; integer results that the scalar code
needs come back through `ld`.
"""

from __future__ import annotations

import math

from llvmlite import ir

from isa.machine import get_config
from isa.operands import SPACE_PSUM, Tile
from isa.table import ActFn, ReduceOp, TensorOp
from jitlang.dtypes import DType
from jitlang.ir import (
    BinaryOp,
    CmpPred,
    Op,
    OpKind,
    UnaryOp,
    Value,
    is_ptr,
    scalar_dtype,
    shape_of,
)
from jitlang.passes.accel_layout import is_tile_value
from jitlang.passes.accel_patterns import block_immediate, splat_operand, umulhi_operands

from .lower import I64, UnsupportedOnAccelError, f32_bits, llvm_int
from .memops import defer_cast
from .tiles import TileRef, isa_dtype

_TT = {
    BinaryOp.ADD: TensorOp.ADD,
    BinaryOp.SUB: TensorOp.SUB,
    BinaryOp.MUL: TensorOp.MUL,
    BinaryOp.DIV: TensorOp.DIV,
    BinaryOp.REM: TensorOp.MOD,
    BinaryOp.AND: TensorOp.AND,
    BinaryOp.OR: TensorOp.OR,
    BinaryOp.XOR: TensorOp.XOR,
    BinaryOp.SHL: TensorOp.SHL,
    BinaryOp.SHR: TensorOp.SHR,
    BinaryOp.MIN: TensorOp.MIN,
    BinaryOp.MAX: TensorOp.MAX,
    BinaryOp.POW: TensorOp.POW,
}
_CMP = {
    CmpPred.EQ: TensorOp.EQ,
    CmpPred.NE: TensorOp.NE,
    CmpPred.LT: TensorOp.LT,
    CmpPred.LE: TensorOp.LE,
    CmpPred.GT: TensorOp.GT,
    CmpPred.GE: TensorOp.GE,
}
_ACT = {
    UnaryOp.EXP: ActFn.EXP,
    UnaryOp.LOG: ActFn.LOG,
    UnaryOp.SQRT: ActFn.SQRT,
    UnaryOp.RSQRT: ActFn.RSQRT,
    UnaryOp.SIN: ActFn.SIN,
    UnaryOp.COS: ActFn.COS,
    UnaryOp.ERF: ActFn.ERF,
    UnaryOp.TANH: ActFn.TANH,
    UnaryOp.SIGMOID: ActFn.SIGMOID,
    UnaryOp.ABS: ActFn.ABS,
    UnaryOp.NEG: ActFn.NEG,
}


# `ts` operations the activation engine computes with one rounding (step "act_ts")
_ACT_TS = (TensorOp.ADD, TensorOp.SUB, TensorOp.RSUB, TensorOp.MUL)

# act intrinsics (operands: fn, dst, src, bias, scale, accum, rop) and the reductions their
# accumulator takes over from a `reduce` of an fp32 result (step "act_accum")
_ACT_CALLS = ("accel.act", "accel.act.col", "accel.act.scol")
_FUSABLE_ROPS = (int(ReduceOp.ADD), int(ReduceOp.MAX), int(ReduceOp.MIN))

MIN_CYCLES = 64  # the cost table's fixed minimum of an engine instruction (isa/SPEC.md)
# (engine, index of the tile whose free size sets the cost, cycles per element)
_COSTS = {
    "accel.act": ("ACT", 2, 1),
    "accel.act.col": ("ACT", 2, 1),
    "accel.act.scol": ("ACT", 2, 1),
    "accel.tt": ("DVE", 2, 2),
    "accel.select": ("DVE", 1, 2),
    "accel.ts": ("DVE", 2, 1),
    "accel.ts.col": ("DVE", 2, 1),
    "accel.copy": ("DVE", 1, 1),
    "accel.memset": ("DVE", 1, 1),
    "accel.iota": ("DVE", 1, 1),
    "accel.reduce": ("DVE", 3, 1),
}


def _engine_cycles(args) -> tuple[str, int] | None:
    """(engine, cycles) of an ACT/DVE intrinsic call, by the cost table (tensor-tensor at its
    fp32 rate of 2N); None for other engines."""
    c = _COSTS.get(args[0])
    if c is None:
        return None
    eng, i, per = c
    t = args[i]
    free = t.free if isinstance(t, TileRef) else t.free_size if isinstance(t, Tile) else 1
    return eng, max(MIN_CYCLES, per * free)


class TileOps:
    def __init__(self, low) -> None:
        self.low = low
        # values whose destination a caller fixed (a combine region applied to whole tiles)
        self.forced: dict[int, TileRef] = {}
        # modelled ns of the ACT and DVE work issued so far (program order, loop bodies once):
        # work that either engine can do goes to the one with less (`act_is_freer`)
        self.engine_ns = {"ACT": 0.0, "DVE": 0.0}
        self.last_act = None  # (call, destination) of the last `act` without an accumulator
        steps = getattr(low.target, "steps", ())
        self.accum_fns = (int(ActFn.COPY),) + (
            (int(ActFn.SQUARE),) if "square_sums" in steps else ()
        )
        try:
            c = get_config(low.target.config)
            self.clock = {"ACT": c.act_clock_ghz, "DVE": c.dve_clock_ghz}
        except (ValueError, AttributeError):  # a target built for a test: equal clocks
            self.clock = {"ACT": 1.0, "DVE": 1.0}

    def call(self, *a):
        cost = _engine_cycles(a)
        if cost is not None:
            eng, cycles = cost
            self.engine_ns[eng] += cycles / self.clock[eng]
        ins = self.low.call(*a)
        # an `act` without an accumulator: a free-axis reduction of its result issued right
        # after it can become its accumulator (step "act_accum", `fuse_accum`)
        # Only copies (x * scale + bias): fused into softmax's `exp`, the sum ends with the
        # exp and nc-v3's softmax ran 48.1 -> 49.9 us modelled (not yet understood)
        # and squares (step "square_sums": layer norm's sum of squares)
        if a[0] in _ACT_CALLS and a[6] == -1 and a[1] in self.accum_fns:
            self.last_act = (ins, a[2])
        return ins

    def fuse_accum(self, dst: TileRef, src: TileRef, rop: int) -> bool:
        """Step "act_accum": dst = free-axis reduction `rop` of src as the accumulator of the
        `act` that just wrote src (the last instruction emitted, no accumulator yet), instead
        of a pass of its own. The engine reduces the act's fp32 result (which src holds
        unchanged: src is fp32) in groups of consecutive free elements as `reduce` and an
        accumulating `act copy` of src do, so the bits are the same."""
        if "act_accum" not in getattr(self.low.target, "steps", ()):
            return False
        if self.last_act is None or rop not in _FUSABLE_ROPS:
            return False
        if not (isinstance(src, TileRef) and isinstance(dst, TileRef)) or src.dtype != DType.F32:
            return False
        ins, written = self.last_act
        block = self.low.b.block
        if written != src or not block.instructions or block.instructions[-1] is not ins:
            return False
        if dst.pn != src.pn or src.free % dst.free:
            return False
        tables = self.low.tables
        args = list(ins.operands)  # [callee, fn, dst, src, bias, scale, accum, rop, line]
        ty_acc, ty_rop = args[6].type, args[7].type
        args[6] = ir.Constant(ty_acc, tables.tile(dst))
        args[7] = ir.Constant(ty_rop, rop)
        ins.operands = tuple(args)  # as llvmlite's own replace_usage rewrites operands
        if hasattr(ins, "_clear_string_cache"):
            ins._clear_string_cache()
        self.last_act = None
        return True

    def act_is_freer(self, free: int, dve_per_elem: int = 1) -> bool:
        """Whether a pass over `free` elements per partition ends sooner on the activation
        engine than on the vector engine, given the work each was handed so far (the cost
        table: max(64, N) on the ACT, max(64, dve_per_elem * N) on the DVE, at each engine's
        clock)."""
        act = self.engine_ns["ACT"] + max(MIN_CYCLES, free) / self.clock["ACT"]
        dve = self.engine_ns["DVE"] + max(MIN_CYCLES, dve_per_elem * free) / self.clock["DVE"]
        return act <= dve

    def lower(self, op: Op) -> None:
        h = getattr(self, "_" + op.kind.value, None)
        if h is None:
            raise UnsupportedOnAccelError(op.loc, f"`{op.kind.value}` of {op.results[0].type}")
        h(op)

    # -- destinations -----------------------------------------------------------------------
    def dest(self, r: Value) -> TileRef:
        """Where result r goes: its buffer, or scratch slot 2 for an integer scalar result."""
        low = self.low
        t = self.forced.get(r.id)
        if t is not None:
            low.tiles[r.id] = t
            return t
        if is_tile_value(r):
            t = low.buffer(r)
            low.tiles[r.id] = t
            return t
        return low.scratch(2, scalar_dtype(r.type), 1, 1)

    def finish(self, r: Value, t: TileRef) -> None:
        """An integer scalar computed into a tile comes back as a register."""
        low = self.low
        if not is_tile_value(r) and r.id not in self.forced:
            raw = low.call("accel.ld", t)
            ty = llvm_int(scalar_dtype(r.type))
            low.vals[r.id] = raw if ty.width == 64 else low.b.trunc(raw, ty)

    def operand(self, v: Value, slot: int, like: TileRef) -> TileRef:
        lay = type("L", (), {"pn": like.pn, "free": like.free})
        t = self.low.tile_of(v, slot, lay)
        if not shape_of(v.type) and t.pn != like.pn and like.pn == 1:
            t = TileRef(t.view(pn=1), t.dtype)  # a replicated scalar column: partition 0
        return t

    def scalar_operand(self, s: Value, like: TileRef, slot: int = 1):
        """A splatted scalar as a `ts` operand: ("imm", bits) | ("reg", value) | ("col", tile)."""
        low = self.low
        dt = scalar_dtype(s.type)
        if s.id in low.fconst:
            return "imm", f32_bits(low.fconst[s.id])
        if s.id in low.tiles:
            t = low.tiles[s.id]
            if t.pn == like.pn:
                return "col", TileRef(t.view((1, 1)), t.dtype)
            col = low.scratch(slot, t.dtype, like.pn, 1)
            self.call("accel.pbcast", col, TileRef(t.view((1, 1), pn=1), t.dtype))
            return "col", col
        x = low.reg(s)
        if dt.is_float:
            return "reg", x  # fp32 bits
        if isinstance(x, ir.Constant) and dt.bits < 64:
            c = x.constant
            c = c - (1 << dt.bits) if dt.is_signed and c >= 1 << (dt.bits - 1) else c
            if abs(c) < 1 << 24:
                return "imm", f32_bits(float(c))
        col = low.scratch(slot, dt if dt.bits < 64 else DType.I32, like.pn, 1)
        self.call("accel.iota", col, low.reg64(s), 0, 0)
        return "col", col

    def ts(self, top, d: TileRef, a: TileRef, scalar) -> None:
        kind, val = scalar
        if self._ts_on_act(top, d, a):
            self._act_ts(top, d, a, scalar)
        elif kind == "col":
            self.call("accel.ts.col", int(top), d, a, val)
        else:
            self.call("accel.ts", int(top), d, a, val)

    def _ts_on_act(self, top, d: TileRef, a: TileRef) -> bool:
        """Step "act_ts": an fp32 `x + s`, `x - s`, `s - x` or `x * s` (s a scalar or a
        per-partition column) runs on the activation engine when that ends sooner than on the
        vector engine. The engine computes round(round(x * scale) + bias) in fp32, so with
        scale 1 or -1 (exact) or bias -0.0 (x + -0.0 is x) it rounds once, as the vector
        engine's `ts` does: the bits are the same (row kernels: `x - mean`, `x * rstd`,
        `row - max` leave the vector engine for its tensor-tensor work)."""
        if "act_ts" not in getattr(self.low.target, "steps", ()):
            return False
        if TensorOp(top) not in _ACT_TS or d.tile.space == SPACE_PSUM:
            return False
        if d.dtype is not DType.F32 or a.dtype is not DType.F32:
            return False
        return self.act_is_freer(d.free)

    def _act_ts(self, top, d: TileRef, a: TileRef, scalar) -> None:
        """d = a op scalar as one `act copy`: a * scale + bias (see `_ts_on_act`)."""
        top = TensorOp(top)
        one = ("imm", f32_bits(1.0))
        if top is TensorOp.MUL:
            scale, bias = scalar, ("imm", f32_bits(-0.0))
        elif top is TensorOp.ADD:
            scale, bias = one, scalar
        elif top is TensorOp.SUB:  # x - s is x + (-s) in IEEE arithmetic, bit for bit
            scale, bias = one, self._negated(scalar)
        else:  # RSUB: s - x = -x + s (x * -1 is exact)
            scale, bias = ("imm", f32_bits(-1.0)), scalar
        fn = int(ActFn.COPY)
        if bias[0] == "col" and scale[0] == "col":  # x * s + s: not one of ours
            raise UnsupportedOnAccelError(self.low.loc, "internal: act with two columns")
        if bias[0] == "col":
            self.call("accel.act.col", fn, d, a, bias[1], scale[1], -1, 0)
        elif scale[0] == "col":
            self.call("accel.act.scol", fn, d, a, bias[1], scale[1], -1, 0)
        else:
            self.call("accel.act", fn, d, a, bias[1], scale[1], -1, 0)

    def _negated(self, scalar):
        """-s as a `ts`/`act` scalar: the sign bit flipped (an immediate or a register's fp32
        bits), or a column negated into scratch slot 2 on the freer engine (one [P, 1] pass)."""
        kind, val = scalar
        if kind == "imm":
            return "imm", val ^ 0x80000000
        if kind == "reg":
            return "reg", self.low.b.xor(val, ir.Constant(val.type, 0x80000000))
        neg = self.low.scratch(2, val.dtype, val.pn, 1)
        if self.act_is_freer(1):
            self.call("accel.act", int(ActFn.NEG), neg, val, f32_bits(-0.0), f32_bits(1.0), -1, 0)
        else:
            self.call("accel.ts", int(TensorOp.MUL), neg, val, f32_bits(-1.0))
        return "col", neg

    # -- constants, ranges, splats ----------------------------------------------------------
    def _constant(self, op: Op) -> None:
        r = op.result
        dt = scalar_dtype(r.type)
        if not shape_of(r.type):
            self.low.fconst[r.id] = float(op.attr.value)
        d = self.dest(r)
        if dt.is_float:
            self.call("accel.memset", d, f32_bits(float(op.attr.value)))
        else:
            self.call("accel.iota", d, int(op.attr.value), 0, 0)

    def _make_range(self, op: Op) -> None:
        d = self.dest(op.result)
        start = op.attr.start
        if d.pn == 1:
            self.call("accel.iota", d, 0, start, 1)
            return
        tmp = self.low.scratch(0, DType.I32, d.pn, d.free)
        self.call("accel.piota", d, 0, start, d.free)
        self.call("accel.iota", tmp, 0, 0, 1)
        self.call("accel.tt", int(TensorOp.ADD), d, d, tmp)

    def _splat(self, op: Op) -> None:
        low = self.low
        r, s = op.result, op.operands[0]
        d = self.dest(r)
        if is_ptr(r.type):
            low.ptr_base[r.id] = low.reg(s)
            self.call("accel.iota", d, 0, 0, 0)
            return
        dt = scalar_dtype(s.type)
        if s.id in low.fconst:
            self.call("accel.memset", d, f32_bits(low.fconst[s.id]))
        elif not dt.is_float and s.id not in low.tiles:
            self.call("accel.iota", d, low.reg64(s), 0, 0)
        else:
            src = low.tile_of(s, 0)
            if src.pn != d.pn and src.pn != 1:
                src = TileRef(src.view(pn=1), src.dtype)  # a replicated column: partition 0
            self.broadcast(d, shape_of(r.type), src, (1,) * len(shape_of(r.type)))

    def broadcast(self, d: TileRef, dshape, s: TileRef, sshape) -> None:
        """d[...] = s broadcast along the dims where sshape is 1 (same rank)."""
        low = self.low
        rank = len(dshape)
        if rank > 3:
            raise UnsupportedOnAccelError(low.loc, "broadcasts of blocks of rank > 3")
        r = dshape[0] // d.pn if rank else 1
        if s.pn != d.pn:
            if s.pn != 1:
                raise UnsupportedOnAccelError(low.loc, "broadcast between these layouts")
            if r == 1 and s.free == d.free and s.dtype == d.dtype and d.tile.space != SPACE_PSUM:
                self.call("accel.pbcast", d, s)  # one row per partition: no vector-engine copy
                return
            tmp = low.scratch(1, s.dtype, d.pn, s.free)
            self.call("accel.pbcast", tmp, s)
            s = tmp
            lead = 0  # every partition holds the one source row
        else:
            lead = None
        # per-partition free dims of d: (r, dshape[1:]); strides into s's free elements
        sstr, acc = [], 1
        for n_s in reversed(sshape[1:]):
            sstr.append(acc if n_s > 1 else 0)
            acc *= n_s
        sstr.reverse()
        dims = [(0 if lead == 0 or sshape[0] == 1 else acc, r)] if r > 1 else []
        dims += [(st, n) for st, n in zip(sstr, dshape[1:], strict=True) if n > 1]
        dims = dims or [(0, 1)]
        if len(dims) > 3:
            raise UnsupportedOnAccelError(low.loc, "broadcast needs more than 3 free dims")
        self.call("accel.copy", d, s.view(*dims, pn=d.pn))

    def _broadcast(self, op: Op) -> None:
        low = self.low
        r, s = op.result, op.operands[0]
        if is_ptr(r.type):
            low.ptr_base[r.id] = low.ptr_base[s.id]
        d = self.dest(r)
        self.broadcast(d, shape_of(r.type), low.tile_of(s, 0), shape_of(s.type))

    def _expand_dims(self, op: Op) -> None:
        low = self.low
        r, s = op.result, op.operands[0]
        if is_ptr(r.type):
            low.ptr_base[r.id] = low.ptr_base[s.id]
        d = self.dest(r)
        self.call("accel.copy", d, low.tile_of(s, 0))

    def _reshape(self, op: Op) -> None:
        """Same row-major elements, any two layouts: an SBUF-to-SBUF DMA."""
        low = self.low
        r, s = op.result, op.operands[0]
        d = self.dest(r)
        self.call("accel.dma.copy", d, low.tile_of(s, 0))

    def _trans(self, op: Op) -> None:
        low = self.low
        r, s = op.result, op.operands[0]
        shape = shape_of(s.type)
        if len(shape) != 2 or tuple(op.attr.order) != (1, 0):
            raise UnsupportedOnAccelError(op.loc, f"permutation {op.attr.order} of {s.type}")
        d = self.dest(r)
        self.transpose_into(d, low.tile_of(s, 0), shape)
        self.finish(r, d)

    def transpose_into(self, d: TileRef, x: TileRef, shape, exact: bool = False) -> None:
        """d (the natural layout of the [n, m] transpose) = x [m, n]^T, through the PE's
        identity in [<=128, <=128] chunks: source rows {p * rm + i} x columns {q * rn + j}
        land on partitions q of the destination."""
        m, n = shape
        if x.dtype in (DType.I32, DType.U32) and d.dtype == x.dtype and not exact:
            return self._transpose_int32(d, x, shape)
        rm, rn = m // x.pn, n // d.pn
        es = x.dtype.mem_bytes
        psum = TileRef(
            Tile(SPACE_PSUM, isa_dtype(DType.F32), 0, 0, 0, d.pn, ((1, x.pn),)), DType.F32
        )
        for i in range(rm):
            for j in range(rn):
                self.call("accel.transpose", psum, x.view((rn, d.pn), off=(i * n + j) * es))
                out = d.view((rm, x.pn), off=(j * m + i) * d.dtype.mem_bytes)
                self.call("accel.copy", out, psum)

    def _transpose_int32(self, d: TileRef, x: TileRef, shape) -> None:
        """32-bit integers through the PE's fp32 exactly: the 16-bit halves (exact in fp32)
        are transposed apart and joined, d = hi << 16 + lo."""
        low = self.low
        lo = low.scratch(0, x.dtype, x.pn, x.free)
        hi = low.scratch(1, x.dtype, x.pn, x.free)
        hi_t = low.scratch(2, d.dtype, d.pn, d.free)
        self.call("accel.ts", int(TensorOp.AND), lo, x, f32_bits(65535.0))
        self.call("accel.ts", int(TensorOp.SHR), hi, x, f32_bits(16.0))
        self.transpose_into(d, lo, shape, exact=True)
        self.transpose_into(hi_t, hi, shape, exact=True)
        self.call("accel.ts", int(TensorOp.SHL), hi_t, hi_t, f32_bits(16.0))
        self.call("accel.tt", int(TensorOp.ADD), d, d, hi_t)

    def _convert_layout(self, op: Op) -> None:
        low = self.low
        r, s = op.result, op.operands[0]
        if is_ptr(r.type):
            low.ptr_base[r.id] = low.ptr_base[s.id]
        d = self.dest(r)
        if low.plan.layouts[r.id].transposed:  # to a dot's stationary layout: PE transposes
            self.transpose_into(d, low.tile_of(s, 0), shape_of(s.type))
        elif low.plan.layouts[s.id].transposed:  # a load read as its transpose, made natural
            m, n = shape_of(s.type)
            self.transpose_into(d, low.tile_of(s, 0), (n, m))
        else:  # same row-major elements over other partitions: an SBUF-to-SBUF DMA
            self.call("accel.dma.copy", d, low.tile_of(s, 0))

    def _ptr_add(self, op: Op) -> None:
        low = self.low
        r, p, off = op.result, *op.operands
        d = self.dest(r)
        low.ptr_base[r.id] = low.ptr_base[p.id]
        o = self.operand(off, 0, d)
        if o.dtype is not DType.I32:
            tmp = low.scratch(1, DType.I32, d.pn, d.free)
            self.call("accel.copy", tmp, o)
            o = tmp
        self.call("accel.tt", int(TensorOp.ADD), d, low.tiles[p.id], o)

    def _hint(self, op: Op) -> None:
        low = self.low
        r, s = op.result, op.operands[0]
        if s.id in low.ptr_base:
            low.ptr_base[r.id] = low.ptr_base[s.id]
        d = self.dest(r)
        self.call("accel.copy", d, low.tile_of(s, 0))

    # -- elementwise ------------------------------------------------------------------------
    def _fused(self, op: Op, top_of) -> bool:
        """`block op splat(scalar)` as one `ts` (see accel_layout.splat_operand)."""
        f = splat_operand(op, self.low.plan.producers)
        if f is None:
            return False
        i, s = f
        r = op.result
        d = self.dest(r)
        a = self.operand(op.operands[1 - i], 0, d)
        p = self.low.plan.producers.get(s.id)
        if p is not None and p.kind is OpKind.CONSTANT:  # `x + tl.zeros(...)`: an immediate
            self.ts(top_of(i), d, a, ("imm", f32_bits(block_immediate(p))))
        elif shape_of(s.type):
            self._row_scalar_ts(top_of(i), d, a, s, shape_of(r.type), op.operands[i])
        else:
            self.ts(top_of(i), d, a, self.scalar_operand(s, d))
        self.finish(r, d)
        return True

    def _row_scalar_ts(self, top, d: TileRef, a: TileRef, s: Value, shape, bcast: Value) -> None:
        """d = a op broadcast(s) for s a [M, 1] block (accel_layout.splat_operand): with the
        rows on d's partitions, r = M / pn rows each, one `ts` per row reads s's column at that
        row (r passes of N cost what one pass over the tile does, and no [M, N] broadcast is
        written and read); another layout materialises the broadcast in a scratch slot."""
        low = self.low
        m, n = shape
        col = low.tile_of(s, 1)
        lay = low.plan.layouts.get(bcast.id)
        rows = m // d.pn if m % d.pn == 0 else 0
        if (
            rows
            and col.pn == d.pn
            and col.free == rows
            and a.free == d.free == rows * n
            and not (lay is not None and lay.transposed)
            and (rows == 1 or all(t.tile.dims == ((1, t.free),) for t in (d, a, col)))
        ):
            if rows == 1:
                self.ts(top, d, a, ("col", TileRef(col.view((1, 1)), col.dtype)))
                return
            es, ces, aes = d.dtype.mem_bytes, col.dtype.mem_bytes, a.dtype.mem_bytes
            for j in range(rows):
                dj = TileRef(d.view((1, n), off=j * n * es), d.dtype)
                aj = TileRef(a.view((1, n), off=j * n * aes), a.dtype)
                cj = TileRef(col.view((1, 1), off=j * ces), col.dtype)
                self.ts(top, dj, aj, ("col", cj))
            return
        full = low.scratch(1, col.dtype, d.pn, d.free)
        self.broadcast(full, shape, col, (m, 1))
        self.call("accel.tt", int(top), d, a, full)  # ts's `a op s` with s as a tile

    def _binary(self, op: Op) -> None:
        bop = op.attr.op
        swapped = {TensorOp.SUB: TensorOp.RSUB, TensorOp.DIV: TensorOp.RDIV}
        if self._fused(op, lambda i: _TT[bop] if i == 1 else swapped.get(_TT[bop], _TT[bop])):
            return
        r = op.result
        d = self.dest(r)
        a, b = (self.operand(v, i, d) for i, v in enumerate(op.operands))
        dt = scalar_dtype(op.operands[0].type)
        x, y = op.operands
        if bop is BinaryOp.MUL and x.id == y.id and dt is DType.F32 and d.dtype is DType.F32:
            # x * x in fp32 is one rounding on either engine: the activation engine's square
            # (N cycles) when it ends sooner than the vector engine's tensor-tensor (2N)
            if self.act_is_freer(d.free, dve_per_elem=2) and d.tile.space != SPACE_PSUM:
                one, bias = f32_bits(1.0), f32_bits(-0.0)
                self.call("accel.act", int(ActFn.SQUARE), d, a, bias, one, -1, 0)
                self.finish(r, d)
                return
        if bop in (BinaryOp.SHL, BinaryOp.SHR) and not dt.is_float:
            # the engine shifts by b & 63; a shift past the width gives 0 (or the sign):
            # shifting the sign-extended int64 form by min(b, 63) does both
            nb = self.low.scratch(2, b.dtype, d.pn, d.free)
            self.call("accel.ts", int(TensorOp.MIN), nb, b, f32_bits(63.0))
            b = nb
        self.call("accel.tt", int(_TT[bop]), d, a, b)
        if dt.is_float and bop in (BinaryOp.MIN, BinaryOp.MAX) and not op.attr.propagate_nan:
            # the engine's min/max propagate NaN; Triton's default takes the other operand
            m = self.low.scratch(2, DType.U8, d.pn, d.free)
            self.call("accel.tt", int(TensorOp.NE), m, a, a)
            self.call("accel.select", d, m, b, d)
            self.call("accel.tt", int(TensorOp.NE), m, b, b)
            self.call("accel.select", d, m, a, d)
        if dt.is_bool and bop in (BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL):
            self.call("accel.ts", int(TensorOp.AND), d, d, f32_bits(1.0))  # int1 wraps
        if bop in (BinaryOp.DIV, BinaryOp.REM) and not dt.is_float:
            nz = self.low.scratch(2, d.dtype, d.pn, d.free)  # x / 0 == x % 0 == 0
            self.call("accel.ts", int(TensorOp.NE), nz, b, f32_bits(0.0))
            self.call("accel.tt", int(TensorOp.MUL), d, d, nz)
        self.finish(r, d)

    def _cmp(self, op: Op) -> None:
        pred = op.attr.pred
        flip = {CmpPred.LT: CmpPred.GT, CmpPred.GT: CmpPred.LT, CmpPred.LE: CmpPred.GE}
        flip[CmpPred.GE] = CmpPred.LE
        if self._fused(op, lambda i: _CMP[pred] if i == 1 else _CMP[flip.get(pred, pred)]):
            return
        r = op.result
        d = self.dest(r)
        a, b = (self.operand(v, i, d) for i, v in enumerate(op.operands))
        self.call("accel.tt", int(_CMP[op.attr.pred]), d, a, b)
        self.finish(r, d)

    def _select(self, op: Op) -> None:
        r = op.result
        d = self.dest(r)
        m, a, b = (self.operand(v, i, d) for i, v in enumerate(op.operands))
        self.call("accel.select", d, m, a, b)
        self.finish(r, d)

    def _fma(self, op: Op) -> None:
        r = op.result
        d = self.dest(r)
        a, b = (self.operand(v, i, d) for i, v in enumerate(op.operands[:2]))
        p = d
        if d.dtype.is_float and d.dtype is not DType.F32:
            # the product of two fp8/16-bit floats is exact in fp32: one rounding, as an fma
            p = self.low.scratch(2, DType.F32, d.pn, d.free)
        self.call("accel.tt", int(TensorOp.MUL), p, a, b)
        c = self.operand(op.operands[2], 0, d)
        self.call("accel.tt", int(TensorOp.ADD), d, p, c)
        self.finish(r, d)

    def _unary(self, op: Op) -> None:
        r = op.result
        d = self.dest(r)
        x = self.operand(op.operands[0], 0, d)
        u = op.attr.op
        dt = scalar_dtype(r.type)
        # bias -0.0: x + -0.0 is x for every x, -0.0 included (+0.0 would turn -0.0 into +0.0
        # and lose the sign of sin(-0.0), sqrt(-0.0), ...)
        act = lambda fn, scale=1.0: self.call(  # noqa: E731
            "accel.act", int(fn), d, x, f32_bits(-0.0), f32_bits(scale), -1, 0
        )
        if not dt.is_float:
            if u is UnaryOp.NEG:
                self.call("accel.ts", int(TensorOp.MUL), d, x, f32_bits(-1.0))
            elif u is UnaryOp.NOT:
                self.call(
                    "accel.ts", int(TensorOp.XOR), d, x, f32_bits(1.0 if dt.is_bool else -1.0)
                )
            elif u is UnaryOp.ABS:
                self.call("accel.ts", int(TensorOp.ABSDIFF), d, x, f32_bits(0.0))
            else:
                raise UnsupportedOnAccelError(op.loc, f"integer {u.value}")
        elif u in _ACT:
            act(_ACT[u])
        elif u is UnaryOp.EXP2:
            act(ActFn.EXP, math.log(2.0))
        elif u is UnaryOp.LOG2:
            act(ActFn.LOG)
            self.call("accel.ts", int(TensorOp.MUL), d, d, f32_bits(1.0 / math.log(2.0)))
        elif u in (UnaryOp.FLOOR, UnaryOp.CEIL):
            t = self.low.scratch(1, dt, d.pn, d.free)
            m = self.low.scratch(2, dt, d.pn, d.free)
            self.call("accel.ts", int(TensorOp.MOD), t, x, f32_bits(1.0))  # fmod(x, 1)
            self.call("accel.tt", int(TensorOp.SUB), d, x, t)  # trunc(x)
            if u is UnaryOp.FLOOR:
                self.call("accel.ts", int(TensorOp.LT), m, t, f32_bits(0.0))
                self.call("accel.tt", int(TensorOp.SUB), d, d, m)
            else:
                self.call("accel.ts", int(TensorOp.GT), m, t, f32_bits(0.0))
                self.call("accel.tt", int(TensorOp.ADD), d, d, m)
            # a zero result has x's sign (floor(-0.0), ceil(-0.5) are -0.0): x * 0 there
            self.call("accel.ts", int(TensorOp.EQ), m, d, f32_bits(0.0))
            self.call("accel.ts", int(TensorOp.MUL), t, x, f32_bits(0.0))
            self.call("accel.select", d, m, t, d)
            # fmod(+-inf, 1) is NaN, and so is d there: floor/ceil of +-inf (and of NaN) is x
            self.call("accel.ts", int(TensorOp.MOD), t, x, f32_bits(1.0))
            self.call("accel.tt", int(TensorOp.NE), m, t, t)
            self.call("accel.select", d, m, x, d)
        else:
            raise UnsupportedOnAccelError(op.loc, f"{u.value} of {r.type}")
        self.finish(r, d)

    def _cast(self, op: Op) -> None:
        r, s = op.result, op.operands[0]
        d = self.dest(r)
        dst = scalar_dtype(r.type)
        low = self.low
        hi = umulhi_operands(op, low.plan.producers)
        if hi is not None:  # tl.umulhi: one vector-engine instruction
            ts = []
            for i, x in enumerate(hi):
                if isinstance(x, int):
                    t = low.scratch(i, DType.U32, d.pn, d.free)
                    self.call("accel.iota", t, x, 0, 0)
                else:
                    t = self.operand(x, i, d)
                    if t.pn != d.pn or t.free != d.free:
                        t2 = low.scratch(i, t.dtype, d.pn, d.free)
                        self.broadcast(t2, (d.pn, d.free), t, (1, 1))
                        t = t2
                ts.append(t)
            self.call("accel.tt", int(TensorOp.MULHI), d, ts[0], ts[1])
            return self.finish(r, d)
        if not op.attr.bitcast and not is_tile_value(s) and s.id not in low.tiles:
            # an integer register (any width) -> iota converts int64 once, exactly
            if dst.is_bool:
                nz = low.b.icmp_unsigned("!=", low.reg(s), ir.Constant(low.reg(s).type, 0))
                self.call("accel.iota", d, low.b.zext(nz, I64), 0, 0)
            else:
                self.call("accel.iota", d, low.reg64(s), 0, 0)
            return self.finish(r, d)
        x = self.operand(s, 0, d)
        if op.attr.bitcast:
            if x.dtype.mem_bytes != d.dtype.mem_bytes:
                raise UnsupportedOnAccelError(op.loc, f"bitcast {s.type} -> {r.type}")
            self.call("accel.copy", d, x.as_dtype(d.dtype))
        elif dst.is_bool and not scalar_dtype(s.type).is_bool:
            self.call("accel.ts", int(TensorOp.NE), d, x, f32_bits(0.0))
        else:
            on_act = self._convert_on_act(x, d)

            def convert(dst: TileRef, src: TileRef) -> None:
                if on_act:
                    # step "act_convert": x * 1.0 + -0.0 is x for every float, -0.0 and NaN
                    # included, and the engine rounds its fp32 result to d's type as the
                    # vector engine's copy does
                    one, bias = f32_bits(1.0), f32_bits(-0.0)
                    self.call("accel.act", int(ActFn.COPY), dst, src, bias, one, -1, 0)
                else:
                    self.call("accel.copy", dst, src)

            if not defer_cast(low, op, x, d, convert):  # step "store_chunks"
                convert(d, x)
        self.finish(r, d)

    def _convert_on_act(self, x: TileRef, d: TileRef) -> bool:
        """Step "act_convert": a float conversion between fp32, fp16 and bf16 (a matmul's
        epilogue, `acc.to(tl.float16)`) runs on the activation engine when that ends sooner
        than on the vector engine: in a matmul the vector engine's in-order queue holds every
        PSUM -> SBUF add of the K loop, so a conversion there waits for the last of them, while
        on the otherwise idle activation engine each accumulator is converted (and stored) as
        soon as its own last add is done, and the next program's adds do not queue behind
        the conversions."""
        if "act_convert" not in getattr(self.low.target, "steps", ()):
            return False
        floats = (DType.F32, DType.F16, DType.BF16)
        if x.dtype not in floats or d.dtype not in floats or d.tile.space == SPACE_PSUM:
            return False
        return self.act_is_freer(d.free)

    def _dot(self, op: Op) -> None:
        from .dot import lower_dot

        lower_dot(self, op)

    # -- reductions (codegen.accel.reduce) --------------------------------------------------
    def _reduce(self, op: Op) -> None:
        from .reduce import lower_reduce

        lower_reduce(self, op)

    def _scan(self, op: Op) -> None:
        from .reduce import lower_scan

        lower_scan(self, op)

    # -- reorderings (codegen.accel.sort) ---------------------------------------------------
    def _sort(self, op: Op) -> None:
        from .sort import lower_sort

        lower_sort(self, op)

    def _flip(self, op: Op) -> None:
        from .sort import lower_flip

        lower_flip(self, op)
