"""Timing model: cost formulas against hand-computed numbers, the scoreboard, cores, targets."""

from __future__ import annotations

import time

import numpy as np
import pytest

from isa.machine import NC_V2, NC_V3
from isa.timing import COST_DOCS, cost_ns, simulate
from isa.trace import CostKind, CostParams, Engine, ExecRecord, MemRange, Space

# --- record builders ------------------------------------------------------------------------------


def sbuf(start: int, end: int, p_start: int = 0, p_count: int = 128) -> MemRange:
    return MemRange(Space.SBUF, start, end, p_start, p_count)


def psum(start: int, end: int, p_start: int = 0, p_count: int = 128) -> MemRange:
    return MemRange(Space.PSUM, start, end, p_start, p_count)


def hbm(start: int, end: int) -> MemRange:
    return MemRange(Space.HBM, start, end)


def rec(engine, kind, reads=(), writes=(), queue=0, program=0, core=0, line=0, mn=None, **params):
    return ExecRecord(
        pc=0,
        mnemonic=mn or kind.name.lower(),
        engine=engine,
        cost=kind,
        params=CostParams(**params),
        reads=tuple(reads),
        writes=tuple(writes),
        queue=queue,
        program=program,
        core=core,
        line=line,
    )


def dma(src, dst, nbytes, queue=0, descriptors=1, **kw):
    return rec(
        Engine.DMA, CostKind.DMA, (src,), (dst,), queue, bytes=nbytes, descriptors=descriptors, **kw
    )


def dve(reads, writes, free=512, **kw):
    return rec(Engine.DVE, CostKind.TENSOR_SCALAR, reads, writes, free=free, **kw)


def matmul(reads, writes, n=512, m=128, k=128, dtype_bytes=2, **kw):
    return rec(
        Engine.PE,
        CostKind.MATMUL,
        reads,
        writes,
        free=n,
        m=m,
        k=k,
        dtype_bytes=dtype_bytes,
        flops=2 * k * m * n,
        **kw,
    )


def spread_dma(sbuf_range: MemRange, hbm_base: int, load: bool, queues: int = 16, **kw):
    """One tile transfer split over `queues` DMA queues, each moving a block of partitions."""
    per_q = sbuf_range.p_count // queues
    row = sbuf_range.end - sbuf_range.start
    out = []
    for q in range(queues):
        s = sbuf(sbuf_range.start, sbuf_range.end, sbuf_range.p_start + q * per_q, per_q)
        h = hbm(hbm_base + q * per_q * row, hbm_base + (q + 1) * per_q * row)
        src, dst = (h, s) if load else (s, h)
        out.append(dma(src, dst, per_q * row, queue=q, descriptors=per_q, **kw))
    return out


# --- cost formulas --------------------------------------------------------------------------------

V2, V3 = NC_V2, NC_V3


def test_cost_docs_cover_every_kind():
    assert set(COST_DOCS) == set(CostKind)
    assert all(isinstance(v, str) and v for v in COST_DOCS.values())


