"""Timing-only memo plans made in bulk (`isa.plan_groups`, `ShapePlans.plan_all` with the code
words): the same plans, rows and records as planning one instruction at a time."""

from __future__ import annotations

import numpy as np
import pytest

from isa.asm import Builder
from isa.emulator import Emulator
from isa.operands import Tile, hbm, ps, sb
from isa.runner import layout_args
from isa.table import AccMode, ActFn, ReduceOp


def _program(queues: int = 16) -> object:
    """Unrolled loads that differ in HBM offset (negative ones too) and queue; loads that
    cannot share a plan (a limit register; a bound register); equal
    matmuls at several pcs; an activation and stores. Two passes over the same data."""
    b = Builder(file="plan_groups.py")
    b.emit("arg", 1, b.arg("a"))
    b.emit("arg", 2, b.arg("b"))
    b.emit("arg", 3, b.arg("out"))
    b.emit("addi", 4, 1, 200 * 512 * 2)  # inside `a`: a limit that masks
    b.emit("addi", 5, 2, 256 * 512 * 2)  # the end of `b`: loads at negative offsets
    b.emit("li", 6, 20)  # a bound register: 20 of 32 rows
    q = 0
    for rep in range(2):
        for i in range(8):
            b.loc(10 + i)
            b.dma_load(q % queues, sb("bf16", 0, 32, (1, 512), off=i * 1024),
                       hbm("bf16", 1, (512, 32), (1, 512), off=i * 32 * 512 * 2), 0.0)  # fmt: skip
            b.dma_load((q + 1) % queues, sb("bf16", 0, 32, (1, 512), off=16384 + i * 1024),
                       hbm("bf16", 5, (512, 32), (1, 512), off=(i - 8) * 32 * 512 * 2),
                       0.0)  # fmt: skip
            b.dma_load(q % queues, sb("bf16", 32, 32, (1, 512), off=i * 1024),
                       hbm("bf16", 1, (512, 32), (1, 512), off=i * 32 * 512 * 2, limit=4),
                       0.0)  # fmt: skip
            b.dma_load(q % queues, sb("bf16", 64, 32, (1, 512), off=i * 1024),
                       hbm("bf16", 1, (512, 32, 6), (1, 512), off=i * 32 * 512 * 2),
                       0.0)  # fmt: skip
            q += 2
        for i in range(8):
            b.loc(30)
            b.matmul(
                AccMode.SET if i == 0 else AccMode.ACC,
                ps("f32", 0, 128, (1, 512), off=2048 * (rep % 2)),
                sb("bf16", 0, 32, (1, 128), off=(i % 2) * 1024),
                sb("bf16", 0, 32, (1, 512), off=16384 + (i % 2) * 1024),
            )
        b.act(ActFn.COPY, sb("bf16", 0, 128, (1, 512), off=32768),
              ps("f32", 0, 128, (1, 512), off=2048 * (rep % 2)), 0.0, 1.0, Tile.NONE,
              ReduceOp.ADD)  # fmt: skip
        for s in range(4):
            b.dma_store((q + s) % queues, hbm("bf16", 3, (512, 32), (1, 512), off=s * 32 * 1024),
                        sb("bf16", s * 32, 32, (1, 512), off=32768))  # fmt: skip
    b.halt()
    return b.build()


