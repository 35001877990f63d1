# Source of tutorials/01-vector-add.ipynb: edit here, then run `python tutorials/build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 1. Vector addition
#
# This first tutorial writes the smallest useful kernel, `out = x + y`, and uses it to meet every
# idea that the later tutorials build on:
#
# - a **kernel** is a Python function decorated with `@jl.jit`, written with the names of
#   `triton.language`; jitlang compiles it the first time you launch it;
# - a kernel runs as many **programs**, one per point of a **grid**; each program handles a
#   **block** of elements, and finds its block from its **program id**;
# - **masks** keep the last, partial block from touching memory it does not own;
# - the same kernel runs on your **CPU** (compiled through LLVM) and on our emulated tile
#   **accelerator** (compiled to its own instruction set), and `cross_check` compares the two;
# - the accelerator's emulator comes with a **profiler** that shows what each engine did.
#
# If you know Triton, read `jl` as `triton` and `tl` as `triton.language`: the code below is a
# Triton kernel.

# %% [markdown]
# ## The one knob
#
# Every tutorial sizes its work by one variable. `SCALE = 1` is the full tutorial (a few
# seconds to a minute); the test suite runs the notebooks at a small scale to check they still
# work. Change it and re-run the notebook if you want bigger or smaller problems.

# %%
import os

SCALE = float(os.environ.get("TUTORIAL_SCALE", "1"))

N_CPU = max(1 << 12, int(SCALE * (1 << 24)))  # elements for the CPU runs
N_ACCEL = max(1 << 12, int(SCALE * (1 << 17)))  # elements for the (emulated) accelerator
print(f"SCALE={SCALE}: {N_CPU:,} elements on the CPU, {N_ACCEL:,} on the accelerator")

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import jitlang as jl
import jitlang.language as tl

# %% [markdown]
# ## The kernel
#
# Read it as "what one program does". Program number `pid` owns the elements
# `pid * BLOCK, ..., pid * BLOCK + BLOCK - 1`. `tl.arange(0, BLOCK)` is a *block* of `BLOCK`
# integers, so `offs` is a block of element indices and `x_ptr + offs` a block of pointers:
# one `tl.load` reads the whole block at once. There is no loop over elements anywhere: the
# compiler decides how to spread the block over vector registers (CPU) or over the 128 lanes
# of the accelerator's engines.
#
# `BLOCK` is annotated `tl.constexpr`: it is a compile-time constant, and every value you pass
# gives its own specialised compiled kernel. `n` is an ordinary run-time argument.
#
# `n` is rarely a multiple of `BLOCK`. The last program would read and write past the end of
# the arrays, so every access takes a **mask**: a block of booleans, `True` where the element
# exists. Masked-off lanes are neither read nor written.


# %%
@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(axis=0)  # which program am I?
    offs = pid * BLOCK + tl.arange(0, BLOCK)  # the elements this program owns
    mask = offs < n  # False past the end of the arrays
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


# %% [markdown]
# ## Launching it
#
# `kernel[grid](args...)` launches one program per grid point. Arrays are passed as numpy
# arrays (the kernel receives a pointer to their first element); numbers as numbers. The grid
# needs `cdiv(n, BLOCK)` programs to cover `n` elements: the ceiling of `n / BLOCK`.

# %%
rng = np.random.default_rng(0)
n = N_CPU + 123  # not a multiple of the block: the mask matters
x = rng.standard_normal(n, dtype=np.float32)
y = rng.standard_normal(n, dtype=np.float32)
out = np.empty_like(x)

BLOCK = 1024
add_kernel[(jl.cdiv(n, BLOCK),)](x, y, out, n, BLOCK=BLOCK)
assert np.array_equal(out, x + y)
print("the kernel agrees with numpy on", n, "elements")

# %% [markdown]
# The grid may also be a function of the launch's arguments and meta-parameters, as in Triton.
# This matters once someone else (an autotuner, tutorial 3) picks `BLOCK` for you:


# %%
def grid(meta):
    return (jl.cdiv(meta["n"], meta["BLOCK"]),)


out[:] = 0
add_kernel[grid](x, y, out, n, BLOCK=256)
assert np.array_equal(out, x + y)

# %% [markdown]
# ## What did the compiler make of it?
#
# `warmup` compiles without running and returns the compiled kernel; `.asm` holds each stage.
# The tile IR is jitlang's own: typed blocks, one instruction per line, each with the
# `line:column` of the source it came from.

# %%
compiled = add_kernel.warmup(x, y, out, n, BLOCK=BLOCK)
print(compiled.asm["tile"])

# %% [markdown]
# The CPU backend turns the tile IR into LLVM IR and then machine code. The block of 1024
# floats became a loop over vector registers (look for `vaddps` on an x86 machine with AVX):

# %%
asm = compiled.asm["asm"]
print("\n".join(line for line in asm.splitlines() if "add" in line and "ps" in line)[:800])