# (config, record, expected ns) — numbers worked out by hand from the config figures
COSTS = [
    # sequencer: one cycle at 1.4 / 1.2 GHz
    (V2, rec(Engine.SEQ, CostKind.SCALAR), 1 / 1.4),
    (V3, rec(Engine.SEQ, CostKind.SCALAR), 1 / 1.2),
    # matmul bf16 K=M=128, N=512: 512 PE cycles
    (V2, matmul((), (), n=512), 512 / 2.8),
    (V3, matmul((), (), n=512), 512 / 2.4),
    # small moving side: max(min(64, 128), 32) = 64; tiny stationary: max(min(64, 16), 8) = 16
    (V2, matmul((), (), n=32), 64 / 2.8),
    (V2, matmul((), (), n=8, m=16), 16 / 2.8),
    # fp32: x (92 / 23) = 4 on v2, x (79 / 20) = 3.95 on v3
    (V2, matmul((), (), n=512, dtype_bytes=4), 2048 / 2.8),
    (V3, matmul((), (), n=512, dtype_bytes=4), 512 * 3.95 / 2.4),
    # fp8: v2 streams at the bf16 rate, v3 twice as fast (158 / 79)
    (V2, matmul((), (), n=512, dtype_bytes=1), 512 / 2.8),
    (V3, matmul((), (), n=512, dtype_bytes=1), 256 / 2.4),
    # PE transpose of a [128, 128] bf16 tile: max(min(64, 128), 128) = 128; fp32 x4
    (V2, rec(Engine.PE, CostKind.PE_TRANSPOSE, partitions=128, free=128, dtype_bytes=2), 128 / 2.8),
    (V2, rec(Engine.PE, CostKind.PE_TRANSPOSE, partitions=32, free=128, dtype_bytes=4), 256 / 2.8),
    # activation on ACT: max(64, N)
    (V2, rec(Engine.ACT, CostKind.ACTIVATION, free=512), 512 / 1.4),
    (V3, rec(Engine.ACT, CostKind.ACTIVATION, free=512), 512 / 1.2),
    (V2, rec(Engine.ACT, CostKind.ACTIVATION, free=10), 64 / 1.4),
    # tensor-scalar / copy / memset / 32x32 transpose / reduce on DVE: max(64, N)
    (V2, rec(Engine.DVE, CostKind.TENSOR_SCALAR, free=300), 300 / 1.12),
    (V3, rec(Engine.DVE, CostKind.COPY, free=300), 300 / 0.96),
    (V2, rec(Engine.DVE, CostKind.MEMSET, free=1), 64 / 1.12),
    (V2, rec(Engine.DVE, CostKind.TRANSPOSE32, free=32), 64 / 1.12),
    (V2, rec(Engine.DVE, CostKind.REDUCE, free=1000), 1000 / 1.12),
    (V3, rec(Engine.DVE, CostKind.REDUCE, free=1000), 1000 / 0.96),
    # tensor-tensor: N if bf16 or PSUM input, else 2N; at least 64
    (V2, rec(Engine.DVE, CostKind.TENSOR_TENSOR, free=512, all_bf16=True), 512 / 1.12),
    (V2, rec(Engine.DVE, CostKind.TENSOR_TENSOR, free=512, psum_input=True), 512 / 1.12),
    (V2, rec(Engine.DVE, CostKind.TENSOR_TENSOR, free=512), 1024 / 1.12),
    (V3, rec(Engine.DVE, CostKind.TENSOR_TENSOR, free=512), 1024 / 0.96),
    (V2, rec(Engine.DVE, CostKind.TENSOR_TENSOR, free=20), 64 / 1.12),
    # iota 150 + N; on POOL at 1.4 GHz
    (V2, rec(Engine.DVE, CostKind.IOTA, free=100), 250 / 1.12),
    (V2, rec(Engine.POOL, CostKind.IOTA, free=100), 250 / 1.4),
    # cross-partition GpSimd: P + N; Philox: 4N
    (V2, rec(Engine.POOL, CostKind.GPSIMD, partitions=128, free=512), 640 / 1.4),
    (V3, rec(Engine.POOL, CostKind.GPSIMD, partitions=128, free=512), 640 / 1.2),
    (V2, rec(Engine.POOL, CostKind.RNG, free=512), 2048 / 1.4),
    # DMA: 81.25 ns + bytes / queue bandwidth (17 B/ns; v3 23 capped to 360 / 16 = 22.5)
    (V2, dma(hbm(0, 1), sbuf(0, 1), 65536, descriptors=128), 81.25 + 65536 / 25.625),
    (V3, dma(hbm(0, 1), sbuf(0, 1), 65536, descriptors=128), 81.25 + 65536 / 22.5),
    # 128 chunks of 64 B cost like 128 chunks of 512 B
    (V2, dma(hbm(0, 1), sbuf(0, 1), 128 * 64, descriptors=128), 81.25 + 65536 / 25.625),
    (V2, dma(hbm(0, 1), sbuf(0, 1), 4, descriptors=1), 81.25 + 512 / 25.625),
    # atomic: a read and a write through one queue
    (V2, rec(Engine.DMA, CostKind.ATOMIC, bytes=4096, descriptors=1), 2 * (81.25 + 4096 / 25.625)),
]


@pytest.mark.parametrize("config,record,expected", COSTS)
def test_cost_formula(config, record, expected):
    assert cost_ns(record, config) == pytest.approx(expected, rel=1e-12)


def test_cycle_kinds_reject_dma_queue():
    with pytest.raises(ValueError, match="DMA queue"):
        cost_ns(rec(Engine.DMA, CostKind.MATMUL, free=512), V2)


def test_queue_bandwidth_cap_keeps_a_core_within_hbm():
    for config in (V2, V3):
        assert config.dma_queues * config.dma_queue_bytes_per_ns <= config.hbm_bytes_per_ns + 1e-9
        # all queues together: the sustained DMA bandwidth (NKI matmul tutorial, isa/machine.py)
        assert config.dma_bytes_per_ns == 102.0
    assert V2.dma_queue_bytes_per_ns == 410.0 / 16  # an engine's 27.2 GB/s, capped at its share


