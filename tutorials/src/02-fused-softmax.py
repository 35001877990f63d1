# Source of tutorials/02-fused-softmax.ipynb: edit here, then run `python tutorials/build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 2. Fused softmax
#
# The softmax of a row `x` is `exp(x - max(x)) / sum(exp(x - max(x)))` (subtracting the maximum
# changes nothing mathematically and keeps `exp` from overflowing). Written with numpy, it is
# five passes over the data, each reading a whole matrix from memory and most writing one back:
#
# ```python
# m = x.max(axis=1)           # read x
# z = x - m[:, None]          # read x, write z
# e = np.exp(z)               # read z, write e
# s = e.sum(axis=1)           # read e
# y = e / s[:, None]          # read e, write y
# ```
#
# For an `M x N` matrix that is about `8 M N` elements of memory traffic, while the result
# needs only `2 M N`: read `x` once, write `y` once. The arithmetic is cheap; the traffic is
# the cost. A **fused** kernel loads a row into registers (or on-chip memory), does all five
# steps there, and stores the result: the same work for a quarter of the traffic.
#
# This tutorial writes that kernel, measures it against numpy (and torch when it is
# installed), and looks at how the accelerator's engines share the work.

# %%
import os

SCALE = float(os.environ.get("TUTORIAL_SCALE", "1"))

ROWS = max(64, int(SCALE * 4096))  # rows of the CPU benchmark matrices
ACCEL_ROWS = max(8, int(SCALE * 256))  # rows of the accelerator run
print(f"SCALE={SCALE}: {ROWS} rows on the CPU, {ACCEL_ROWS} on the accelerator")

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import jitlang as jl
import jitlang.language as tl

try:
    import torch
except ImportError:  # torch is optional: its line is left out of the plot
    torch = None

# %% [markdown]
# ## The kernel
#
# Each program handles whole rows. A row must fit in one block, so the block size is the row
# length rounded up to a power of two, and a mask blanks out the padding. The padding is
# loaded as `-inf`: it cannot win the maximum, and `exp(-inf) = 0` adds nothing to the sum.
#
# Rather than one program per row, the kernel launches a fixed number of programs that walk
# the rows with a stride (`for row in range(start, n_rows, step)`): a few programs per core,
# each with a long loop, costs less to launch than thousands of tiny programs.
#
# `tl.max` and `tl.sum` are reductions along an axis of a block: they collapse the row to one
# number, which then broadcasts back over the row in `row - row_max`.


# %%
@jl.jit
def softmax_kernel(
    out_ptr, in_ptr, in_row_stride, out_row_stride, n_rows, n_cols, BLOCK: tl.constexpr
):
    start = tl.program_id(0)
    step = tl.num_programs(0)
    for row in range(start, n_rows, step):
        cols = tl.arange(0, BLOCK)
        mask = cols < n_cols
        x = tl.load(in_ptr + row * in_row_stride + cols, mask=mask, other=-float("inf"))
        x = x - tl.max(x, axis=0)
        numerator = tl.exp(x)
        y = numerator / tl.sum(numerator, axis=0)
        tl.store(out_ptr + row * out_row_stride + cols, y, mask=mask)


def softmax(x: np.ndarray, programs: int | None = None, target: str = "cpu") -> np.ndarray:
    n_rows, n_cols = x.shape
    y = np.empty_like(x)
    programs = programs or min(n_rows, 4 * (os.cpu_count() or 1))
    softmax_kernel[(programs,)](
        y,
        x,
        x.strides[0] // x.itemsize,  # strides are in elements, not bytes
        y.strides[0] // y.itemsize,
        n_rows,
        n_cols,
        BLOCK=jl.next_power_of_2(n_cols),
        target=target,
    )
    return y


