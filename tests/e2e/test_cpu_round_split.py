"""Persistent grids on several threads split by rounds (codegen/cpu/roundsplit.py,
runtime/launch.py): where `<kernel>__rounds` proves that different iterations of a program
touch disjoint bytes wherever they may meet, each thread runs windows of rounds of every program;
otherwise the programs are split as before. Results are compared with numpy; the launches run on
a 2-thread pool forced into parallel mode, and the windows each call ran are recorded. The file
runs again under a forced AVX2 target (`JITLANG_CPU=x86-64-v3`)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from codegen.cpu.loader import ALL_ROUNDS
from runtime.launch import Launcher, WorkerPool
from tests.e2e.tutorial_kernels import layer_norm_persistent, softmax_kernel

ROOT = Path(__file__).resolve().parents[2]


@jl.jit
def chain_up(x_ptr, n, BLOCK: tl.constexpr):
    # row i = row i - P + 1: iteration k reads what iteration k - 1 of its program wrote
    pid = tl.program_id(0)
    P = tl.num_programs(0)
    cols = tl.arange(0, BLOCK)
    for i in range(pid + P, n, P):
        prev = tl.load(x_ptr + (i - P) * BLOCK + cols)
        tl.store(x_ptr + i * BLOCK + cols, prev + 1.0)


@jl.jit
def chain_down(x_ptr, n, BLOCK: tl.constexpr):
    # the same chain walked down: row i = row i + P + 1, rows from the top, a negative step
    pid = tl.program_id(0)
    P = tl.num_programs(0)
    cols = tl.arange(0, BLOCK)
    for i in range(n - 1 - P - pid, -1, -P):
        nxt = tl.load(x_ptr + (i + P) * BLOCK + cols)
        tl.store(x_ptr + i * BLOCK + cols, nxt + 1.0)


@jl.jit
def scale_down(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    # independent rows walked with a negative step
    pid = tl.program_id(0)
    P = tl.num_programs(0)
    cols = tl.arange(0, BLOCK)
    for i in range(n - 1 - pid, -1, -P):
        tl.store(y_ptr + i * BLOCK + cols, tl.load(x_ptr + i * BLOCK + cols) * 2.0 + i)


@jl.jit
def last_row(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    # every iteration stores to the program's slot: the last row a program runs wins
    pid = tl.program_id(0)
    for i in range(pid, n, tl.num_programs(0)):
        tl.store(o_ptr + pid, tl.sum(tl.load(x_ptr + i * BLOCK + tl.arange(0, BLOCK)), axis=0))


@jl.jit
def row_sums_carried(x_ptr, o_ptr, n, BLOCK: tl.constexpr):
    # a loop that carries a value: not lockstep, never split
    pid = tl.program_id(0)
    acc = 0.0
    for i in range(pid, n, tl.num_programs(0)):
        acc += tl.sum(tl.load(x_ptr + i * BLOCK + tl.arange(0, BLOCK)), axis=0)
    tl.store(o_ptr + pid, acc)


@jl.jit
def gather_rows(x_ptr, idx_ptr, y_ptr, n, BLOCK: tl.constexpr):
    # the row read comes from memory: no affine address, no split
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    for i in range(pid, n, tl.num_programs(0)):
        r = tl.load(idx_ptr + i)
        tl.store(y_ptr + i * BLOCK + cols, tl.load(x_ptr + r * BLOCK + cols))


class _Recorder:
    """Stands in for a kernel's native entry: records (thread, start, end, k0, k1) of each call,
    then runs it."""

    def __init__(self, cfunc, lockstep: bool) -> None:
        self.cfunc = cfunc
        self.lockstep = lockstep  # other kernels have no window after their arguments
        self.calls: list[tuple[int, int, int, int, int]] = []
        self.lock = threading.Lock()

    def __call__(self, start, end, stride, buf) -> None:
        k0, k1 = struct.unpack_from("<qq", buf, len(buf) - 16) if self.lockstep else ALL_ROUNDS
        with self.lock:
            self.calls.append((threading.get_ident(), start, end, k0, k1))
        self.cfunc(start, end, stride, buf)


def _parallel(jf, grid, args, kw) -> list[tuple[int, int, int, int, int]]:
    """Runs `jf[grid](*args, **kw)` once on a 2-thread pool in parallel mode; the calls made."""
    native = jf.warmup(*args, grid=grid, **kw).native
    rec = _Recorder(native.cfunc, bool(native.meta.get("lockstep")))
    saved = native.launcher
    launcher = Launcher(rec, WorkerPool(2), pieces_per_thread=1, rounds=saved.rounds)
    launcher.stats(grid[0]).choice = "parallel"
    native.launcher = launcher
    try:
        jf[grid](*args, **kw)
    finally:
        native.launcher = saved
    return rec.calls


def _windows(calls, programs: int) -> list[tuple[int, int]]:
    """The round windows of a launch split by rounds ([] if it was split by programs), after
    checking that each window ran every program and that they tile the rounds."""
    if all((k0, k1) == ALL_ROUNDS for _, _, _, k0, k1 in calls):
        return []
    assert all((s, e) == (0, programs) for _, s, e, _, _ in calls)
    wins = sorted((k0, k1) for *_, k0, k1 in calls)
    assert wins[0][0] == 0 and all(a[1] == b[0] for a, b in zip(wins, wins[1:]))
    return wins


def _rounds(jf, grid, args, kw) -> int:
    """What the kernel's check says for these arguments (-1: no split)."""
    native = jf.warmup(*args, grid=grid, **kw).native
    vals = []
    for a in args:
        vals.append(a.ctypes.data if isinstance(a, np.ndarray) else a)
    return native.launcher.rounds(native.pack(grid[0], 1, 1, *vals, *ALL_ROUNDS))


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("rows,programs", [(203, 8), (4, 8), (8, 8), (101, 3), (17, 16)])
def test_persistent_softmax_split_by_rounds(rows, programs):
    cols = 96
    x = np.random.default_rng(rows).standard_normal((rows, cols)).astype(np.float32)
    y = np.full_like(x, np.nan)
    calls = _parallel(
        softmax_kernel, (programs,), (y, x, cols, cols, rows, cols), {"BLOCK_SIZE": 128}
    )
    np.testing.assert_allclose(y, _softmax(x), rtol=1e-5, atol=1e-7)
    rounds = -(-rows // programs)
    wins = _windows(calls, programs)
    if rounds >= 2:
        assert wins[-1][1] == rounds and len(wins) == min(rounds, 8)
    else:
        assert not wins  # one round: nothing to split


def test_in_place_softmax_is_split():
    rows, cols = 64, 128
    x = np.random.default_rng(1).standard_normal((rows, cols)).astype(np.float32)
    want = _softmax(x)
    calls = _parallel(softmax_kernel, (4,), (x, x, cols, cols, rows, cols), {"BLOCK_SIZE": 128})
    np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-7)
    assert len(_windows(calls, 4)) == 8