def test_shared_dma_bandwidth_books_the_earliest_gaps():
    from isa.timing import _book, _prune_bandwidth

    state = (np.empty(80), np.empty(80), 0)  # starts, ends, count: room for every transfer

    def take(t, d):
        nonlocal state
        bs, be, n = state
        done, n = _book(bs, be, n, t, d)
        state = (bs, be, n)
        return done

    def booked():
        bs, be, n = state
        return bs[:n].tolist(), be[:n].tolist()

    assert take(0.0, 10.0) == 10.0
    assert take(30.0, 10.0) == 40.0  # a later transfer leaves a gap [10, 30)
    assert take(5.0, 25.0) == 45.0  # 20 in the gap [10, 30), the other 5 after 40
    assert booked() == ([0.0], [45.0])
    assert take(60.0, 1.0) == 61.0 and take(55.0, 2.0) == 57.0
    assert booked() == ([0.0, 55.0, 60.0], [45.0, 57.0, 61.0])
    for k in range(70):  # 70 more, apart
        take(100.0 + 2 * k, 1.0)
    n = _prune_bandwidth(state[0], state[1], state[2], 230.0)  # 68 over by 230: forgotten
    state = (state[0], state[1], n)
    assert booked() == ([230.0, 232.0, 234.0, 236.0, 238.0], [231.0, 233.0, 235.0, 237.0, 239.0])
    assert _prune_bandwidth(state[0], state[1], n, 300.0) == n  # at most 64 over: kept


def test_one_queue_alone_is_limited_by_its_engine_and_many_by_the_shared_bandwidth():
    nbytes = 1 << 20
    one = simulate([dma(hbm(0, nbytes), sbuf(0, 8192), nbytes, 0, 128)], V2)
    assert nbytes / one.total_ns == pytest.approx(V2.dma_queue_bytes_per_ns, rel=0.01)
    recs = [
        dma(hbm(q * nbytes, (q + 1) * nbytes), sbuf(q * 8192, (q + 1) * 8192), nbytes, q, 128)
        for q in range(4)
    ]
    four = simulate(recs, V2)  # 4 x 25.6 B/ns of engines > 102 B/ns: the shared figure binds
    assert 4 * nbytes / four.total_ns == pytest.approx(V2.dma_bytes_per_ns, rel=0.01)


def test_a_store_waiting_on_compute_does_not_hold_back_later_loads():
    slow = rec(Engine.DVE, CostKind.TENSOR_SCALAR, [sbuf(0, 4096)], [sbuf(0, 4096)], free=50000)
    store = dma(sbuf(0, 4096), hbm(0, 1 << 19), 1 << 19, queue=0, descriptors=128)
    load = dma(hbm(1 << 20, (1 << 20) + (1 << 19)), sbuf(8192, 12288), 1 << 19, queue=1)
    tl = simulate([slow, store, load], V2)
    assert tl.starts_ns[1] >= tl.ends_ns[0]  # the store waits for the DVE
    assert tl.ends_ns[2] < tl.starts_ns[1]  # the load on another queue is done before it


def test_all_queues_busy_never_exceed_hbm_bandwidth():
    nbytes = 1 << 20
    recs = [
        dma(hbm(q * nbytes, (q + 1) * nbytes), sbuf(q * 4096, (q + 1) * 4096), nbytes, q, 2048)
        for q in range(16)
    ]
    for config in (V2, V3):
        tl = simulate(recs, config)
        assert 16 * nbytes / tl.total_ns <= config.hbm_bytes_per_ns
        assert 16 * nbytes / tl.total_ns == pytest.approx(config.dma_bytes_per_ns, rel=0.03)


# --- scheduling and dependencies ------------------------------------------------------------------


def seq_t(n: int, config=V2) -> float:
    """Sequencer time after dispatching n instructions."""
    return n / config.seq_clock_ghz


def lat(engine_ghz: float, config=V2) -> float:
    return config.sram_access_cycles / engine_ghz


def test_same_engine_serialises():
    recs = [dve([sbuf(0, 64)], [sbuf(1024, 1088)]), dve([sbuf(2048, 2112)], [sbuf(3072, 3136)])]
    tl = simulate(recs, V2)
    assert tl.starts_ns[0] == pytest.approx(seq_t(1))
    assert tl.starts_ns[1] == pytest.approx(tl.ends_ns[0])
    assert tl.busy_ns["DVE"] == pytest.approx(2 * 512 / 1.12)


def test_independent_engines_overlap():
    recs = [
        dve([sbuf(0, 64)], [sbuf(1024, 1088)]),
        rec(Engine.ACT, CostKind.ACTIVATION, [sbuf(2048, 2112)], [sbuf(3072, 3136)], free=512),
        matmul([sbuf(4096, 4352)], [psum(0, 2048)]),
        dma(hbm(0, 65536), sbuf(8192, 8704), 65536, queue=3),
    ]
    tl = simulate(recs, V2)
    np.testing.assert_allclose(tl.starts_ns, [seq_t(k) for k in (1, 2, 3, 4)])
    assert tl.total_ns == pytest.approx(max(tl.done_ns))


