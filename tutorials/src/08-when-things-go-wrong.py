# Source of tutorials/08-when-things-go-wrong.ipynb: edit here, then run `python tutorials/build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 8. When things go wrong
#
# Kernels fail in three ways: they do not compile, they crash or corrupt memory, or they run and
# compute the wrong thing. jitlang has a tool for each:
#
# - **compile errors** point at the file, line and column of the mistake, show the line with a
#   caret, and suggest a fix. No compiler internals, no hundred-line traceback;
# - **bounds checks** catch loads and stores outside their arrays: always on the accelerator's
#   emulator, on request (`JITLANG_BOUNDS_CHECK=1`) on the CPU; `tl.device_assert` checks your
#   own conditions;
# - for wrong results: `tl.device_print`, the **interpreter** (a plain numpy execution of the
#   kernel's IR, the reference for what the IR means), cross-checking targets, and dumps of the
#   **IR at every stage** of the compiler.

# %% [markdown]
# ## Switches first
#
# Some of these tools are switched by environment variables. jitlang reads them once, when the
# first kernel launches, so we set them at the very top (to change them later, restart the
# notebook's kernel). In a terminal you would write `JITLANG_BOUNDS_CHECK=1 python script.py`.

# %%
import os
from pathlib import Path

os.environ["JITLANG_BOUNDS_CHECK"] = "1"  # check every CPU load and store
os.environ["JITLANG_DUMP_DIR"] = str(Path("ir-dumps").resolve())  # write each stage's IR here

SCALE = float(os.environ.get("TUTORIAL_SCALE", "1"))
N = max(256, int(SCALE * 100_000))  # elements of the arrays below
print(f"SCALE={SCALE}: arrays of {N:,} elements")

# %%
import subprocess
import sys

import numpy as np

import jitlang as jl
import jitlang.language as tl

x = np.arange(N, dtype=np.float32)

# %% [markdown]
# ## 1. Compile errors
#
# Each cell below has one mistake. The error is a `jl.CompilationError` (a subclass per kind:
# `ShapeError`, `KernelTypeError`, `UnsupportedSyntaxError`, ...); printing it gives the pointed
# message. In a notebook the "file" is the cell (IPython names it `/tmp/ipykernel_.../...py`);
# in a script it is your file.
#
# **Shapes that do not broadcast.** Blocks combine elementwise only if their shapes agree or
# broadcast (a dimension of 1 stretches):


# %%
@jl.jit
def shape_mistake(x_ptr, BLOCK: tl.constexpr):
    a = tl.arange(0, BLOCK)
    b = tl.arange(0, 2 * BLOCK)
    tl.store(x_ptr + a, a + b)


try:
    shape_mistake[(1,)](x, BLOCK=16)
except jl.CompilationError as e:
    print(type(e).__name__)
    print(e)

# %% [markdown]
# **A block size that is not known at compile time.** Block shapes are part of the compiled
# code, so `tl.arange` needs constants: the hint says how to make the parameter one.


# %%
@jl.jit
def constexpr_mistake(x_ptr, n):
    offs = tl.arange(0, n)
    tl.store(x_ptr + offs, offs)


try:
    constexpr_mistake[(1,)](x, 16)
except jl.CompilationError as e:
    print(e)

# %% [markdown]
# **Storing through something that is not a pointer**, here an integer argument:


