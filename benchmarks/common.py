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


def paired(fns: dict, rounds: int = 15, per_round: int = 3, gap: float = 0.005) -> dict:
    """Time several functions alternately in one process: each round runs every function
    `per_round` times (after one untimed call) and keeps its fastest; `gap` seconds of sleep
    before each function let another library's spinning worker threads (torch's OpenMP) go idle,
    so that no function pays for the one before it. Returns {name: (fastest time overall,
    {other name: median over rounds of other's time / this one's})}. Pairing per round keeps
    the ratios meaningful on a shared machine whose load changes between rounds."""
    per: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            time.sleep(gap)
            fn()
            ts = []
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            per[k].append(min(ts))
    out = {}
    for k, ts in per.items():
        ratios = {}
        for o, os_ in per.items():
            if o != k:
                rs = sorted(b / a for a, b in zip(ts, os_))
                ratios[o] = rs[len(rs) // 2]
        out[k] = (min(ts), ratios)
    return out


FORCED_CPU = "x86-64-v3"  # AVX2 + FMA: the widest vector ISA every current x86-64 host runs


def native_cpu_name() -> str:
    from runtime.driver import get_runtime

    t = get_runtime().cpu_target
    return f"{t.cpu}{' (forced)' if t.forced else ''}, {t.vector_bytes * 8}-bit"


# what an AVX2-only host gives the peers: torch's AVX2 kernels, OpenBLAS's Haswell kernels
PEERS_AS_AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"}


def run_forced(
    script: str,
    spec: str = FORCED_CPU,
    flag: str = "--jitlang-only",
    args: tuple = (),
    env: dict | None = None,
) -> dict | None:
    """Run `script flag *args` under `JITLANG_CPU=spec` (and `env`) in a child process and
    return the JSON it prints last, or None (with the reason printed) if it fails."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, JITLANG_CPU=spec, **(env or {}))
    r = subprocess.run(
        [sys.executable, script, flag, *args], env=env, capture_output=True, text=True
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