def test_raw_waits_for_dma_then_sram_latency_across_engines():
    x, acc, out = sbuf(0, 2048), psum(0, 2048), sbuf(4096, 6144)
    recs = [
        dma(hbm(0, 1 << 18), x, 1 << 18, descriptors=128),
        matmul([x], [acc]),
        rec(Engine.ACT, CostKind.COPY, [acc], [out], free=512),
    ]
    tl = simulate(recs, V2)
    assert tl.starts_ns[1] == pytest.approx(tl.ends_ns[0])  # DMA results need no SRAM latency
    assert tl.done_ns[1] == pytest.approx(tl.ends_ns[1] + lat(2.8))
    assert tl.starts_ns[2] == pytest.approx(tl.done_ns[1])


def test_same_engine_sees_own_results_without_latency():
    acc = psum(0, 2048)
    recs = [matmul([sbuf(k * 1024, k * 1024 + 1024), acc], [acc]) for k in range(4)]
    tl = simulate(recs, V2)
    np.testing.assert_allclose(tl.starts_ns[1:], tl.ends_ns[:-1])
    assert tl.total_ns == pytest.approx(seq_t(1) + 4 * 512 / 2.8 + lat(2.8))


def test_war_waits_for_the_reader():
    x = sbuf(0, 2048)
    recs = [
        dve([x], [sbuf(4096, 6144)], free=4096),  # long read of x
        dma(hbm(0, 1 << 18), x, 1 << 18, queue=1),  # overwrites x
    ]
    tl = simulate(recs, V2)
    assert tl.starts_ns[1] == pytest.approx(tl.ends_ns[0])


def test_waw_waits_for_the_first_writer():
    x = sbuf(0, 2048)
    recs = [
        dve([sbuf(8192, 10240)], [x], free=4096),
        rec(Engine.ACT, CostKind.MEMSET, (), [x], free=512),
    ]
    tl = simulate(recs, V2)
    assert tl.starts_ns[1] == pytest.approx(tl.done_ns[0])
    assert tl.done_ns[0] == pytest.approx(tl.ends_ns[0] + lat(1.12))


def test_read_after_read_does_not_wait():
    x = sbuf(0, 2048)
    recs = [
        dve([x], [sbuf(4096, 6144)], free=4096),
        rec(Engine.ACT, CostKind.COPY, [x], [sbuf(8192, 10240)], free=64),
    ]
    tl = simulate(recs, V2)
    assert tl.starts_ns[1] == pytest.approx(seq_t(2))


@pytest.mark.parametrize(
    "other,waits",
    [
        (sbuf(0, 2048, 64, 64), False),  # other partitions
        (sbuf(2048, 4096), False),  # other bytes, adjacent
        (sbuf(2047, 2048, 63, 1), True),  # one byte of one partition
        (psum(0, 2048), False),  # other space
        (sbuf(0, 1 << 17, 0, 128), True),  # a wide range spanning many buckets
    ],
)
def test_overlap_is_exact(other, waits):
    recs = [
        dve([sbuf(8192, 10240)], [sbuf(0, 2048, 0, 64)], free=4096),
        rec(Engine.ACT, CostKind.COPY, [other], [sbuf(16384, 18432)], free=64),
    ]
    tl = simulate(recs, V2)
    assert (tl.starts_ns[1] >= tl.ends_ns[0]) == waits


def test_hbm_raw_across_dma_queues():
    recs = [
        dma(sbuf(0, 2048), hbm(1000, 1000 + (1 << 18)), 1 << 18, queue=0),
        dma(hbm(5000, 6000), sbuf(4096, 6144), 1000, queue=1),
    ]
    tl = simulate(recs, V2)
    assert tl.starts_ns[1] == pytest.approx(tl.ends_ns[0])


def test_covering_write_keeps_later_readers_waiting():
    small = [sbuf(k * 256, k * 256 + 256) for k in range(8)]
    big = sbuf(0, 2048)
    recs = [dve([sbuf(8192, 8448)], [s], free=64) for s in small]
    recs.append(dma(hbm(0, 1 << 18), big, 1 << 18, queue=2))  # overwrites all eight
    recs.append(rec(Engine.ACT, CostKind.COPY, [small[3]], [sbuf(16384, 16640)], free=64))
    tl = simulate(recs, V2)
    assert tl.starts_ns[8] == pytest.approx(tl.done_ns[7])
    assert tl.starts_ns[9] == pytest.approx(tl.ends_ns[8])


