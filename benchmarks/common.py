"""Shared helpers of the benchmark scripts."""

from __future__ import annotations

import time


def best(fn, reps: int = 20, warm: int = 3) -> float:
    """The fastest of `reps` timed calls of `fn` after `warm` untimed ones, in seconds."""
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)
