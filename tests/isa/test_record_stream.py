"""The emulator's column-based record stream, and timing-only vs numeric emulation reporting
exactly the same figures (every summary number, per-line cost and timeline entry)."""

from __future__ import annotations

import numpy as np
import pytest

from isa.asm import assemble
from isa.emulator import Emulator
from isa.examples import EXAMPLES
from isa.profile import Profile
from isa.runner import run
from isa.timing import simulate
from isa.trace import RecordStream
from tests.isa.test_timing_only import _matmul_stream

LOOPS = """
.arg x
.arg o
        arg     r1, x
        arg     r2, o
        pid     r9, 0
        muli    r10, r9, 6144
        add     r1, r1, r10
        muli    r10, r9, 2048
        add     r2, r2, r10
        li      r3, 0
        li      r4, 4
outer:  li      r5, 0
        li      r6, 3
inner:  andi    r7, r5, 1
        muli    r7, r7, 1024
        muli    r8, r5, 2048
        add     r8, r8, r1
        dma.load 0, sb.f32[0:4, r7+0, (1,128)], hbm.f32[r8+0, (128,4), (1,128)], 0.0
        act exp, sb.f32[0:4, r7+4096, (1,128)], sb.f32[0:4, r7+0, (1,128)], 0.0, 1.0, _, add
        b.lt    r5, r3, skip
        tt add, sb.f32[0:4, 8192, (1,128)], sb.f32[0:4, r7+4096, (1,128)], sb.f32[0:4, r7+0, (1,128)]
        dma.store 1, hbm.f32[r2+0, (128,4), (1,128)], sb.f32[0:4, 8192, (1,128)]
skip:   loop    r5, r6, 1, inner
        loop    r3, r4, 1, outer
        halt
"""


def _loops_args():
    x = np.random.default_rng(2).standard_normal(2 * 3 * 512).astype(np.float32)
    return [x, np.zeros(2 * 512, np.float32)]


def _bf16(*shape):
    import ml_dtypes

    return np.ones(shape, ml_dtypes.bfloat16)


def _example(name):
    ex = EXAMPLES[name]
    opts = {"vector_add": {"n": 3 * 128 * 2048 - 1000}, "softmax": {"rows": 300}}.get(name, {})
    case = ex.make(np.random.default_rng(0), opts)
    return ex.binary(), (lambda: ex.make(np.random.default_rng(0), opts).args), case.grid


PROGRAMS = {
    "matmul_loop": lambda: (assemble(_matmul_stream(24)), lambda: [_bf16(128, 512)] * 2, (1,)),
    "dma_heavy": lambda: _example("vector_add"),
    "control_flow": lambda: (assemble(LOOPS), _loops_args, (2,)),
    "softmax": lambda: _example("softmax"),
    "matmul_example": lambda: _example("matmul"),
}


def _figures(res):
    """Every figure a profile reports, and the timeline entry of every record."""
    p = res.profile
    tl = res.timeline
    return {
        "summary": p.summary(),
        "by_line": p.by_line(),
        "queues": p.dma_queue_busy_ns,
        "active": p.active_ns,
        "busy": tl.busy_ns,
        "cores": tl.core_total_ns,
        "times": [a.tobytes() for a in (tl.starts_ns, tl.ends_ns, tl.done_ns)],
    }