def test_sequencer_waits_on_memory_it_reads_and_delays_dispatch():
    flag = sbuf(0, 4, 0, 1)
    recs = [
        dve([sbuf(4096, 6144)], [flag], free=4096),
        rec(Engine.SEQ, CostKind.SCALAR, [flag], ()),  # e.g. a data-dependent branch
        rec(Engine.ACT, CostKind.COPY, [sbuf(8192, 8448)], [sbuf(9000, 9256)], free=64),
    ]
    tl = simulate(recs, V2)
    assert tl.starts_ns[1] == pytest.approx(tl.done_ns[0])
    assert tl.starts_ns[2] == pytest.approx(tl.ends_ns[1] + seq_t(1))


def test_programs_on_one_core_follow_each_other_and_overlap_on_engines():
    x = sbuf(0, 2048)
    prog = [dma(hbm(0, 1 << 18), x, 1 << 18), dve([x], [sbuf(4096, 6144)])]
    recs = [r.__class__(**{**r.__dict__, "program": p}) for p in range(2) for r in prog]
    tl = simulate(recs, V2)
    # program 1's load reuses x: it waits for program 0's DVE read (WAR), not for all of program 0
    assert tl.starts_ns[2] == pytest.approx(max(tl.ends_ns[0], tl.ends_ns[1]))
    assert tl.cores_used == 1


def _with(r: ExecRecord, **changes) -> ExecRecord:
    return ExecRecord(**{**r.__dict__, **changes})


def _program(p: int, core: int) -> list[ExecRecord]:
    x, out = sbuf(0, 2048), (p << 20) + (1 << 19)
    body = [
        dma(hbm(p << 20, (p << 20) + (1 << 18)), x, 1 << 18, descriptors=128),
        dve([x], [sbuf(4096, 6144)], free=2048),
        dma(sbuf(4096, 6144), hbm(out, out + (1 << 18)), 1 << 18, queue=1, descriptors=128),
    ]
    return [_with(r, program=p, core=core) for r in body]


def test_cores_run_in_parallel():
    one_core = simulate(_program(0, 0) + _program(1, 0), V2)
    two_cores = simulate(_program(0, 0) + _program(1, 1), V2)
    assert two_cores.cores_used == 2 and one_core.cores_used == 1
    assert two_cores.total_ns == pytest.approx(simulate(_program(0, 0), V2).total_ns)
    assert one_core.total_ns > 1.4 * two_cores.total_ns  # one core overlaps programs a little
    assert two_cores.core_total_ns[0] == pytest.approx(two_cores.core_total_ns[1])


def test_interleaving_of_programs_in_the_stream_does_not_matter():
    a, b = _program(0, 0), _program(1, 1)
    grouped = a + b
    interleaved = [r for pair in zip(a, b, strict=True) for r in pair]
    t1, t2 = simulate(grouped, V2), simulate(interleaved, V2)
    perm = [interleaved.index(r) for r in grouped]
    np.testing.assert_array_equal(t1.starts_ns, t2.starts_ns[perm])
    assert t1.total_ns == t2.total_ns


def test_deterministic():
    recs = vector_add_stream(8) + [_with(r, core=1) for r in matmul_stream(n_chunks=1)]
    a, b = simulate(recs, V2), simulate(recs, V2)
    np.testing.assert_array_equal(a.starts_ns, b.starts_ns)
    np.testing.assert_array_equal(a.ends_ns, b.ends_ns)
    assert a.total_ns == b.total_ns and a.busy_ns == b.busy_ns


def test_empty_stream():
    tl = simulate([], V2)
    assert tl.total_ns == 0.0 and tl.cycles == 0 and len(tl.starts_ns) == 0


def test_cycles_count_at_the_pe_clock():
    tl = simulate([matmul([sbuf(0, 1024)], [psum(0, 2048)])], V3)
    assert tl.cycles == round(tl.total_ns * 2.4)


# --- the targets on synthetic streams -----------------------------------------------------


def vector_add_stream(n_tiles: int, row_bytes: int = 2048, bufs: int = 3) -> list[ExecRecord]:
    """out = x + y in [128, 512] fp32 tiles, loads one tile ahead, each DMA over all 16 queues."""
    tile = 128 * row_bytes
    x_hbm, y_hbm, o_hbm = 0, 1 << 32, 2 << 32

    def buf(t: int, which: int) -> MemRange:
        base = (t % bufs) * 3 * row_bytes + which * row_bytes
        return sbuf(base, base + row_bytes)

    def load(t: int) -> list[ExecRecord]:
        return spread_dma(buf(t, 0), x_hbm + t * tile, True, line=3) + spread_dma(
            buf(t, 1), y_hbm + t * tile, True, line=4
        )

    recs = load(0)
    for t in range(n_tiles):
        if t + 1 < n_tiles:
            recs += load(t + 1)
        recs.append(
            rec(
                Engine.DVE,
                CostKind.TENSOR_TENSOR,
                [buf(t, 0), buf(t, 1)],
                [buf(t, 2)],
                free=row_bytes // 4,
                line=5,
                mn="tensor_tensor.add",
            )
        )
        recs += spread_dma(buf(t, 2), o_hbm + t * tile, False, line=6)
    return recs


