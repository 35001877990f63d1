"""Profiler: summary numbers against hand computation, by-line, Chrome trace, PNG timeline."""

from __future__ import annotations

import json

import pytest

from isa.machine import NC_V2, NC_V3
from isa.profile import Profile, record_flops
from isa.timing import simulate
from isa.trace import CostKind, CostParams, Engine, ExecRecord, MemRange, Space


def rec(engine, kind, reads=(), writes=(), queue=0, core=0, line=0, mn=None, pc=0, **params):
    return ExecRecord(
        pc=pc,
        mnemonic=mn or kind.name.lower(),
        engine=engine,
        cost=kind,
        params=CostParams(**params),
        reads=tuple(reads),
        writes=tuple(writes),
        queue=queue,
        core=core,
        line=line,
    )


def sbuf(start, end):
    return MemRange(Space.SBUF, start, end, 0, 128)


def psum(start, end):
    return MemRange(Space.PSUM, start, end, 0, 128)


def hbm(start, end):
    return MemRange(Space.HBM, start, end)


TILE = 128 * 1024  # [128, 512] bf16


def small_kernel(core: int = 0) -> list[ExecRecord]:
    """load x, load w, matmul, evacuate, store: one of everything, on known lines."""
    x, w, acc, out = sbuf(0, 1024), sbuf(1024, 1280), psum(0, 2048), sbuf(4096, 5120)
    return [
        rec(Engine.SEQ, CostKind.SCALAR, line=1, mn="movi", pc=0, core=core),
        rec(
            Engine.DMA,
            CostKind.DMA,
            [hbm(0, TILE)],
            [x],
            queue=0,
            line=2,
            mn="dma",
            pc=1,
            bytes=TILE,
            descriptors=128,
            core=core,
        ),
        rec(
            Engine.DMA,
            CostKind.DMA,
            [hbm(TILE, TILE + 32768)],
            [w],
            queue=1,
            line=3,
            mn="dma",
            pc=2,
            bytes=32768,
            descriptors=128,
            core=core,
        ),
        rec(
            Engine.PE,
            CostKind.MATMUL,
            [x, w],
            [acc],
            line=4,
            mn="matmul",
            pc=3,
            free=512,
            m=128,
            k=128,
            dtype_bytes=2,
            core=core,
        ),
        rec(
            Engine.ACT,
            CostKind.COPY,
            [acc],
            [out],
            line=5,
            mn="act.copy",
            pc=4,
            free=512,
            core=core,
        ),
        rec(
            Engine.DMA,
            CostKind.DMA,
            [out],
            [hbm(1 << 20, (1 << 20) + TILE)],
            queue=2,
            line=5,
            mn="dma",
            pc=5,
            bytes=TILE,
            descriptors=128,
            core=core,
        ),
    ]


@pytest.fixture
def prof() -> Profile:
    recs = small_kernel()
    return Profile.build(recs, simulate(recs, NC_V2), NC_V2)


def test_summary_keys(prof):
    s = prof.summary()
    for key in (
        "cycles",
        "time_ns",
        "engines",
        "dma_bytes",
        "flops",
        "mfu",
        "dma_bw_utilization",
        "instructions",
        "roofline",
    ):
        assert key in s
    assert set(s["engines"]) == {"PE", "ACT", "DVE", "POOL", "DMA", "SEQ"}
    for e in s["engines"].values():
        assert {"busy_ns", "utilization"} <= set(e)
        assert 0.0 <= e["utilization"] <= 1.0
    json.dumps(s)  # plain values only