@pytest.mark.parametrize("config", ["nc-v2", "nc-v3"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_timing_only_reports_every_figure_of_numeric_emulation(name, config):
    binary, make, grid = PROGRAMS[name]()
    num = run(binary, make(), grid, config=config, profile=True)
    tim = run(binary, make(), grid, config=config, profile=True, timing_only=True)
    assert num.records == tim.records
    a, b = _figures(num), _figures(tim)
    assert a["summary"].pop("mode") == "numeric" and b["summary"].pop("mode") == "timing-only"
    assert a == b
    # the stream and the same records as a plain list are timed and summarised alike
    listed = list(tim.records)
    tl = simulate(listed, tim.config)
    for x, y in zip(
        (tl.starts_ns, tl.ends_ns, tl.done_ns),
        (tim.timeline.starts_ns, tim.timeline.ends_ns, tim.timeline.done_ns),
        strict=True,
    ):
        assert x.tobytes() == y.tobytes()
    prof = Profile.build(listed, tl, tim.config, mode="timing-only")
    assert prof.summary() == tim.profile.summary() and prof.by_line() == tim.profile.by_line()


def test_a_stream_is_a_sequence_of_records():
    binary, make, grid = PROGRAMS["control_flow"]()
    res = run(binary, make(), grid, record=True, timing_only=True)
    stream = res.records
    assert isinstance(stream, RecordStream)
    listed = list(stream)
    assert len(listed) == len(stream) == res.instructions
    assert stream == listed and listed == stream and stream[-1] is listed[-1]
    assert stream[3:9] == listed[3:9] and stream[::7] == listed[::7]
    assert {r.program for r in listed} == {0, 1} and {r.core for r in listed} == {0, 1}
    with pytest.raises(IndexError):
        stream[len(stream)]
    # a loop's instruction met again with the same operands is the same object
    by_pc = {}
    for r in listed:
        by_pc.setdefault((r.program, r.pc), set()).add(id(r))
    branch = next(r.pc for r in listed if r.mnemonic == "b.lt")
    assert len(by_pc[(0, branch)]) == 1 and by_pc[(0, branch)] != by_pc[(1, branch)]
    # a plain list goes through the same columns, and gives its own objects back
    again = RecordStream.of(listed)
    assert again == stream and all(a is b for a, b in zip(again, listed, strict=True))
    assert RecordStream.of(stream) is stream
    assert stream != listed[:-1] and stream != listed[:-1] + [listed[0]]


def test_an_unrecorded_run_gives_an_empty_stream():
    binary, make, grid = PROGRAMS["control_flow"]()
    emu = Emulator(binary)
    from isa.runner import layout_args

    hbm, values, _, data_base = layout_args(make(), binary.data)
    records, executed = emu.run(hbm, np.array(values), (2, 1, 1), data_base, record=False)
    assert executed > 100 and len(records) == 0 and list(records) == []
    assert simulate(records, emu.config).total_ns == 0.0


def test_on_chip_shifts_move_a_templates_ranges_as_a_moved_body_would():
    """A template whose on-chip ranges move by its `oshift` bytes and `pshift` partitions
    (an unrolled load sharing its sibling's body) is the record, and times as the record, of
    a body with those ranges moved; HBM ranges follow `shift` only."""
    from isa.trace import CostKind, CostParams, Engine, MemRange, Space, StreamWriter

    params = CostParams(partitions=32, free=512, dtype_bytes=2, bytes=32768, descriptors=32)
    hbm_r = MemRange(Space.HBM, 4096, 36864, 0, 1, 1024, 0, 1024)

    def body(o: int, p: int) -> tuple:
        sb_r = MemRange(Space.SBUF, 2048 + o, 3072 + o, p, 32)
        return ("dma.load", Engine.DMA, CostKind.DMA, params, (hbm_r,), (sb_r,))

    moves = [(0, 0), (1024, 0), (0, 32), (4096, 96), (1024, 32), (0, 0)]
    shared, own = StreamWriter(0), StreamWriter(0)
    for w in (shared, own):
        w.program(0, 0)
    first = shared.add_body(body(0, 0))
    for i, (o, p) in enumerate(moves):
        shared.add_row(i, first, 2048 * i, i % 4, 7, o, p)
        own.add_row(i, own.add_body(body(o, p)), 2048 * i, i % 4, 7)
    # a matmul reading what the last load wrote: the shifts order them as the bodies do
    mm = ("matmul", Engine.PE, CostKind.MATMUL, CostParams(k=32, m=128, free=512),
          (MemRange(Space.SBUF, 2048 + 1024, 3072 + 1024, 32, 32),),
          (MemRange(Space.PSUM, 0, 2048, 0, 128),))  # fmt: skip
    for w in (shared, own):
        w.add_row(9, w.add_body(mm), 0, 0, 8)
    a, b = shared.finish(None, []), own.finish(None, [])
    assert len(a.templates.bodies) == 2 and len(b.templates.bodies) == 7
    assert list(a) == list(b)
    assert a[3].writes[0] == MemRange(Space.SBUF, 2048 + 4096, 3072 + 4096, 96, 32)
    assert a[3].reads[0] == hbm_r.moved(3 * 2048)
    from isa.machine import get_config

    ta, tb = simulate(a, get_config("nc-v2")), simulate(b, get_config("nc-v2"))
    assert ta.starts_ns.tolist() == tb.starts_ns.tolist()
    assert ta.ends_ns.tolist() == tb.ends_ns.tolist() and ta.total_ns == tb.total_ns
    assert ta.starts_ns[-1] >= ta.ends_ns[4]  # the matmul waited for the load at (1024, 32)
