"""The CPU launcher's choice between the calling thread and the pool, per grid size, and how it
splits a parallel launch: slices of programs, or windows of rounds of a persistent grid."""

from __future__ import annotations

import struct
import threading
import time

import numpy as np
import pytest

from codegen.cpu.loader import ALL_ROUNDS
from runtime.launch import (
    PARALLEL_THRESHOLD_NS,
    PIECES_PER_THREAD,
    ROUND_SPLIT_PROGRAMS_PER_THREAD,
    Launcher,
    WorkerPool,
)


class _Kernel:
    """A stand-in native entry point: `launch_s` seconds of (GIL-free) waiting per launch,
    split over the programs a call runs, as a grid-stride kernel's fixed work is split over
    however many programs the grid has. Records which threads ran which program ranges."""

    def __init__(self, launch_s: float) -> None:
        self.launch_s = launch_s
        self.total = 0
        self.calls: list[tuple[int, int, int]] = []  # (thread id, start, end)
        self.lock = threading.Lock()

    def __call__(self, start: int, end: int, stride: int, buf: bytes) -> None:
        assert stride == 1 and buf == b"args"
        with self.lock:
            self.calls.append((threading.get_ident(), start, end))
        if self.launch_s:
            time.sleep(self.launch_s * (end - start) / self.total)

    def launch(self, launcher: Launcher, programs: int) -> set[int]:
        """One launch of `programs` programs; the threads that ran it. Every program runs once."""
        self.total = programs
        self.calls = []
        launcher((programs, 1, 1), b"args")
        ran = sorted((s, e) for _, s, e in self.calls)
        assert ran[0][0] == 0 and ran[-1][1] == programs
        assert all(a[1] == b[0] for a, b in zip(ran, ran[1:]))
        return {t for t, _, _ in self.calls}


def test_a_persistent_grid_is_not_judged_by_the_one_program_per_row_grid():
    # 20 ms of work per launch whatever the grid: per program, the 4096-program grid measures
    # ~5 us, which over 8 programs would look like a 40 us launch, small enough for the
    # calling thread; the 8-program grid must be timed on its own and go to the pool
    kernel = _Kernel(0.02)
    launcher = Launcher(kernel, WorkerPool(2), pieces_per_thread=1)
    for _ in range(2 * Launcher.SAMPLES):
        kernel.launch(launcher, 4096)
    assert launcher.stats(4096).choice == "parallel"
    threads = set()
    for _ in range(2 * Launcher.SAMPLES + 2):
        threads = kernel.launch(launcher, 8)
    assert launcher.stats(8).choice == "parallel"
    assert len(threads) == 2  # both halves of the grid ran at once
    assert len(kernel.launch(launcher, 4096)) == 2


def test_a_small_grid_stays_on_the_calling_thread_after_one_launch():
    kernel = _Kernel(0.0)
    launcher = Launcher(kernel, WorkerPool(2))
    me = threading.get_ident()
    for _ in range(5):
        assert kernel.launch(launcher, 64) == {me}
    st = launcher.stats(64)
    assert len(st.single) == 1 and not st.parallel and st.choice is None


def test_one_thread_clearly_faster_is_chosen_for_that_grid_only():
    calls = []

    def fixed(start: int, end: int, stride: int, buf: bytes) -> None:
        calls.append((start, end))
        # a launch split in two pays the whole cost in each half: the pool is slower
        time.sleep(0.004 if end - start < 16 else 0.002)

    launcher = Launcher(fixed, WorkerPool(2), pieces_per_thread=1)
    for _ in range(2 * Launcher.SAMPLES):
        launcher((16, 1, 1), b"")
    assert launcher.stats(16).choice == "single"
    calls.clear()
    launcher((16, 1, 1), b"")
    assert calls == [(0, 16)]
    assert launcher.stats(32).choice is None  # another grid size has its own samples


def test_only_the_last_grid_sizes_are_kept():
    kernel = _Kernel(0.0)
    launcher = Launcher(kernel, WorkerPool(2))
    for n in range(2, 2 + 3 * Launcher.GRIDS):
        kernel.launch(launcher, n)
    assert len(launcher.grids) == Launcher.GRIDS
    assert max(launcher.grids) == 1 + 3 * Launcher.GRIDS


