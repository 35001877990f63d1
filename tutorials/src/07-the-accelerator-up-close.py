# Source of tutorials/07-the-accelerator-up-close.ipynb: edit here, then run `python tutorials/build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 7. The accelerator up close
#
# The earlier tutorials used the accelerator as a second target: compile, run, cross-check,
# glance at a profile. This one opens it up. We look at
#
# 1. the machine: what a core has, and how the two generations we model differ;
# 2. its instruction set, documented in `isa/SPEC.md` (generated from the one table that also
#    drives the assembler, the encoder and the emulator);
# 3. the assembly the compiler produced for a kernel, instruction by instruction with the
#    source lines they implement;
# 4. the profile: the engine timeline as a picture and as a trace you can explore in Perfetto;
# 5. the roofline, which says whether a kernel is limited by memory or by arithmetic;
# 6. the same kernels on `nc-v2` and `nc-v3`.

# %%
import os

SCALE = float(os.environ.get("TUTORIAL_SCALE", "1"))

ROWS = max(16, int(SCALE * 512))  # rows of the softmax we dissect
MATMUL = 256 if SCALE < 0.25 else 1024  # square fp16 matmul for the roofline
print(f"SCALE={SCALE}: softmax of {ROWS} rows, matmul of {MATMUL}^3")

# %%
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, Markdown, display

import isa
import jitlang as jl
import jitlang.language as tl
from isa.machine import get_config

# %% [markdown]
# ## 1. The machine
#
# The accelerator is modelled on AWS's NeuronCores. A **core** has
#
# - **SBUF**, the on-chip memory: 128 **partitions**, each a separate bank of SRAM. A tile is
#   laid out with one dimension across the partitions and the rest along each partition;
# - **PSUM**, a small accumulation memory written by the tensor engine;
# - five engines that run in parallel, each with its own instruction stream, synchronised by
#   the dependencies between their instructions:
#   **PE** (the tensor engine, a 128 x 128 systolic array for matrix multiplication),
#   **ACT** (the activation engine: `exp`, `tanh`, ... one function per element),
#   **DVE** (the vector engine: elementwise arithmetic, reductions along a partition),
#   **POOL** (a second vector engine, used for cross-partition work and iota/memset),
#   **DMA** (16 queues moving data between device memory, HBM, and SBUF);
# - a **sequencer** (SEQ) that runs the scalar part of the program: loops, address arithmetic.
#
# A launch's programs are spread over the cores. The two configurations:

# %%
v2, v3 = get_config("nc-v2"), get_config("nc-v3")
rows = [
    ("cores", "cores", ""),
    ("partitions", "partitions", ""),
    ("SBUF per partition", "sbuf_bytes_per_partition", "bytes"),
    ("PE clock", "pe_clock_ghz", "GHz"),
    ("PE peak bf16", "pe_tflops_bf16", "TFLOP/s per core"),
    ("PE peak fp32", "pe_tflops_fp32", "TFLOP/s per core"),
    ("PE peak fp8", "pe_tflops_fp8", "TFLOP/s per core"),
    ("DMA queues", "dma_queues", "per core"),
    ("HBM bandwidth", "hbm_bytes_per_ns", "GB/s"),
]
print(f"{'':<22}{'nc-v2':>10}{'nc-v3':>10}")
for label, attr, unit in rows:
    print(f"{label:<22}{getattr(v2, attr):>10}{getattr(v3, attr):>10}  {unit}")
print(
    f"{'DMA sustained':<22}{v2.dma_bytes_per_ns:>10.0f}{v3.dma_bytes_per_ns:>10.0f}  GB/s per core"
)

# %% [markdown]
# ## 2. The instruction set
#
# Every instruction is declared once, in `isa/table.py`: its operands and their bit fields, its
# engine, its cost formula and its meaning. `isa/SPEC.md` is generated from that table
# (`python -m isa spec`), and so are the encoder, the decoder, the assembler and the
# emulator's dispatch. Here is how many instructions each engine has:

# %%
spec = Path(isa.__file__).with_name("SPEC.md").read_text()
counts = {}
engine = None
for line in spec.splitlines():
    if line.startswith("### ") and line[4:].strip().isupper():
        engine = line[4:].strip()
    elif line.startswith("#### `") and engine:
        counts[engine] = counts.get(engine, 0) + 1
print(counts)

# %% [markdown]
# And the entries of the two instructions that do most of the work in the kernels of these
# tutorials, `matmul` on the tensor engine and `tt` (tensor-tensor) on the vector engine,
# exactly as the specification shows them:


# %%
def spec_entry(mnemonic: str) -> str:
    match = re.search(rf"#### `{re.escape(mnemonic)}`\n(.*?)(?=\n#### |\n### |\Z)", spec, re.S)
    return match.group(0)


