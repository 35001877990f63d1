"""Large emulations show a progress bar when someone watches, and stay quiet otherwise."""

from __future__ import annotations

import io

import numpy as np

import jitlang as jl
import jitlang.language as tl
from jitlang import progress


@jl.jit
def _fill(x_ptr):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid, pid)


def test_emulator_reports_every_program():
    from isa.emulator import Emulator  # noqa: F401  (the callback is the emulator's)

    seen = []
    x = np.zeros(300, np.int32)
    k = _fill.warmup(x, target="accel", grid=(300,))
    real = k.native.emulator.run

    def spy(*args, **kwargs):
        kwargs.setdefault("progress", lambda d, t: seen.append((d, t)))
        return real(*args, **kwargs)

    k.native.emulator.run = spy
    k.native.batching = False  # 300 programs, not 300 / B batched ones (accel_batch)
    _fill[(300,)](x, target="accel")
    assert seen[-1] == (300, 300) and len(seen) == 300
    np.testing.assert_array_equal(x, np.arange(300))


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_only_when_watched(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    cb, close = progress.program_bar(10_000, "x")
    assert cb is None
    close()
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    cb, close = progress.program_bar(progress.MIN_PROGRAMS - 1, "x")
    assert cb is None  # too small to be worth a bar
    cb, close = progress.program_bar(1000, "emulating k")
    for d in range(1, 1001):
        cb(d, 1000)
    close()
    assert "emulating k" in tty.getvalue() and "/1000" in tty.getvalue()
