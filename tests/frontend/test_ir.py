"""Tile IR: printer output, verifier invariants, and the pass pipeline keeping IR valid."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.dtypes import DType
from jitlang.ir import (
    UNKNOWN_LOC,
    BlockType,
    Function,
    Op,
    OpKind,
    Param,
    PointerType,
    Region,
    ScalarType,
    Value,
    walk,
)
from jitlang.passes import cse, dce, fold
from jitlang.passes.axisinfo import analyze
from jitlang.printer import print_function
from jitlang.verifier import VerificationError, verify
from tests.irutil import kernel_ir


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(
        out_ptr + offs,
        tl.load(x_ptr + offs, mask=mask) + tl.load(y_ptr + offs, mask=mask),
        mask=mask,
    )


@jl.jit
def loop_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK,), tl.float32)
    total = 0
    for i in range(n):
        acc += tl.load(x_ptr + i * BLOCK + offs)
        total += i
    if total > 3:
        acc = acc * 2.0
    tl.store(out_ptr + offs, acc)


@jl.jit
def dup_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    a = offs * 2 + 1
    b = offs * 2 + 1
    unused = offs * 3  # noqa: F841
    tl.store(out_ptr + offs, (a + b).to(tl.float32) + 0 * 4)


X = np.zeros(64, np.float32)


def test_printer_snapshot_of_vector_add():
    fn = optimize_tile_ir(kernel_ir(add_kernel, X, X, X, 64, BLOCK=64), CompileOptions())
    text = print_function(fn)
    expected = [
        "func @add_kernel(%x_ptr: ptr<fp32> {div=16}, %y_ptr: ptr<fp32> {div=16}, "
        "%out_ptr: ptr<fp32> {div=16}, %n: int32 {div=16}) {",
        "  %pid = program_id axis=0 : int32",
        "  %offs = binary add",
        "  %mask = cmp lt %offs",
        "  %",  # the first load's result
        "  store",
        "  return",
    ]
    lines = text.splitlines()
    pos = 0
    for want in expected:
        while pos < len(lines) and not (
            lines[pos].startswith(want) and (want != "  %" or "= load" in lines[pos])
        ):
            pos += 1
        assert pos < len(lines), f"missing line starting with {want!r} in:\n{text}"
    assert "make_range start=0 end=64 : block<64xint32>" in text
    # every op carries a source location
    assert all("//" in ln for ln in lines[1:-1])


def test_printer_shows_regions():
    fn = kernel_ir(loop_kernel, X, X, 4, BLOCK=16)
    text = print_function(verify(fn))
    assert "for " in text and "^body(" in text and "yield" in text
    assert "if " in text and "^then(" in text and "^else(" in text


def test_verifier_accepts_frontend_output_and_every_pass():
    for fn in (
        kernel_ir(add_kernel, X, X, X, 64, BLOCK=64),
        kernel_ir(loop_kernel, X, X, 4, BLOCK=16),
        kernel_ir(dup_kernel, X, X, BLOCK=16),
    ):
        verify(fn)
        for p in (fold, cse, dce):
            verify(p(fn))


def _fn(ops, params=(), args=()):
    body = Region(list(args), ops + [Op(OpKind.RETURN, [], [], UNKNOWN_LOC)])
    return Function("f", list(params), body, UNKNOWN_LOC)


def test_verifier_rejects_use_before_definition():
    v = Value(ScalarType(DType.I32))
    op = Op(OpKind.BINARY, [v, v], [Value(ScalarType(DType.I32))], UNKNOWN_LOC)
    with pytest.raises(VerificationError, match="before definition"):
        verify(_fn([op]))


def test_verifier_rejects_mismatched_types():
    from jitlang.ir import Binary, BinaryOp, Const

    a = Op(OpKind.CONSTANT, [], [Value(ScalarType(DType.I32))], UNKNOWN_LOC, Const(1))
    b = Op(OpKind.CONSTANT, [], [Value(ScalarType(DType.F32))], UNKNOWN_LOC, Const(1.0))
    add = Op(
        OpKind.BINARY,
        [a.result, b.result],
        [Value(ScalarType(DType.I32))],
        UNKNOWN_LOC,
        Binary(BinaryOp.ADD),
    )
    with pytest.raises(VerificationError, match="differs from result"):
        verify(_fn([a, b, add]))


def test_verifier_rejects_bad_store():
    p = Value(PointerType(DType.F32))
    c = Op(
        OpKind.CONSTANT,
        [],
        [Value(ScalarType(DType.I32))],
        UNKNOWN_LOC,
        __import__("jitlang.ir").ir.Const(1),
    )
    st = Op(OpKind.STORE, [p, c.result], [], UNKNOWN_LOC)
    with pytest.raises(VerificationError, match="cannot store"):
        verify(_fn([c, st], [Param("p", PointerType(DType.F32))], [p]))


def test_verifier_rejects_missing_terminator():
    fn = Function("f", [], Region([], []), UNKNOWN_LOC)
    with pytest.raises(VerificationError, match="return"):
        verify(fn)


def test_cse_and_dce_remove_duplicates_and_dead_code():
    fn = kernel_ir(dup_kernel, X, X, BLOCK=16)
    before = sum(1 for _ in walk(fn.body))
    fn = verify(dce(verify(cse(verify(fold(fn))))))
    after = list(walk(fn.body))
    assert len(after) < before
    muls = [op for op in after if op.kind is OpKind.BINARY and op.attr.op.value == "mul"]
    assert len(muls) == 1, print_function(fn)  # `offs * 2` shared, `offs * 3` dropped


def test_fold_turns_splat_of_constant_into_block_constant():
    fn = verify(fold(kernel_ir(loop_kernel, X, X, 4, BLOCK=16)))
    consts = [
        op
        for op in walk(fn.body)
        if op.kind is OpKind.CONSTANT and isinstance(op.result.type, BlockType)
    ]
    assert consts, print_function(fn)


def test_axis_info_contiguity_and_divisibility():
    fn = optimize_tile_ir(kernel_ir(add_kernel, X, X, X, 64, BLOCK=64), CompileOptions())
    ai = analyze(fn)
    loads = [op for op in walk(fn.body) if op.kind is OpKind.LOAD]
    for ld in loads:
        info = ai.get(ld.operands[0])
        assert info.contiguity == (64,)
        assert info.divisibility[0] >= 16


@jl.jit
def strided_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    rows = offs[:, None] * BLOCK + offs[None, :]
    tl.store(out_ptr + offs, tl.load(x_ptr + offs * 2))
    tl.store(out_ptr + rows, tl.load(x_ptr + rows))


def test_axis_info_strided_and_2d():
    fn = optimize_tile_ir(kernel_ir(strided_kernel, X, X, BLOCK=8), CompileOptions())
    ai = analyze(fn)
    loads = [op for op in walk(fn.body) if op.kind is OpKind.LOAD]
    assert ai.get(loads[0].operands[0]).contiguity == (1,)
    info2 = ai.get(loads[1].operands[0])
    assert info2.contiguity == (1, 8)