def _args():
    import ml_dtypes

    rng = np.random.default_rng(3)
    a = rng.standard_normal((256, 512)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((256, 512)).astype(ml_dtypes.bfloat16)
    return [a, b, np.zeros((128, 512), ml_dtypes.bfloat16)]


def _key(r):
    return (r.pc, r.mnemonic, r.engine, r.cost, r.params, r.reads, r.writes, r.queue, r.line)


def _run(binary, bulk: bool, timing_only: bool = True, runs: int = 2):
    emu = Emulator(binary)
    if not bulk:  # plan one by one: no code words
        plan_all = emu._plans.plan_all
        emu._plans.plan_all = lambda instrs, engine_at, code=None: plan_all(instrs, engine_at)
    hbm_, values, _, base = layout_args(_args(), binary.data)
    out = [
        [
            _key(r)
            for r in emu.run(hbm_, np.array(values), (1, 1, 1), base, timing_only=timing_only)[0]
        ]  # fmt: skip
        for _ in range(runs)
    ]
    return emu, out


def test_bulk_plans_match_one_by_one_and_numeric_records():
    binary = _program()
    bulk, got = _run(binary, True)
    single, want = _run(binary, False)
    _, numeric = _run(binary, True, timing_only=False, runs=1)
    assert got == want and got[0] == numeric[0]
    fb, fs = bulk._plans.fp, single._plans.fp
    cols = [0, 2, 3, 4, 5, 6]
    assert (fb[:, cols] == fs[:, cols]).all()
    # the plans partition the pcs the same way (numbered in another order)
    pairs = {(a, b) for a, b, k in zip(fb[:, 1], fs[:, 1], fb[:, 0], strict=True) if k}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    assert bulk._plans.n_plans == single._plans.n_plans
    shared = fb[fb[:, 0] == 2]
    assert len(shared) and (shared[:, 3] < 0).any() and len(set(shared[:, 4])) > 4
    # every pc Python met has its `at` from the group's row: the same plan as one by one
    byid = {p.id: p for p in single._plans.by_id}
    for pc, at in enumerate(bulk._plans.at):
        if at:
            other = single._plans.at[pc] or single._plans.plan(pc, single.instrs[pc])
            assert (at[1], at[2]) == (other[1], other[2])
            assert byid[dict(pairs)[at[0].id]] is other[0]


def test_limit_and_bound_loads_are_planned_one_by_one():
    binary = _program()
    emu, _ = _run(binary, True, runs=1)
    fp = emu._plans.fp
    loads = [pc for pc, ins in enumerate(emu.instrs) if ins.mnemonic == "dma.load"]
    limited = [pc for pc in loads if emu.instrs[pc].ops[2].limit]
    based = [pc for pc in loads if emu.instrs[pc].ops[2].dims[0][2]]
    assert len(limited) == len(based) == 16
    for pcs in (limited, based):
        assert (fp[pcs, 0] == 1).all() and len(set(fp[pcs, 1])) == len(pcs) // 2


@pytest.mark.parametrize("cut", [1, 3])
def test_code_the_grouping_cannot_walk_is_planned_one_by_one(cut):
    """More instructions than the words hold (cut 1): the grouping gives up and the plans are
    made one by one; a code section cut inside its last instruction (cut 3): decoding stops
    before it and the grouping walks what was decoded."""
    binary = _program()
    binary.code = binary.code[:-cut] if cut > 1 else binary.code
    emu = Emulator(binary)
    hbm_, values, _, base = layout_args(_args(), binary.data)
    if cut == 1:
        emu.instrs.append(emu.instrs[-1])  # more instructions than the words hold
        emu._engine_at.append(False)
        emu._plans = type(emu._plans)(len(emu.instrs), emu.lines + [0])
    emu._plans.plan_all(emu.instrs, emu._engine_at, binary.code)
    assert emu._plans.all_planned and emu._plans.fp[:, 0].any()


def _count_derived(monkeypatch) -> list:
    """Spy on the entries the compiled loop derives (`ShapeMemo.made_derived`): the mnemonic
    of each, in order."""
    import isa.shape_memo as sm
    from isa.sequencer import C_NDERIV

    made: list = []
    derived = sm.ShapeMemo.made_derived

    def spy(self):
        n = int(self.ctl[C_NDERIV])
        derived(self)
        made.extend(b[0] for b in self.bodies[len(self.bodies) - n :])

    monkeypatch.setattr(sm.ShapeMemo, "made_derived", spy)
    return made


def _no_derivation(monkeypatch) -> None:
    """No entry may be derived from: every tile-moved instruction is a miss (its handler)."""
    import isa.shape_memo as sm

    monkeypatch.setattr(sm.ShapeMemo, "_derivable", lambda self, *a: None)


def test_tile_moved_instructions_are_derived_from_a_sibling(monkeypatch):
    """The loads, matmuls and stores of `_program` that differ in their tiles' offsets only
    take a sibling's result in the compiled loop (no handler call) and give the numeric
    records (the first test); with no entry to derive from (each a miss: its handler), the
    same records, on a warm emulator too."""
    binary = _program()
    made = _count_derived(monkeypatch)
    _, got = _run(binary, True, runs=2)
    assert made.count("dma.load") == 14  # two kinds of shareable load, 8 each
    assert made.count("matmul") >= 2  # (on the first run: the second hits them)
    _no_derivation(monkeypatch)
    made.clear()
    _, want = _run(binary, True, runs=2)
    assert got == want and not made


def test_the_nki_mirror_derives_its_records_as_misses_give_them(monkeypatch):
    """The NKI step-2 mirror (unrolled, 64x64x128 so that it is small): derived loads, matmuls,
    copies and stores give the records (and timeline) of the handlers and of numeric
    emulation."""
    import importlib.util
    from pathlib import Path

    import ml_dtypes

    from isa.timing import simulate

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("nk", root / "benchmarks" / "nki_matmul_steps.py")
    nk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nk)
    prog = nk.isa_step2(256, 512, 1024)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s).astype(ml_dtypes.bfloat16) for s in ((512, 256), (512, 1024))]
    args.append(np.zeros((256, 1024), ml_dtypes.bfloat16))

    def records(timing_only=True):
        emu = Emulator(prog)
        hbm_, values, _, base = layout_args([a.copy() for a in args], prog.data)
        recs = emu.run(hbm_, np.array(values), (1, 1, 1), base, timing_only=timing_only)[0]
        tl = simulate(recs, emu.config)
        return [_key(r) for r in recs], tl.starts_ns.tolist(), tl.ends_ns.tolist(), tl.total_ns

    made = _count_derived(monkeypatch)
    got = records()
    assert {"dma.load", "dma.store", "matmul", "act"} <= set(made) and len(made) > 50
    numeric = records(timing_only=False)
    _no_derivation(monkeypatch)
    assert got == records() == numeric


