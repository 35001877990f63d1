"""A plain-numpy interpreter of the tile IR: the executable definition of its semantics.

Stage: an alternative back end (`JITLANG_INTERPRET=1`). Input: an optimized `ir.Function`, a
grid, run-time argument values (addresses as integers, scalars) and the byte ranges of the array
arguments; it runs the programs one after another, reading and writing user memory through numpy
views of those ranges. Every block value is a numpy array (int1 as bool, float16/bfloat16 with
their numpy/ml_dtypes types, pointers as int64 addresses). Semantics match the CPU back end:
C-style integer division and remainder (x // 0 == 0), shifts past the width give 0 (or the sign),
saturating float-to-int casts with NaN -> 0, min/max that ignore NaN unless asked, masked loads
giving `other` (or 0). Out-of-bounds accesses raise `InterpreterError` with the source location.
"""

from __future__ import annotations

import ctypes
import math
import time

import numpy as np

from .dtypes import DType, float32_to_fp8e4b15, fp8e4b15_to_float32
from .errors import TritonError
from .ir import (
    AtomicKind,
    BinaryOp,
    BlockType,
    CmpPred,
    Function,
    Op,
    OpKind,
    PointerType,
    ReduceKind,
    Region,
    UnaryOp,
    elem_type,
    scalar_dtype,
    shape_of,
)


class InterpreterError(TritonError):
    """A kernel did something the interpreter cannot execute (e.g. an out-of-bounds access)."""


def _np_dtype(t) -> np.dtype:
    e = elem_type(t)
    if isinstance(e, PointerType):
        return np.dtype(np.int64)
    if e.dtype is DType.F8E4B15:  # no numpy type: its values, held in float32
        return np.dtype(np.float32)
    return e.dtype.np


def _is_e4b15(t) -> bool:
    e = elem_type(t)
    return not isinstance(e, PointerType) and e.dtype is DType.F8E4B15


def _to_e4b15(x):
    """float32 values rounded onto float8e4b15 as the CPU's cast does (its codes, decoded)."""
    r = fp8e4b15_to_float32(float32_to_fp8e4b15(x))
    return r if r.ndim else r[()]


# ops whose float8e4b15 results the CPU rounds (it computes them in float32 registers)
_ROUNDS_E4B15 = (OpKind.UNARY, OpKind.BINARY, OpKind.FMA, OpKind.CAST)


