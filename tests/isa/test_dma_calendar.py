"""The core's shared DMA bandwidth (`isa.timing._book`, the calendar `simulate` books): each
transfer, taken in dispatch order, gets the earliest free bandwidth at or after the moment its
data can flow, filling gaps before transfers booked earlier (split across them if needed), and
no instant is given twice (the core's bandwidth is never exceeded). Checked on random transfer
sets by brute force, compiled against plain Python, and through `simulate` on streams where
stores wait on compute while independent loads go ahead."""

from __future__ import annotations

import numpy as np
import pytest

import isa.timing
from isa.machine import NC_V2, NC_V3
from isa.timing import _book, _prune_bandwidth, simulate
from tests.isa.test_timing import dma, dve, hbm, sbuf

_COMPILED = ("_run", "_overlaps", "_book", "_prune_bandwidth", "_accesses", "_apart", "_contains")


class Calendar:
    """`_book` (compiled, or its plain-Python body) with the arrays it books into: room for
    one booking more than it holds, all a transfer may add (checked: the spare slot past the
    bookings is poisoned and must stay out of them)."""

    def __init__(self, book, room: int = 256) -> None:
        self.book_fn = book
        self.bs, self.be, self.n = np.empty(room), np.empty(room), 0

    def take(self, t: float, d: float) -> float:
        n = self.n
        self.bs[n + 1 :] = self.be[n + 1 :] = np.nan  # past the one slot a booking may take
        done, self.n = self.book_fn(self.bs, self.be, n, t, d)
        assert self.n <= n + 1, "a transfer added more than one booking"
        assert not np.isnan(self.bs[: self.n]).any() and not np.isnan(self.be[: self.n]).any()
        return done

    def booked(self) -> list[tuple[float, float]]:
        return list(zip(self.bs[: self.n].tolist(), self.be[: self.n].tolist(), strict=True))


def _measure(intervals, lo: float = -np.inf, hi: float = np.inf) -> float:
    return sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in intervals)