display(Markdown(spec_entry("matmul")))
display(Markdown(spec_entry("tt")))

# %% [markdown]
# ## 3. A compiled kernel, line by line
#
# We take the fused softmax of tutorial 2 and read what the compiler made of it. `asm["accel"]`
# is the disassembly of the binary, with a `.loc` directive before each group of instructions
# naming the kernel's source line (shown after `#`).


# %%
@jl.jit
def softmax_kernel(out_ptr, in_ptr, stride, n_rows, n_cols, BLOCK: tl.constexpr):
    for row in range(tl.program_id(0), n_rows, tl.num_programs(0)):
        cols = tl.arange(0, BLOCK)
        x = tl.load(in_ptr + row * stride + cols, mask=cols < n_cols, other=-float("inf"))
        x = x - tl.max(x, axis=0)
        num = tl.exp(x)
        tl.store(out_ptr + row * stride + cols, num / tl.sum(num, axis=0), mask=cols < n_cols)


rng = np.random.default_rng(0)
x = rng.standard_normal((ROWS, 1000), dtype=np.float32)
y = np.empty_like(x)
args = (y, x, 1000, ROWS, 1000)
compiled = softmax_kernel.warmup(*args, BLOCK=1024, target="accel")
print(compiled.asm["accel"])

# %% [markdown]
# Reading it from the top:
#
# - `arg` instructions copy the kernel's arguments into sequencer registers;
# - the `for` loop is sequencer code: register arithmetic and a conditional branch back to a
#   label;
# - `dma.load` moves the row from HBM into an SBUF tile. Its HBM operand is an access pattern
#   `hbm.f32[rB+off, (stride,size,rBound)...]`: the `rBound` register holds `n_cols`, so the
#   mask became a bound on the transfer, not a separate instruction;
# - the 1024 elements of a row lie as 128 partitions x 8 elements (`sb.f32[0:128, ..., (1,8)]`);
#   `tl.max` and `tl.sum` first reduce along each partition on the vector engine, then across
#   the partitions;
# - `act exp` runs on the activation engine; `tt`/`ts` are the vector engine's tensor-tensor
#   and tensor-scalar operations; `dma.store` writes the row back, bounded like the load.
#
# The binary is what the emulator executes; disassembling and re-assembling it gives the same
# bytes (the `isa` package tests this for every instruction):

# %%
from isa.asm import assemble, disassemble
from isa.binary import Binary

binary = Binary.from_bytes(compiled.asm["binary"])
text = disassemble(binary)
assert assemble(text).code == binary.code
print(f"{len(binary.code)} bytes of code; the disassembly assembles back to the same bytes")

# %% [markdown]
# ## 4. The profile
#
# `jl.testing.profile` runs the launch on the emulator with instruction records turned on and
# hands them to the timing model, which schedules every instruction on its engine respecting
# the dependencies and each engine's cost formula (the `cost` line of each SPEC entry).

# %%
prof = jl.testing.profile(softmax_kernel, (4,), *args, BLOCK=1024)
print(prof.format(top_lines=8))

# %% [markdown]
# The timeline shows how the engines overlap: a row per engine (per core), bars coloured by
# instruction.

# %%
display(Image(filename=str(prof.plot("softmax_timeline.png"))))

# %% [markdown]
# For a closer look, write a Chrome/Perfetto trace: open <https://ui.perfetto.dev>, drag the
# file in, and zoom into any instruction. Each event carries its program counter, source line,
# bytes and FLOPs. (The same trace comes from the command line:
# `python -m jitlang profile FILE::KERNEL --args ... --trace out.json`.)

# %%
path = prof.write_chrome_trace("softmax.trace.json")
events = json.loads(path.read_text())["traceEvents"]
print(f"wrote {path} with {len(events)} events; one of them:")
print(next(e for e in events if e.get("name") == "dma.load"))

# %% [markdown]
# ## 5. The roofline
#
# A kernel does `F` FLOPs and moves `B` bytes between HBM and SBUF: its **arithmetic
# intensity** is `I = F / B`. With peak compute `P` and bandwidth `W`, it can at best reach
# `min(P, I * W)` FLOP/s: below the **ridge point** `I = P / W` it is memory-bound, above it
# compute-bound. `prof.roofline()` computes these numbers; we plot three kernels against the
# machine's roof. The matmul is profiled in timing-only mode (no arithmetic is emulated, the
# timing is the same), which is what makes large problems cheap to study.


# %%
@jl.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(
        out_ptr + offs,
        tl.load(x_ptr + offs, mask=mask) + tl.load(y_ptr + offs, mask=mask),
        mask=mask,
    )


@jl.jit
def matmul_kernel(
    at_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        at = tl.load(at_ptr + (k + rk)[:, None] * M + rm[None, :])
        b = tl.load(b_ptr + (k + rk)[:, None] * N + rn[None, :])
        acc = tl.dot(tl.trans(at), b, acc)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc.to(tl.float16))


