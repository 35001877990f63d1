"""The dot micro-kernel's leftover tile: rows past the last full MR-row tile get a tile as wide as
the register budget allows (a short tile with the full tile's width has too few accumulators to
hide the FMA latency). Correctness of leftover rows is in tests/e2e/test_cpu_hosts.py; of the
next-panel prefetch, in tests/e2e/test_matmul_paths.py. Here: the prefetched elements of a run
touch every cache line the run does, wherever it starts."""

from __future__ import annotations

import pytest

from codegen.cpu.dot import LINE, _leftover_nv, _Panel
from codegen.cpu.target import CpuTarget

AVX2 = CpuTarget(cpu="x86-64-v3", vector_bytes=32, vector_registers=16)
AVX512 = CpuTarget(cpu="znver5", vector_bytes=64, vector_registers=32)


@pytest.mark.parametrize(
    "target,rows,vectors,nv,want",
    [
        (AVX2, 2, 16, 2, 4),  # 6x16 tiles over 128 rows leave 2 rows: 2x32 (8 accumulators)
        (AVX2, 1, 16, 2, 4),  # 1 row: 4 vectors (8 would need 16 registers)
        (AVX2, 5, 16, 2, 2),  # no wider tile fits 15 registers: keep the full tile's width
        (AVX2, 2, 6, 2, 3),  # the width must divide the row's vectors
        (AVX2, 2, 2, 2, 2),  # nothing wider divides
        (AVX512, 2, 8, 2, 8),  # 32 registers: 2x8 vectors + 8 B vectors
        (AVX512, 3, 8, 2, 4),  # 3x8 + 8 = 32 > 31: 4 vectors
    ],
)
def test_leftover_width(target, rows, vectors, nv, want):
    got = _leftover_nv(rows, vectors, nv, target)
    assert got == want
    budget = target.vector_registers - target.reserved_registers
    assert vectors % got == 0 and rows * got + got <= budget or got == nv


@pytest.mark.parametrize("run", [1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100, 256])
@pytest.mark.parametrize("ebytes", [1, 2, 4, 8])
def test_prefetched_lines_cover_a_run(run, ebytes):
    panel = _Panel(None, 1, (3, run), ebytes, None)
    offsets = panel.offsets()
    assert len(offsets) == panel.per_run and panel.total == 3 * panel.per_run
    for start in range(0, 2 * LINE, ebytes):  # every alignment of the run's first element
        touched = {(start + i * ebytes) // LINE for i in range(run)}
        fetched = {(start + c * ebytes) // LINE for c in offsets}
        assert fetched == touched, (start, offsets)
    # no more prefetches than lines a badly aligned run can touch
    assert panel.per_run <= -(-run * ebytes // LINE) + 1