def softmax_numpy(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# %% [markdown]
# Always check before you time. An odd width exercises the mask:

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal((ROWS, 781), dtype=np.float32)
jl.testing.assert_close(softmax(x), softmax_numpy(x))
print("matches numpy")

# %% [markdown]
# ## Bandwidth
#
# We count the bytes the *fused* kernel must move (`2 * M * N * 4`: read once, write once) and
# divide by the time: that is the effective bandwidth, the same yardstick for every
# implementation. numpy's unfused passes move more bytes than this, so its number says how
# fast it gets the job done, not how hard it drives the memory.

# %%
widths = [128 * 2**k for k in range(0, 7)]  # 128 ... 8192 columns
results = {"jitlang": [], "numpy": []}
if torch is not None:
    results["torch"] = []
for n_cols in widths:
    x = rng.standard_normal((ROWS, n_cols), dtype=np.float32)
    gbytes = 2 * x.nbytes / 1e9
    results["jitlang"].append(
        gbytes / (jl.testing.do_bench(partial(softmax, x), rep=50, return_mode="median") * 1e-3)
    )
    results["numpy"].append(
        gbytes
        / (jl.testing.do_bench(partial(softmax_numpy, x), rep=50, return_mode="median") * 1e-3)
    )
    if torch is not None:
        t = torch.from_numpy(x)
        ms = jl.testing.do_bench(partial(torch.softmax, t, dim=1), rep=50, return_mode="median")
        results["torch"].append(gbytes / (ms * 1e-3))

fig, ax = plt.subplots(figsize=(7, 4))
for (name, values), style in zip(results.items(), ["o-", "s--", "^:"]):
    ax.plot(widths, values, style, label=name)
ax.set_xscale("log", base=2)
ax.set_xlabel("row length (columns)")
ax.set_ylabel("effective GB/s")
ax.set_title(f"softmax of a {ROWS} x N float32 matrix")
ax.legend()
plt.show()

# %% [markdown]
# The fused kernel touches memory twice per element; numpy touches it eight times and also
# pays for allocating its temporaries. torch fuses softmax too (a hand-written C++ kernel);
# ours is a dozen lines of Python.
#
# Where does the curve bend? While a row fits in the L1/L2 caches the kernel is fast; very
# long rows no longer fit next to their temporaries, and the row is no longer "in registers".
# Triton's tutorial makes the same observation on GPUs, where a row must fit in the SRAM of one
# streaming multiprocessor.

# %% [markdown]
# ## On the accelerator
#
# On the accelerator a block lives in the on-chip memory (SBUF): 128 partitions, each a lane of
# the vector and scalar engines. The compiler lays a row of `BLOCK` elements across the
# partitions; the DMA engines bring it in, the **activation engine** (ACT) computes `exp`, the
# **vector engine** (DVE) the subtraction, the division and the reductions, and the DMA engines
# write the result back. The emulator runs the same program; the profiler tells us how the
# engines overlapped.

# %%
xa = rng.standard_normal((ACCEL_ROWS, 1000), dtype=np.float32)
ya = softmax(xa, programs=4, target="accel")
jl.testing.assert_close(ya, softmax_numpy(xa), atol=1e-6, rtol=1e-5)

prof = jl.testing.profile(
    softmax_kernel,
    (4,),
    np.empty_like(xa),
    xa,
    1000,
    1000,
    ACCEL_ROWS,
    1000,
    BLOCK=1024,
)
print(prof.format(top_lines=6))

# %% [markdown]
# The timeline: one row per engine (and per DMA queue) of each core, one bar per instruction.
# Each program's loop iteration is a load, a few vector and activation instructions, and a
# store. The DMA rows are busy from start to end while the compute engines mostly wait:
# softmax is memory-bound on the accelerator too, and the loads of the next rows overlap the
# arithmetic on the current one. The per-line table above says the same: almost all the time
# is on the load and store lines.

# %%
display(Image(filename=str(prof.plot("softmax_timeline.png"))))

# %% [markdown]
# ## Try it
#
# - Launch more programs (`programs=` in `softmax`): does the bandwidth change on your CPU?
# - Replace `tl.exp(x)` with `tl.exp2(x * 1.4426950408889634)`: on the accelerator, which engine
#   does the work now?
#
# Next: [matrix multiplication](03-matrix-multiplication.ipynb), where arithmetic, not memory,
# becomes the limit.
