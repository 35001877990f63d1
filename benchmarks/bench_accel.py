"""Accelerator benchmark: Triton's tutorial kernels on the model, nc-v2 and nc-v3 side by side.

    python benchmarks/bench_accel.py [--full] [--configs nc-v2 nc-v3] [--only NAME] [--json]

For each kernel (vector add, softmax, layer norm forward, matmul 512^3..2048^3 in bf16 and fp32 --
4096^3 with --full; the tutorial's kernel, and an "affine" one without its `% M` offset wrap
and with constant strides -- and attention forward) on each machine generation: the modelled time, the
tensor engine's utilisation, the DMA bandwidth utilisation, the fraction of the roofline's
attainable rate, what bounds it, the compile time and the emulator's wall time. Every run is
timing-only emulation (addresses, sizes, dependencies; no tile data), so sizes stay realistic.
The kernels are the tutorial kernels as written (tests/e2e/tutorial_kernels.py): one row per
program for softmax and layer norm, grouped ordering for matmul.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402

import jitlang as jl  # noqa: E402
import jitlang.language as tl  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "tutorial_kernels", ROOT / "tests" / "e2e" / "tutorial_kernels.py"
)
tk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tk)


@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y, mask=mask)


@jl.jit
def matmul_affine(
    aT_ptr,
    b_ptr,
    c_ptr,
    M: tl.constexpr,
    N: tl.constexpr,
    K: tl.constexpr,
    BM: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    """C = A @ B with A given transposed ([K, M], as NKI's tutorial takes it: the tensor engine's
    stationary operand has K on partitions, so its rows are contiguous), no `% M` wrap of the
    offsets and constant sizes (the ISA's HBM patterns take strides as immediates)."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = tl.arange(0, BM)
    rn = tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(K // BK):
        a = tl.load(aT_ptr + (k * BK + rk)[None, :] * M + (pid_m * BM + rm)[:, None])
        b = tl.load(b_ptr + (k * BK + rk)[:, None] * N + (pid_n * BN + rn)[None, :])
        acc = tl.dot(a, b, acc)
    c = c_ptr + (pid_m * BM + rm)[:, None] * N + (pid_n * BN + rn)[None, :]
    tl.store(c, acc.to(tl.float16))


ROWS, COLS = 4096, 1024


def vector_add():
    n = ROWS * COLS
    x, y, out = (np.zeros(n, np.float32) for _ in range(3))
    return add_kernel, (n // 1024,), (x, y, out, n), dict(BLOCK_SIZE=1024)


def softmax():
    x, y = np.zeros((ROWS, COLS), np.float32), np.zeros((ROWS, COLS), np.float32)
    return tk.softmax_kernel, (ROWS,), (y, x, COLS, COLS, ROWS, COLS), dict(BLOCK_SIZE=COLS)


def layer_norm():
    x, y = np.zeros((ROWS, COLS), np.float32), np.zeros((ROWS, COLS), np.float32)
    w, b = np.ones(COLS, np.float32), np.zeros(COLS, np.float32)
    mean, rstd = np.zeros(ROWS, np.float32), np.zeros(ROWS, np.float32)
    args = (x, y, w, b, mean, rstd, COLS, COLS, 1e-5)
    return tk.layer_norm_fwd, (ROWS,), args, dict(BLOCK_SIZE=COLS)


def matmul(size: int, dtype: str):
    dt = ml_dtypes.bfloat16 if dtype == "bf16" else np.float32
    a, b = np.zeros((size, size), dt), np.zeros((size, size), dt)
    c = np.zeros((size, size), np.float16)
    bm, bn, bk = 128, 512, 128
    grid = (jl.cdiv(size, bm) * jl.cdiv(size, bn),)
    args = (a, b, c, size, size, size, size, 1, size, 1, size, 1)
    meta = dict(BLOCK_SIZE_M=bm, BLOCK_SIZE_N=bn, BLOCK_SIZE_K=bk, GROUP_SIZE_M=8, ACTIVATION="")
    return tk.matmul_kernel, grid, args, meta


def matmul_plain(size: int, dtype: str):
    dt = ml_dtypes.bfloat16 if dtype == "bf16" else np.float32
    a, b = np.zeros((size, size), dt), np.zeros((size, size), dt)
    c = np.zeros((size, size), np.float16)
    bm, bn, bk = 128, 512, 128
    grid = (size // bm, size // bn)
    return matmul_affine, grid, (a, b, c, size, size, size), dict(BM=bm, BN=bn, BK=bk)


def attention():
    heads, n_ctx, d = 16, 1024, 64
    q, k, v, o = (np.zeros((heads, n_ctx, d), np.float16) for _ in range(4))
    grid = (n_ctx // 128, heads)
    args = (q, k, v, 0.125, o, d, d, d, d, n_ctx)
    return tk.attn_fwd, grid, args, dict(HEAD_DIM=d, BLOCK_M=128, BLOCK_N=128)


def cases(full: bool) -> dict:
    out = {
        "vector_add 4096x1024 f32": vector_add,
        "softmax 4096x1024 f32": softmax,
        "layer_norm 4096x1024 f32": layer_norm,
    }
    for size in (512, 1024, 2048) + ((4096,) if full else ()):
        for dtype in ("bf16", "fp32"):
            out[f"matmul {size}^3 {dtype}"] = lambda s=size, d=dtype: matmul(s, d)
            out[f"matmul {size}^3 {dtype} affine"] = lambda s=size, d=dtype: matmul_plain(s, d)
    out["attention fwd 16x1024x64 f16"] = attention
    return out


def measure(make, configs) -> dict:
    kernel, grid, args, meta = make()
    t0 = time.perf_counter()
    kernel.warmup(*args, target="accel", **meta)
    compile_s = time.perf_counter() - t0
    rows = {}
    for cfg in configs:
        t0 = time.perf_counter()
        prof = jl.testing.profile(kernel, grid, *args, config=cfg, timing_only=True, **meta)
        wall = time.perf_counter() - t0
        s = prof.summary()
        rows[cfg] = {
            "time_us": s["time_ns"] / 1e3,
            "pe_util": s["engines"]["PE"]["utilization"],
            "dma_bw_util": s["dma_bw_utilization"],
            "of_attainable": s["roofline"]["fraction_of_attainable"],
            "bound": s["roofline"]["bound"],
            "cores_used": s["cores_used"],
            "instructions": s["instructions"],
            "emulate_and_model_s": wall,
        }
    return {"compile_s": compile_s, "configs": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="add matmul 4096^3 (minutes)")
    ap.add_argument("--configs", nargs="+", default=["nc-v2", "nc-v3"])
    ap.add_argument("--only", help="run the cases whose name contains this text")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    results = {}
    if not args.json:
        cells = "".join(f"{c:>52}" for c in args.configs)
        print(f"{'kernel':<30}{'compile s':>10}{cells}")
        sub = "".join(
            f"{'us':>10}{'PE':>7}{'DMA':>7}{'attain':>8}{'bound':>9}{'emu s':>11}"
            for _ in args.configs
        )
        print(f"{'':<40}{sub}")
    for name, make in cases(args.full).items():
        if args.only and args.only not in name:
            continue
        try:
            r = measure(make, args.configs)
        except Exception as e:  # one failing kernel must not hide the others
            r = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
        results[name] = r
        if args.json:
            continue
        if "error" in r:
            print(f"{name:<30}  {r['error']}")
            continue
        line = f"{name:<30}{r['compile_s']:>10.2f}"
        for cfg in args.configs:
            c = r["configs"][cfg]
            line += (
                f"{c['time_us']:>10,.1f}{c['pe_util']:>7.1%}{c['dma_bw_util']:>7.1%}"
                f"{c['of_attainable']:>8.1%}{c['bound']:>9}{c['emulate_and_model_s']:>11.2f}"
            )
        print(line, flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