def test_derived_entries_serve_python_on_the_next_run(monkeypatch):
    """Entries the compiled loop derived are made as Python objects when Python meets them
    (the compiled path off on the next run): the same records as with no derivation."""
    import isa.shape_memo as sm
    from isa.sequencer import C_ON

    binary = _program()
    emu = Emulator(binary)
    hbm_, values, _, base = layout_args(_args(), binary.data)

    def run():
        return [_key(r) for r in emu.run(hbm_, np.array(values), (1, 1, 1), base,
                                         timing_only=True)[0]]  # fmt: skip

    first = run()
    memo = emu._kept_memo
    assert memo.listed.count(None) >= 14  # derived, not made as objects yet
    tables = sm.ShapeMemo.tables

    def off(self, mem, writer):
        out = tables(self, mem, writer)
        out[8][C_ON] = 0
        return out

    monkeypatch.setattr(sm.ShapeMemo, "tables", off)
    second = run()
    assert not memo.lazy and not memo.src and None not in memo.listed
    _no_derivation(monkeypatch)
    _, want = _run(binary, True, runs=1)
    assert first == second == want[0]


@pytest.mark.parametrize("off", [1, 192 * 1024 - 512, -1024])
def test_a_derived_load_fails_as_the_handler_does(monkeypatch, off):
    """A load whose moved tile is misaligned or outside the partition: the handler's error."""
    from isa.errors import EmulatorError

    b = Builder(file="derive.py")
    b.emit("arg", 1, b.arg("a"))
    for i, tile_off in enumerate((0, 1024, off)):
        b.loc(5 + i)
        b.dma_load(i, sb("bf16", 0, 32, (1, 512), off=tile_off),
                   hbm("bf16", 1, (512, 32), (1, 512), off=i * 1024), 0.0)  # fmt: skip
    b.halt()
    binary = b.build()

    def error():
        emu = Emulator(binary)
        hbm_, values, _, base = layout_args(_args()[:1], binary.data)
        with pytest.raises(EmulatorError) as e:
            emu.run(hbm_, np.array(values), (1, 1, 1), base, timing_only=True)
        return str(e.value)

    made = _count_derived(monkeypatch)
    got = error()
    assert made == ["dma.load"]
    _no_derivation(monkeypatch)
    assert got == error() and "derive.py:7" in got


@pytest.mark.parametrize("p0", [96, 100, 97])
def test_a_load_moved_across_partitions_fails_as_the_handler_does(monkeypatch, p0):
    """Loads that differ in their tile's first partition share a plan: one moved past the
    last partition (p0 + 32 > 128) gives the handler's error, one inside derives."""
    from isa.errors import EmulatorError

    b = Builder(file="derive_p.py")
    b.emit("arg", 1, b.arg("a"))
    for i, first in enumerate((0, 32, p0)):
        b.loc(5 + i)
        b.dma_load(i, sb("bf16", first, 32, (1, 512), off=1024 * i),
                   hbm("bf16", 1, (512, 32), (1, 512), off=i * 1024), 0.0)  # fmt: skip
    b.halt()
    binary = b.build()

    def outcome():
        emu = Emulator(binary)
        hbm_, values, _, base = layout_args(_args()[:1], binary.data)
        try:
            out = emu.run(hbm_, np.array(values), (1, 1, 1), base, timing_only=True)[0]
            return [_key(r) for r in out]
        except EmulatorError as e:
            return str(e)

    made = _count_derived(monkeypatch)
    got = outcome()
    assert made == ["dma.load"] * (2 if p0 == 96 else 1)
    _no_derivation(monkeypatch)
    assert got == outcome()
    assert isinstance(got, list) == (p0 == 96), got