# %% [markdown]
# ## How fast is it on the CPU?
#
# Adding two arrays does one addition per 12 bytes moved (two 4-byte loads, one 4-byte store):
# the kernel is limited by memory bandwidth, not arithmetic, so we measure it in GB/s.
# `jl.testing.do_bench` runs a function many times, flushing the caches between runs, and
# returns milliseconds; we take the median run, which shrugs off the odd slow one when the
# machine is busy with other work. We compare with numpy's `np.add(x, y, out=out)`.

# %%
from functools import partial

sizes = [1 << k for k in range(12, int(np.log2(N_CPU)) + 1, 2)]
ours, numpys = [], []
for size in sizes:
    a, b, c = x[:size], y[:size], out[:size]
    gbytes = 3 * a.nbytes / 1e9
    launch = partial(add_kernel[(jl.cdiv(size, BLOCK),)], a, b, c, size, BLOCK=BLOCK)
    ms = jl.testing.do_bench(launch, rep=50, return_mode="median")
    ours.append(gbytes / (ms * 1e-3))
    ms = jl.testing.do_bench(partial(np.add, a, b, out=c), rep=50, return_mode="median")
    numpys.append(gbytes / (ms * 1e-3))

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(sizes, ours, "o-", label="jitlang (CPU)")
ax.plot(sizes, numpys, "s--", label="numpy")
ax.set_xscale("log", base=2)
ax.set_xlabel("elements")
ax.set_ylabel("GB/s")
ax.set_title("vector add")
ax.legend()
plt.show()

# %% [markdown]
# Small arrays are dominated by the cost of a launch (a few microseconds: argument checks,
# splitting the grid over threads); large ones by the memory system. jitlang splits the grid
# over your CPU's cores, numpy uses one, which is why the kernel can win on large arrays.

# %% [markdown]
# ## The same kernel on the accelerator
#
# The second target is a NeuronCore-like tile accelerator: 128 partitions of on-chip memory,
# a tensor engine (matrix multiply), vector and scalar engines, and DMA queues that move data
# between the device memory (HBM) and the on-chip memory. It exists as an emulator in `isa/`,
# with a timing model. `target="accel"` compiles the kernel for it; the launch copies the
# arrays in, runs every program on the emulator and copies the results back.

# %%
xa, ya = x[:N_ACCEL].copy(), y[:N_ACCEL].copy()
outa = np.zeros_like(xa)
add_kernel[(jl.cdiv(N_ACCEL, BLOCK),)](xa, ya, outa, N_ACCEL, BLOCK=BLOCK, target="accel")
assert np.array_equal(outa, xa + ya)
print("the accelerator agrees with numpy")

# %% [markdown]
# Comparing every kernel with numpy by hand gets tedious. `jl.testing.cross_check` launches a
# kernel on each target with its own copies of the arrays and compares everything any target
# wrote (bitwise for integers, within a few units in the last place for floats). It raises an
# `AssertionError` naming the array and the first differing element if they disagree, and
# otherwise returns a report of the largest differences:

# %%
outa = np.zeros_like(xa)  # cross_check compares the arrays that the launches change
report = jl.testing.cross_check(
    add_kernel, (jl.cdiv(N_ACCEL, BLOCK),), xa, ya, outa, N_ACCEL, BLOCK=BLOCK
)
print(report)

# %% [markdown]
# The accelerator's program is in its own assembly language. Each `.loc` line names the source
# line that the following instructions implement: the two loads became `dma.load`
# instructions (HBM to on-chip memory), the addition one `tt add` on the vector engine, the
# store a `dma.store`.

# %%
print(add_kernel.warmup(xa, ya, outa, N_ACCEL, BLOCK=BLOCK, target="accel").asm["accel"])

# %% [markdown]
# ## The profile
#
# `jl.testing.profile` runs the launch on the emulator and returns what the timing model says
# about it: run time, how busy each engine was, bytes moved, and time per source line.

# %%
prof = jl.testing.profile(
    add_kernel, (jl.cdiv(N_ACCEL, BLOCK),), xa, ya, outa, N_ACCEL, BLOCK=BLOCK
)
print(prof.format())

# %% [markdown]
# Almost all the time is DMA: like on the CPU, vector addition is memory-bound, and the vector
# engine spends a tiny fraction of the run adding. The timeline shows it: one row per engine
# and DMA queue, a bar per instruction.

# %%
display(Image(filename=str(prof.plot("vector_add_timeline.png"))))

# %% [markdown]
# Look at which DMA queues carry the traffic: each core has 16, and this kernel keeps only a
# few of them busy (one per load, one for the store), one transfer after another. That is why
# the DMA bandwidth use in the profile is low even though the DMA rows are full: the next
# tutorials show kernels with more work per byte, and tutorial 7 reads such profiles in
# detail.

# %% [markdown]
# ## Try it
#
# - Change `BLOCK` to 128 or 4096: how do the CPU bandwidth and the accelerator profile change?
# - Remove `mask=mask` from the store and launch with `n` not a multiple of `BLOCK` on the
#   accelerator: the emulator reports the out-of-bounds store with its source line (tutorial 8
#   shows the CPU's bounds checks).
#
# Next: [fused softmax](02-fused-softmax.ipynb), where one kernel does the work of several numpy
# operations and saves memory traffic.