def matmul_stream(n_chunks: int = 8, m_tiles: int = 8, k_tiles: int = 16, n: int = 256):
    """C[M, N] = A[M, K] @ B[K, N] in bf16, A^T loaded once (just in time) and kept, B streamed in
    [128, n] tiles (double-buffered), C accumulated in PSUM (two sets of banks), evacuated by ACT
    and stored one tile per step of the next chunk, so stores never hold up the next B load."""
    a_row = m_tiles * 128 * 2  # bytes per partition of one A^T k-row-block [128, M]
    a_base = 1 << 20
    b_row, c_row = n * 2, n * 2
    recs: list[ExecRecord] = []

    def a_tile(k: int, m: int) -> MemRange:
        return sbuf(a_base + k * a_row + m * 256, a_base + k * a_row + m * 256 + 256)

    def b_buf(j: int) -> MemRange:
        return sbuf((j % 2) * b_row, (j % 2) * b_row + b_row)

    def acc(c: int, m: int) -> MemRange:
        base = ((c % 2) * m_tiles + m) * n * 4
        return psum(base, base + n * 4)

    def c_buf(c: int, m: int) -> MemRange:
        base = (1 << 19) + ((c % 2) * m_tiles + m) * c_row
        return sbuf(base, base + c_row)

    def evacuate(c: int, m: int) -> list[ExecRecord]:
        copy = rec(Engine.ACT, CostKind.COPY, [acc(c, m)], [c_buf(c, m)], free=n, line=13)
        hbm_c = (3 << 30) + (c * m_tiles + m) * 128 * c_row
        return [copy] + spread_dma(c_buf(c, m), hbm_c, False, line=14)

    j = 0
    for c in range(n_chunks):
        for k in range(k_tiles):
            if c == 0:
                full = sbuf(a_base + k * a_row, a_base + (k + 1) * a_row)
                recs += spread_dma(full, (1 << 30) + k * 128 * a_row, True, line=10)
            recs += spread_dma(b_buf(j), (2 << 30) + j * 128 * b_row, True, line=11)
            for m in range(m_tiles):
                reads = [a_tile(k, m), b_buf(j)] + ([acc(c, m)] if k else [])
                recs.append(matmul(reads, [acc(c, m)], n=n, line=12))
            j += 1
            if c and 1 <= k <= m_tiles:  # one store of the previous chunk per step, between loads
                recs += evacuate(c - 1, k - 1)
    for m in range(m_tiles):
        recs += evacuate(n_chunks - 1, m)
    return recs


def test_double_buffered_matmul_keeps_pe_busy():
    # M = 2048, K = 4096, N = 8192: per B tile the PE works 16 x 183 ns = 2.9 us while the DMA
    # moves 128 KiB of B and 64 KiB of C (1.9 us at 102 B/ns): compute-bound once A is in.
    recs = matmul_stream(n_chunks=16, m_tiles=16, k_tiles=32, n=512)
    for config in (V2, V3):
        tl = simulate(recs, config)
        assert tl.busy_ns["PE"] / tl.total_ns >= 0.85


def test_vector_add_reaches_dma_bandwidth():
    recs = vector_add_stream(64)
    nbytes = sum(r.params.bytes for r in recs if r.engine == Engine.DMA)
    for config in (V2, V3):
        tl = simulate(recs, config)
        assert nbytes / tl.total_ns / config.dma_bytes_per_ns >= 0.80


def test_simulate_is_fast():
    recs = vector_add_stream(2100)  # 100k records
    assert len(recs) >= 100_000
    t0 = time.perf_counter()
    simulate(recs, V2)
    assert time.perf_counter() - t0 < 5.0  # about 1 s on the 2-core dev box; slack for CI


@pytest.mark.parametrize(
    "record,message",
    [
        (dma(hbm(0, 64), sbuf(0, 64), 64, queue=16), "DMA queue 16"),
        (_with(dve([sbuf(0, 64)], [sbuf(64, 128)]), core=2), "core 2"),
    ],
)
def test_rejects_queues_and_cores_the_machine_lacks(record, message):
    with pytest.raises(ValueError, match=message):
        simulate([record], V2)