@pytest.mark.parametrize("off", [1024, 2048 - 4, 2048 * 8 - 512, 6, 2048 * 8])
def test_a_derived_matmul_fails_as_the_handler_does(monkeypatch, off):
    """A matmul whose moved result crosses a PSUM bank, leaves the partition or is
    misaligned: the handler's error (the bank-aligned one passes)."""
    from isa.errors import EmulatorError

    b = Builder(file="derive_mm.py")
    for i, dst_off in enumerate((0, 2048, off)):
        b.loc(5 + i)
        b.matmul(AccMode.SET, ps("f32", 0, 64, (1, 256), off=dst_off),
                 sb("bf16", 0, 32, (1, 64), off=4096 * i), sb("bf16", 0, 32, (1, 256)))  # fmt: skip
    b.halt()
    binary = b.build()

    def outcome():
        from isa.runner import run

        try:
            out = run(binary, [], (1,), record=True, timing_only=True).records
            return [_key(r) for r in out]
        except EmulatorError as e:
            return str(e)

    made = _count_derived(monkeypatch)
    got = outcome()
    assert made[:1] == ["matmul"]
    _no_derivation(monkeypatch)
    want = outcome()
    assert got == want
    assert isinstance(got, list) == (off == 1024), got  # the others fail


def test_plans_from_arrays_match_plans_from_lists():
    """`Emulator` hands planning its code words and engine mask as arrays (no conversion at
    the first timing-only run): the same rows as from the binary's lists."""
    binary = _program()
    emu = Emulator(binary)
    assert emu.words.dtype == np.uint64 and emu.words.tolist() == binary.code
    assert emu._engine_mask.tolist() == emu._engine_at
    lists = type(emu._plans)(len(emu.instrs), emu.lines)
    lists.plan_all(emu.instrs, emu._engine_at, binary.code)
    emu._plans.plan_all(emu.instrs, emu._engine_mask, emu.words)
    assert (lists.fp == emu._plans.fp).all() and lists.n_plans == emu._plans.n_plans
    # without the words, the mask is read one by one: the same rows again
    single = type(emu._plans)(len(emu.instrs), emu.lines)
    single.plan_all(emu.instrs, emu._engine_mask)
    assert (
        single.n_plans == lists.n_plans
        and (single.fp[:, 0] > 0).sum() == (lists.fp[:, 0] > 0).sum()
    )


def test_code_words_beyond_64_bits_construct_and_plan_one_by_one():
    """Words numpy cannot hold as uint64 (a hand-made Binary): no array, plans one by one."""
    binary = _program()
    binary.code = list(binary.code) + [1 << 64]  # decoding stops at it
    emu = Emulator(binary)
    assert emu.words is None and emu.decode_error is not None
    emu._plans.plan_all(emu.instrs, emu._engine_mask, emu.words)
    assert emu._plans.all_planned and (emu._plans.fp[:, 0] > 0).any()


