"""Where a program-ahead prefetch (codegen/cpu/prefetch.py `plan_program_ahead`) points: the
kernel is lowered with every prefetch replaced by a call that records (address, distance), run
natively on one thread's slice of the grid, and each recorded target is compared with the row
that thread really runs `PROGRAMS_AHEAD` programs later. A lockstep call runs its programs
round by round (rows p, p + 1, ... of its group, then the group's rows one round later), so the
target is neither the row a fixed jump ahead nor a row of the other thread's group."""

from __future__ import annotations

import ctypes
import struct

import llvmlite.binding as llvm
import numpy as np
import pytest

import codegen.cpu.memory as memory
from codegen.cpu import llvmutil as U
from codegen.cpu.cachesize import STREAM_GLOBAL
from codegen.cpu.engine import host_target_machine
from codegen.cpu.loader import ALL_ROUNDS
from codegen.cpu.lower import lower_to_llvm
from codegen.cpu.prefetch import PROGRAMS_AHEAD
from codegen.cpu.target import cpu_target
from jitlang.compiler import CompileOptions, optimize_tile_ir
from jitlang.passes.axisinfo import analyze
from tests.e2e.tutorial_kernels import layer_norm_persistent, softmax_kernel
from tests.irutil import kernel_ir

RECORD = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64)


def _recording_emit(low, addr, distance, write=False):
    b = low.b
    fn = U.declare(low.module, "jl_test_prefetch", U.VOID, [U.I64, U.I64])
    b.call(fn, [addr, distance])


def _run_recorded(monkeypatch, jf, args, kw, grid, start, end):
    """[(address, distance)] of every prefetch the call over programs [start, end) makes."""
    monkeypatch.setattr(memory, "emit_prefetch", _recording_emit)
    fn = optimize_tile_ir(kernel_ir(jf, *args, **kw), CompileOptions())
    mod, _ = lower_to_llvm(fn, analyze(fn), fn.name, False, cpu_target())
    tm = host_target_machine()
    seen: list[tuple[int, int]] = []
    cb = RECORD(lambda a, d: seen.append((a, d)))
    llvm.add_symbol("jl_test_prefetch", ctypes.cast(cb, ctypes.c_void_p).value)
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(mod)), tm)
    engine.finalize_object()
    g = engine.get_global_value_address(STREAM_GLOBAL)
    ctypes.c_int64.from_address(g).value = 0  # every launch counts as large: prefetch ahead
    slots = [grid, 1, 1]
    for a in args:
        if isinstance(a, np.ndarray):
            slots.append(a.ctypes.data)
        else:
            slots.append(a)
    slots += ALL_ROUNDS  # a lockstep call's round window: every round
    kinds = "".join("d" if isinstance(a, float) else "q" for a in slots)
    buf = struct.pack("<" + kinds, *slots)
    entry = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_char_p)
    entry(engine.get_function_address(fn.name))(start, end, 1, buf)
    return seen


def _lockstep_rows(start, end, grid, n_rows):
    """The rows a lockstep call over programs [start, end) runs, in order."""
    out = []
    for k in range(n_rows):
        out += [p + k * grid for p in range(start, end) if p + k * grid < n_rows]
    return out


def _check(seen, base, row_bytes, order, grid, first_round):
    """Every prefetch made for row order[i] targets the same column of order[i + AHEAD] (rows
    past the end continue the schedule), and from the second round on none is left at 0."""
    row_of = {}
    for r in order:
        row_of.setdefault(r, len(row_of))
    group = first_round
    ext = order + [order[-group + (i % group)] + grid * (1 + i // group) for i in range(8)]
    prefetched = 0
    for addr, dist in seen:
        row, col = divmod(addr - base, row_bytes)
        i = row_of[row]
        if dist == 0:
            assert i < first_round, f"row {row} (run {i}) not prefetched ahead"
            continue
        t_row, t_col = divmod(addr + dist - base, row_bytes)
        assert (t_row, t_col) == (ext[i + PROGRAMS_AHEAD], col), (row, i, t_row)
        prefetched += 1
    assert prefetched > len(seen) // 2


@pytest.mark.parametrize("start,end", [(0, 4), (4, 8), (0, 8), (3, 8), (6, 7)])
def test_lockstep_softmax_prefetches_the_threads_own_next_rows(monkeypatch, start, end):
    grid, n_rows, n_cols = 8, 70, 256
    x = np.zeros((n_rows, n_cols), np.float32)
    y = np.empty_like(x)
    args = (y, x, n_cols, n_cols, n_rows, n_cols)
    seen = _run_recorded(monkeypatch, softmax_kernel, args, {"BLOCK_SIZE": 256}, grid, start, end)
    order = _lockstep_rows(start, end, grid, n_rows)
    assert seen and {divmod(a - x.ctypes.data, 1024)[0] for a, _ in seen} == set(order)
    _check(seen, x.ctypes.data, 1024, order, grid, end - start)


def test_lockstep_inner_column_loops_prefetch_each_chunk_in_the_row_ahead(monkeypatch):
    # two column blocks per row: the loads run twice per (round, program); weights and biases
    # are the same in every program and get no prefetch
    grid, n_rows, n = 8, 40, 256
    x = np.zeros((n_rows, n), np.float32)
    y = np.empty_like(x)
    w, b = np.ones(n, np.float32), np.zeros(n, np.float32)
    mean, rstd = np.empty(n_rows, np.float32), np.empty(n_rows, np.float32)
    args = (x, y, w, b, mean, rstd, n_rows, n, n, 1e-5)
    seen = _run_recorded(monkeypatch, layer_norm_persistent, args, {"BLOCK_SIZE": 128}, grid, 2, 6)
    base = x.ctypes.data
    assert all(base <= a < base + x.nbytes for a, _ in seen)  # only X is prefetched
    blocks = {divmod(a - base, n * 4)[1] // 512 for a, _ in seen}
    assert blocks == {0, 1}  # the chunks of both column blocks
    _check(seen, base, n * 4, _lockstep_rows(2, 6, grid, n_rows), grid, 4)


@pytest.mark.parametrize("start,end", [(0, 16), (5, 11)])
def test_one_row_per_program_prefetches_the_program_after_next(monkeypatch, start, end):
    from tests.codegen.test_prefetch import row_scale

    x = np.zeros((20, 256), np.float32)
    seen = _run_recorded(monkeypatch, row_scale, (x, x, 256), {"BLOCK": 256}, 20, start, end)
    _check(seen, x.ctypes.data, 1024, list(range(start, end)), 1, 1)
