"""Grid launch on the CPU: split program ids across threads that call native code without the GIL.

Stage: runtime. Input: a native entry point (`void(i64 start, i64 end, i64 stride, ptr args)`) bound as a ctypes function, a grid and argument values. Small launches
run on the calling thread; launches whose measured cost is large are spread over a persistent
pool of worker threads (ctypes releases the GIL for the duration of each native call). Each
thread takes contiguous slices of program ids (contiguous streams suit hardware prefetchers)
from a shared counter, a few per thread, so a late or slowed thread does not hold a launch back.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time

PARALLEL_THRESHOLD_NS = 50_000  # estimated work below this runs on the calling thread
PIECES_PER_THREAD = 4  # slices per thread in a parallel launch


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


class Launcher:
    """Runs a grid on one thread or on the pool, whichever has measured faster for this kernel.

    Memory-bound kernels may not gain from a second thread on a machine whose bandwidth one core
    saturates; compute-bound ones do. The first large launches alternate the two modes until
    each has `SAMPLES` timings (wall ns per program); the pool wins unless one thread is clearly
    faster (the minimum of its samples under `MARGIN` times the pool's), so one noisy sample
    cannot pin a kernel to one thread. Every `REPROBE` large launches the other mode is re-timed.
    """

    REPROBE = 64
    SAMPLES = 3
    MARGIN = 0.85

    __slots__ = ("cfunc", "pool", "single", "parallel", "big_launches", "choice", "pieces")

    def __init__(self, cfunc, pool: WorkerPool, pieces_per_thread: int | None = None) -> None:
        self.cfunc = cfunc
        self.pool = pool
        self.pieces = pieces_per_thread or PIECES_PER_THREAD  # slices per thread in parallel
        self.single: list[float] = []  # wall ns per program, one thread
        self.parallel: list[float] = []  # wall ns per program, all threads
        self.big_launches = 0
        self.choice: str | None = None

    @property
    def single_ns(self) -> float:
        return min(self.single) if self.single else -1.0

    def __call__(self, grid: tuple[int, int, int], buf: bytes) -> None:
        total = grid[0] * grid[1] * grid[2]
        single = self.single_ns
        if total == 1 or (0 <= single and single * total < PARALLEL_THRESHOLD_NS):
            self.cfunc(0, total, 1, buf)
            return
        if total <= 0:
            return
        if self.pool.n_threads == 1:
            self.cfunc(0, total, 1, buf)
            return
        self.big_launches += 1
        if self.choice is None:
            mode = "single" if len(self.single) <= len(self.parallel) else "parallel"
        elif self.big_launches % self.REPROBE == 0:
            mode = "parallel" if self.choice == "single" else "single"
        else:
            mode = None
        if mode is None:
            if self.choice == "single":
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
        sample = (time.perf_counter_ns() - t0) / total
        samples = self.single if mode == "single" else self.parallel
        samples.append(sample)
        del samples[: -self.SAMPLES]
        if len(self.single) >= self.SAMPLES and len(self.parallel) >= self.SAMPLES:
            self.choice = (
                "single" if min(self.single) < self.MARGIN * min(self.parallel) else ("parallel")
            )

    def _parallel(self, total: int, buf: bytes) -> None:
        n = min(self.pool.n_threads, total)
        qs = self.pool.queues()
        done: queue.SimpleQueue = queue.SimpleQueue()
        # Contiguous slices handed out first come, first served: a thread that starts late (a
        # worker waking up, a core busy with another process) takes fewer slices instead of
        # holding the whole launch back by its lateness.
        pieces = min(total, n * self.pieces)
        bounds = [total * i // pieces for i in range(pieces + 1)]
        nxt = itertools.count()
        failed: list[BaseException] = []
        cfunc = self.cfunc

        def run() -> None:
            while not failed:
                i = next(nxt)  # atomic under the GIL
                if i >= pieces:
                    return
                try:
                    cfunc(bounds[i], bounds[i + 1], 1, buf)
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
