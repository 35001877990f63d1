"""HBM access patterns in the timing model: the period a strided pattern carries (`strided_range`),
the disjointness test (`apart`) against brute-force byte sets, and the scoreboard letting
interleaved but disjoint stores run in parallel while any shared byte still orders them."""

from __future__ import annotations

import numpy as np
import pytest

from isa.machine import NC_V2
from isa.timing import simulate
from isa.trace import (
    CostKind,
    CostParams,
    Engine,
    ExecRecord,
    MemRange,
    Space,
    apart,
    strided_range,
)

ROW = 1024 * 2  # bytes of one row of a [1024, 1024] fp16 accumulator


def pattern_bytes(base: int, dims, size: int) -> set[int]:
    addrs = np.array([base], np.int64)
    for s, n in dims:
        addrs = (addrs[:, None] + np.arange(n, dtype=np.int64)[None, :] * s * size).reshape(-1)
    return {int(a) + k for a in addrs for k in range(size)}


def pattern_range(base: int, dims, size: int) -> MemRange:
    b = pattern_bytes(base, dims, size)
    return strided_range(base, dims, size, min(b), max(b) + 1)


def chunk(c: int, rows: int = 2) -> tuple[int, tuple]:
    """Chunk c of the accumulator's store: partition p holds rows 8p..8p+7 and the chunk stores
    rows 8p + rows*c .. + rows - 1 of every partition (base in bytes, dims in elements)."""
    return rows * c * ROW, ((8 * 1024, 128), (1024, rows), (1, 1024))


def described(r: MemRange, x: int) -> bool:
    if not r.start <= x < r.end:
        return False
    return r.period == 0 or (x - r.start - r.off) % r.period < r.width


def random_dims(rng) -> tuple[int, tuple, int]:
    size = int(rng.choice([1, 2, 4]))
    dims = []
    for _ in range(int(rng.integers(1, 4))):
        s = int(rng.choice([1, 2, 3, 4, 8, 16, 24, 32, 64, -8, -16]))
        dims.append((s, int(rng.integers(1, 5))))
    base = int(rng.integers(0, 64)) * size + 2048
    return base, tuple(dims), size


def test_the_accumulator_chunks_carry_their_period():
    base, dims = chunk(1)
    r = pattern_range(base, dims, 2)
    assert (r.period, r.width, r.off) == (8 * ROW, 2 * ROW, 0)
    assert (r.start, r.end) == (2 * ROW, 2 * ROW + 127 * 8 * ROW + 2 * ROW)


def test_contiguous_patterns_have_no_period():
    assert pattern_range(0, ((1024, 8), (1, 1024)), 2).period == 0  # rows back to back
    assert pattern_range(0, ((1, 4096),), 4).period == 0