# %%
@jl.jit
def pointer_mistake(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(n + offs, offs)


try:
    pointer_mistake[(1,)](x, N, BLOCK=16)
except jl.CompilationError as e:
    print(e)

# %% [markdown]
# **Python that a kernel cannot run.** Kernels are a subset of Python: no list comprehensions,
# no `try`, no arbitrary objects. The error names the construct and what is allowed:


# %%
@jl.jit
def syntax_mistake(x_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    scales = [2.0 * i for i in range(4)]
    tl.store(x_ptr + offs, offs * scales[0])


try:
    syntax_mistake[(1,)](x, BLOCK=16)
except jl.CompilationError as e:
    print(e)

# %% [markdown]
# ## 2. Out-of-bounds accesses
#
# The classic bug: a kernel without a mask, launched on a size that is not a multiple of the
# block. The last program writes past the end of the array. On a GPU that silently corrupts
# memory, and so it does on the CPU when bounds checks are off (the default, because checks
# cost time). With `JITLANG_BOUNDS_CHECK=1`, every access is checked; the bad ones are skipped
# and reported with the source location, the array, the program and the element:


# %%
@jl.jit
def forgot_the_mask(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, tl.load(x_ptr + offs) * 2)


BLOCK = 128
grid = (jl.cdiv(N + 1, BLOCK),)  # one element too many: the last block overruns
y = x.copy()
try:
    forgot_the_mask[grid](y, N, BLOCK=BLOCK)
except jl.OutOfBoundsError as e:
    print(e)

# %% [markdown]
# The accelerator's emulator checks every DMA against the arrays' extent, always: the same
# launch on `target="accel"` fails with the instruction and the source line:

# %%
try:
    forgot_the_mask[grid](x.copy(), N, BLOCK=BLOCK, target="accel")
except jl.OutOfBoundsError as e:
    print(e)

# %% [markdown]
# The fix is the mask: `mask = offs < n` on the load and the store.
#
# ## 3. Assertions and prints
#
# `tl.device_assert(cond, msg)` checks a condition on every element; a failure raises after
# the launch with the first failing program and element:


# %%
@jl.jit
def check_positive(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    v = tl.load(x_ptr + offs, mask=offs < n, other=1.0)
    tl.device_assert(v > 0, "inputs must be positive")


for target in ("cpu", "accel"):
    try:
        check_positive[(jl.cdiv(N, BLOCK),)](x, N, BLOCK=BLOCK, target=target)
    except AssertionError as e:
        print(f"{target}: {e}")

# %% [markdown]
# (`x[0]` is 0.) `tl.device_print` prints values from inside a kernel, with the program id and
# the element index of each. Keep the blocks small: every element is a line.


# %%
@jl.jit
def show_me(x_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    v = tl.load(x_ptr + offs)
    tl.device_print("v * v = ", v * v)


_ = show_me[(1,)](x, BLOCK=4)  # a launch returns the compiled kernel; not needed here

# %% [markdown]
# On the accelerator, a kernel's prints travel back with the emulator's results. A backend
# that cannot print a value refuses with a pointed error rather than dropping the print:

# %%
try:
    _ = show_me[(1,)](x, BLOCK=4, target="accel")
except jl.CompilationError as e:
    print(e)

# %% [markdown]
# ## 4. The interpreter
#
# When the CPU and the accelerator disagree, which one is right? The tile-IR interpreter
# (`jitlang/interpreter.py`) runs the kernel's IR with numpy, one program after another, no
# vectorisation and no code generation: it is the definition of what the IR means.
# `JITLANG_INTERPRET=1` sends every CPU launch to it. It is slow, and it checks bounds by
# itself.
#
# Environment switches are per process, so we run a small script in a fresh Python with the
# interpreter on (this is also how you would use it: `JITLANG_INTERPRET=1 python script.py`):

# %%
script = Path("interpret_me.py")
script.write_text(
    """
import numpy as np
import jitlang as jl
import jitlang.language as tl


@jl.jit
def scale(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) * 3, mask=offs < n)


@jl.jit
def overrun(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, 1.0)


x = np.arange(100, dtype=np.float32)
out = np.empty_like(x)
scale[(4,)](x, out, 100, BLOCK=32)
print("interpreted scale:", out[:5], "... correct:", np.array_equal(out, 3 * x))
try:
    overrun[(4,)](x, 100, BLOCK=32)
except jl.InterpreterError as e:
    print(e)
"""
)
env = dict(os.environ, JITLANG_INTERPRET="1", JITLANG_BOUNDS_CHECK="0")
run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
print(run.stdout or run.stderr)

# %% [markdown]
# ## 5. The IR at every stage
#
# The compiler is a pipeline of small passes, and `JITLANG_DUMP_DIR` (set at the top) makes it
# write the kernel's IR after each one. The file names say the order:

# %%
dumps = sorted(Path(os.environ["JITLANG_DUMP_DIR"]).glob("forgot_the_mask.*"))
for p in dumps:
    print(f"{p.name:<40}{p.stat().st_size:>8} bytes")

# %% [markdown]
# `0-frontend.tile` is the IR as the frontend built it from the Python AST, one instruction
# per operation, each with its `line:column`. The later passes fold constants, remove common
# subexpressions and dead code, and choose layouts. A diff shows what a pass changed:

# %%
import difflib

stage = {p.name.split(".")[1]: p for p in dumps}
first, last = stage["0-frontend"], [p for p in dumps if p.suffix == ".tile"][-1]
diff = difflib.unified_diff(
    first.read_text().splitlines(),
    last.read_text().splitlines(),
    first.name,
    last.name,
    lineterm="",
)
print("\n".join(diff))

# %% [markdown]
# Without the environment variable, a compiled kernel carries its final stages: `asm["tile"]`
# (after all passes), `asm["llir"]` (optimised LLVM IR) and `asm["asm"]` (host assembly) for
# the CPU; `asm["tile"]` (with the accelerator's layouts), `asm["llir"]` and `asm["accel"]`
# for the accelerator:

# %%
k = forgot_the_mask.warmup(x, N, BLOCK=BLOCK, target="accel")
print(k.asm["accel"])

# %% [markdown]
# The command line prints any stage for any kernel in a file, given an argument signature
# (arrays as `dtype[shape]`), and `check` cross-checks the targets on random inputs. It
# imports the file like any module, so the file should define kernels, not run them:

# %%
kernels = Path("kernels.py")
kernels.write_text(script.read_text().split("x = np.arange")[0])  # the kernels only
cli = [sys.executable, "-m", "jitlang"]
shown = subprocess.run(
    cli + ["show", f"{kernels}::scale", "--args", "f32[100],f32[100],100", "--meta", "BLOCK=32",
           "--stage", "llir"],
    capture_output=True, text=True,
)  # fmt: skip
print(shown.stdout[:1500] or shown.stderr)
checked = subprocess.run(
    cli + ["check", f"{kernels}::scale", "--args", "f32[100],f32[100],100", "--meta", "BLOCK=32",
           "--grid", "cdiv(n, BLOCK)"],
    capture_output=True, text=True,
)  # fmt: skip
print(checked.stdout or checked.stderr)

# %% [markdown]
# ## A checklist
#
# 1. Read the compile error's caret and hint; they are written for you, not for us.
# 2. Wrong or crashing results: rerun with `JITLANG_BOUNDS_CHECK=1`, or on `target="accel"`,
#    which always checks.
# 3. Still wrong: `jl.testing.cross_check` the targets; `JITLANG_INTERPRET=1` for the reference
#    semantics; `tl.device_print` a small block.
# 4. Slow: profile it on the accelerator (tutorial 7) and read the IR stages.
#
# That's the tour. The [README](../README.md) lists the whole language and the environment
# variables.
