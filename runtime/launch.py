"""Grid launch on the CPU: split program ids across threads that call native code without the GIL.

Stage: runtime. Input: a native entry point (`void(i64 start, i64 end, i64 stride, ptr args)`) bound as a ctypes function, a grid and argument values. Small launches
run on the calling thread; launches whose measured cost is large are spread over a persistent
pool of worker threads (ctypes releases the GIL for the duration of each native call). Each
thread takes contiguous slices of program ids (contiguous streams suit hardware prefetchers)
from a shared counter, a few per thread, so a late or slowed thread does not hold a launch back.
A persistent grid (a few programs striding over many rows, run in lockstep) is split by rounds
instead where the kernel proves it safe: each slice is a window of rounds of every program, so
the threads read far-apart sequential streams rather than interleaved groups of rows.
"""

from __future__ import annotations

import itertools
import queue
import struct
import threading
import time

PARALLEL_THRESHOLD_NS = 50_000  # a launch measured below this runs on the calling thread
PIECES_PER_THREAD = 4  # slices per thread in a parallel launch
# Round windows are tried for grids of at most this many programs per thread (the check costs
# a little per program; more programs give each thread long runs of rows by program slices).
ROUND_SPLIT_PROGRAMS_PER_THREAD = 16
_WINDOW = struct.Struct("<qq")  # a lockstep call's rounds [k0, k1), the last slots of its args


class WorkerPool:
    """A fixed set of daemon threads, each running slices of launches handed to it."""

    def __init__(self, n_threads: int) -> None:
        self.n_threads = max(1, n_threads)
        self._queues: list[queue.SimpleQueue] = []
        self._lock = threading.Lock()

    def queues(self) -> list[queue.SimpleQueue]:
        if len(self._queues) < self.n_threads - 1:
            with self._lock:
                old = threading.stack_size()
                threading.stack_size(64 << 20)  # generous stacks for big per-program buffers
                try:
                    while len(self._queues) < self.n_threads - 1:
                        q: queue.SimpleQueue = queue.SimpleQueue()
                        t = threading.Thread(
                            target=_work,
                            args=(q,),
                            daemon=True,
                            name=f"jitlang-worker-{len(self._queues)}",
                        )
                        t.start()
                        self._queues.append(q)
                finally:
                    threading.stack_size(old)
        return self._queues


def _work(q: queue.SimpleQueue) -> None:
    while True:
        fn, args, done = q.get()
        try:
            fn(*args)
            done.put(None)
        except BaseException as e:  # surfaced on the launching thread
            done.put(e)


class _GridStats:
    """What one grid size of a kernel has measured: wall ns per launch on one thread and on
    all, the choice made from them, and how many large launches it has had."""

    __slots__ = ("single", "parallel", "launches", "choice")

    def __init__(self) -> None:
        self.single: list[float] = []
        self.parallel: list[float] = []
        self.launches = 0
        self.choice: str | None = None