def test_summary_values_by_hand(prof):
    s = prof.summary()
    # timeline by hand: x lands 2 sequencer cycles + 81.25 + 131072/25.625 ns in (its queue's
    # rate, 410/16 B/ns, binds: the shared 102 B/ns would move it 4x faster); the matmul takes
    # 512 PE cycles; its PSUM result is visible 60 PE cycles later; the copy takes 512 ACT cycles
    # and its SBUF result is visible 60 ACT cycles later; then the store.
    t_x = 2 / 1.4 + 81.25 + TILE / 25.625
    t_mm = t_x + 512 / 2.8
    t_copy = t_mm + 60 / 2.8 + 512 / 1.4
    t_end = t_copy + 60 / 1.4 + 81.25 + TILE / 25.625
    assert s["time_ns"] == pytest.approx(t_end)
    assert s["cycles"] == round(t_end * 2.8)
    assert s["instructions"] == 6
    assert s["flops"] == s["pe_flops"] == 2 * 128 * 128 * 512
    assert s["dma_bytes"] == 2 * TILE + 32768
    assert s["engines"]["PE"]["busy_ns"] == pytest.approx(512 / 2.8)
    assert s["engines"]["PE"]["utilization"] == pytest.approx(512 / 2.8 / t_end)
    assert s["engines"]["PE"]["active_utilization"] == pytest.approx(1.0)
    assert s["engines"]["ACT"]["busy_ns"] == pytest.approx(512 / 1.4)
    assert s["engines"]["SEQ"]["instructions"] == 1
    assert s["engines"]["DMA"]["queues_used"] == 3
    dma_util = (2 * TILE + 32768) / (t_end * 102.0)
    assert s["dma_bw_utilization"] == pytest.approx(dma_util)
    assert s["engines"]["DMA"]["utilization"] == pytest.approx(dma_util)
    # MFU: 2*128*128*512 FLOPs at 92 TFLOP/s take 512 / 2.8 * (91.75 / 92) ns
    assert s["mfu"] == pytest.approx(2 * 128 * 128 * 512 / 92e3 / t_end)


def test_roofline(prof):
    roof = prof.summary()["roofline"]
    flops, nbytes = 2 * 128 * 128 * 512, 2 * TILE + 32768
    assert roof["arithmetic_intensity"] == pytest.approx(flops / nbytes)
    assert roof["ridge_point"] == pytest.approx(92e3 / 102.0)
    assert roof["bound"] == "memory"
    assert roof["attainable_flops_per_s"] == pytest.approx(flops / nbytes * 102e9)
    assert roof["achieved_flops_per_s"] == pytest.approx(flops / prof.time_ns * 1e9)
    assert 0 < roof["fraction_of_attainable"] <= 1


def test_mfu_follows_the_dtype_mix():
    fp32 = [rec(Engine.PE, CostKind.MATMUL, free=512, m=128, k=128, dtype_bytes=4)]
    p = Profile.from_records(fp32, NC_V2)
    assert p.peak_flops_per_ns() == pytest.approx(23e3)
    ideal = 2 * 128 * 128 * 512 / 23e3
    assert p.summary()["mfu"] == pytest.approx(ideal / p.time_ns)


def test_matmul_flops_default_from_shape():
    r = rec(Engine.PE, CostKind.MATMUL, free=256, m=64, k=32)
    assert record_flops(r) == 2 * 32 * 64 * 256
    assert record_flops(rec(Engine.PE, CostKind.MATMUL, free=256, m=64, k=32, flops=7)) == 7
    assert record_flops(rec(Engine.DVE, CostKind.COPY, free=256)) == 0


def test_cores_used_scale_utilisation():
    recs = small_kernel(0) + small_kernel(1)
    p = Profile.from_records(recs, NC_V3)
    one = Profile.from_records(small_kernel(0), NC_V3)
    s, s1 = p.summary(), one.summary()
    assert s["cores_used"] == 2
    assert s["time_ns"] == pytest.approx(s1["time_ns"])
    assert s["engines"]["PE"]["utilization"] == pytest.approx(s1["engines"]["PE"]["utilization"])
    assert s["mfu"] == pytest.approx(s1["mfu"])
    assert s["dma_bw_utilization"] == pytest.approx(s1["dma_bw_utilization"])


def test_build_rejects_a_foreign_timeline():
    recs = small_kernel()
    with pytest.raises(ValueError, match="records"):
        Profile.build(recs[:2], simulate(recs, NC_V2), NC_V2)