@pytest.mark.parametrize("rows,n,block", [(77, 300, 128), (16, 256, 256), (5, 40, 64)])
def test_persistent_layer_norm_split_by_rounds(rows, n, block):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((rows, n)).astype(np.float32)
    w, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    y = np.full_like(x, np.nan)
    mean, rstd = np.full(rows, np.nan, np.float32), np.full(rows, np.nan, np.float32)
    args = (x, y, w, b, mean, rstd, rows, n, n, 1e-5)
    calls = _parallel(layer_norm_persistent, (4,), args, {"BLOCK_SIZE": block})
    mu = x.mean(axis=1)
    sd = 1 / np.sqrt(((x - mu[:, None]) ** 2).mean(axis=1) + 1e-5)
    np.testing.assert_allclose(mean, mu, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(rstd, sd, rtol=1e-4)
    np.testing.assert_allclose(y, (x - mu[:, None]) * sd[:, None] * w + b, rtol=1e-4, atol=1e-4)
    assert len(_windows(calls, 4)) == min(-(-rows // 4), 8) or rows <= 4


@pytest.mark.parametrize("jf", [chain_up, chain_down])
def test_iterations_that_read_each_others_rows_are_not_split(jf):
    n, block, programs = 203, 16, 4
    x = np.zeros((n, block), np.float32)
    if jf is chain_up:
        x[:programs] = np.arange(programs, dtype=np.float32)[:, None]
        want = np.arange(n) % programs + np.arange(n) // programs
    else:
        top = np.arange(n - programs, n)
        x[top] = (n - 1 - top).astype(np.float32)[:, None]  # program p's first row holds p
        want = (n - 1 - np.arange(n)) % programs + (n - 1 - np.arange(n)) // programs
    assert _rounds(jf, (programs,), (x, n), {"BLOCK": block}) == -1
    calls = _parallel(jf, (programs,), (x, n), {"BLOCK": block})
    assert not _windows(calls, programs)
    np.testing.assert_array_equal(x, np.repeat(want.astype(np.float32)[:, None], block, axis=1))


def test_a_negative_step_is_split():
    n, block, programs = 99, 32, 4
    x = np.random.default_rng(2).standard_normal((n, block)).astype(np.float32)
    y = np.full_like(x, np.nan)
    calls = _parallel(scale_down, (programs,), (x, y, n), {"BLOCK": block})
    np.testing.assert_array_equal(y, x * 2 + np.arange(n, dtype=np.float32)[:, None])
    assert len(_windows(calls, programs)) == 8


def test_every_iteration_storing_one_slot_is_not_split():
    n, block, programs = 50, 16, 4
    x = np.random.default_rng(3).standard_normal((n, block)).astype(np.float32)
    o = np.zeros(programs, np.float32)
    assert _rounds(last_row, (programs,), (x, o, n), {"BLOCK": block}) == -1
    calls = _parallel(last_row, (programs,), (x, o, n), {"BLOCK": block})
    assert not _windows(calls, programs)
    last = [max(range(p, n, programs)) for p in range(programs)]
    np.testing.assert_allclose(o, x[last].sum(axis=1), rtol=1e-5)


def test_a_carried_value_and_a_gather_are_not_split():
    n, block, programs = 40, 16, 4
    x = np.random.default_rng(4).standard_normal((n, block)).astype(np.float32)
    o = np.zeros(programs, np.float32)
    native = row_sums_carried.warmup(x, o, n, BLOCK=block, grid=(programs,)).native
    assert native.launcher.rounds is None  # not a lockstep kernel at all
    calls = _parallel(row_sums_carried, (programs,), (x, o, n), {"BLOCK": block})
    assert not _windows(calls, programs)
    want = [x[p::programs].sum() for p in range(programs)]
    np.testing.assert_allclose(o, want, rtol=1e-5)
    idx = np.random.default_rng(5).permutation(n).astype(np.int32)
    y = np.zeros_like(x)
    assert _rounds(gather_rows, (programs,), (x, idx, y, n), {"BLOCK": block}) == -1
    calls = _parallel(gather_rows, (programs,), (x, idx, y, n), {"BLOCK": block})
    assert not _windows(calls, programs)
    np.testing.assert_array_equal(y, x[idx])


def test_the_check_reads_strides_masks_and_widths_exactly():
    # one program: its consecutive iterations are consecutive rows, `stride` elements apart;
    # the masked row of n_cols elements fits the stride or it does not
    x = np.zeros(1 << 16, np.float32)
    kw = {"BLOCK_SIZE": 1024}

    def rounds(stride, n_cols, rows=8, out=x, inp=x):
        return _rounds(softmax_kernel, (1,), (out, inp, stride, stride, rows, n_cols), kw)

    assert rounds(1024, 1024) == 8
    assert rounds(1000, 1000) == 8  # the mask leaves 1000 of the 1024 lanes
    assert rounds(1000, 1001) == -1  # one element into the next row
    top = x[60000:]  # rows laid out downwards from here: a negative stride
    assert rounds(-1000, 1000, out=top, inp=top) == 8
    assert rounds(-1000, 1001, out=top, inp=top) == -1
    assert rounds(-1000, 1000, out=x[59000:], inp=top) == -1  # stores into the next row read
    # a store two rows ahead of the load meets it only from the third iteration on
    assert rounds(1024, 1024, rows=2, out=x[2048:]) == 2
    assert rounds(1024, 1024, rows=3, out=x[2048:]) == -1
    assert rounds(1024, 1024, rows=0) == 0
    # output one row past the input: row i's store is row i + 1's load
    assert rounds(1024, 1024, out=x[1024:]) == -1
    assert rounds(1024, 1024, out=x[8 * 1024 :]) == 8  # past every row read
    # row * stride wraps in int32 at row 2: the addresses are not what the check computes
    assert rounds(1 << 30, 16, rows=3) == -1
    assert rounds(1 << 30, 16, rows=2) == 2


@pytest.mark.skipif(bool(os.environ.get("JITLANG_CPU")), reason="already under a forced CPU")
def test_this_file_under_forced_avx2(tmp_path):
    env = dict(os.environ, JITLANG_CPU="x86-64-v3", JITLANG_CACHE_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