def profiles(config):
    """The three kernels on one machine; the grids give every core work."""
    n = 1 << 16
    v = np.ones(n, np.float32)
    mm = np.zeros((MATMUL, MATMUL), np.float16)
    cores = get_config(config).cores
    bn = min(512, MATMUL)  # the widest moving tile the tensor engine takes
    return {
        "vector add": jl.testing.profile(
            add_kernel, (jl.cdiv(n, 2048),), v, v, v.copy(), n, BLOCK=2048, config=config
        ),
        "softmax": jl.testing.profile(softmax_kernel, (cores,), *args, BLOCK=1024, config=config),
        "matmul fp16": jl.testing.profile(
            matmul_kernel, (MATMUL // 128, MATMUL // bn), mm, mm, mm.copy(), MATMUL, MATMUL, MATMUL,
            BLOCK_M=128, BLOCK_N=bn, BLOCK_K=bn, config=config, timing_only=True,
        ),
    }  # fmt: skip


def plot_roofline(results, title):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, p), marker in zip(results.items(), "os^"):
        r = p.roofline()
        xs = np.logspace(-2, 4, 200)
        roof = np.minimum(r["peak_flops_per_s"], xs * r["bandwidth_bytes_per_s"])
        (line,) = ax.plot(xs, roof / 1e12, lw=1, alpha=0.6)
        ax.plot(
            r["arithmetic_intensity"], r["achieved_flops_per_s"] / 1e12, marker,
            color=line.get_color(), ms=9, label=f"{name} ({p.cores_used} cores)",
        )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per HBM byte)")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(title)
    ax.legend(fontsize=8)
    plt.show()


v2_profiles = profiles("nc-v2")
for name, p in v2_profiles.items():
    r = p.roofline()
    print(
        f"{name:<12} {r['arithmetic_intensity']:8.2f} FLOP/B  {r['bound']}-bound, "
        f"{r['fraction_of_attainable']:.1%} of its attainable {r['attainable_flops_per_s'] / 1e12:.2f} TFLOP/s"
    )
plot_roofline(v2_profiles, "nc-v2: each kernel under the roof of the cores it used")

# %% [markdown]
# Each kernel's roof is drawn for the cores it used (peak and bandwidth scale with them; the
# matmul's roof is the fp16 tensor engine's). The vector add sits far left: a handful of FLOPs
# per byte, memory-bound by nature. The softmax does more work per byte but is still well
# below the ridge. The matmul has by far the highest intensity, and it grows with the tile
# sizes; but the tensor engine's ridge is high (its peak over the ~100 GB/s a core's DMA
# sustains: about 900 FLOP per byte in bf16), so only large, well-blocked matmuls get there. The
# distance between its point and its roof is what tutorial 3 set out to shrink.
#
# ## 6. nc-v2 against nc-v3
#
# NeuronCore-v3 has four times as many cores per device in our model (8 against 2), a slightly
# lower clock, and twice the fp8 throughput. What that means for a kernel depends on its grid:
# a launch with fewer programs than cores leaves cores idle.

# %%
v3_profiles = profiles("nc-v3")
print(f"{'kernel':<14}{'nc-v2 us':>12}{'nc-v3 us':>12}{'speed-up':>10}{'cores v2/v3':>14}")
for name in v2_profiles:
    a, b = v2_profiles[name], v3_profiles[name]
    print(
        f"{name:<14}{a.time_ns / 1e3:>12,.1f}{b.time_ns / 1e3:>12,.1f}"
        f"{a.time_ns / b.time_ns:>9.2f}x{a.cores_used:>8}/{b.cores_used}"
    )

fig, ax = plt.subplots(figsize=(7, 3.5))
names = list(v2_profiles)
pos = np.arange(len(names))
ax.bar(pos - 0.2, [v2_profiles[n].time_ns / 1e3 for n in names], 0.4, label="nc-v2")
ax.bar(pos + 0.2, [v3_profiles[n].time_ns / 1e3 for n in names], 0.4, label="nc-v3")
ax.set_xticks(pos, names)
ax.set_yscale("log")
ax.set_ylabel("run time (us)")
ax.legend()
plt.show()

# %% [markdown]
# The same comparison from the command line, for any kernel in a file:
#
# ```
# python -m jitlang profile kernels.py::softmax_kernel --args "f32[512,1000],f32[512,1000],1000,512,1000" \
#     --meta BLOCK=1024 --grid 8 --config both --plot timeline.png --trace trace.json
# ```
#
# and `python -m isa --help` lists the tools that work on assembly directly (assemble,
# disassemble, run and profile `.s` files, regenerate the SPEC).
#
# Next: [when things go wrong](08-when-things-go-wrong.ipynb).
