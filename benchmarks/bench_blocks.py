"""CPU benchmarks of block kernels: fused softmax, matmul, layer norm, attention (issue #3).

    python benchmarks/bench_blocks.py     # one table; ratio = peer time / jitlang time

Each kernel is timed for the native target and, in a child process, for the forced AVX2 target
(`JITLANG_CPU=x86-64-v3`), so one run shows both against the same peers.

Peers: numpy, torch CPU when installed. Matmul reports GFLOP/s for the best of a few block
configurations (as autotune would pick). Compile times are cold (fresh in-memory cache; the
disk cache is bypassed with a private temporary directory).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("JITLANG_CACHE_DIR", tempfile.mkdtemp(prefix="jl-bench-"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

import jitlang as jl  # noqa: E402
from benchmarks.common import (  # noqa: E402
    FORCED_CPU,
    best,
    native_cpu_name,
    ratio_cells,
    run_forced,
)
from tests.e2e.tutorial_kernels import (  # noqa: E402
    attn_fwd,
    layer_norm_fwd,
    matmul_kernel,
    softmax_kernel,
)

PEERS = ("numpy", "torch")


def torch_or_none():
    try:
        import torch

        return torch
    except ImportError:
        return None


def compile_time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    jl_runs = []  # (name, run, check) measured first: torch's OpenMP threads spin after each op
    peer_runs = []  # (name, {peer: fn})

    # fused softmax 4096 x 1024
    x = rng.standard_normal((4096, 1024), dtype=np.float32)
    y = np.empty_like(x)
    e = np.exp(x - x.max(1, keepdims=True))
    sm_ref = e / e.sum(1, keepdims=True)
    # one row per program, and below the tutorial's persistent grid
    jl_runs.append(
        (
            "fused softmax 4096x1024 fp32",
            lambda: softmax_kernel[(4096,)](y, x, 1024, 1024, 4096, 1024, BLOCK_SIZE=1024),
            lambda: np.allclose(y, sm_ref, rtol=1e-5, atol=1e-7),
        )
    )

    def np_softmax():
        e = np.exp(x - x.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    peers = {"numpy": np_softmax}
    if torch is not None:
        tx = torch.from_numpy(x)
        peers["torch"] = lambda: torch.softmax(tx, dim=1)
    peer_runs.append(peers)
    # the tutorial as written: a persistent grid (4 programs per CPU, as tutorial 02 sizes it)
    # striding over the rows; the CPU runs each thread's programs in lockstep
    persistent = min(4096, 4 * (os.cpu_count() or 1))
    jl_runs.append(
        (
            f"softmax persistent ({persistent} programs)",
            lambda: softmax_kernel[(persistent,)](y, x, 1024, 1024, 4096, 1024, BLOCK_SIZE=1024),
            lambda: np.allclose(y, sm_ref, rtol=1e-5, atol=1e-7),
        )
    )
    peer_runs.append(peers)

    # layer norm forward 4096 x 1024
    w = rng.standard_normal(1024, dtype=np.float32)
    bias = rng.standard_normal(1024, dtype=np.float32)
    mean = np.empty(4096, np.float32)
    rstd = np.empty(4096, np.float32)

    def np_ln():
        m = x.mean(1, keepdims=True)
        v = ((x - m) ** 2).mean(1, keepdims=True)
        return (x - m) / np.sqrt(v + 1e-5) * w + bias

    ln_ref = np_ln()
    jl_runs.append(
        (
            "layer norm fwd 4096x1024 fp32",
            lambda: layer_norm_fwd[(4096,)](
                x, y, w, bias, mean, rstd, 1024, 1024, 1e-5, BLOCK_SIZE=1024
            ),
            lambda: np.allclose(y, ln_ref, rtol=1e-3, atol=1e-3),
        )
    )
    peers = {"numpy": np_ln}
    if torch is not None:
        tw, tb = torch.from_numpy(w), torch.from_numpy(bias)
        peers["torch"] = lambda: torch.nn.functional.layer_norm(tx, (1024,), tw, tb, 1e-5)
    peer_runs.append(peers)

    # matmul 1024^3 fp32 in, fp16 out (the tutorial kernel); GFLOP/s counts 2*M*N*K
    M = N = K = 1024
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    c = np.empty((M, N), np.float16)
    mm_ref = a @ b

    def mm(BM, BN, BK):
        grid = (jl.cdiv(M, BM) * jl.cdiv(N, BN),)
        return lambda: matmul_kernel[grid](
            a,
            b,
            c,
            M,
            N,
            K,
            K,
            1,
            N,
            1,
            N,
            1,
            BLOCK_SIZE_M=BM,
            BLOCK_SIZE_N=BN,
            BLOCK_SIZE_K=BK,
            GROUP_SIZE_M=8,
            ACTIVATION="",
        )

    configs = ((64, 64, 64), (128, 64, 64), (64, 128, 32), (128, 128, 32))
    jl_runs.append(
        (
            "matmul 1024^3 fp32",
            [(cfg, mm(*cfg)) for cfg in configs],
            lambda: np.allclose(c.astype(np.float32), mm_ref, rtol=1e-2, atol=0.1),
        )
    )
    peers = {"numpy": lambda: a @ b}
    if torch is not None:
        ta, tb2 = torch.from_numpy(a), torch.from_numpy(b)
        peers["torch"] = lambda: ta @ tb2
    peer_runs.append(peers)

    # attention forward: 8 heads x 1024 tokens x 64
    H, S, D = 8, 1024, 64
    q = rng.standard_normal((H, S, D), dtype=np.float32)
    k = rng.standard_normal((H, S, D), dtype=np.float32)
    v = rng.standard_normal((H, S, D), dtype=np.float32)
    o = np.empty_like(q)

    def np_attn():
        s_ = q @ k.transpose(0, 2, 1) * 0.125
        p = np.exp(s_ - s_.max(-1, keepdims=True))
        return (p / p.sum(-1, keepdims=True)) @ v

    at_ref = np_attn()
    grid = (jl.cdiv(S, 64), H)
    jl_runs.append(
        (
            "attention fwd 8x1024x64 fp32",
            lambda: attn_fwd[grid](
                q, k, v, 0.125, o, D, D, D, D, S, HEAD_DIM=D, BLOCK_M=64, BLOCK_N=64
            ),
            lambda: np.allclose(o, at_ref, rtol=1e-3, atol=1e-3),
        )
    )
    peers = {"numpy": np_attn}
    if torch is not None:
        tq, tk, tv = (torch.from_numpy(t_) for t_ in (q, k, v))
        peers["torch"] = lambda: torch.nn.functional.scaled_dot_product_attention(
            tq, tk, tv, scale=0.125
        )
    peer_runs.append(peers)

    rows = []
    for name, run, check in jl_runs:
        if isinstance(run, list):  # several configurations: keep the best, as autotune would
            best_t = None
            for cfg, fn in run:
                ct = compile_time(fn)
                t = best(fn, reps=5)
                if best_t is None or t < best_t[0]:
                    best_t = (t, ct, cfg)
            t, ct, cfg = best_t
            run_best = dict(run)[cfg]
            run_best()
            name = f"{name} {cfg}"
        else:
            ct = compile_time(run)
            t = best(run)
        assert check(), name
        rows.append([name, t, ct, {}])
    if "--jitlang-only" in sys.argv:  # the child of `run_forced`
        print(json.dumps({r[0].split(" (")[0]: [r[1], r[2], r[0]] for r in rows}))
        return
    forced = run_forced(__file__)  # before the peers: torch's threads spin after each op
    for row, peers in zip(rows, peer_runs):
        for pname in ("numpy", "torch"):
            if pname in peers:
                row[3][pname] = best(peers[pname], reps=5 if pname == "numpy" else 10)

    print(f"{'benchmark':40s} {'jitlang':>9s} {'compile':>8s}  {'numpy':>16s}  {'torch':>16s}")
    for name, t, ct, peers in rows:
        print(f"{name:40s} {t * 1e3:7.2f}ms {ct * 1e3:6.0f}ms  " + ratio_cells(t, peers, PEERS))
        f = (forced or {}).get(name.split(" (")[0])
        if f is not None:
            label = f"  {FORCED_CPU}: " + f[2].split(" fp32")[-1].strip()
            print(
                f"{label:40s} {f[0] * 1e3:7.2f}ms {f[1] * 1e3:6.0f}ms  "
                + ratio_cells(f[0], peers, PEERS)
            )
    print(
        f"(native target: {native_cpu_name()}; indented rows: the same kernels compiled with "
        f"JITLANG_CPU={FORCED_CPU} (AVX2); xR = peer time / jitlang time: above 1 means jitlang "
        "is faster; compile = cold compile + first launch; jitlang is timed before any peer runs)"
    )
    mm_row = next(r for r in rows if r[0].startswith("matmul"))
    flops = 2 * M * N * K
    gf = {"jitlang": flops / mm_row[1] / 1e9}
    gf.update({p: flops / t_ / 1e9 for p, t_ in mm_row[3].items()})
    mm_forced = (forced or {}).get(mm_row[0].split(" (")[0])
    if mm_forced is not None:
        gf[FORCED_CPU] = flops / mm_forced[0] / 1e9
    print("matmul GFLOP/s: " + ", ".join(f"{k_} {v_:.0f}" for k_, v_ in gf.items()))


if __name__ == "__main__":
    main()
