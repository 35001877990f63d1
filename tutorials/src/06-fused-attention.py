# Source of tutorials/06-fused-attention.ipynb: edit here, then run `python tutorials/build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 6. Fused attention
#
# Attention, the core of a transformer, computes for each query row `q_i`
#
# $$ o_i = \sum_j \mathrm{softmax}_j\!\left(\frac{q_i \cdot k_j}{\sqrt d}\right) v_j $$
#
# Written naively it materialises the `N x N` matrix of scores `S = Q K^T`, its softmax `P`,
# and then `P V`. For a context of `N = 8192` tokens that is 64 million numbers per head,
# written and read back, when the inputs and the output are only `N x d` (`d` is 64 or 128).
#
# The fused kernel (FlashAttention) never forms `S`. Each program takes a block of query rows
# and walks over the keys and values in blocks, keeping only a `BLOCK_M x d` accumulator. The
# difficulty is the softmax: its denominator is a sum over *all* keys, which we have not seen
# yet when we process the first block. The **online softmax** solves it.

# %% [markdown]
# ## The online softmax
#
# Keep, for each query row, the running maximum `m` of the scores seen so far, the running sum
# `l` of `exp(score - m)`, and the running output `acc = sum exp(score - m) v`. When a new block
# of scores `s` arrives:
#
# 1. the new maximum is `m' = max(m, max(s))`;
# 2. everything accumulated so far was scaled by `exp(-m)`; rescale it to `exp(-m')` by
#    multiplying with `alpha = exp(m - m')`: `l = l * alpha`, `acc = acc * alpha`;
# 3. add the new block: `p = exp(s - m')`, `l += sum(p)`, `acc += p @ v_block`.
#
# At the end `o = acc / l`. Each step is exact: the result is the softmax, only computed in
# one pass. A small numpy version makes the idea concrete before we write the kernel:

# %%
import os

SCALE = float(os.environ.get("TUTORIAL_SCALE", "1"))

HEADS = 4
N_CTX = max(128, int(SCALE * 4096)) // 64 * 64  # sequence length on the CPU
N_CTX_ACCEL = 128 if SCALE < 0.25 else 512  # on the accelerator
HEAD_DIM = 64
print(f"SCALE={SCALE}: {HEADS} heads x {N_CTX} tokens x {HEAD_DIM} on the CPU")

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np

import jitlang as jl
import jitlang.language as tl


def online_softmax_weighted_sum(s, v, block):
    """softmax(s) @ v for one query row, reading s and v one block at a time."""
    m, l_sum, acc = -np.inf, 0.0, np.zeros(v.shape[1])
    for start in range(0, len(s), block):
        sb, vb = s[start : start + block], v[start : start + block]
        m_new = max(m, sb.max())
        alpha = np.exp(m - m_new)
        p = np.exp(sb - m_new)
        l_sum = l_sum * alpha + p.sum()
        acc = acc * alpha + p @ vb
        m = m_new
    return acc / l_sum


rng = np.random.default_rng(0)
s, v = rng.standard_normal(100), rng.standard_normal((100, 8))
exact = np.exp(s - s.max()) / np.exp(s - s.max()).sum() @ v
assert np.allclose(online_softmax_weighted_sum(s, v, block=16), exact)
print("the online softmax equals the softmax")

# %% [markdown]
# ## The kernel
#
# The grid is two-dimensional: `program_id(0)` picks a block of `BLOCK_M` query rows,
# `program_id(1)` the head. Two tricks from Triton's tutorial:
#
# - the scores are scaled by `log2(e) / sqrt(d)` and exponentiated with `exp2`, which is cheaper
#   than `exp` and gives the same result;
# - `l_i` starts at 1 and `m_i` at `-inf`: the first rescaling multiplies by `exp2(-inf) = 0`
#   and erases the 1, so no special case is needed for the first block.
#
# The last block of keys may run past `N_CTX`: its scores are set to `-inf`, which `exp2`
# turns into zero weights.
#
# Unlike Triton's tutorial, the kernel takes no strides: it assumes contiguous
# `[heads, N_CTX, HEAD_DIM]` arrays, so every row stride is the compile-time constant
# `HEAD_DIM`. That keeps the code short, and it matters on the accelerator (see below).


# %%
@jl.jit
def attention_kernel(
    Q, K, V, sm_scale, Out, N_CTX,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    start_m = tl.program_id(0)
    head = tl.program_id(1)
    # q, k, v and out are contiguous [heads, N_CTX, HEAD_DIM] arrays: rows are HEAD_DIM apart
    q_base = Q + head * N_CTX * HEAD_DIM
    k_base = K + head * N_CTX * HEAD_DIM
    v_base = V + head * N_CTX * HEAD_DIM
    o_base = Out + head * N_CTX * HEAD_DIM
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    m_i = tl.zeros([BLOCK_M], dtype=tl.float32) - float("inf")
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32) + 1.0
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    qk_scale = sm_scale * 1.44269504  # log2(e)
    q = tl.load(
        q_base + offs_m[:, None] * HEAD_DIM + offs_d[None, :],
        mask=offs_m[:, None] < N_CTX,
        other=0.0,
    )
    for start_n in range(0, N_CTX, BLOCK_N):
        cols = start_n + offs_n
        k = tl.load(  # loaded transposed: HEAD_DIM x BLOCK_N
            k_base + cols[None, :] * HEAD_DIM + offs_d[:, None],
            mask=cols[None, :] < N_CTX,
            other=0.0,
        )
        qk = tl.dot(q, k)
        qk = tl.where(cols[None, :] < N_CTX, qk * qk_scale, -float("inf"))
        m_ij = tl.maximum(m_i, tl.max(qk, 1))  # step 1: the new maximum
        p = tl.math.exp2(qk - m_ij[:, None])
        alpha = tl.math.exp2(m_i - m_ij)  # step 2: rescale what we have
        l_i = l_i * alpha + tl.sum(p, 1)  # step 3: add the new block
        acc = acc * alpha[:, None]
        v = tl.load(
            v_base + cols[:, None] * HEAD_DIM + offs_d[None, :],
            mask=cols[:, None] < N_CTX,
            other=0.0,
        )
        acc = tl.dot(p.to(v.dtype), v, acc)
        m_i = m_ij
    acc = acc / l_i[:, None]
    tl.store(
        o_base + offs_m[:, None] * HEAD_DIM + offs_d[None, :],
        acc.to(Out.dtype.element_ty),
        mask=offs_m[:, None] < N_CTX,
    )


