"""Timing-only emulation's compiled parts: memo hits run in the sequencer's compiled loop
(isa.sequencer._memo_hit), known-value writes deferred until a read (OnChip.pending), and the
compiled helpers of the timing model and the profile. Each gives what the plain Python path
gives: the same records (the same objects where Python reuses one), errors, times, figures."""

from __future__ import annotations

import random

import numpy as np
import pytest

import isa.shape_memo as sm
from isa.asm import assemble
from isa.emulator import Emulator
from isa.errors import TimingOnlyError
from isa.machine import get_config
from isa.memory import OnChip
from isa.operands import SPACE_SBUF
from isa.profile import Profile
from isa.runner import layout_args, run
from isa.sequencer import C_ON
from isa.timing import simulate
from tests.isa.test_shape_memo import LOOP, _args, _looping_program, _outcome


def _python_only(monkeypatch):
    """Every engine instruction through `ShapeMemo.run_block` (the compiled path off)."""
    tables = sm.ShapeMemo.tables

    def off(self, mem, writer):
        out = tables(self, mem, writer)
        out[-1][C_ON] = 0
        return out

    monkeypatch.setattr(sm.ShapeMemo, "tables", off)


def _shape(records) -> list:
    """Which records are the same object, as first-occurrence numbers."""
    first: dict = {}
    return [first.setdefault(id(r), i) for i, r in enumerate(records)]


def test_compiled_hits_give_the_python_records_on_random_loops(monkeypatch):
    rng = random.Random(21)
    x = np.arange(1024, dtype=np.float32)
    cases = [(_looping_program(rng), rng.choice([(1,), (2,)])) for _ in range(120)]
    compiled = [_outcome(b, [x.copy()], g) for b, g in cases]
    _python_only(monkeypatch)
    python = [_outcome(b, [x.copy()], g) for b, g in cases]
    assert sum(isinstance(o, list) and len(o) > 20 for o in python) >= 10
    for i, (c, p) in enumerate(zip(compiled, python, strict=True)):
        assert c == p, f"program {i}"
        if isinstance(c, list):
            assert _shape(c) == _shape(p), f"program {i}"


@pytest.mark.parametrize("grid", [(1, 1, 1), (3, 1, 1)])
def test_a_warm_loop_runs_in_the_compiled_loop(monkeypatch, grid):
    """The second launch of a 40-iteration loop: every engine instruction a compiled hit
    (Python handles none), the records those of numeric emulation."""
    binary = assemble(LOOP.format(step=16 * 4))
    args = _args(40, 16 * 50)
    emu = Emulator(binary)
    hbm, values, _, data_base = layout_args(args, binary.data)
    run_args = (hbm, np.array(values), grid, data_base)
    first, _ = emu.run(*run_args, timing_only=True)
    calls = []
    block = sm.ShapeMemo.run_block
    monkeypatch.setattr(
        sm.ShapeMemo, "run_block", lambda self, *a: calls.append(a[1]) or block(self, *a)
    )
    again, _ = emu.run(*run_args, timing_only=True)
    numeric, _ = emu.run(*run_args)
    assert calls == [] and again == first == numeric
    assert len(again) > 40 * 7 * grid[0]
    mms = [r for r in again if r.mnemonic == "matmul" and r.program == 0]
    assert mms[0] is mms[2] and mms[1] is mms[3] and mms[0] is not mms[1]


def test_timing_only_names_the_same_error_after_compiled_hits():
    """A shifted load that leaves its array in a late iteration: found by the compiled check,
    raised by the handler with its own words, as in numeric emulation."""
    from isa.errors import OutOfBoundsError

    binary = assemble(LOOP.format(step=16 * 4))
    emu = Emulator(binary)
    hbm, values, _, data_base = layout_args(_args(40, 24), binary.data)  # fails at 17
    msgs = []
    for timing_only in (False, True, True):
        with pytest.raises(OutOfBoundsError) as e:
            emu.run(hbm, np.array(values), (1, 1, 1), data_base, timing_only=timing_only)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1] == msgs[2] and "overrun" in msgs[0]


