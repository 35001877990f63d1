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


FORCED_CPU = "x86-64-v3"  # AVX2 + FMA: the widest vector ISA every current x86-64 host runs


def native_cpu_name() -> str:
    from runtime.driver import get_runtime

    t = get_runtime().cpu_target
    return f"{t.cpu}{' (forced)' if t.forced else ''}, {t.vector_bytes * 8}-bit"


def run_forced(script: str, spec: str = FORCED_CPU) -> dict | None:
    """Run `script --jitlang-only` under `JITLANG_CPU=spec` in a child process and return the
    JSON it prints last ({row name: seconds}), or None (with the reason printed) if it fails."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, JITLANG_CPU=spec)
    r = subprocess.run(
        [sys.executable, script, "--jitlang-only"], env=env, capture_output=True, text=True
    )
    if r.returncode != 0:
        print(f"(forced {spec} run failed: {r.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def ratio_cells(t: float, peers: dict, names: tuple[str, ...]) -> str:
    cells = []
    for p in names:
        if p in peers:
            cells.append(f"{peers[p] * 1e3:7.2f}ms x{peers[p] / t:5.2f}")
        else:
            cells.append(f"{'n/a':>16s}")
    return "  ".join(cells)
