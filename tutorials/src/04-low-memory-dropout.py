# Source of tutorials/04-low-memory-dropout.ipynb: edit here, then run `python tutorials/build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 4. Low-memory dropout
#
# Dropout zeroes each element of a tensor with probability `p` and scales the survivors by
# `1 / (1 - p)`, so the expected value is unchanged. The usual implementation draws a random
# mask, stores it (the backward pass needs the same mask), and applies it: one extra tensor of
# the activation's size, written once and read back later.
#
# A kernel can do better. A **counter-based** random number generator (Philox) turns a
# `(seed, offset)` pair into a random number with pure arithmetic, no state. Element `i` of the
# mask is `rand(seed, i) > p`, and anyone holding the seed, a single integer, can recompute any
# element of the mask at any time, on any machine. The mask never needs to exist in memory.
#
# This tutorial writes that kernel and checks the properties that make it useful: the same
# seed gives the same mask, a different seed a different one, the CPU and the accelerator agree
# bit for bit, and the dropped fraction is `p`.

# %%
import os

SCALE = float(os.environ.get("TUTORIAL_SCALE", "1"))

N = max(1 << 12, int(SCALE * (1 << 22)))  # elements on the CPU
N_ACCEL = max(1 << 12, int(SCALE * (1 << 16)))  # elements on the accelerator
print(f"SCALE={SCALE}: {N:,} elements on the CPU, {N_ACCEL:,} on the accelerator")

# %%
import matplotlib.pyplot as plt
import numpy as np

import jitlang as jl
import jitlang.language as tl

# %% [markdown]
# ## The kernel
#
# `tl.rand(seed, offsets)` returns a block of uniform floats in `[0, 1)`, one per offset: the
# Philox4x32-10 generator that Triton uses, so the streams match Triton's. Using the element's
# global index as its offset makes the result independent of how the work is split into
# programs: the block size, the grid and the target cannot change the mask.


# %%
@jl.jit
def dropout_kernel(x_ptr, out_ptr, n, p, seed, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    keep = tl.rand(seed, offs) > p  # the random mask, computed, never stored
    tl.store(out_ptr + offs, tl.where(keep, x / (1 - p), 0.0), mask=mask)


def dropout(x, p, seed, BLOCK=1024, target="cpu"):
    out = np.empty_like(x)
    dropout_kernel[(jl.cdiv(x.size, BLOCK),)](x, out, x.size, p, seed, BLOCK=BLOCK, target=target)
    return out


# %% [markdown]
# A small example: each surviving element is doubled (`p = 0.5`), the others are zero.

# %%
x = np.arange(1, 11, dtype=np.float32)
print("input         ", x)
print("seed 123      ", dropout(x, 0.5, seed=123))
print("seed 123 again", dropout(x, 0.5, seed=123))
print("seed 7        ", dropout(x, 0.5, seed=7))

# %% [markdown]
# ## The properties we rely on
#
# **Reproducible**: the same seed gives the same output, whatever the block size (the grid
# changes with it).

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal(N, dtype=np.float32)
p = 0.3
ref = dropout(x, p, seed=2024, BLOCK=1024)
for block in (128, 256, 4096):
    assert np.array_equal(dropout(x, p, seed=2024, BLOCK=block), ref)
print("same mask for every block size")

# %% [markdown]
# **The right rate**, and **independent seeds**: with `p = 0.3`, 30% of the elements are
# dropped, and two seeds agree on a dropped element about as often as chance says (`p * p`).

# %%
dropped = ref == 0
other = dropout(x, p, seed=2025) == 0
print(f"dropped: {dropped.mean():.4f} (p = {p})")
print(f"dropped by both seeds: {(dropped & other).mean():.4f} (p * p = {p * p:.4f})")
assert abs(dropped.mean() - p) < 0.02
assert abs((dropped & other).mean() - p * p) < 0.02

# %% [markdown]
# The uniform numbers themselves should fill `[0, 1)` evenly. A histogram of the values the
# mask was drawn from (a kernel that stores `tl.rand` directly):


# %%
@jl.jit
def rand_kernel(out_ptr, n, seed, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.rand(seed, offs), mask=offs < n)


u = np.empty(N, np.float32)
rand_kernel[(jl.cdiv(N, 1024),)](u, N, 2024, BLOCK=1024)
assert np.array_equal(u > p, ~dropped)  # the very numbers dropout compared with p

fig, ax = plt.subplots(figsize=(7, 3))
ax.hist(u, bins=50, color="tab:green")
ax.set_xlabel("tl.rand(2024, offs)")
ax.set_ylabel("count")
ax.set_title(f"{N:,} uniform numbers from Philox")
plt.show()

# %% [markdown]
# ## Across targets
#
# The accelerator has no random number unit: the compiler expands Philox into the integer
# multiplies, xors and adds of its ten rounds, on the vector engine. The numbers are the same
# bits as on the CPU, so a model trained on one target and checked on the other sees the same
# dropout mask. `cross_check` compares the outputs bitwise where they are equal and within a
# few units in the last place otherwise:

# %%
xa = x[:N_ACCEL].copy()
out_a = np.empty_like(xa)
report = jl.testing.cross_check(
    dropout_kernel, (jl.cdiv(N_ACCEL, 1024),), xa, out_a, N_ACCEL, p, 2024, BLOCK=1024
)
print(report)
assert np.array_equal(dropout(xa, p, 2024, target="accel") == 0, ref[:N_ACCEL] == 0)
print("the accelerator drops exactly the same elements")

# %% [markdown]
# ## What it costs
#
# Recomputing the mask trades memory for arithmetic: ten Philox rounds per four numbers. On the
# accelerator that arithmetic lands on the vector engine; the profile shows how it compares
# with the DMA traffic.

# %%
prof = jl.testing.profile(
    dropout_kernel, (jl.cdiv(N_ACCEL, 1024),), xa, out_a, N_ACCEL, p, 2024, BLOCK=1024
)
print(prof.format(top_lines=4))

# %% [markdown]
# Compare the DVE and DMA rows. On this machine the vector engine does ten Philox rounds of
# integer arithmetic for every four numbers, and that takes longer than moving the data: the
# kernel is bound by the vector engine, not by memory. Storing the mask would cost a write and a
# read of `n` bytes; recomputing it costs arithmetic. Which is cheaper depends on the machine
# (on GPUs memory is the scarcer resource, which is why Triton's tutorial recomputes); the
# profile is how you find out.

# %% [markdown]
# ## Try it
#
# - Write the backward pass: it receives the gradient and the *seed*, and recomputes the mask.
# - Use `tl.randn` to add Gaussian noise instead.
#
# Next: [layer normalization](05-layer-norm.ipynb), forward and backward, with a lock.