SPILLS = """
.arg a
        arg     r1, a
        li      r9, {value}
        memset  sb.i32[0:1, 0, (1,8)], r9
        dma.load 0, sb.i32[0:1, {over}, (1,4)], hbm.i32[r1+0, (1,4)], 0.0
        ld      r6, sb.i32[0:1, {probe}, (1,1)]
        li      r7, 0
top:    addi    r7, r7, 1
        b.lt    r7, r6, top
        halt
"""


@pytest.mark.parametrize(
    "over, probe, known",
    [(0, 16, True), (16, 0, True), (0, 0, False), (32, 0, True)],
)
def test_a_deferred_memset_reads_as_written(over, probe, known):
    """memset (deferred), a DMA over part of it (that part unknown), then a loop bound read
    back: exact where the memset's bytes survive, a TimingOnlyError where the DMA wrote."""
    value = 7
    src = SPILLS.format(value=np.float32(value).view(np.int32), over=over, probe=probe)
    a = np.arange(4, dtype=np.int32) + 100
    num = run(src, [a], record=True)
    if known:
        tim = run(src, [a], record=True, timing_only=True)
        assert tim.records == num.records
    else:
        with pytest.raises(TimingOnlyError, match="loaded from a tile"):
            run(src, [a], record=True, timing_only=True)