def test_by_line(prof):
    lines = prof.by_line()
    assert list(lines) == [1, 2, 3, 4, 5]
    assert lines[4].flops == 2 * 128 * 128 * 512
    assert lines[4].engines == {"PE": pytest.approx(512 / 2.8)}
    assert lines[5].instructions == 2
    assert set(lines[5].engines) == {"ACT", "DMA"}
    assert lines[5].dma_bytes == TILE
    assert sum(st.busy_ns for st in lines.values()) == pytest.approx(
        sum(prof.timeline.busy_ns.values())
    )


def test_format(prof):
    text = prof.format()
    for word in ("nc-v2", "PE", "DMA", "MFU", "roofline", "line"):
        assert word in text
    assert len(text.splitlines()) > 10


def test_chrome_trace(prof, tmp_path):
    path = prof.write_chrome_trace(tmp_path / "trace.json")
    doc = json.loads(path.read_text())
    events = doc["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    meta = [e for e in events if e["ph"] == "M"]
    assert len(spans) == 6
    for e in spans:
        assert {"name", "ph", "ts", "dur", "pid", "tid", "args"} <= set(e)
        assert e["dur"] >= 0 and e["ts"] >= 0
        assert {"pc", "line"} <= set(e["args"])
    assert [e["name"] for e in spans] == ["movi", "dma", "dma", "matmul", "act.copy", "dma"]
    assert spans[1]["args"]["bytes"] == TILE
    thread_names = {e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert thread_names == {"SEQ", "PE", "ACT", "DMA q0", "DMA q1", "DMA q2"}
    assert {e["args"]["name"] for e in meta if e["name"] == "process_name"} == {"core 0"}
    # one thread per lane: spans of a DMA queue sit on that queue's thread
    tids = {e["tid"] for e in spans if e["name"] == "dma"}
    assert len(tids) == 3
    # microseconds: the last span ends at the total time
    last = max(e["ts"] + e["dur"] for e in spans)
    assert last * 1e3 == pytest.approx(prof.timeline.ends_ns.max())


def test_chrome_trace_one_process_per_core(tmp_path):
    p = Profile.from_records(small_kernel(0) + small_kernel(1), NC_V2)
    doc = json.loads(p.write_chrome_trace(tmp_path / "t.json").read_text())
    pids = {e["pid"] for e in doc["traceEvents"] if e["ph"] == "X"}
    assert pids == {0, 1}


def test_plot(prof, tmp_path):
    path = prof.plot(tmp_path / "timeline.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5000


def test_empty_profile(tmp_path):
    p = Profile.from_records([], NC_V2)
    s = p.summary()
    assert s["time_ns"] == 0 and s["mfu"] == 0 and s["instructions"] == 0
    assert "profile" in p.format()
    json.loads(p.write_chrome_trace(tmp_path / "e.json").read_text())
    assert p.plot(tmp_path / "e.png").stat().st_size > 0


def test_dma_reports_bandwidth_not_occupancy():
    loads = [
        rec(
            Engine.DMA,
            CostKind.DMA,
            [hbm(q * TILE, (q + 1) * TILE)],
            [sbuf(q * 1024, q * 1024 + 1024)],
            queue=q,
            bytes=TILE,
            descriptors=128,
        )
        for q in range(16)
    ]
    prof = Profile.from_records(loads, NC_V2)
    s = prof.summary()["engines"]["DMA"]
    tl = prof.timeline
    # 16 x 128 KiB through the shared 102 B/ns: the queues wait for bandwidth, not each other
    assert tl.total_ns == pytest.approx(81.25 + 16 * TILE / 102.0, rel=1e-2)
    assert s["busy_ns"] == pytest.approx(float((tl.ends_ns - tl.starts_ns).sum()))
    assert s["utilization"] == pytest.approx(1.0, rel=1e-2)
    assert 0.0 < s["queue_occupancy"] < 1.0
    assert s["active_utilization"] == pytest.approx(s["utilization"], rel=1e-3)


def test_plot_merges_dma_queues_when_rows_would_overflow(tmp_path):
    recs = small_kernel(0) + small_kernel(1)
    p = Profile.from_records(recs, NC_V2)
    small = p.plot(tmp_path / "merged.png", max_rows=4).read_bytes()
    full = p.plot(tmp_path / "full.png").read_bytes()
    assert small[:4] == full[:4] == b"\x89PNG"
    assert len(small) != len(full)