# --- the scoreboard against a brute-force reference -----------------------------------------------


def reference_take(booked: list, t: float, need: float) -> float:
    """The shared DMA bandwidth by brute force: walk the booked intervals in time order and use
    every free moment from t until `need` ns are booked."""
    cur = t
    for s, e in sorted(booked):
        if need <= 0:
            break
        if e <= cur:
            continue
        if s > cur:
            use = min(need, s - cur)
            booked.append((cur, cur + use))
            need -= use
            cur += use
            if need <= 0:
                break
        cur = max(cur, e)
    if need > 0:
        booked.append((cur, cur + need))
        cur += need
    return cur


def reference_simulate(records, config):
    """O(n^2) statement of the model: every earlier instruction of the core is checked."""
    from isa.timing import _core_order

    n = len(records)
    starts, ends, dones = np.zeros(n), np.zeros(n), np.zeros(n)
    latency = {Engine.PE: 2.8, Engine.ACT: 1.4, Engine.DVE: 1.12, Engine.POOL: 1.4}
    for order in _core_order(records, config).values():
        now, free, booked = 0.0, {}, []
        for pos, i in enumerate(order):
            r = records[i]
            queue = (r.engine, r.queue if r.engine == Engine.DMA else 0)
            ready = 0.0
            for j in order[:pos]:
                o = records[j]
                oq = (o.engine, o.queue if o.engine == Engine.DMA else 0)
                w = ends[j] if oq == queue else dones[j]
                if any(a.overlaps(b) for a in o.writes for b in (*r.reads, *r.writes)):
                    ready = max(ready, w)  # RAW, WAW
                if any(a.overlaps(b) for a in o.reads for b in r.writes):
                    ready = max(ready, ends[j])  # WAR
            occ = cost_ns(r, config)
            if r.engine == Engine.SEQ:
                start = max(now, ready)
                now = ends[i] = dones[i] = start + occ
            else:
                now += 1 / config.seq_clock_ghz
                start = max(now, free.get(queue, 0.0), ready)
                end = start + occ
                if r.engine == Engine.DMA and r.params.bytes:
                    moved = r.params.bytes * (2 if r.cost == CostKind.ATOMIC else 1)
                    need = moved / config.dma_bytes_per_ns
                    end = max(end, reference_take(booked, start + config.dma_fixed_ns, need))
                free[queue] = ends[i] = dones[i] = end
                onchip = any(m.space != Space.HBM for m in (*r.reads, *r.writes))
                if r.engine in latency and onchip:
                    dones[i] += config.sram_access_cycles / latency[r.engine]
            starts[i] = start
    return starts, ends, dones


def test_uncompiled_loop_matches_the_compiled_one(monkeypatch):
    """Without numba the same functions run as Python: the same times, bit for bit."""
    import isa.timing

    recs = random_stream(np.random.default_rng(7), 400)
    compiled = simulate(recs, V2)
    for name in (
        "_run",
        "_overlaps",
        "_book",
        "_prune_bandwidth",
        "_accesses",
        "_apart",
        "_contains",
    ):
        fn = getattr(isa.timing, name)
        assert hasattr(fn, "py_func"), f"{name} is not compiled"
        monkeypatch.setattr(isa.timing, name, fn.py_func)
    monkeypatch.setattr(isa.timing, "_PRUNE_MIN", 1)  # prunes too (they change no time)
    plain = simulate(recs, V2)
    for a, b in (
        (compiled.starts_ns, plain.starts_ns),
        (compiled.ends_ns, plain.ends_ns),
        (compiled.done_ns, plain.done_ns),
    ):
        assert np.array_equal(a, b)
    assert (compiled.busy_ns, compiled.core_total_ns) == (plain.busy_ns, plain.core_total_ns)


