"""Kernels compiled and launched from several Python threads at once give correct results."""

from __future__ import annotations

import threading

import numpy as np

import jitlang as jl
import jitlang.language as tl


@jl.jit
def scale_add(x_ptr, o_ptr, a, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(o_ptr + offs, tl.load(x_ptr + offs, mask=m) * a + 1, mask=m)


def test_concurrent_compile_and_launch():
    errors = []
    n = 100_000

    def worker(seed: int) -> None:
        try:
            rng = np.random.default_rng(seed)
            for i in range(20):
                block = (64, 128, 256)[(seed + i) % 3]  # threads race on the same compiles
                x = rng.standard_normal(n).astype(np.float32)
                o = np.empty_like(x)
                a = float(seed + i)
                scale_add[(jl.cdiv(n, block),)](x, o, a, n, BLOCK=block)
                np.testing.assert_allclose(o, x * np.float32(a) + 1, rtol=1e-6, atol=1e-6)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(scale_add.cache) == 3
