"""Layout inference for the CPU target: operand layouts and register tiling of `dot`.

Requires: verified IR after the generic passes. Guarantees: every `dot` carries a `DotTiling`
(rows MR x NV vectors of `lanes` accumulators) chosen by a small cost model for the target's
vector width and register count, and every `dot` operand produced by a strided view (`trans`,
`permute`, `flip`, whose CPU form is a view with non-unit inner stride) goes through an explicit
`convert_layout` to dense row-major, so the micro-kernel's inner loop reads contiguous vectors.
Other block values keep the CPU default (row-major, vector chunks along the last dimension).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from ..ir import (
    Dot,
    DotTiling,
    Function,
    Layout,
    Op,
    OpKind,
    Region,
    Value,
    scalar_dtype,
    shape_of,
)

_STRIDED_VIEWS = {OpKind.TRANS, OpKind.FLIP}


class CpuTarget(Protocol):
    """What this pass reads of the CPU backend's target description (`codegen.cpu.target`)."""

    vector_bytes: int
    vector_registers: int
    reserved_registers: int


def choose_tiling(m: int, n: int, elem_bytes: int, target: CpuTarget) -> DotTiling:
    """Maximise FMAs per load (MR*NV / (MR + NV)) within the register budget (MR*NV accumulators
    and NV vectors of B live across the K loop), then prefer more accumulators (they hide the
    FMA latency). MR need not divide `m`: the lowering runs the leftover rows as a shorter tile,
    so the score is scaled by the fraction of rows that get the full tile."""
    lanes = 1
    while lanes * 2 <= target.vector_bytes // elem_bytes and n % (lanes * 2) == 0:
        lanes *= 2
    budget = target.vector_registers - target.reserved_registers
    best = (0.0, 0, DotTiling(1, 1, lanes))
    for mr in (1, 2, 3, 4, 5, 6, 8, 12, 16):
        if mr > m:
            continue
        full = (m - m % mr) / m
        for nv in (1, 2, 3, 4, 6, 8):
            if (n // lanes) % nv or mr * nv + nv > budget:
                continue
            score = (round(full * mr * nv / (mr + nv), 6), mr * nv)
            if score > best[:2]:
                best = (*score, DotTiling(mr, nv, lanes))
    return best[2]


def _producers(region: Region, out: dict[int, Op]) -> None:
    for op in region.ops:
        for r in op.results:
            out[r.id] = op
        for sub in op.regions:
            _producers(sub, out)


def _rewrite(region: Region, prod: dict[int, Op], target: CpuTarget) -> None:
    new_ops: list[Op] = []
    for op in region.ops:
        for sub in op.regions:
            _rewrite(sub, prod, target)
        if op.kind is OpKind.DOT:
            for i in (0, 1):
                v = op.operands[i]
                src = prod.get(v.id)
                if src is not None and src.kind in _STRIDED_VIEWS:
                    dense = Value(v.type, v.name)
                    new_ops.append(Op(OpKind.CONVERT_LAYOUT, [v], [dense], op.loc, Layout()))
                    op.operands[i] = dense
            shape = shape_of(op.result.type)
            dt = scalar_dtype(op.result.type)
            tiling = choose_tiling(shape[-2], shape[-1], dt.mem_bytes, target)
            op.attr = replace(op.attr or Dot(), tiling=tiling)
        new_ops.append(op)
    region.ops = new_ops


def infer_layouts(fn: Function, target: CpuTarget) -> Function:
    prod: dict[int, Op] = {}
    _producers(fn.body, prod)
    _rewrite(fn.body, prod, target)
    return fn
