# Source of tutorials/03-matrix-multiplication.ipynb: edit here, then run `python tutorials/build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 3. Matrix multiplication
#
# Vector addition and softmax do a handful of operations per byte they move: memory bandwidth
# is their limit. Matrix multiplication is different. `C = A @ B` with `A` of shape `M x K` and
# `B` of shape `K x N` does `2 M N K` floating-point operations on `M K + K N + M N` numbers:
# for square matrices of size 1024, about 700 operations per number. Done right, it is limited
# by arithmetic. "Done right" is the whole art, and it comes down to **reuse**: every element of
# `A` is needed `N` times and every element of `B` `M` times, and each reuse should come from
# fast memory (registers, caches, on-chip SRAM), not from DRAM.
#
# This tutorial covers:
#
# - **blocking**: each program computes a `BLOCK_M x BLOCK_N` tile of `C`, walking `K` in steps
#   of `BLOCK_K` and accumulating `tl.dot` of the tiles of `A` and `B`;
# - **grouped ordering** of the programs, so tiles that share data run close together in time;
# - **autotuning**: letting jitlang time several block sizes and keep the fastest;
# - on the accelerator, how a kernel goes from a naive tiling to one that feeds the tensor
#   engine, one step at a time.

# %%
import os

SCALE = float(os.environ.get("TUTORIAL_SCALE", "1"))

MAX_SIZE = max(128, int(SCALE * 2048)) // 64 * 64  # largest CPU matrix (square)
ACCEL_SIZE = 256 if SCALE < 0.25 else 1024  # the accelerator's matrices (square)
print(f"SCALE={SCALE}: CPU matrices up to {MAX_SIZE}, accelerator {ACCEL_SIZE}")

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np

import jitlang as jl
import jitlang.language as tl

# %% [markdown]
# ## The blocked kernel
#
# Program `pid` owns one `BLOCK_M x BLOCK_N` tile of `C`. It keeps an accumulator tile in
# registers and, for each step along `K`, loads a `BLOCK_M x BLOCK_K` tile of `A` and a
# `BLOCK_K x BLOCK_N` tile of `B` and adds their product: `acc = tl.dot(a, b, acc)`. Every
# element loaded is used `BLOCK_N` (for `A`) or `BLOCK_M` (for `B`) times from registers: the
# bigger the tiles, the more reuse, until they no longer fit.
#
# Pointers to a 2-D tile are built by broadcasting: `offs_m[:, None]` is a column, `offs_k[None,
# :]` a row, and `offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak` the full grid of
# addresses. Strides make the kernel work for any memory layout (a transposed view too).
#
# ### Grouped ordering
#
# Programs run roughly in the order of their ids. With "row-major" ordering, consecutive
# programs compute the tiles of one row of `C`: they all share the same rows of `A` but each
# needs a different column panel of `B`, so all of `B` streams through the cache for every row
# of tiles. Grouping `GROUP_M` rows of tiles together and walking them column by column means a
# few consecutive programs share both their `A` panels and their `B` panels. The remapping
# from `pid` to `(pid_m, pid_n)` is a few integer operations:


