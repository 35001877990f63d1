"""Grid launch on the CPU: split program ids across threads that call native code without the GIL.

Stage: runtime. Input: a native entry point (`void(i64 start, i64 end, i64 gx, i64 gy, i64 gz,
args...)`) bound as a ctypes function, a grid and argument values. Small launches run on the
calling thread; launches whose measured cost is large are split across a persistent pool of
worker threads (ctypes releases the GIL for the duration of each native call).
"""

from __future__ import annotations

import queue
import threading
import time

PARALLEL_THRESHOLD_NS = 40_000  # estimated work below this runs on the calling thread


class WorkerPool:
    """A fixed set of daemon threads, each running slices of launches handed to it."""

    def __init__(self, n_threads: int) -> None:
        self.n_threads = max(1, n_threads)
        self._queues: list[queue.SimpleQueue] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._threads:
                return
            old = threading.stack_size()
            threading.stack_size(64 << 20)  # generous stacks for big per-program buffers
            try:
                for i in range(self.n_threads - 1):
                    q: queue.SimpleQueue = queue.SimpleQueue()
                    t = threading.Thread(
                        target=self._work, args=(q,), daemon=True, name=f"jitlang-worker-{i}"
                    )
                    t.start()
                    self._queues.append(q)
                    self._threads.append(t)
            finally:
                threading.stack_size(old)

    @staticmethod
    def _work(q: queue.SimpleQueue) -> None:
        while True:
            fn, args, done = q.get()
            try:
                fn(*args)
                done.put(None)
            except BaseException as e:  # surfaced on the launching thread
                done.put(e)

    def run(self, cfunc, total: int, grid: tuple[int, int, int], args: tuple) -> None:
        """Run programs [0, total) split into contiguous slices, one per thread."""
        n = min(self.n_threads, total)
        if n <= 1:
            cfunc(0, total, *grid, *args)
            return
        self._start()
        done: queue.SimpleQueue = queue.SimpleQueue()
        bounds = [total * i // n for i in range(n + 1)]
        for i in range(1, n):
            self._queues[i - 1].put((cfunc, (bounds[i], bounds[i + 1], *grid, *args), done))
        err = None
        try:
            cfunc(bounds[0], bounds[1], *grid, *args)
        except BaseException as e:
            err = e
        for _ in range(1, n):
            r = done.get()
            if r is not None and err is None:
                err = r
        if err is not None:
            raise err


class Launcher:
    """Decides per launch whether to go parallel, from the measured cost per program."""

    __slots__ = ("cfunc", "pool", "ns_per_program")

    def __init__(self, cfunc, pool: WorkerPool) -> None:
        self.cfunc = cfunc
        self.pool = pool
        self.ns_per_program = -1.0

    def __call__(self, grid: tuple[int, int, int], args: tuple) -> None:
        total = grid[0] * grid[1] * grid[2]
        if total <= 0:
            return
        cost = self.ns_per_program
        if total == 1 or (0 <= cost and cost * total < PARALLEL_THRESHOLD_NS):
            if cost < 0:
                t0 = time.perf_counter_ns()
                self.cfunc(0, total, *grid, *args)
                self.ns_per_program = (time.perf_counter_ns() - t0) / total
            else:
                self.cfunc(0, total, *grid, *args)
            return
        if cost < 0:
            # measure on the first program, then decide for the rest
            t0 = time.perf_counter_ns()
            self.cfunc(0, 1, *grid, *args)
            self.ns_per_program = cost = float(time.perf_counter_ns() - t0)
            if cost * (total - 1) < PARALLEL_THRESHOLD_NS:
                self.cfunc(1, total, *grid, *args)
                return
            self._parallel(1, total, grid, args)
            return
        self._parallel(0, total, grid, args)

    def _parallel(self, start: int, end: int, grid, args) -> None:
        pool = self.pool
        n = min(pool.n_threads, end - start)
        if n <= 1:
            self.cfunc(start, end, *grid, *args)
            return
        pool._start()
        done: queue.SimpleQueue = queue.SimpleQueue()
        span = end - start
        bounds = [start + span * i // n for i in range(n + 1)]
        for i in range(1, n):
            pool._queues[i - 1].put((self.cfunc, (bounds[i], bounds[i + 1], *grid, *args), done))
        err = None
        t0 = time.perf_counter_ns()
        try:
            self.cfunc(bounds[0], bounds[1], *grid, *args)
        except BaseException as e:
            err = e
        own = time.perf_counter_ns() - t0
        for _ in range(1, n):
            r = done.get()
            if r is not None and err is None:
                err = r
        if err is not None:
            raise err
        # keep the estimate current (per-program time on one thread)
        self.ns_per_program = 0.5 * self.ns_per_program + 0.5 * own / max(1, bounds[1] - bounds[0])
