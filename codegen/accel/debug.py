"""`device_print` on the accelerator: records appended to a print log in HBM.

Stage: part of the accel lowering (`lower`). The scheme is CUDA's printf buffer: the binary's
data section carries the site table (`PRINT_SITES`, JSON: prefix, hex flag, operand dtypes and
shapes, source position per site) and, last, the log header (`PRINT_LOG`: a u32 byte counter
and the u32 capacity); the driver gives the log that many bytes of HBM after it. Each executed print reserves its record
with an atomic add on the counter (so records land in the order the programs ran them) and,
when it fits, DMA-stores the record: u32 words [site, pid0, pid1, pid2] and then every operand's
elements in row-major order, one 32-bit word each (the site word carries `RECORD_MARK`) (floats as fp32, integers as int32/uint32; a
64-bit integer scalar as two words, low first). A record that does not fit is dropped and
counted; the driver decodes the log after the launch and prints what the CPU prints.
"""

from __future__ import annotations

import json
import math
import struct

from llvmlite import ir

from isa.table import AtomicOp
from jitlang.dtypes import DType
from jitlang.ir import Op, PointerType, elem_type, scalar_dtype, shape_of
from jitlang.passes.accel_layout import is_tile_value

from .lower import I64, UnsupportedOnAccelError
from .tiles import TileRef

PRINT_SITES = "jl_print_sites"
PRINT_LOG = "jl_print_log"
LOG_HEADER = 64  # bytes before the first record (the counter and padding)
LOG_BYTES = 1 << 22  # record bytes a launch can hold
RECORD_MARK = 0x5A << 24  # in a record's first word, beside the site: the log ends without it


def operand_words(dt: str, shape) -> int:
    """32-bit words an operand takes in a record."""
    n = math.prod(shape)
    return 2 * n if dt in ("int64", "uint64", "ptr") else n


def record_words(operands) -> int:
    return 4 + sum(operand_words(dt, shape) for dt, shape in operands)


def lower_print(low, op: Op) -> None:
    b = low.b
    operands = []
    for v in op.operands:
        dt = "ptr" if isinstance(elem_type(v.type), PointerType) else str(scalar_dtype(v.type))
        if shape_of(v.type) and (dt == "ptr" or dt in ("int64", "uint64", "fp64")):
            raise UnsupportedOnAccelError(
                op.loc,
                f"device_print of a block of {'pointers' if dt == 'ptr' else dt} (the "
                "machine's elements are 32-bit; pointer blocks are offsets from a base)",
                "print a 32-bit block, or use target='cpu'",
            )
        operands.append([dt, list(shape_of(v.type))])
    site = len(low.tables.print_sites)
    low.tables.print_sites.append((op.attr.prefix, op.attr.hex, operands, str(op.loc)))
    nbytes = 4 * record_words(operands)
    log = low.call("accel.data", low.tables.data_symbol(PRINT_LOG))
    # reserve the record: old = counter; counter += nbytes
    inc = low.scratch(1, DType.I32, 1, 1)
    old = low.scratch(2, DType.I32, 1, 1)
    low.call("accel.iota", inc, nbytes, 0, 0)
    one = low.tables.pattern(DType.I32, [(1, 1)], (False,))
    low.call("accel.atomic", int(AtomicOp.ADD), one, log, 0, 0, 0, 0, 0, inc, old)
    slot = b.zext(b.trunc(low.call("accel.ld", old), ir.IntType(32)), I64)
    fits = b.icmp_signed("<=", slot, ir.Constant(I64, LOG_BYTES - nbytes))
    # registers first: a value computed inside the branch would not dominate later uses
    regs = {v.id: low.reg64(v) for v in op.operands if not is_tile_value(v)}
    with b.if_then(fits):
        at = b.add(b.add(log, ir.Constant(I64, LOG_HEADER)), slot)
        head = low.scratch(0, DType.I32, 1, 4)
        low.call("accel.iota", head.view((1, 1)), RECORD_MARK | site, 0, 0)
        for axis in range(3):
            pid = b.zext(low.call("accel.pid", axis), I64)
            low.call("accel.iota", head.view((1, 1), off=4 * (axis + 1)), pid, 0, 0)
        _store(low, at, head, DType.I32)
        at = b.add(at, ir.Constant(I64, 16))
        for v, (dt, shape) in zip(op.operands, operands, strict=True):
            n = operand_words(dt, shape)
            if v.id in regs:
                _store_scalar(low, at, regs[v.id], n, dt.startswith("uint"))
            else:
                lay = low.plan.layouts.get(v.id)
                if lay is not None and lay.transposed:
                    raise UnsupportedOnAccelError(op.loc, "device_print of a transposed block")
                t = low.tile_of(v, 1)
                if t.pn * t.free != n:  # a scalar replicated over partitions
                    t = TileRef(t.view((1, 1), pn=1), t.dtype)
                wdt = DType.F32 if t.dtype.is_float else DType.I32
                _store(low, at, t, DType.U32 if t.dtype.is_unsigned else wdt)
            at = b.add(at, ir.Constant(I64, 4 * n))


def _store(low, at, t: TileRef, dt: DType) -> None:
    pat = low.tables.pattern(dt, [(1, t.pn * t.free)], (False,))
    low.call("accel.dma.store", pat, at, 0, 0, 0, 0, 0, t)


def _store_scalar(low, at, x, words: int, unsigned: bool) -> None:
    """An integer scalar in a register: one word, or two (low, high) for 64-bit values."""
    t = low.scratch(1, DType.U32, 1, words)
    low.call(
        "accel.iota",
        t.view((1, 1), dtype=DType.U32 if unsigned or words == 2 else DType.I32),
        x,
        0,
        0,
    )
    if words == 2:
        hi = low.b.ashr(x, ir.Constant(I64, 32))
        low.call("accel.iota", t.view((1, 1), dtype=DType.I32, off=4), hi, 0, 0)
    _store(low, at, t, DType.U32)


def log_header() -> bytes:
    """The log's header: the byte counter (0) and the capacity the code was built for."""
    return struct.pack("<II", 0, LOG_BYTES).ljust(LOG_HEADER, b"\0")


def site_table(sites) -> bytes:
    return json.dumps([list(s) for s in sites]).encode()