# %%
@jl.jit
def matmul_kernel(
    a_ptr, b_ptr, c_ptr, M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    # grouped ordering: GROUP_M rows of tiles, walked column by column
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = pid // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + ((pid % num_pid_in_group) % group_size_m)
    pid_n = (pid % num_pid_in_group) // group_size_m

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, acc, mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


def matmul(a, b, kernel=matmul_kernel, **meta):
    M, K = a.shape
    _, N = b.shape
    c = np.empty((M, N), np.float32)

    def grid(args):
        return (jl.cdiv(M, args["BLOCK_M"]) * jl.cdiv(N, args["BLOCK_N"]),)

    kernel[grid](
        a, b, c, M, N, K,
        a.strides[0] // a.itemsize, a.strides[1] // a.itemsize,
        b.strides[0] // b.itemsize, b.strides[1] // b.itemsize,
        N, 1,
        **meta,
    )  # fmt: skip
    return c


# %% [markdown]
# Check it on awkward sizes (nothing a multiple of the blocks) and on a transposed `B`, which is
# just different strides:

# %%
rng = np.random.default_rng(0)
a = rng.standard_normal((150, 70), dtype=np.float32)
b = rng.standard_normal((70, 90), dtype=np.float32)
meta = dict(BLOCK_M=32, BLOCK_N=32, BLOCK_K=32, GROUP_M=4)
jl.testing.assert_close(matmul(a, b, **meta), a @ b, rtol=1e-4, atol=1e-4)
bt = np.ascontiguousarray(b.T).T  # same values, column-major
jl.testing.assert_close(matmul(a, bt, **meta), a @ b, rtol=1e-4, atol=1e-4)
print("matches numpy")

# %% [markdown]
# ## Autotuning
#
# Which block sizes are best depends on the matrix sizes and on the machine (vector width,
# register count, cache sizes). Rather than guess, `@jl.autotune` takes a list of candidate
# `jl.Config`s and a `key`: the first launch with a new value of the key times every config
# and remembers the fastest. A progress bar shows the sweep when you run this in Jupyter or a
# terminal.

# %%
tuned_matmul_kernel = jl.autotune(
    configs=[
        jl.Config({"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 8}),
        jl.Config({"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": 8}),
        jl.Config({"BLOCK_M": 32, "BLOCK_N": 64, "BLOCK_K": 64, "GROUP_M": 4}),
        jl.Config({"BLOCK_M": 64, "BLOCK_N": 32, "BLOCK_K": 64, "GROUP_M": 4}),
    ],
    key=["M", "N", "K"],
    warmup=5,
    rep=20,
)(matmul_kernel)

a = rng.standard_normal((MAX_SIZE, MAX_SIZE), dtype=np.float32)
b = rng.standard_normal((MAX_SIZE, MAX_SIZE), dtype=np.float32)
c = matmul(a, b, kernel=tuned_matmul_kernel)
jl.testing.assert_close(c, a @ b, rtol=1e-3, atol=1e-3)
print("best config for", MAX_SIZE, "x", MAX_SIZE, ":", tuned_matmul_kernel.best_config)
for config, ms in sorted(tuned_matmul_kernel.configs_timings.items(), key=lambda t: t[1]):
    print(f"  {ms:8.3f} ms  {config}")

# %% [markdown]
# ## GFLOP/s on the CPU
#
# We time the tuned kernel against numpy, whose `@` calls an optimised BLAS library (OpenBLAS
# or MKL) written in assembly by specialists over many years. Getting within a small factor of
# it with thirty lines of Python is the point of a kernel language.

# %%
sizes = [s for s in (128, 256, 512, 1024, 2048) if s <= MAX_SIZE]
gflops = {"jitlang (autotuned)": [], "numpy (BLAS)": []}
for size in sizes:
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flop = 2 * size**3
    ms = jl.testing.do_bench(
        partial(matmul, a, b, kernel=tuned_matmul_kernel), rep=50, return_mode="median"
    )
    gflops["jitlang (autotuned)"].append(flop / (ms * 1e-3) / 1e9)
    ms = jl.testing.do_bench(partial(np.matmul, a, b), rep=50, return_mode="median")
    gflops["numpy (BLAS)"].append(flop / (ms * 1e-3) / 1e9)

fig, ax = plt.subplots(figsize=(7, 4))
for (name, values), style in zip(gflops.items(), ["o-", "s--"]):
    ax.plot(sizes, values, style, label=name)
ax.set_xscale("log", base=2)
ax.set_xlabel("M = N = K")
ax.set_ylabel("GFLOP/s")
ax.set_title("float32 matrix multiplication on the CPU")
ax.legend()
plt.show()

# %% [markdown]
# Read the plot with your machine in mind. jitlang spreads the grid over every core; numpy's
# BLAS runs its own threads. On a machine shared with other work, a multi-threaded BLAS can
# fall far below its best (its threads wait for each other), so if numpy's line looks
# implausibly low, rerun with `OPENBLAS_NUM_THREADS=1` for a steady single-thread baseline.
# Where our kernel's curve drops, a tile's working set has outgrown a cache level: the
# autotuner only chooses among the configs we gave it, and adding other tile shapes is the
# first thing to try.

# %% [markdown]
# ## On the accelerator: from a naive tiling to a blocked kernel
#
# The accelerator's **tensor engine** (PE) is a 128 x 128 systolic array. One `matmul`
# instruction multiplies a *stationary* tile of up to 128 x 128 (`K x M`: the contraction runs
# along the 128 partitions) by a *moving* tile of up to `128 x 512` and accumulates into a
# PSUM bank. It only runs at full speed when it gets full tiles, one after another, while the
# DMA engines bring the next tiles in. We take a plain blocked kernel and measure, step by step,
# how busy the tensor engine is (**PE utilisation**: the fraction of the run it computes) and
# the **MFU** (model FLOP utilisation: the achieved fraction of the PE's peak FLOP/s).
#
# The profiles use the timing-only emulation (`timing_only=True`): the emulator follows every
# instruction, address and dependency but skips the arithmetic, so large problems profile in
# seconds. (The numeric emulation gives the same timings, and real results.)
#
# First the kernel. It reads `A` as its transpose `AT` (`K x M`, row-major): each `tl.load` of
# an `AT` tile is then a plain 2-D copy, and `tl.trans` of it is the stationary operand the
# tensor engine wants. We will see below what reading `A` itself costs.


# %%
@jl.jit
def accel_matmul(
    at_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        at = tl.load(at_ptr + (k + rk)[:, None] * M + rm[None, :])  # K x M tile of A^T
        b = tl.load(b_ptr + (k + rk)[:, None] * N + rn[None, :])  # K x N tile of B
        acc = tl.dot(tl.trans(at), b, acc)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc.to(tl.float16))


def profile_step(size, BLOCK_M, BLOCK_N, BLOCK_K, config="nc-v2"):
    """Profile one accel_matmul of size x size fp16 matrices (timing only)."""
    at = np.zeros((size, size), np.float16)
    b = np.zeros((size, size), np.float16)
    c = np.zeros((size, size), np.float16)
    grid = (size // BLOCK_M, size // BLOCK_N)
    return jl.testing.profile(
        accel_matmul, grid, at, b, c, size, size, size,
        BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K,
        config=config, timing_only=True,
    )  # fmt: skip


# a numeric run first: the accelerator computes the right thing
S = 256
a = rng.standard_normal((S, S)).astype(np.float16)
b = rng.standard_normal((S, S)).astype(np.float16)
c = np.zeros((S, S), np.float16)
accel_matmul[(S // 128, S // 128)](
    np.ascontiguousarray(a.T), b, c, S, S, S, BLOCK_M=128, BLOCK_N=128, BLOCK_K=128, target="accel"
)
jl.testing.assert_close(
    c.astype(np.float32), a.astype(np.float32) @ b.astype(np.float32), rtol=1e-2, atol=5e-2
)
print("the accelerator's matmul is correct")

# %% [markdown]
# Now the steps, each a change of block sizes:
#
# 1. **naive tiling**, 32 x 32 x 32 tiles (a size that suits a CPU): the tensor engine gets a
#    32 x 32 corner of its 128 x 128 array, and every tile costs a DMA round trip;
# 2. **fill the array**: 128 x 128 x 128 tiles;
# 3. **a wide moving tile**: `BLOCK_N = 512`, the most one `matmul` takes; each stationary tile
#    of `A` now serves four times as many columns;
# 4. **a longer contraction per load**: `BLOCK_K = 512` moves four times as much data per DMA
#    and lets the compiler issue the four 128-row matmuls back to back;
# 5. **two stationary tiles per moving tile**: `BLOCK_M = 256` is more than the array's 128
#    rows, so the compiler splits the tile of `A` in two and runs both halves against each
#    loaded tile of `B`: every byte of `B` brought in now feeds twice the work.


# %%
def run_steps(size):
    steps = [
        ("1 naive 32x32x32", 32, 32, 32),
        ("2 128x128x128", 128, 128, 128),
        ("3 BLOCK_N=512", 128, 512, 128),
        ("4 BLOCK_K=512", 128, 512, 512),
        ("5 BLOCK_M=256", 256, 512, 512),
    ]
    rows = []
    for name, bm, bn, bk in steps:
        # a small problem (the test run) takes the tiles that fit it
        bm, bn, bk = min(bm, size // 2), min(bn, size // 2), min(bk, size)
        s = profile_step(size, bm, bn, bk).summary()
        rows.append((name, s["time_ns"] / 1e3, s["engines"]["PE"]["utilization"], s["mfu"],
                     s["dma_bw_utilization"]))  # fmt: skip
    return rows


steps = run_steps(ACCEL_SIZE)
print(f"{ACCEL_SIZE}^3 fp16 matmul on nc-v2 (2 cores)")
print(f"{'step':<20}{'time us':>12}{'PE util':>10}{'MFU':>8}{'DMA bw':>8}")
for name, us, pe, mfu, dma in steps:
    print(f"{name:<20}{us:>12,.1f}{pe:>10.1%}{mfu:>8.1%}{dma:>8.1%}")

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar([s[0] for s in steps], [s[2] * 100 for s in steps], color="tab:blue")
ax.set_ylabel("tensor engine utilisation (%)")
ax.set_title(f"accel_matmul, {ACCEL_SIZE}^3 fp16, nc-v2")
plt.setp(ax.get_xticklabels(), rotation=15)
plt.show()

# %% [markdown]
# Each step cuts the run time, and the tensor engine's share of it grows, but it stays small:
# what is left is DMA. Each program loads its `A` and `B` tiles from HBM itself, so the same
# tile of `B` is loaded once per row of tiles; step 5 halved that and gained the most. NKI's
# matmul tutorial pushes the idea all the way: it loads a *block* of many tiles into SBUF once
# and reuses it across many matmuls (its last step reaches 85% of the tensor engine on a
# `4096 x 8192 x 8192` problem). Try larger `BLOCK_M` and `BLOCK_N` here, and watch where the
# on-chip memory runs out.
#
# ### Why `A` was passed transposed
#
# The stationary operand must lie with the contraction along the partitions. A tile of
# row-major `A` (`M x K`) lies the other way, and the compiler transposes it during the DMA:
# element by element, one descriptor per element. The profile shows what that costs:


# %%
@jl.jit
def accel_matmul_rowmajor_a(
    a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        a = tl.load(a_ptr + rm[:, None] * K + (k + rk)[None, :])  # M x K tile of A
        b = tl.load(b_ptr + (k + rk)[:, None] * N + rn[None, :])
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc.to(tl.float16))


def compare_a_layouts(size):
    x = np.zeros((size, size), np.float16)
    out = {}
    for name, kernel in [("A^T (K x M)", accel_matmul), ("A (M x K)", accel_matmul_rowmajor_a)]:
        prof = jl.testing.profile(
            kernel, (size // 128, size // 512), x, x, x.copy(), size, size, size,
            BLOCK_M=128, BLOCK_N=512, BLOCK_K=128, timing_only=True,
        )  # fmt: skip
        out[name] = prof.summary()["time_ns"] / 1e3
    return out


for name, us in compare_a_layouts(512).items():
    print(f"{name:<14}{us:>12,.1f} us")

# %% [markdown]
# Layout is a first-class concern on this machine, as on NeuronCores: pick the layout of the
# data in HBM so that tiles arrive the way the engines consume them.
#
# Next: [low-memory dropout](04-low-memory-dropout.ipynb), where random numbers are computed
# instead of stored.
