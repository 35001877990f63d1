"""The disk-cache key of an accelerator binary covers the `isa` package's sources (assembler,
encoding, machine descriptions), which the compiler's own source hash does not: a change there
must build a new binary, never load one encoded by the old assembler."""

from __future__ import annotations

import sys

import numpy as np

import jitlang as jl
import jitlang.language as tl
import runtime.accel_driver as D
from runtime.cache import DiskCache
from runtime.driver import get_runtime


@jl.jit
def scaled(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) * 3.0, mask=offs < n)


def test_an_isa_change_is_a_new_accel_cache_entry(tmp_path, monkeypatch):
    rt = get_runtime()
    monkeypatch.setattr(rt, "_cache", DiskCache(tmp_path, "test"))
    builds = []
    real = D._build

    def counting(*a, **k):
        builds.append(1)
        return real(*a, **k)

    monkeypatch.setattr(D, "_build", counting)
    x = np.arange(100, dtype=np.float32)
    y = np.zeros_like(x)

    def launch():
        scaled.cache.clear()
        y[...] = 0
        scaled[(1,)](x, y, 100, BLOCK=128, target="accel")
        np.testing.assert_array_equal(y, 3 * x)

    launch()
    assert len(builds) == 1
    launch()  # the same sources: a disk hit
    assert len(builds) == 1
    monkeypatch.setattr(sys.modules["jitlang.jit"], "isa_source_hash", lambda: "0123456789abcdef")
    launch()  # another assembler: rebuilt
    assert len(builds) == 2
    scaled.cache.clear()
