"""CPU benchmarks of block kernels: fused softmax, matmul, layer norm, attention (issue #3).

    python benchmarks/bench_blocks.py               # one table; ratio = peer time / jitlang time
    python benchmarks/bench_blocks.py --threads 1   # jitlang, torch and numpy on one thread each

Each kernel is timed for the native target and, in a child process, for the forced AVX2 target
(`JITLANG_CPU=x86-64-v3`), so one run shows both against the same peers.

jitlang and its peers are timed alternately in one process (`common.paired`: rounds of a few
calls each, the fastest call of each round, the median over rounds of the per-round ratio), so
a machine whose load changes during the run moves both sides alike; torch runs on as many
threads as jitlang. Peers: numpy, torch CPU when installed. Matmul uses the best of a few block
configurations at 1024^3 (as autotune would pick) for every size. Compile times are cold (fresh
in-memory cache; the disk cache is bypassed with a private temporary directory).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def _threads_arg() -> str | None:
    if "--threads" in sys.argv:
        return sys.argv[sys.argv.index("--threads") + 1]
    return None


if _threads_arg():  # before numpy and torch start their thread pools
    for var in ("JITLANG_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = _threads_arg()
os.environ.setdefault("JITLANG_CACHE_DIR", tempfile.mkdtemp(prefix="jl-bench-"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

import jitlang as jl  # noqa: E402
from benchmarks.common import (  # noqa: E402
    FORCED_CPU,
    PEERS_AS_AVX2,
    best,
    native_cpu_name,
    paired,
    run_forced,
)
from tests.e2e.tutorial_kernels import (  # noqa: E402
    attn_fwd,
    layer_norm_fwd,
    layer_norm_persistent,
    matmul_kernel,
    softmax_kernel,
)

PEERS = ("numpy", "torch")
MATMUL_SIZES = (1024, 2048, 4096)
# (BLOCK_M, BLOCK_N, BLOCK_K); larger output tiles amortise each program's loads and
# per-dot accumulator traffic over more FMAs (256x256x32: AVX2 1024^3 ~100 -> ~110 GFLOP/s)
MATMUL_CONFIGS = (
    (64, 128, 32),
    (128, 128, 32),
    (256, 128, 32),
    (128, 256, 32),
    (256, 256, 32),
)


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    from runtime.driver import get_runtime

    torch.set_num_threads(get_runtime().pool.n_threads)  # as many threads as jitlang
    return torch


def compile_time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    jl_runs = []  # (name, run or [(config, run)], check)
    peer_runs = []  # {peer: fn}, one per jl_runs entry

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
    # tutorial 05's body on the persistent grid of the softmax above
    jl_runs.append(
        (
            f"layer norm persistent ({persistent} programs)",
            lambda: layer_norm_persistent[(persistent,)](
                x, y, w, bias, mean, rstd, 4096, 1024, 1024, 1e-5, BLOCK_SIZE=1024
            ),
            lambda: np.allclose(y, ln_ref, rtol=1e-3, atol=1e-3),
        )
    )
    peer_runs.append(peers)

    # matmul fp32 in, fp16 out (the tutorial kernel); GFLOP/s counts 2*M*N*K
    for size in MATMUL_SIZES:
        M = N = K = size
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((K, N), dtype=np.float32)
        c = np.empty((M, N), np.float16)
        mm_ref = a @ b

        def mm(BM, BN, BK, a=a, b=b, c=c, M=M, N=N, K=K):
            grid = (jl.cdiv(M, BM) * jl.cdiv(N, BN),)
            return lambda: matmul_kernel[grid](
                a, b, c, M, N, K, K, 1, N, 1, N, 1,
                BLOCK_SIZE_M=BM, BLOCK_SIZE_N=BN, BLOCK_SIZE_K=BK, GROUP_SIZE_M=8, ACTIVATION="",
            )  # fmt: skip

        jl_runs.append(
            (
                f"matmul {size}^3 fp32",
                [(cfg, mm(*cfg)) for cfg in MATMUL_CONFIGS],
                lambda c=c, mm_ref=mm_ref: np.allclose(
                    c.astype(np.float32), mm_ref, rtol=1e-2, atol=0.1
                ),
            )
        )
        peers = {"numpy": lambda a=a, b=b: a @ b}
        if torch is not None:
            ta, tb2 = torch.from_numpy(a), torch.from_numpy(b)
            peers["torch"] = lambda ta=ta, tb2=tb2: ta @ tb2
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
    finalists = None  # the two best matmul configurations at the first size
    for (name, run, check), peers in zip(jl_runs, peer_runs):
        if isinstance(run, list):  # several configurations: keep the best per size, as
            # autotune keyed on the shape would: all of them at the first size, then the two
            # best of those, timed alternately (median ratio) at each larger size
            fns = dict(run)
            if finalists is None:
                timed = [(compile_time(fn), cfg, fn) for cfg, fn in run]
                ranked = sorted((best(fn, reps=5), ct, cfg) for ct, cfg, fn in timed)
                finalists = [cfg for _t, _ct, cfg in ranked[:2]]
                _t, ct, chosen = ranked[0]
            else:
                cts = {cfg: compile_time(fns[cfg]) for cfg in finalists}
                duel = paired({cfg: fns[cfg] for cfg in finalists}, rounds=3, per_round=1)
                a, b = finalists
                chosen = a if duel[a][1][b] >= 1.0 else b
                ct = cts[chosen]
            run = fns[chosen]
            run()
            name = f"{name} {chosen}"
        else:
            ct = compile_time(run)
        assert check(), name
        big = name.startswith(("matmul 2048", "matmul 4096"))
        stats = paired(
            {"jitlang": run, **peers}, rounds=7 if big else 15, per_round=1 if big else 3
        )
        t, ratios = stats["jitlang"]
        rows.append([name, t, ct, {p: (stats[p][0], ratios[p]) for p in peers}])
    if "--forced-child" in sys.argv:  # the child of `run_forced`
        print(json.dumps(rows))
        return
    args = ("--threads", _threads_arg()) if _threads_arg() else ()
    forced = run_forced(__file__, flag="--forced-child", args=args, env=PEERS_AS_AVX2) or []
    forced_by_name = {r[0].split(" fp32")[0].split(" (")[0]: r for r in forced}

    def cells(t, peers):
        out = []
        for p in PEERS:
            if p in peers:
                pt, r = peers[p]
                out.append(f"{pt * 1e3:8.2f}ms x{r:5.2f}")
            else:
                out.append(f"{'n/a':>17s}")
        return "  ".join(out)

    threads = _threads_arg() or "all"
    print(f"{'benchmark':40s} {'jitlang':>9s} {'compile':>8s}  {'numpy':>17s}  {'torch':>17s}")
    for name, t, ct, peers in rows:
        print(f"{name:40s} {t * 1e3:7.2f}ms {ct * 1e3:6.0f}ms  " + cells(t, peers))
        f = forced_by_name.get(name.split(" fp32")[0].split(" (")[0])
        if f is not None:
            cfg = f[0].split(" fp32")[-1].strip() if name.startswith("matmul") else ""
            label = f"  {FORCED_CPU} {cfg}"
            print(f"{label:40s} {f[1] * 1e3:7.2f}ms {f[2] * 1e3:6.0f}ms  " + cells(f[1], f[3]))
    print(
        f"(native target: {native_cpu_name()}; threads: {threads}; indented rows: the same "
        f"kernels compiled with JITLANG_CPU={FORCED_CPU} (AVX2) in a child process, timed against "
        "the peers there, which run their AVX2 code as on an AVX2 host (ATEN_CPU_CAPABILITY=avx2, "
        "OPENBLAS_CORETYPE=Haswell); xR = median over alternating rounds of peer time / jitlang time: above "
        "1 means jitlang is faster; times are the fastest call; compile = cold compile + first "
        "launch)"
    )
    for name, t, _ct, peers in rows:
        if name.startswith("matmul"):
            size = int(name.split()[1].split("^")[0])
            flops = 2 * size**3
            gf = {"jitlang": flops / t / 1e9}
            gf.update({p: flops / pt / 1e9 for p, (pt, _r) in peers.items()})
            f = forced_by_name.get(name.split(" fp32")[0])
            if f is not None:
                gf[FORCED_CPU] = flops / f[1] / 1e9
            print(f"matmul {size}^3 GFLOP/s (fastest call): " + ", ".join(
                f"{k_} {v_:.0f}" for k_, v_ in gf.items()
            ))  # fmt: skip


if __name__ == "__main__":
    main()