def test_pending_writes_are_dropped_or_made_as_forgets_need():
    """A forget inside a deferred write drops it (nothing written); one across it makes it
    first; a reset drops what is left. Written flags match writing at once."""
    from isa.memory import DeferredTileAccess, TileAccess
    from isa.operands import Tile

    rng = np.random.default_rng(3)
    for trial in range(60):
        lazy, eager = OnChip(SPACE_SBUF, 16, 256), OnChip(SPACE_SBUF, 16, 256)
        regs = np.zeros(64, np.int64)
        for _ in range(int(rng.integers(1, 40))):
            p0 = int(rng.integers(0, 16))
            pn = int(rng.integers(1, 17 - p0))
            b0 = int(rng.integers(0, 64)) * 4
            n = int(rng.integers(1, (256 - b0) // 4 + 1))
            if rng.random() < 0.4:
                t = Tile(SPACE_SBUF, 5, 0, b0, p0, pn, ((1, n),))
                values = np.full((pn, n), int(rng.integers(1, 99)), np.int32)
                DeferredTileAccess(lazy, t, regs, 16).write(values)
                TileAccess(eager, t, regs, 16).write(values)
            else:
                for m in (lazy, eager):
                    m.forget(p0, p0 + pn, b0, b0 + 4 * n)
            if rng.random() < 0.2:
                lazy.materialize()
                np.testing.assert_array_equal(lazy.written, eager.written, f"trial {trial}")
                np.testing.assert_array_equal(
                    lazy.data[lazy.written != 0], eager.data[eager.written != 0]
                )
        lazy.materialize()
        np.testing.assert_array_equal(lazy.written, eager.written, f"trial {trial}")
        lazy.reset_written()
        assert not lazy.written.any() and lazy.pending == []


def test_a_covered_memset_writes_nothing():
    from isa.memory import DeferredTileAccess
    from isa.operands import Tile

    m = OnChip(SPACE_SBUF, 4, 64)
    t = Tile(SPACE_SBUF, 5, 0, 0, 0, 4, ((1, 8),))
    DeferredTileAccess(m, t, np.zeros(64, np.int64), 4).write(np.ones((4, 8), np.int32))
    assert len(m.pending) == 1 and not m.written.any()
    m.forget(0, 4, 0, 32)
    assert m.pending == [] and not m.written.any() and m._wbox is None


def test_compiled_profile_and_timing_helpers_match_python(monkeypatch):
    """Profile.build and simulate with their compiled helpers run as plain Python: the same
    figures, bit for bit."""
    import isa.profile as prof_mod
    import isa.timing as timing_mod
    from tests.isa.test_record_stream import PROGRAMS

    streams = []
    for name in ("control_flow", "matmul_loop", "dma_heavy"):
        binary, make, grid = PROGRAMS[name]()
        streams.append(run(binary, make(), grid, record=True, timing_only=True).records)
    config = get_config("nc-v2")

    def figures():
        out = []
        for records in streams:
            tl = simulate(records, config)
            p = Profile.build(records, tl, config, "timing-only")
            out.append((tl.starts_ns.tobytes(), tl.ends_ns.tobytes(), p.summary(),
                        p.dma_queue_busy_ns, p.active_ns))  # fmt: skip
        return out

    compiled = figures()
    for mod, names in ((prof_mod, ("_spans", "_sums")), (timing_mod, ("_first_seen", "_accesses"))):
        for name in names:
            fn = getattr(mod, name)
            assert hasattr(fn, "py_func"), f"{name} is not compiled"
            monkeypatch.setattr(mod, name, fn.py_func)
    with np.errstate(over="ignore"):  # the hash's uint64 products wrap, as compiled
        assert figures() == compiled


def test_memset_hits_on_every_core_and_after_release():
    """A memoised memset (a known loop bound) hit by programs on both cores, and by the next
    launch after `release` dropped the cores' memories: the bound read back is exact each
    time, and the memo keeps no view of a dropped memory."""
    src = f"""
.arg a
        arg     r1, a
        li      r9, {int(np.float32(5).view(np.int32))}
        memset  sb.i32[0:1, 0, (1,8)], r9
        ld      r6, sb.i32[0:1, 4, (1,1)]
        li      r7, 0
top:    dma.load 0, sb.i32[0:1, 64, (1,4)], hbm.i32[r1+0, (1,4)], 0.0
        loop    r7, r6, 1, top
        halt
"""
    binary = assemble(src)
    emu = Emulator(binary)
    hbm, values, _, data_base = layout_args([np.arange(4, dtype=np.int32)], binary.data)
    run_args = (hbm, np.array(values), (4, 1, 1), data_base)
    numeric, _ = emu.run(*run_args)
    assert sum(r.mnemonic == "dma.load" for r in numeric) == 4 * 5
    for _ in range(2):
        assert emu.run(*run_args, timing_only=True)[0] == numeric
        emu.release()
        memo = emu._kept_memo
        assert memo is not None and all(not e.accesses for e in memo.listed)
        assert any(e.defers for e in memo.listed)


@pytest.mark.parametrize("n_sets", [3, 70])
def test_many_memsets_then_a_bound_read_back(n_sets):
    """Memsets of distinct rectangles, memoised and taken by the compiled loop on later
    programs (it marks them known, Python makes the writes): beyond the 64 rectangles an
    OnChip lists, it leaves them to Python. A loop bound read back from one is exact."""
    sets = "\n".join(f"        memset  sb.i32[0:1, {4 * i}, (1,1)], r9" for i in range(n_sets))
    src = f"""
.arg a
        arg     r1, a
        li      r9, {int(np.float32(3).view(np.int32))}
{sets}
        ld      r6, sb.i32[0:1, {4 * (n_sets - 1)}, (1,1)]
        li      r7, 0
top:    dma.load 0, sb.i32[0:1, 4096, (1,4)], hbm.i32[r1+0, (1,4)], 0.0
        loop    r7, r6, 1, top
        halt
"""
    binary = assemble(src)
    emu = Emulator(binary)
    hbm, values, _, data_base = layout_args([np.arange(4, dtype=np.int32)], binary.data)
    run_args = (hbm, np.array(values), (5, 1, 1), data_base)
    numeric, _ = emu.run(*run_args)
    assert sum(r.mnemonic == "dma.load" for r in numeric) == 5 * 3
    for _ in range(2):
        assert emu.run(*run_args, timing_only=True)[0] == numeric