def attention(q, k, v, BLOCK_M=64, BLOCK_N=64, target="cpu"):
    heads, n_ctx, d = q.shape
    out = np.empty_like(q)
    grid = (jl.cdiv(n_ctx, BLOCK_M), heads)
    attention_kernel[grid](
        q, k, v, 1 / np.sqrt(d), out, n_ctx,
        HEAD_DIM=d, BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, target=target,
    )  # fmt: skip
    return out


def attention_numpy(q, k, v):
    s = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])  # heads x N x N: the big one
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return (p / p.sum(axis=-1, keepdims=True)) @ v


# %% [markdown]
# ## Correctness
#
# An odd sequence length checks the masking of the last blocks:

# %%
n_odd = 300
q, k, v = (rng.standard_normal((HEADS, n_odd, HEAD_DIM), dtype=np.float32) for _ in range(3))
jl.testing.assert_close(attention(q, k, v), attention_numpy(q, k, v), atol=1e-4, rtol=1e-4)
print("matches numpy at N =", n_odd)

# %% [markdown]
# ## Time and memory against numpy
#
# numpy's version is three BLAS calls and some elementwise passes, but it allocates the
# `heads x N x N` score matrix: its memory grows with the square of the context, the fused
# kernel's does not.

# %%
lengths = [n for n in (128, 256, 512, 1024, 2048, 4096) if n <= N_CTX]
times = {"jitlang (fused)": [], "numpy": []}
for n in lengths:
    q, k, v = (rng.standard_normal((HEADS, n, HEAD_DIM), dtype=np.float32) for _ in range(3))
    times["jitlang (fused)"].append(
        jl.testing.do_bench(partial(attention, q, k, v), rep=50, return_mode="median")
    )
    times["numpy"].append(
        jl.testing.do_bench(partial(attention_numpy, q, k, v), rep=50, return_mode="median")
    )
    scores_mb = HEADS * n * n * 4 / 2**20
    print(f"N={n:5d}: numpy's score matrix alone is {scores_mb:8.1f} MiB")

fig, ax = plt.subplots(figsize=(7, 4))
for (name, values), style in zip(times.items(), ["o-", "s--"]):
    ax.plot(lengths, values, style, label=name)
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("sequence length N")
ax.set_ylabel("ms")
ax.set_title(f"attention forward, {HEADS} heads, d={HEAD_DIM}, float32")
ax.legend()
plt.show()

# %% [markdown]
# ## On the accelerator
#
# Both `tl.dot`s run on the tensor engine, `exp2` on the activation engine, the maxima, sums
# and rescaling on the vector engine. The kernel is unchanged; `cross_check` confirms the two
# targets agree:

# %%
q, k, v = (rng.standard_normal((2, N_CTX_ACCEL, HEAD_DIM), dtype=np.float32) for _ in range(3))
out = np.empty_like(q)
report = jl.testing.cross_check(
    attention_kernel, (jl.cdiv(N_CTX_ACCEL, 64), 2),
    q, k, v, 1 / np.sqrt(HEAD_DIM), out, N_CTX_ACCEL,
    HEAD_DIM=HEAD_DIM, BLOCK_M=64, BLOCK_N=64,
)  # fmt: skip
print(report)
prof = jl.testing.profile(
    attention_kernel, (jl.cdiv(N_CTX_ACCEL, 64), 2),
    q, k, v, 1 / np.sqrt(HEAD_DIM), out, N_CTX_ACCEL,
    HEAD_DIM=HEAD_DIM, BLOCK_M=64, BLOCK_N=64,
)  # fmt: skip
print(prof.format(top_lines=8))

# %% [markdown]
# The per-line table at the bottom says where the time goes, and it is not the arithmetic:
# the top lines are the loads of `q` and `k`. Both feed the tensor engine as its *stationary*
# operand, which must lie with the contraction dimension (`HEAD_DIM`) along the partitions, so
# the compiler transposes them on the way in, one DMA descriptor per element (tutorial 3 met
# the same cost with a row-major `A`). The `v` load is a plain strided copy and costs little.
# (With run-time strides, as in Triton's version of this kernel, the current accelerator
# compiler turns the `v` load into an element-wise gather too: constant strides pay off.)
#
# Storing `K` transposed in HBM (`[heads, HEAD_DIM, N_CTX]`) and loading `q` once per program is
# where a faster accelerator kernel would start. Tutorial 7 looks at profiles like this one in
# detail.
#
# Next: [the accelerator up close](07-the-accelerator-up-close.ipynb).