def _random_unrolled(rng) -> object:
    """Unrolled loads, matmuls, copies and stores whose tiles sit at random offsets and
    partitions, some of them misplaced (misaligned, past a partition's end or the last
    partition, a matmul result across a PSUM bank)."""
    b = Builder(file="random_unrolled.py")
    b.emit("arg", 1, b.arg("a"))
    b.emit("arg", 2, b.arg("out"))
    sb_end = 192 * 1024
    for i in range(rng.randrange(4, 40)):
        b.loc(10 + i)
        kind = rng.random()
        bad = rng.random() < 0.04  # a misplaced tile now and then
        off = 1 if bad else rng.choice([0, 1024, 4096, 2 * rng.randrange(sb_end // 2 - 512)])
        if kind < 0.5:
            p0 = rng.choice([0, 32, 64, 96, 100 if rng.random() < 0.1 else 96])
            b.dma_load(rng.randrange(16), sb("bf16", p0, 32, (1, 512), off=off),
                       hbm("bf16", 1, (512, 32), (1, 512), off=rng.randrange(8) * 2048),
                       0.0)  # fmt: skip
        elif kind < 0.75:
            dst = rng.choice([0, 2048, 4096, 1024, 2048 * 7, 2048 - 4 if bad else 0])
            b.matmul(rng.choice([AccMode.SET, AccMode.ACC]), ps("f32", 0, 64, (1, 256), off=dst),
                     sb("bf16", 0, 32, (1, 64), off=off), sb("bf16", 0, 32, (1, 256)))  # fmt: skip
        elif kind < 0.9:
            b.act(ActFn.COPY, sb("bf16", 0, 64, (1, 256), off=off),
                  ps("f32", 0, 64, (1, 256), off=rng.choice([0, 2048])), 0.0, 1.0, Tile.NONE,
                  ReduceOp.ADD)  # fmt: skip
        else:
            p0 = rng.choice([0, 32, 64, 96])
            b.dma_store(rng.randrange(16), hbm("bf16", 2, (512, 32), (1, 512),
                                               off=rng.randrange(4) * 2048),
                        sb("bf16", p0, 32, (1, 512), off=off))  # fmt: skip
    b.halt()
    return b.build()


def test_derivation_matches_misses_on_random_unrolled_programs(monkeypatch):
    """Random unrolled programs timed with derivation and with none (each instruction a miss
    or a hit of its own): the same records, or the same error, word for word. (Numeric
    agreement: the NKI mirror test; these read tiles nothing wrote, which numeric rejects.)"""
    import random

    import ml_dtypes

    from isa.errors import EmulatorError

    rng = random.Random(12)
    data = [np.ones((256, 512), ml_dtypes.bfloat16), np.zeros((128, 512), ml_dtypes.bfloat16)]

    def outcome(binary):
        emu = Emulator(binary)
        hbm_, values, _, base = layout_args([d.copy() for d in data], binary.data)
        try:
            recs = emu.run(hbm_, np.array(values), (1, 1, 1), base, timing_only=True)[0]
            return [_key(r) for r in recs]
        except EmulatorError as e:
            return str(e)

    cases = [_random_unrolled(rng) for _ in range(60)]
    made = _count_derived(monkeypatch)
    derived = [outcome(b) for b in cases]
    assert len(made) > 200 and {"dma.load", "matmul", "act", "dma.store"} <= set(made)
    kinds = {type(o) for o in derived}
    assert kinds == {list, str}, kinds
    _no_derivation(monkeypatch)
    for i, b in enumerate(cases):
        assert derived[i] == outcome(b), f"program {i}"


def test_shifted_on_chip_templates_give_the_records_of_misses(monkeypatch):
    """Derived loads and stores share their sibling's body, their on-chip ranges moved by
    their templates' shifts (bytes and partitions): on random unrolled programs, cold and
    on the next run (the memo kept), the same records and timeline as with every instruction a
    miss (a body each), with fewer bodies."""
    import random

    import ml_dtypes

    from isa.errors import EmulatorError
    from isa.timing import simulate

    rng = random.Random(5)
    data = [np.ones((256, 512), ml_dtypes.bfloat16), np.zeros((128, 512), ml_dtypes.bfloat16)]

    def outcome(binary):
        emu = Emulator(binary)
        hbm_, values, _, base = layout_args([d.copy() for d in data], binary.data)
        runs = []
        for _ in range(2):
            try:
                recs = emu.run(hbm_, np.array(values), (1, 1, 1), base, timing_only=True)[0]
            except EmulatorError as e:
                runs.append(str(e))
                continue
            tl = simulate(recs, emu.config)
            tpl = recs.templates
            shifts = (bool(tpl.oshift.any()), bool(tpl.pshift.any()))
            runs.append(([_key(r) for r in recs], tl.starts_ns.tolist(), tl.ends_ns.tolist(),
                         len(tpl.bodies), shifts))  # fmt: skip
        return runs

    cases = [_random_unrolled(rng) for _ in range(60)]
    derived = [outcome(b) for b in cases]
    ok = [r for runs in derived for r in runs if not isinstance(r, str)]
    assert len(ok) > 30
    assert any(r[4][0] for r in ok) and any(r[4][1] for r in ok)  # bytes, partitions moved
    _no_derivation(monkeypatch)
    fewer = 0
    for i, b in enumerate(cases):
        want = outcome(b)
        for got, w in zip(derived[i], want, strict=True):
            if isinstance(got, str) or isinstance(w, str):
                assert got == w, f"program {i}"
                continue
            assert got[:3] == w[:3], f"program {i}"
            assert not any(w[4])  # a miss makes a body of its own
            fewer += got[3] < w[3]
    assert fewer > 10