@pytest.mark.parametrize("seed", range(4))
def test_the_period_describes_every_byte(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        base, dims, size = random_dims(rng)
        r = pattern_range(base, dims, size)
        assert all(described(r, x) for x in pattern_bytes(base, dims, size)), (base, dims, size)


@pytest.mark.parametrize("seed", range(4))
def test_apart_only_for_disjoint_byte_sets(seed):
    """Sound on random pairs (and not vacuous: many disjoint interleaved pairs are told apart)."""
    rng = np.random.default_rng(100 + seed)
    told_apart = 0
    for _ in range(400):
        a = random_dims(rng)
        b = (
            (a[0] + int(rng.integers(-40, 40)) * a[2], a[1], a[2])
            if rng.random() < 0.6
            else (random_dims(rng))
        )
        if b[0] < 0:
            continue
        ra, rb = pattern_range(*a), pattern_range(*b)
        ba, bb = pattern_bytes(*a), pattern_bytes(*b)
        if ra.overlaps(rb) is False and ra.start < rb.end and rb.start < ra.end:
            told_apart += 1
            assert not (ba & bb), (a, b)
        if ba & bb:
            assert ra.overlaps(rb) and rb.overlaps(ra)
    assert told_apart > 20


def test_apart_across_periods_uses_their_gcd():
    # period 16 window [0, 4) and period 24 window [8, 12): modulo 8 the windows [0,4) and [0,4)
    assert not apart(0, 100, 16, 0, 4, 8, 100, 24, 0, 4)
    # period 16 window [0, 4) and period 24 window [4, 8): disjoint modulo 8
    assert apart(0, 100, 16, 0, 4, 4, 100, 24, 0, 4)
    # a range without a period shorter than the other's period: a window of that period
    assert apart(0, 100, 16, 0, 4, 20, 28, 0, 0, 0)
    assert not apart(0, 100, 16, 0, 4, 20, 36, 0, 0, 0)  # 16 bytes or more: the range decides
    assert not apart(0, 100, 0, 0, 0, 4, 8, 0, 0, 0)


def _store(r: MemRange, queue: int, nbytes: int) -> ExecRecord:
    src = MemRange(Space.SBUF, 0, 4096, 0, 128)
    return ExecRecord(
        0, "dma", Engine.DMA, CostKind.DMA, CostParams(bytes=nbytes, descriptors=1024),
        (src,), (r,), queue,
    )  # fmt: skip


def _load(r: MemRange, queue: int, nbytes: int) -> ExecRecord:
    dst = MemRange(Space.SBUF, 8192 + 4096 * queue, 8192 + 4096 * (queue + 1), 0, 128)
    return ExecRecord(
        0, "dma", Engine.DMA, CostKind.DMA, CostParams(bytes=nbytes, descriptors=1024),
        (r,), (dst,), queue,
    )  # fmt: skip


def test_interleaved_disjoint_stores_run_in_parallel():
    stores = [_store(pattern_range(*chunk(c), 2), c, 128 * 2 * ROW) for c in range(4)]
    tl = simulate(stores, NC_V2)
    assert tl.starts_ns[3] < tl.ends_ns[0]  # no write-after-write between the chunks
    plain = [
        _store(MemRange(Space.HBM, s.writes[0].start, s.writes[0].end), s.queue, s.params.bytes)
        for s in stores
    ]
    serial = simulate(plain, NC_V2)  # the same stores as plain ranges: one after another
    assert serial.starts_ns[3] >= serial.ends_ns[2]
    assert tl.total_ns < 0.6 * serial.total_ns


@pytest.mark.parametrize(
    "second, ordered",
    [
        (chunk(1), False),  # the next rows of every partition: disjoint
        (chunk(0), True),  # the same rows
        ((ROW + 1024, ((8 * 1024, 128), (1024, 2), (1, 1024))), True),  # half a row shared
        ((2 * ROW - 2, ((8 * 1024, 128), (1024, 2), (1, 1024))), True),  # one element shared
        ((7 * ROW, ((8 * 1024, 1), (1, 2))), False),  # one row's start, in no chunk 0 row
        ((8 * ROW + ROW - 2, ((1, 1),)), True),  # the last element of partition 1's chunk-0 rows
    ],
)
def test_any_shared_byte_orders_writes_and_reads_after_writes(second, ordered):
    first = pattern_range(*chunk(0), 2)
    other = pattern_range(*second, 2)
    for make in (_store, _load):  # WAW, then RAW
        tl = simulate([_store(first, 0, 128 * 2 * ROW), make(other, 1, 4096)], NC_V2)
        assert (tl.starts_ns[1] >= tl.ends_ns[0]) == ordered, make.__name__
    # WAR: a store after a load of the same bytes waits for the load
    tl = simulate([_load(first, 0, 128 * 2 * ROW), _store(other, 1, 4096)], NC_V2)
    assert (tl.starts_ns[1] >= tl.ends_ns[0]) == ordered


def test_a_periodic_write_does_not_cover_what_it_skips():
    """A store of chunk 0 over the whole range must not retire an earlier store of chunk 1:
    a later load of chunk 1 still waits for that one."""
    c0, c1 = pattern_range(*chunk(0), 2), pattern_range(*chunk(1), 2)
    recs = [_store(c1, 0, 1 << 20), _store(c0, 1, 4096), _load(c1, 2, 4096)]
    tl = simulate(recs, NC_V2)
    assert tl.starts_ns[2] >= tl.ends_ns[0]
    assert tl.starts_ns[1] < tl.ends_ns[0]