def random_stream(rng: np.random.Generator, n: int) -> list[ExecRecord]:
    """Small address spaces so that ranges overlap, nest and repeat often."""

    def mem() -> MemRange:
        space = Space(int(rng.integers(3)))
        if rng.random() < 0.05:  # conservative whole-tensor ranges: the scoreboard's wide list
            return hbm(0, 1 << 24) if space == Space.HBM else MemRange(space, 0, 1 << 18, 0, 128)
        start = int(rng.integers(0, 8)) * 512
        end = start + int(rng.choice([256, 512, 2048, 4096]))
        if space == Space.HBM:
            if rng.random() < 0.5:  # a strided pattern: a window of `width` bytes every period
                period = int(rng.choice([512, 1024, 1536, 4096]))
                width = int(rng.choice([64, 128, 256, 448]))
                off = int(rng.integers(0, period // 64)) * 64
                return MemRange(Space.HBM, start * 64, end * 64, 0, 1, period, off, width)
            if rng.random() < 0.2:  # short plain ranges (within one period of the others)
                return hbm(start * 64 + int(rng.integers(0, 16)) * 64, start * 64 + 1024)
            return hbm(start * 64, end * 64)
        p0 = int(rng.choice([0, 32, 64, 96]))
        return MemRange(space, start, end, p0, int(rng.choice([1, 32, 128 - p0])) or 1)

    out = []
    for _ in range(n):
        kind = int(rng.integers(6))
        reads = [mem() for _ in range(int(rng.integers(0, 3)))]
        writes = [mem() for _ in range(int(rng.integers(0, 2)))]
        core, program = int(rng.integers(2)), int(rng.integers(4))
        if kind == 0:
            r = dma(hbm(0, 64), hbm(0, 64), int(rng.integers(64, 1 << 16)), int(rng.integers(4)))
        elif kind == 1:
            r = matmul((), (), n=int(rng.integers(1, 513)))
        elif kind == 2:
            r = rec(Engine.SEQ, CostKind.SCALAR)
        else:
            engine = (Engine.ACT, Engine.DVE, Engine.POOL)[kind - 3]
            r = rec(engine, CostKind.COPY, free=int(rng.integers(1, 2048)))
        out.append(_with(r, reads=tuple(reads), writes=tuple(writes), core=core, program=program))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_scoreboard_matches_brute_force(seed, monkeypatch):
    import isa.timing

    recs = random_stream(np.random.default_rng(seed), 300)
    if seed % 2:  # sweep finished entries constantly: pruning must not change any time
        monkeypatch.setattr(isa.timing, "_PRUNE_MIN", 1)
    tl = simulate(recs, V2)
    starts, ends, dones = reference_simulate(recs, V2)
    np.testing.assert_allclose(tl.starts_ns, starts, rtol=1e-12)
    np.testing.assert_allclose(tl.ends_ns, ends, rtol=1e-12)
    np.testing.assert_allclose(tl.done_ns, dones, rtol=1e-12)


@pytest.mark.parametrize("compiled", [True, False])
def test_overlaps_finds_every_overlapping_pair_once_per_side(compiled):
    """The neighbour lists (`_overlaps`) against a brute force over every pair: HBM rectangles
    with mixed periods (gcd cases, windows apart within ranges that meet), plain and on-chip
    ones; more pairs than rectangles."""
    import isa.timing
    from isa.trace import apart

    fn = isa.timing._overlaps if compiled else isa.timing._overlaps.py_func
    rng = np.random.default_rng(11)
    n = 400
    space = rng.integers(0, 2, n)
    lo = rng.integers(0, 40, n) * 64
    hi = lo + rng.integers(0, 40, n) * 64
    p0 = rng.integers(0, 96, n)
    p1 = p0 + rng.integers(1, 40, n)
    per = np.where(space == 0, rng.choice([0, 256, 384, 512, 1024], n), 0)
    safe = np.maximum(per, 1)
    off = np.where(per > 0, rng.integers(0, 16, n) * 64 % safe, 0)
    wid = np.where(per > 0, rng.integers(1, 8, n) * 64 % safe, 0)
    wid = np.where((per > 0) & (wid == 0), 64, wid)
    cols = [np.ascontiguousarray(c, dtype=np.int64) for c in (space, lo, hi, p0, p1, per, off)]
    cols.append(np.ascontiguousarray(wid, dtype=np.int64))
    order = np.lexsort((lo, space)).astype(np.int64)
    ptr, ids, covers = fn(order, *cols)
    assert len(ids) > n

    def meet(i, j):
        if space[i] != space[j] or lo[j] >= hi[i] or lo[i] >= hi[j]:
            return False
        if p0[j] >= p1[i] or p0[i] >= p1[j]:
            return False
        return not apart(*(int(c[i]) for c in cols[1:3] + cols[5:]),
                         *(int(c[j]) for c in cols[1:3] + cols[5:]))  # fmt: skip

    def holds(i, j):
        if not (lo[i] <= lo[j] and hi[j] <= hi[i] and p0[i] <= p0[j] and p1[j] <= p1[i]):
            return False
        if per[i] == 0:
            return True
        return (
            per[j] == per[i] and ((lo[j] + off[j]) - (lo[i] + off[i])) % per[i] + wid[j] <= wid[i]
        )

    for i in range(n):
        row = ids[ptr[i] : ptr[i + 1]].tolist()
        want = [j for j in range(n) if meet(i, j)]
        assert sorted(row) == sorted(want), i
        assert [bool(c) for c in covers[ptr[i] : ptr[i + 1]]] == [
            j != i and holds(i, j) for j in row
        ], i