def _random_transfers(rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    """(ready, ns of bandwidth) pairs: out of time order (a store waiting on compute is booked
    before loads that can go at once), with exact binary fractions so sums do not round."""
    t = rng.integers(0, 400, n) / 4.0
    d = rng.integers(1, 80, n) / 8.0
    return list(zip(t.tolist(), d.tolist(), strict=True))


@pytest.mark.parametrize("seed", range(8))
def test_each_transfer_takes_exactly_the_earliest_free_bandwidth(seed):
    rng = np.random.default_rng(seed)
    cal = Calendar(_book)
    for t, d in _random_transfers(rng, 60):
        before = cal.booked()
        done = cal.take(t, d)
        after = cal.booked()
        # sorted, disjoint, non-empty: at no instant is the bandwidth given twice
        assert all(s < e for s, e in after)
        assert all(a[1] < b[0] for a, b in zip(after, after[1:], strict=False)), after
        # the transfer got exactly d ns, none of it before t, all of it by `done`
        assert _measure(after) - _measure(before) == pytest.approx(d, abs=1e-9)
        assert _measure(after, hi=t) == pytest.approx(_measure(before, hi=t), abs=1e-9)
        assert _measure(after, lo=done) == pytest.approx(_measure(before, lo=done), abs=1e-9)
        # the earliest: every instant in [t, done) is now booked (it used each free gap)
        assert _measure(after, t, done) == pytest.approx(done - t, abs=1e-9)
        assert done >= t + d


@pytest.mark.parametrize("seed", range(4))
def test_compiled_and_plain_python_book_the_same_calendar(seed):
    assert hasattr(_book, "py_func"), "_book is not compiled"
    rng = np.random.default_rng(100 + seed)
    fast, plain = Calendar(_book), Calendar(_book.py_func)
    for k, (t, d) in enumerate(_random_transfers(rng, 200)):
        assert fast.take(t, d) == plain.take(t, d)
        if k % 50 == 49:  # forgetting bookings before a clock changes nothing later
            now = t / 2
            fast.n = _prune_bandwidth(fast.bs, fast.be, fast.n, now)
            plain.n = _prune_bandwidth.py_func(plain.bs, plain.be, plain.n, now)
        assert fast.booked() == plain.booked()


def _calendar_stream(rng: np.random.Generator, n: int, queues: int = 16) -> list:
    """Loads and stores of random sizes over `queues` queues; some stores wait for a vector-engine
    op of random length on the tile they store (a conversion), so later-dispatched loads on other
    queues are ready before them."""
    out = []
    for i in range(n):
        size = int(rng.integers(1, 64)) * 4096
        q = int(rng.integers(queues))
        tile = sbuf(i * 1024, (i + 1) * 1024)
        far = hbm(i << 22, (i << 22) + size)
        if rng.random() < 0.4:
            out.append(dve([tile], [tile], free=int(rng.integers(64, 40000))))
            out.append(dma(tile, far, size, queue=q, descriptors=128))
        else:
            out.append(dma(far, tile, size, queue=q, descriptors=128))
    return out


def _window_excess(tl, recs, config) -> float:
    """The worst ratio, over windows [a, b] between transfer boundaries, of the bytes of the
    transfers lying wholly inside (their data flows in [start + fixed, end]) to what the core's
    bandwidth can move in that window: above 1 means the bandwidth was exceeded somewhere."""
    idx = [i for i, r in enumerate(recs) if r.params.bytes and r.engine.name == "DMA"]
    s = np.array([tl.starts_ns[i] + config.dma_fixed_ns for i in idx])
    e = np.array([tl.ends_ns[i] for i in idx])
    b = np.array([recs[i].params.bytes for i in idx], np.float64)
    worst = 0.0
    for a in np.unique(s):
        for z in np.unique(e[e > a]):
            inside = (s >= a) & (e <= z)
            worst = max(worst, b[inside].sum() / (config.dma_bytes_per_ns * (z - a)))
    return worst


@pytest.mark.parametrize("seed", range(4))
def test_random_transfers_never_exceed_the_cores_bandwidth(seed):
    recs = _calendar_stream(np.random.default_rng(seed), 60)
    for config in (NC_V2, NC_V3):
        tl = simulate(recs, config)
        assert _window_excess(tl, recs, config) <= 1.0 + 1e-9
        # and the stream keeps the bandwidth busy: it is not trivially under the limit
        assert _window_excess(tl, recs, config) > 0.8


def test_the_window_check_catches_bandwidth_given_twice(monkeypatch):
    """The brute-force check above fails for a calendar that lets each transfer ignore the
    others' bookings (every transfer gets its own empty calendar)."""

    def alone(bs, be, n, t, d):
        return t + d, 0

    recs = _calendar_stream(np.random.default_rng(0), 60)
    for name in _COMPILED:  # the plain-Python loop calls the module's `_book` by name
        monkeypatch.setattr(isa.timing, name, getattr(isa.timing, name).py_func)
    monkeypatch.setattr(isa.timing, "_book", alone)
    with np.errstate(over="ignore"):  # the plain-Python hash of rectangles wraps on purpose
        tl = simulate(recs, NC_V2)
    assert _window_excess(tl, recs, NC_V2) > 1.1


def test_loads_fill_the_link_around_a_store_that_waits_on_compute():
    """A store dispatched first waits for its conversion (a long DVE op); eight loads dispatched
    after it on other queues start at once. They use the bandwidth until the store can go, the
    store takes its share at that moment, and the loads' remainder follows it: the last load
    ends when all bytes have passed at the core's rate, not after the store's whole booking."""
    config = NC_V2
    tile = sbuf(0, 4096)
    conv = dve([tile], [tile], free=60000)  # 53.6 us on the vector engine
    store_bytes, load_bytes = 1 << 19, 1 << 20
    store = dma(tile, hbm(0, store_bytes), store_bytes, queue=0, descriptors=128)
    loads = [
        dma(hbm((q + 1) << 22, ((q + 1) << 22) + load_bytes), sbuf(q * 8192, q * 8192 + 8192),
            load_bytes, queue=q, descriptors=128)
        for q in range(1, 9)
    ]  # fmt: skip
    recs = [conv, store, *loads]
    tl = simulate(recs, config)
    rate = config.dma_bytes_per_ns
    store_flows = tl.starts_ns[1] + config.dma_fixed_ns
    assert tl.starts_ns[1] >= tl.ends_ns[0]  # the store waits for its conversion
    load_ends = tl.ends_ns[2:]
    load_flow = tl.starts_ns[2] + config.dma_fixed_ns
    assert store_flows < load_ends.max()  # the store's booking falls among the loads'
    # every byte of the loads and the store passes back to back from the loads' start
    both = load_flow + (8 * load_bytes + store_bytes) / rate
    assert load_ends.max() == pytest.approx(both, rel=1e-12)
    # strict dispatch order (no back-filling) would have put all the loads after the store
    assert load_ends.max() < store_flows + (store_bytes + 8 * load_bytes) / rate - 1e3
    # the store itself is limited by its own engine, not by the loads booked after it
    assert tl.ends_ns[1] == pytest.approx(
        tl.starts_ns[1] + config.dma_fixed_ns + store_bytes / config.dma_queue_bytes_per_ns,
        rel=1e-12,
    )


def test_compiled_and_plain_python_simulate_agree_on_waiting_stores(monkeypatch):
    recs = _calendar_stream(np.random.default_rng(11), 300)
    compiled = simulate(recs, NC_V2)
    for name in _COMPILED:
        fn = getattr(isa.timing, name)
        assert hasattr(fn, "py_func"), f"{name} is not compiled"
        monkeypatch.setattr(isa.timing, name, fn.py_func)
    monkeypatch.setattr(isa.timing, "_PRUNE_MIN", 1)  # sweeps often: times must not change
    with np.errstate(over="ignore"):  # the plain-Python hash of rectangles wraps on purpose
        plain = simulate(recs, NC_V2)
    for a, b in (
        (compiled.starts_ns, plain.starts_ns),
        (compiled.ends_ns, plain.ends_ns),
        (compiled.done_ns, plain.done_ns),
    ):
        assert np.array_equal(a, b)
    assert compiled.busy_ns == plain.busy_ns
