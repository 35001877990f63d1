# Source of tutorials/05-layer-norm.ipynb: edit here, then run `python tutorials/build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 5. Layer normalization, forward and backward
#
# Layer normalization rescales each row `x` of a matrix to zero mean and unit variance, then
# applies a learned per-column scale `w` and shift `b`:
#
# $$ \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \hat x \cdot w + b $$
#
# The forward pass is a row-wise kernel like softmax: two reductions (mean, variance) and an
# elementwise update. The backward pass is more interesting. The gradients with respect to `x`
# are again row-wise, but the gradients with respect to `w` and `b` are **sums over all rows**:
# every program contributes to the same `N` numbers. This tutorial shows Triton's answer to
# that: programs accumulate partial sums into a small buffer, guarded by a **lock** built from
# `tl.atomic_cas`, and a second, tiny kernel adds up the buffer.

# %%
import os

SCALE = float(os.environ.get("TUTORIAL_SCALE", "1"))

M = max(64, int(SCALE * 4096))  # rows
N_COLS = 1000  # columns (the normalised dimension)
M_ACCEL = max(16, int(SCALE * 128))  # rows on the accelerator
print(f"SCALE={SCALE}: {M} x {N_COLS} on the CPU, {M_ACCEL} x {N_COLS} on the accelerator")

# %%
from functools import partial

import numpy as np

import jitlang as jl
import jitlang.language as tl

# %% [markdown]
# ## Forward
#
# One program per row. The row may be longer than a block, so the kernel loops over it in
# chunks of `BLOCK` columns: once for the mean, once for the variance, once to write `y`. It also
# saves the mean and `1 / std` of each row: the backward pass needs them.