class Launcher:
    """Runs a grid on one thread or on the pool, whichever has measured faster for this kernel.

    Memory-bound kernels may not gain from a second thread on a machine whose bandwidth one core
    saturates; compute-bound ones do. The first large launches alternate the two modes until
    each has `SAMPLES` timings; the pool wins unless one thread is clearly faster (the minimum of
    its samples under `MARGIN` times the pool's), so one noisy sample cannot pin a kernel to one
    thread. Every `REPROBE` large launches the other mode is re-timed.

    Timings are kept per grid size (the last `GRIDS` sizes launched), not per program: a
    persistent kernel's programs stride over the rows, so a program of an 8-program grid does
    the work of 512 programs of a 4096-program grid, and a per-program cost measured on one grid
    would send the other to the calling thread (or to the pool) on a wrong estimate. A grid size
    not seen yet starts with a timed launch on the calling thread: a small launch stays there
    after that one launch, a large one goes on to the alternating samples.
    """

    REPROBE = 64
    SAMPLES = 3
    MARGIN = 0.85
    GRIDS = 8

    __slots__ = ("cfunc", "pool", "pieces", "grids", "rounds")

    def __init__(
        self, cfunc, pool: WorkerPool, pieces_per_thread: int | None = None, rounds=None
    ) -> None:
        self.cfunc = cfunc
        self.pool = pool
        self.pieces = pieces_per_thread or PIECES_PER_THREAD  # slices per thread in parallel
        self.grids: dict[int, _GridStats] = {}  # programs per launch -> its timings
        # a lockstep kernel's check (codegen/cpu/roundsplit.py): rounds(buf) is the launch's
        # number of rounds if windows of them may run on different threads, else -1; the
        # window is the last two slots of `buf`
        self.rounds = rounds

    def stats(self, total: int) -> _GridStats:
        """The timings of grids of `total` programs (created, and the oldest size dropped)."""
        st = self.grids.get(total)
        if st is None:
            st = _GridStats()
            if len(self.grids) >= self.GRIDS:
                self.grids.pop(next(iter(self.grids)), None)
            self.grids[total] = st
        return st

    def __call__(self, grid: tuple[int, int, int], buf: bytes) -> None:
        total = grid[0] * grid[1] * grid[2]
        if total == 1 or self.pool.n_threads == 1:
            self.cfunc(0, total, 1, buf)
            return
        if total <= 0:
            return
        st = self.grids.get(total) or self.stats(total)
        if st.single and min(st.single) < PARALLEL_THRESHOLD_NS:
            self.cfunc(0, total, 1, buf)
            return
        st.launches += 1
        if st.choice is None:
            mode = "single" if len(st.single) <= len(st.parallel) else "parallel"
        elif st.launches % self.REPROBE == 0:
            mode = "parallel" if st.choice == "single" else "single"
        else:
            mode = None
        if mode is None:
            if st.choice == "single":
                self.cfunc(0, total, 1, buf)
            else:
                self._parallel(total, buf)
            return
        if mode == "parallel":
            self.pool.queues()  # thread start-up is not part of the measurement
        t0 = time.perf_counter_ns()
        if mode == "single":
            self.cfunc(0, total, 1, buf)
        else:
            self._parallel(total, buf)
        sample = float(time.perf_counter_ns() - t0)
        samples = st.single if mode == "single" else st.parallel
        samples.append(sample)
        del samples[: -self.SAMPLES]
        if len(st.single) >= self.SAMPLES and len(st.parallel) >= self.SAMPLES:
            st.choice = "single" if min(st.single) < self.MARGIN * min(st.parallel) else "parallel"

    def _parallel(self, total: int, buf: bytes) -> None:
        n = min(self.pool.n_threads, total)
        rounds = -1
        if (
            self.rounds is not None
            and total <= ROUND_SPLIT_PROGRAMS_PER_THREAD * self.pool.n_threads
        ):
            rounds = self.rounds(buf)
        if rounds >= 2:
            # windows of rounds, every program in each: PIECES_PER_THREAD per thread, so a
            # slowed thread takes fewer of them
            n = min(self.pool.n_threads, rounds)
            pieces = min(rounds, n * PIECES_PER_THREAD)
            cuts = [rounds * i // pieces for i in range(pieces + 1)]
            head = buf[: -_WINDOW.size]
            calls = [(0, total, 1, head + _WINDOW.pack(a, b)) for a, b in zip(cuts, cuts[1:])]
        else:
            # Contiguous slices of programs handed out first come, first served: a thread that
            # starts late (a worker waking up, a core busy with another process) takes fewer
            # slices instead of holding the whole launch back by its lateness.
            pieces = min(total, n * self.pieces)
            cuts = [total * i // pieces for i in range(pieces + 1)]
            calls = [(a, b, 1, buf) for a, b in zip(cuts, cuts[1:])]
        self._run_all(n, calls)

    def _run_all(self, n: int, calls: list[tuple]) -> None:
        """Runs `cfunc(*call)` for every call on `n` threads (this one and n - 1 workers), each
        taking the next call when it is free."""
        qs = self.pool.queues()
        done: queue.SimpleQueue = queue.SimpleQueue()
        pieces = len(calls)
        nxt = itertools.count()
        failed: list[BaseException] = []
        cfunc = self.cfunc

        def run() -> None:
            while not failed:
                i = next(nxt)  # atomic under the GIL
                if i >= pieces:
                    return
                try:
                    cfunc(*calls[i])
                except BaseException as e:
                    failed.append(e)
                    raise

        for i in range(1, n):
            qs[i - 1].put((run, (), done))
        err = None
        try:
            run()
        except BaseException as e:
            err = e
        for _ in range(1, n):
            r = done.get()
            if r is not None and err is None:
                err = r
        if err is not None:
            raise err