class Memory:
    """User memory: the byte ranges of the array arguments, addressed by absolute address."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self.regions = []
        for lo, hi in sorted(set(ranges)):
            if hi > lo:
                buf = (ctypes.c_uint8 * (hi - lo)).from_address(lo)
                self.regions.append((lo, hi, np.frombuffer(buf, dtype=np.uint8)))
        self.los = np.array([r[0] for r in self.regions], dtype=np.int64)

    def _locate(self, addrs: np.ndarray, size: int, op: Op):
        idx = np.searchsorted(self.los, addrs, side="right") - 1
        ok = idx >= 0
        if self.regions:
            his = np.array([r[1] for r in self.regions], dtype=np.int64)
            ok &= addrs + size <= his[np.clip(idx, 0, None)]
        if not ok.all():
            bad = int(addrs[~ok][0])
            raise InterpreterError(
                f"{op.loc}: out-of-bounds {op.kind.value} at address {bad:#x} (no array argument "
                "holds it)"
            )
        return idx

    def load(self, addrs: np.ndarray, dt: np.dtype, op: Op) -> np.ndarray:
        flat = addrs.reshape(-1)
        out = np.empty(flat.shape, dtype=dt)
        if flat.size == 0:
            return out.reshape(addrs.shape)
        idx = self._locate(flat, dt.itemsize, op)
        for r in np.unique(idx):
            lo, _hi, mem = self.regions[r]
            sel = idx == r
            offs = flat[sel] - lo
            raw = mem[(offs[:, None] + np.arange(dt.itemsize)).reshape(-1)]
            out[sel] = raw.view(dt)
        return out.reshape(addrs.shape)

    def store(self, addrs: np.ndarray, values: np.ndarray, op: Op) -> None:
        flat = addrs.reshape(-1)
        vals = np.ascontiguousarray(values.reshape(-1))
        if flat.size == 0:
            return
        dt = vals.dtype
        idx = self._locate(flat, dt.itemsize, op)
        raw = vals.view(np.uint8).reshape(-1, dt.itemsize)
        for i in range(flat.size):  # in lane order: later lanes win, like a scatter
            lo, _hi, mem = self.regions[idx[i]]
            o = int(flat[i]) - lo
            mem[o : o + dt.itemsize] = raw[i]


def _c_div(a, b, dt: DType):
    with np.errstate(all="ignore"):
        if dt.is_float:
            return a / b
        zero = b == 0
        safe = np.where(zero, 1, b)
        if dt.is_signed and dt.bits == 64:
            # |INT64_MIN| does not exist: floor in int64, then round towards zero
            q = a // safe
            q = q + (((a - q * safe) != 0) & ((a < 0) != (safe < 0)))
            q = np.where((a == np.iinfo(np.int64).min) & (safe == -1), a, q)  # wraps
            q = np.asarray(q).astype(a.dtype)
        elif dt.is_signed and dt is not DType.I1:
            q = np.abs(a.astype(np.int64)) // np.abs(safe)
            q = np.where((a < 0) != (safe < 0), -q, q)
            q = q.astype(a.dtype)
        else:
            q = a // safe
        return np.where(zero, np.zeros_like(q), q)


def _c_rem(a, b, dt: DType):
    with np.errstate(all="ignore"):
        if dt.is_float:
            return np.fmod(a, b)
        q = _c_div(a, b, dt)
        r = (a - q * np.where(b == 0, 1, b)).astype(a.dtype)
        return np.where(b == 0, np.zeros_like(r), r)


def _shift(a, b, dt: DType, left: bool):
    bits = dt.bits
    amt = b.astype(np.uint64) if hasattr(b, "astype") else np.uint64(b)
    big = amt >= bits
    s = np.where(big, 0, amt).astype(a.dtype)
    with np.errstate(all="ignore"):
        if left:
            return np.where(big, np.zeros_like(a), a << s).astype(a.dtype)
        r = a >> s
        fill = (a >> (bits - 1)) if dt.is_signed else np.zeros_like(a)
        return np.where(big, fill, r).astype(a.dtype)


def _binary(op: Op, a, b):
    dt = scalar_dtype(op.result.type)
    k = op.attr.op
    rt = _np_dtype(op.result.type)
    with np.errstate(all="ignore"):
        if k is BinaryOp.ADD:
            r = a + b
        elif k is BinaryOp.SUB:
            r = a - b
        elif k is BinaryOp.MUL:
            r = a * b
        elif k is BinaryOp.DIV:
            r = _c_div(a, b, dt)
        elif k is BinaryOp.REM:
            r = _c_rem(a, b, dt)
        elif k is BinaryOp.AND:
            r = a & b
        elif k is BinaryOp.OR:
            r = a | b
        elif k is BinaryOp.XOR:
            r = a ^ b
        elif k in (BinaryOp.SHL, BinaryOp.SHR):
            r = _shift(a, b, dt, k is BinaryOp.SHL)
        elif k is BinaryOp.MIN:
            r = np.minimum(a, b) if (op.attr.propagate_nan or not dt.is_float) else np.fmin(a, b)
        elif k is BinaryOp.MAX:
            r = np.maximum(a, b) if (op.attr.propagate_nan or not dt.is_float) else np.fmax(a, b)
        else:
            raise InterpreterError(f"{op.loc}: binary {k.value} is not interpretable")
    return np.asarray(r).astype(rt)


_UNARY = {
    UnaryOp.EXP: np.exp,
    UnaryOp.EXP2: np.exp2,
    UnaryOp.LOG: np.log,
    UnaryOp.LOG2: np.log2,
    UnaryOp.SQRT: np.sqrt,
    UnaryOp.SIN: np.sin,
    UnaryOp.COS: np.cos,
    UnaryOp.FLOOR: np.floor,
    UnaryOp.CEIL: np.ceil,
    UnaryOp.TANH: np.tanh,
}


def _unary(op: Op, x):
    k = op.attr.op
    rt = _np_dtype(op.result.type)
    with np.errstate(all="ignore"):
        if k is UnaryOp.NEG:
            r = -x if x.dtype != np.bool_ else x
        elif k is UnaryOp.NOT:
            r = ~x
        elif k is UnaryOp.ABS:
            r = np.abs(x)
        elif k is UnaryOp.RSQRT:
            r = 1.0 / np.sqrt(x)
        elif k is UnaryOp.SIGMOID:
            r = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
        elif k is UnaryOp.ERF:
            r = np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))
        else:
            r = _UNARY[k](x.astype(np.float64) if x.dtype != np.float64 else x)
    return np.asarray(r).astype(rt)


def _cast(op: Op, x):
    src, dst = elem_type(op.operands[0].type), elem_type(op.result.type)
    rt = _np_dtype(op.result.type)
    if isinstance(src, PointerType) or isinstance(dst, PointerType):
        # a pointer is its int64 byte address; int64/uint64 <-> pointer reinterpret its bits
        return np.asarray(x).astype(rt)
    sd, dd = src.dtype, dst.dtype
    if op.attr.bitcast:
        if sd is DType.F8E4B15:
            return float32_to_fp8e4b15(x, False).view(rt)
        if dd is DType.F8E4B15:
            return fp8e4b15_to_float32(np.asarray(x).view(np.uint8))
        return np.asarray(x).view(rt)
    with np.errstate(all="ignore"):
        if sd.is_float and dd.is_int:
            if dd is DType.I1:
                return np.asarray(x != 0)
            info = np.iinfo(rt)
            xf = np.asarray(x, dtype=np.float64)
            r = np.where(np.isnan(xf), 0, np.clip(np.trunc(xf), info.min, info.max))
            # values at the top of int64/uint64 do not survive float64: saturate explicitly
            out = r.astype(rt)
            out = np.where(xf >= float(info.max), info.max, out).astype(rt)
            return out
        if dd is DType.I1:
            return np.asarray(x != 0)
        return np.asarray(x).astype(rt)


def _cmp(op: Op, a, b):
    p = op.attr.pred
    with np.errstate(all="ignore"):
        return {
            CmpPred.EQ: np.equal,
            CmpPred.NE: np.not_equal,
            CmpPred.LT: np.less,
            CmpPred.LE: np.less_equal,
            CmpPred.GT: np.greater,
            CmpPred.GE: np.greater_equal,
        }[p](a, b)


class Interpreter:
    def __init__(self, fn: Function, memory: Memory, grid, pid) -> None:
        self.fn = fn
        self.mem = memory
        self.grid = grid
        self.pid = pid
        self.env: dict[int, object] = {}

    def run(self, args: list) -> None:
        for a, v in zip(self.fn.body.args, args):
            self.env[a.id] = np.asarray(v, dtype=_np_dtype(a.type))[()]
        self.region(self.fn.body)

    def get(self, v):
        return self.env[v.id]

    def region(self, region: Region):
        for op in region.ops:
            if op.kind in (OpKind.YIELD, OpKind.CONDITION, OpKind.RETURN):
                return [self.get(v) for v in op.operands]
            self.op(op)
        return []

    def op(self, op: Op) -> None:
        k = op.kind
        g = self.get
        ins = [g(v) for v in op.operands]
        res = op.results[0] if op.results else None
        self.dispatch(op, k, ins, res)
        if k in _ROUNDS_E4B15 and _is_e4b15(res.type):
            exact = (k is OpKind.CAST and op.attr.bitcast) or (
                k is OpKind.UNARY and op.attr.op is UnaryOp.ABS
            )
            if not exact:
                self.env[res.id] = _to_e4b15(self.env[res.id])

    def dispatch(self, op: Op, k: OpKind, ins: list, res) -> None:  # noqa: C901 - every op kind
        if k is OpKind.CONSTANT:
            shape = shape_of(res.type)
            out = np.full(shape, op.attr.value, dtype=_np_dtype(res.type))
            self.env[res.id] = out if shape else out[()]
        elif k in (OpKind.PROGRAM_ID, OpKind.NUM_PROGRAMS):
            src = self.pid if k is OpKind.PROGRAM_ID else self.grid
            self.env[res.id] = np.int32(src[op.attr.axis])
        elif k is OpKind.MAKE_RANGE:
            self.env[res.id] = np.arange(op.attr.start, op.attr.end, dtype=np.int32)
        elif k is OpKind.SPLAT or k is OpKind.BROADCAST:
            self.env[res.id] = np.broadcast_to(ins[0], shape_of(res.type)).copy()
        elif k is OpKind.EXPAND_DIMS:
            self.env[res.id] = np.expand_dims(ins[0], op.attr.axis)
        elif k is OpKind.RESHAPE:
            self.env[res.id] = np.reshape(ins[0], shape_of(res.type) or ())
        elif k is OpKind.TRANS:
            self.env[res.id] = np.transpose(ins[0], op.attr.order).copy()
        elif k is OpKind.FLIP:
            self.env[res.id] = np.flip(ins[0], op.attr.axis).copy()
        elif k in (OpKind.HINT, OpKind.CONVERT_LAYOUT):
            self.env[res.id] = ins[0]
        elif k is OpKind.SORT:
            s = np.sort(ins[0], axis=-1, kind="stable")
            self.env[res.id] = np.flip(s, -1).copy() if op.attr.descending else s
        elif k is OpKind.UNARY:
            self.env[res.id] = _unary(op, np.asarray(ins[0]))
        elif k is OpKind.BINARY:
            self.env[res.id] = _binary(op, np.asarray(ins[0]), np.asarray(ins[1]))
        elif k is OpKind.CMP:
            self.env[res.id] = np.asarray(_cmp(op, ins[0], ins[1]))
        elif k is OpKind.SELECT:
            self.env[res.id] = np.asarray(np.where(ins[0], ins[1], ins[2])).astype(
                _np_dtype(res.type)
            )
        elif k is OpKind.FMA:
            a, b, c = (np.asarray(x, dtype=np.float64) for x in ins)
            self.env[res.id] = (a * b + c).astype(_np_dtype(res.type))
        elif k is OpKind.CAST:
            self.env[res.id] = _cast(op, ins[0])
        elif k is OpKind.PTR_ADD:
            size = elem_type(res.type).elem.mem_bytes
            self.env[res.id] = (
                np.asarray(ins[0], np.int64) + np.asarray(ins[1]).astype(np.int64) * size
            )
        elif k is OpKind.LOAD:
            self.load(op, ins)
        elif k is OpKind.STORE:
            self.store(op, ins)
        elif k is OpKind.ATOMIC:
            self.atomic(op, ins)
        elif k is OpKind.DOT:
            a, b, c = ins
            self.env[res.id] = (np.matmul(a.astype(c.dtype), b.astype(c.dtype)) + c).astype(c.dtype)
        elif k in (OpKind.REDUCE, OpKind.SCAN) and any(_is_e4b15(v.type) for v in op.operands):
            raise InterpreterError(
                f"{op.loc}: {k.value} of float8e4b15 is not supported by the interpreter; cast "
                "to float32 first, or run without JITLANG_INTERPRET=1"
            )
        elif k is OpKind.REDUCE:
            outs = self.reduce(op, [np.asarray(x) for x in ins])
            for r, v in zip(op.results, outs):
                self.env[r.id] = v
        elif k is OpKind.SCAN:
            outs = self.scan(op, [np.asarray(x) for x in ins])
            for r, v in zip(op.results, outs):
                self.env[r.id] = v
        elif k is OpKind.FOR:
            self.for_(op, ins)
        elif k is OpKind.IF:
            outs = self.region(op.regions[0] if bool(ins[0]) else op.regions[1])
            for r, v in zip(op.results, outs):
                self.env[r.id] = v
        elif k is OpKind.WHILE:
            self.while_(op, ins)
        elif k is OpKind.PRINT:
            self.print_(op, ins)
        elif k is OpKind.ASSERT:
            if not np.all(ins[0]):
                from runtime.cpu_driver import DeviceAssertionError

                raise DeviceAssertionError(
                    f"{op.loc}: device assertion failed in program {self.pid}"
                    + (f": {op.attr.prefix}" if op.attr.prefix else "")
                )
        else:
            raise InterpreterError(f"{op.loc}: {k.value} is not interpretable")

    # -- memory ----------------------------------------------------------------------------
    def load(self, op: Op, ins) -> None:
        res = op.result
        dt = _np_dtype(res.type)
        addrs = np.asarray(ins[0], np.int64)
        mask = np.broadcast_to(np.asarray(ins[1], bool), addrs.shape) if len(ins) > 1 else None
        out = np.zeros(addrs.shape, dtype=dt)
        if len(ins) > 2:
            out[...] = ins[2]
        active = np.ones(addrs.shape, bool) if mask is None else mask
        if active.any() and _is_e4b15(res.type):  # memory holds its codes
            out[active] = fp8e4b15_to_float32(self.mem.load(addrs[active], np.dtype(np.uint8), op))
        elif active.any():
            out[active] = self.mem.load(addrs[active], np.dtype(dt), op)
        self.env[res.id] = out if addrs.shape else out[()]

    def store(self, op: Op, ins) -> None:
        addrs = np.asarray(ins[0], np.int64)
        vals = np.broadcast_to(np.asarray(ins[1]), addrs.shape)
        active = (
            np.ones(addrs.shape, bool)
            if len(ins) < 3
            else np.broadcast_to(np.asarray(ins[2], bool), addrs.shape)
        )
        if active.any() and _is_e4b15(op.operands[1].type):
            self.mem.store(addrs[active], float32_to_fp8e4b15(vals[active], False), op)
        elif active.any():
            self.mem.store(addrs[active], vals[active], op)

    def poll(self, op: Op, ins) -> None:
        """tl.atomic_poll as the CPU runs it (see codegen/cpu/blockops._lower_poll); here the
        programs run one by one, so a value stored by a later program is never seen."""
        addrs = np.asarray(ins[0], np.int64)
        want = np.broadcast_to(np.asarray(ins[1]), addrs.shape).reshape(-1)
        budget = np.broadcast_to(np.asarray(ins[2], np.int64), addrs.shape).reshape(-1)
        dt = np.dtype(elem_type(op.operands[0].type).elem.np)
        ok = np.zeros(addrs.size, bool)
        start = time.monotonic_ns()
        for i, a in enumerate(addrs.reshape(-1)):
            limit = int(budget[i])
            while True:
                if self.mem.load(np.array([a]), dt, op)[0] == want[i]:
                    ok[i] = True
                    break
                if time.monotonic_ns() - start >= abs(limit):
                    if limit < 0:
                        from runtime.cpu_driver import DeviceAssertionError

                        raise DeviceAssertionError(
                            f"{op.loc}: tl.atomic_poll without timeout_ns gave up waiting "
                            f"(deadlock guard) in program {self.pid}, element {i}: the "
                            "interpreter runs programs one by one, so a value stored by a later "
                            "program is never seen; pass timeout_ns, or set it before the launch"
                        )
                    break
        self.env[op.result.id] = ok.reshape(addrs.shape) if addrs.shape else ok[0]

    def atomic(self, op: Op, ins) -> None:
        kind = op.attr.kind
        if kind is AtomicKind.POLL:
            self.poll(op, ins)
            return
        addrs = np.asarray(ins[0], np.int64)
        n = 2 if kind is AtomicKind.CAS else 1
        vals = [np.broadcast_to(np.asarray(x), addrs.shape) for x in ins[1 : 1 + n]]
        mask = (
            np.broadcast_to(np.asarray(ins[1 + n], bool), addrs.shape)
            if len(ins) > 1 + n
            else np.ones(addrs.shape, bool)
        )
        dt = np.dtype(_np_dtype(op.result.type))
        old = np.zeros(addrs.shape, dt)
        flat_a, flat_m, flat_o = addrs.reshape(-1), mask.reshape(-1), old.reshape(-1)
        flat_v = [v.reshape(-1) for v in vals]
        for i in range(flat_a.size):
            if not flat_m[i]:
                continue
            a = flat_a[i : i + 1]
            cur = self.mem.load(a, dt, op)[0]
            flat_o[i] = cur
            x = flat_v[-1][i]
            if kind is AtomicKind.ADD:
                new = cur + x
            elif kind is AtomicKind.MAX:
                new = max(cur, x)
            elif kind is AtomicKind.MIN:
                new = min(cur, x)
            elif kind is AtomicKind.AND:
                new = cur & x
            elif kind is AtomicKind.OR:
                new = cur | x
            elif kind is AtomicKind.XOR:
                new = cur ^ x
            elif kind is AtomicKind.XCHG:
                new = x
            else:  # CAS compares bits, floats too (PTX atom.cas.b32; LLVM cmpxchg on the bits)
                same = np.asarray(cur).tobytes() == np.asarray(flat_v[0][i], dt).tobytes()
                new = x if same else cur
            self.mem.store(a, np.asarray([new], dtype=dt), op)
        self.env[op.result.id] = old if addrs.shape else old[()]

    # -- reductions ------------------------------------------------------------------------
    def _combine(self, op: Op, kind: ReduceKind, accs, xs):
        if kind is ReduceKind.SUM:
            return [_binary(_FakeBinary(op, BinaryOp.ADD), accs[0], xs[0])]
        if kind is ReduceKind.PROD:
            return [_binary(_FakeBinary(op, BinaryOp.MUL), accs[0], xs[0])]
        if kind in (ReduceKind.MAX, ReduceKind.MIN):
            bop = BinaryOp.MAX if kind is ReduceKind.MAX else BinaryOp.MIN
            return [
                _binary(
                    _FakeBinary(op, bop, op.attr.__dict__.get("propagate_nan", False)),
                    accs[0],
                    xs[0],
                )
            ]
        if kind in (ReduceKind.XOR, ReduceKind.OR, ReduceKind.AND):
            f = {
                ReduceKind.XOR: np.bitwise_xor,
                ReduceKind.OR: np.bitwise_or,
                ReduceKind.AND: np.bitwise_and,
            }[kind]
            return [f(accs[0], xs[0])]
        if kind in (ReduceKind.ARGMAX, ReduceKind.ARGMIN):
            (av, ai), (xv, xi) = accs, xs
            better = xv > av if kind is ReduceKind.ARGMAX else xv < av
            if np.issubdtype(av.dtype, np.floating) or av.dtype.kind == "V":
                # Triton skips NaN; among NaNs only (an all-NaN slice) the last index wins
                xn, an = np.isnan(xv.astype(np.float64)), np.isnan(av.astype(np.float64))
                better = better | (an & ~xn)
                tie = ((xv == av) & (xi < ai)) | (xn & an & (xi > ai))
            else:
                tie = (xv == av) & (xi < ai)
            take = better | tie
            return [np.where(take, xv, av), np.where(take, xi, ai)]
        region = op.regions[0]
        for a, v in zip(region.args, list(accs) + list(xs)):
            self.env[a.id] = v
        outs = self.region(region)
        return [np.asarray(o).astype(a.dtype) for o, a in zip(outs, accs)]

    def reduce(self, op: Op, xs):
        ax = op.attr.axis
        accs = [np.take(x, 0, axis=ax) for x in xs]
        for k in range(1, xs[0].shape[ax]):
            accs = self._combine(op, op.attr.kind, accs, [np.take(x, k, axis=ax) for x in xs])
        return [a if np.ndim(a) else np.asarray(a)[()] for a in accs]

    def scan(self, op: Op, xs):
        ax = op.attr.axis
        n = xs[0].shape[ax]
        order = range(n - 1, -1, -1) if op.attr.reverse else range(n)
        outs = [np.empty_like(x) for x in xs]
        accs = None
        for k in order:
            cur = [np.take(x, k, axis=ax) for x in xs]
            accs = cur if accs is None else self._combine(op, op.attr.kind, accs, cur)
            for o, a in zip(outs, accs):
                idx = [slice(None)] * o.ndim
                idx[ax] = k
                o[tuple(idx)] = a
        return outs

    # -- control flow ------------------------------------------------------------------------
    def for_(self, op: Op, ins) -> None:
        lb, ub, step = (int(x) for x in ins[:3])
        carried = list(ins[3:])
        body = op.regions[0]
        iv_t = _np_dtype(body.args[0].type)
        for i in range(lb, ub, step):
            self.env[body.args[0].id] = np.asarray(i, dtype=iv_t)[()]
            for a, v in zip(body.args[1:], carried):
                self.env[a.id] = v
            carried = self.region(body)
        for r, v in zip(op.results, carried):
            self.env[r.id] = v

    def while_(self, op: Op, ins) -> None:
        before, after = op.regions
        carried = list(ins)
        while True:
            for a, v in zip(before.args, carried):
                self.env[a.id] = v
            cond, *fwd = self.region(before)
            if not bool(cond):
                break
            for a, v in zip(after.args, fwd):
                self.env[a.id] = v
            carried = self.region(after)
        for r, v in zip(op.results, fwd):
            self.env[r.id] = v

    def print_(self, op: Op, ins) -> None:
        head = f"pid ({self.pid[0]}, {self.pid[1]}, {self.pid[2]})"
        if not ins:
            print(f"{head} {op.attr.prefix}")
            return
        arrs = [np.asarray(x) for x in ins]
        for idx in np.ndindex(arrs[0].shape):
            for k, a in enumerate(arrs):
                where = f" idx ({', '.join(map(str, idx))})" if idx else ""
                suffix = f" (operand {k})" if len(arrs) > 1 else ""
                p = op.attr.prefix
                sep = "" if p.endswith((" ", ":")) or not p else " "  # as the compiled targets
                print(f"{head}{where} {p}{suffix}{sep}{a[idx]}")


class _FakeBinary:
    """A stand-in op so reductions reuse `_binary`'s per-dtype semantics."""

    def __init__(self, op: Op, bop: BinaryOp, nan: bool = False) -> None:
        from .ir import Binary

        self.attr = Binary(bop, nan)
        r = op.results[0]
        self.result = type("R", (), {"type": BlockType((1,), elem_type(r.type))})()
        self.loc = op.loc


def run_grid(fn: Function, grid: tuple[int, int, int], args: list, ranges) -> None:
    """Run every program of `grid` in order on the interpreter."""
    mem = Memory(ranges)
    gx, gy, gz = grid
    for z in range(gz):
        for y in range(gy):
            for x in range(gx):
                Interpreter(fn, mem, grid, (x, y, z)).run(args)