def test_the_tutorial_softmax_on_a_persistent_grid_after_one_row_per_program():
    # the same compiled kernel launched one row per program, then on 8 programs striding over
    # the rows: the 8-program launch is timed on its own (a one-thread sample of the whole
    # launch, well above the threshold) and then sampled on the pool, and both give numpy's rows
    from runtime.driver import get_runtime
    from tests.e2e.tutorial_kernels import softmax_kernel

    if get_runtime().pool.n_threads < 2:
        return  # one thread: every launch runs on the calling thread, nothing to choose
    rng = np.random.default_rng(0)
    rows, cols = 1537, 1000  # rows not a multiple of the programs; ragged last block
    x = rng.standard_normal((rows, cols), dtype=np.float32)
    e = np.exp(x - x.max(1, keepdims=True))
    ref = e / e.sum(1, keepdims=True)
    y = np.full_like(x, np.nan)
    compiled = softmax_kernel.warmup(y, x, cols, cols, rows, cols, BLOCK_SIZE=1024)
    compiled.native.launcher.grids.clear()  # timings other tests' launches left
    for grid in (rows, 8):
        for _ in range(2 * Launcher.SAMPLES):
            y = np.full_like(x, np.nan)
            softmax_kernel[(grid,)](y, x, cols, cols, rows, cols, BLOCK_SIZE=1024)
            np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-7)
    st = compiled.native.launcher.stats(8)
    assert min(st.single) > PARALLEL_THRESHOLD_NS
    assert len(st.parallel) == Launcher.SAMPLES


class _Rounds:
    """A stand-in lockstep entry and its round check: each call runs programs [start, end) over
    the window of rounds in the last 16 bytes of `buf`; `slow` seconds per round on worker
    threads, `fast` on the calling thread."""

    def __init__(self, rounds: int, slow: float = 0.0, fast: float = 0.0) -> None:
        self.rounds = rounds
        self.slow, self.fast = slow, fast
        self.checked = 0
        self.calls: list[tuple[int, int, int, int, int]] = []
        self.lock = threading.Lock()
        self.me = threading.get_ident()

    def check(self, buf: bytes) -> int:
        self.checked += 1
        return self.rounds

    def __call__(self, start: int, end: int, stride: int, buf: bytes) -> None:
        k0, k1 = struct.unpack_from("<qq", buf, len(buf) - 16)
        assert buf[:-16] == b"args"
        with self.lock:
            self.calls.append((threading.get_ident(), start, end, k0, k1))
        k1 = min(k1, self.rounds)
        time.sleep((self.fast if threading.get_ident() == self.me else self.slow) * (k1 - k0))


def _launch(kernel: _Rounds, programs: int, threads: int = 2) -> Launcher:
    launcher = Launcher(kernel, WorkerPool(threads), pieces_per_thread=1, rounds=kernel.check)
    launcher.stats(programs).choice = "parallel"
    launcher((programs, 1, 1), b"args" + struct.pack("<qq", *ALL_ROUNDS))
    return launcher


def test_a_persistent_grid_is_split_into_windows_of_rounds():
    kernel = _Rounds(100)
    _launch(kernel, 8)
    wins = sorted((k0, k1) for _, s, e, k0, k1 in kernel.calls if (s, e) == (0, 8))
    assert len(wins) == len(kernel.calls) == 2 * PIECES_PER_THREAD
    assert wins[0][0] == 0 and wins[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(wins, wins[1:]))


def test_a_slowed_thread_runs_fewer_windows():
    # the worker takes 20x longer per round: the calling thread runs most windows
    kernel = _Rounds(64, slow=0.004, fast=0.0002)
    _launch(kernel, 8)
    mine = sum(1 for t, *_ in kernel.calls if t == kernel.me)
    assert mine >= 2 * PIECES_PER_THREAD - 2 and len(kernel.calls) == 2 * PIECES_PER_THREAD


@pytest.mark.parametrize("rounds,programs", [(-1, 8), (1, 8), (0, 8), (100, 64)])
def test_programs_are_split_when_rounds_are_not(rounds, programs):
    # the check says no (-1), one round or none, or a grid with many programs per thread (its
    # check is not even asked): program slices over all rounds, as before
    kernel = _Rounds(rounds)
    _launch(kernel, programs)
    assert kernel.checked == (programs <= ROUND_SPLIT_PROGRAMS_PER_THREAD * 2)
    assert all((k0, k1) == ALL_ROUNDS for *_, k0, k1 in kernel.calls)
    ran = sorted((s, e) for _, s, e, _, _ in kernel.calls)
    assert ran[0][0] == 0 and ran[-1][1] == programs and len(ran) == 2


def test_one_thread_never_asks_for_rounds():
    kernel = _Rounds(100)
    _launch(kernel, 8, threads=1)
    assert kernel.checked == 0 and [c[1:] for c in kernel.calls] == [(0, 8, *ALL_ROUNDS)]