# %%
@jl.jit
def layer_norm_fwd(X, Y, W, B, Mean, Rstd, stride, N, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    X += row * stride
    Y += row * stride
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for off in range(0, N, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        acc += tl.load(X + cols, mask=cols < N, other=0.0).to(tl.float32)
    mean = tl.sum(acc, axis=0) / N
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for off in range(0, N, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        x = tl.load(X + cols, mask=cols < N, other=0.0).to(tl.float32)
        x = tl.where(cols < N, x - mean, 0.0)
        acc += x * x
    rstd = 1 / tl.sqrt(tl.sum(acc, axis=0) / N + eps)
    tl.store(Mean + row, mean)
    tl.store(Rstd + row, rstd)
    for off in range(0, N, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        mask = cols < N
        w = tl.load(W + cols, mask=mask)
        b = tl.load(B + cols, mask=mask)
        x = tl.load(X + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(Y + cols, (x - mean) * rstd * w + b, mask=mask)


def layer_norm(x, w, b, eps=1e-5, target="cpu"):
    m, n = x.shape
    y = np.empty_like(x)
    mean = np.empty(m, np.float32)
    rstd = np.empty(m, np.float32)
    layer_norm_fwd[(m,)](x, y, w, b, mean, rstd, n, n, eps, BLOCK=256, target=target)
    return y, mean, rstd


def layer_norm_numpy(x, w, b, eps=1e-5):
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


rng = np.random.default_rng(0)
x = rng.standard_normal((M, N_COLS), dtype=np.float32) * 2 + 1
w = rng.standard_normal(N_COLS, dtype=np.float32)
b = rng.standard_normal(N_COLS, dtype=np.float32)
y, mean, rstd = layer_norm(x, w, b)
jl.testing.assert_close(y, layer_norm_numpy(x, w, b), atol=1e-4, rtol=1e-4)
print("forward matches numpy")

# %% [markdown]
# ## Backward
#
# Given `dy`, the gradient of the loss with respect to `y`, with `wdy = w * dy`:
#
# $$ dx = \Big(wdy - \big(\hat x \cdot c_1 + c_2\big)\Big) \cdot rstd, \quad
#    c_1 = \tfrac{1}{N}\textstyle\sum \hat x \cdot wdy, \quad c_2 = \tfrac{1}{N}\sum wdy $$
#
# $$ dw = \sum_{rows} dy \cdot \hat x, \qquad db = \sum_{rows} dy $$
#
# `dx` is row-wise: each program computes its own. For `dw` and `db`, one buffer per program
# would cost `M x N` memory, and one shared buffer would have every program fighting over it.
# The middle road: `GROUP` buffers; program `row` adds its contribution to buffer `row % GROUP`.
# Several programs share a buffer, so each takes that buffer's lock first:
#
# ```python
# while tl.atomic_cas(Lock, 0, 1) == 1:   # spin until we turn the lock from 0 to 1
#     pass
# ...read, add, write the partial sums...
# tl.atomic_xchg(Lock, 0)                 # release
# ```
#
# `atomic_cas(ptr, cmp, val)` atomically stores `val` if the memory holds `cmp`, and returns
# what it held: exactly one program sees 0 and enters. A second counter array records whether a
# buffer has been written yet, so the first program stores instead of adding to garbage.


# %%
@jl.jit
def layer_norm_bwd_dx_fused(
    DX, DY, DW, DB, X, W, Mean, Rstd, Lock, stride, N,
    GROUP: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    mask = cols < N
    X += row * stride
    DY += row * stride
    DX += row * stride
    lock_id = row % GROUP
    Lock += lock_id
    Count = Lock + GROUP
    DW = DW + lock_id * N + cols
    DB = DB + lock_id * N + cols
    x = tl.load(X + cols, mask=mask, other=0).to(tl.float32)
    dy = tl.load(DY + cols, mask=mask, other=0).to(tl.float32)
    w = tl.load(W + cols, mask=mask).to(tl.float32)
    mean = tl.load(Mean + row)
    rstd = tl.load(Rstd + row)
    xhat = tl.where(mask, (x - mean) * rstd, 0.0)
    wdy = tl.where(mask, w * dy, 0.0)
    c1 = tl.sum(xhat * wdy, axis=0) / N
    c2 = tl.sum(wdy, axis=0) / N
    tl.store(DX + cols, (wdy - (xhat * c1 + c2)) * rstd, mask=mask)
    partial_dw = dy * xhat
    partial_db = dy
    while tl.atomic_cas(Lock, 0, 1) == 1:
        pass
    count = tl.load(Count)
    if count == 0:  # the first program to hold this lock: nothing to add to yet
        tl.atomic_xchg(Count, 1)
    else:
        partial_dw += tl.load(DW, mask=mask)
        partial_db += tl.load(DB, mask=mask)
    tl.store(DW, partial_dw, mask=mask)
    tl.store(DB, partial_db, mask=mask)
    tl.atomic_xchg(Lock, 0)


@jl.jit
def layer_norm_bwd_dwdb(
    DW, DB, FINAL_DW, FINAL_DB, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr
):
    cols = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    dw = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    db = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for i in range(0, M, BLOCK_M):
        rows = i + tl.arange(0, BLOCK_M)
        mask = (rows[:, None] < M) & (cols[None, :] < N)
        offs = rows[:, None] * N + cols[None, :]
        dw += tl.load(DW + offs, mask=mask, other=0.0)
        db += tl.load(DB + offs, mask=mask, other=0.0)
    tl.store(FINAL_DW + cols, tl.sum(dw, axis=0), mask=cols < N)
    tl.store(FINAL_DB + cols, tl.sum(db, axis=0), mask=cols < N)


def layer_norm_backward(dy, x, w, mean, rstd, group=16, target="cpu"):
    m, n = x.shape
    dx = np.empty_like(x)
    dw_part = np.zeros((group, n), np.float32)
    db_part = np.zeros((group, n), np.float32)
    locks = np.zeros(2 * group, np.int32)  # GROUP locks, then GROUP "written yet" counters
    block_n = jl.next_power_of_2(n)
    layer_norm_bwd_dx_fused[(m,)](
        dx, dy, dw_part, db_part, x, w, mean, rstd, locks, n, n,
        GROUP=group, BLOCK_N=block_n, target=target,
    )  # fmt: skip
    dw = np.empty(n, np.float32)
    db = np.empty(n, np.float32)
    layer_norm_bwd_dwdb[(jl.cdiv(n, 128),)](
        dw_part, db_part, dw, db, group, n, BLOCK_M=16, BLOCK_N=128, target=target
    )
    return dx, dw, db


# %% [markdown]
# numpy gives the reference: the same formulas, written with whole-array operations.


# %%
def layer_norm_backward_numpy(dy, x, w, eps=1e-5):
    n = x.shape[1]
    mean = x.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(((x - mean) ** 2).mean(axis=1, keepdims=True) + eps)
    xhat = (x - mean) * rstd
    wdy = w * dy
    c1 = (xhat * wdy).sum(axis=1, keepdims=True) / n
    c2 = wdy.sum(axis=1, keepdims=True) / n
    dx = (wdy - (xhat * c1 + c2)) * rstd
    return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)


dy = rng.standard_normal((M, N_COLS), dtype=np.float32)
dx, dw, db = layer_norm_backward(dy, x, w, mean, rstd)
ref_dx, ref_dw, ref_db = layer_norm_backward_numpy(dy.astype(np.float64), x.astype(np.float64), w)
jl.testing.assert_close(dx, ref_dx.astype(np.float32), atol=1e-4, rtol=1e-3)
# dw and db sum M rows: compare relative to the size of the sums
jl.testing.assert_close(dw, ref_dw.astype(np.float32), atol=1e-3 * np.sqrt(M), rtol=1e-3)
jl.testing.assert_close(db, ref_db.astype(np.float32), atol=1e-3 * np.sqrt(M), rtol=1e-3)
print("backward matches numpy (dx, dw, db)")

# %% [markdown]
# The programs run on several threads at once, and the lock is what makes the result right:
# the order in which programs add into a buffer changes from run to run (so the last bits of
# `dw` may too), but no contribution is lost. Run the cell a few times and compare.
#
# ## Speed
#
# Against numpy, which makes a temporary array for every step of the formulas:

# %%
for name, fn in [
    ("jitlang forward", partial(layer_norm, x, w, b)),
    ("numpy forward", partial(layer_norm_numpy, x, w, b)),
    ("jitlang backward", partial(layer_norm_backward, dy, x, w, mean, rstd)),
    ("numpy backward", partial(layer_norm_backward_numpy, dy, x, w)),
]:
    print(f"{name:<18}{jl.testing.do_bench(fn, rep=50, return_mode='median'):8.3f} ms")

# %% [markdown]
# ## On the accelerator
#
# The accelerator has atomic instructions on device memory, so the same kernels compile
# unchanged. (The emulator runs the programs of a launch one after another, so there the lock
# is always free when a program asks for it; on the CPU, threads really do contend for it.)
# `cross_check` runs a kernel on both targets and compares every array it wrote; programs add
# into the partial buffers in a different order on each target, so `DW` and `DB` (the
# partial buffers) may differ in their last bits, and `cross_check` compares floats within a
# tolerance, not bitwise.

# %%
xa, dya = x[:M_ACCEL].copy(), dy[:M_ACCEL].copy()
ya, mean_a, rstd_a = layer_norm(xa, w, b, target="accel")
jl.testing.assert_close(ya, layer_norm_numpy(xa, w, b), atol=1e-4, rtol=1e-4)
dxa, dwa, dba = layer_norm_backward(dya, xa, w, mean_a, rstd_a, target="accel")
ref = layer_norm_backward_numpy(dya.astype(np.float64), xa.astype(np.float64), w)
for got, want in zip((dxa, dwa, dba), ref):
    jl.testing.assert_close(got, want.astype(np.float32), atol=1e-3, rtol=1e-3)
print("forward and backward on the accelerator match numpy")

group = 4
report = jl.testing.cross_check(
    layer_norm_bwd_dx_fused, (M_ACCEL,),
    np.empty_like(xa), dya, np.zeros((group, N_COLS), np.float32),
    np.zeros((group, N_COLS), np.float32), xa, w, mean_a, rstd_a,
    np.zeros(2 * group, np.int32), N_COLS, N_COLS,
    GROUP=group, BLOCK_N=1024,
)  # fmt: skip
print(report)

# %% [markdown]
# Next: [fused attention](06-fused-attention.ipynb), the kernel that made Triton famous.
