"""The accelerator's target description: a frozen `AccelTarget` read from an isa `MachineConfig`.

Stage: backend configuration. Input: a machine config name or object; output: the description
passed to the accel layout and memory-planning passes and to every codegen stage (no pass builds
one itself). Its `key` goes into the compile cache key.
"""

from __future__ import annotations

from dataclasses import dataclass

from isa.machine import MachineConfig, get_config
from isa.table import NUM_REGS

# The backend's optimisation steps, by name (a target built with fewer is how a test measures
# what one step is worth on the timing model):
# - "hoist_loads": loop-invariant loads move before their loop (jitlang.passes.accel_hoist)
# - "psum_acc": `acc = tl.dot(a, b, acc)` loops accumulate in PSUM (codegen.accel.dot)
# - "dma_split": large access-pattern transfers split over several DMA queues (codegen.accel.memops)
# - "multi_buffer": each load of a loop body has its own buffer (jitlang.passes.accel_memory)
# - "pe_transpose_loads": a 2-D load whose columns, not rows, are contiguous in HBM reads its
#   transpose's rows and is transposed on the PE (jitlang.passes.accel_layout)
# - "list_schedule": each block ordered by critical path, DMA queues by dependency
#   (codegen.accel.schedule)
# - "act_convert": fp32/fp16/bf16 conversions on the activation engine when it is the freer
#   one, e.g. a matmul's epilogue (codegen.accel.tileops)
# - "direct_init": a loop's carried blocks initialised by a float constant (`acc = tl.zeros`)
#   are written in their own buffers (GpSimd `piota` with step 0 for integers, else a
#   memset), not copied from one shared constant on the vector engine (codegen.accel.lower)
# - "act_ts": fp32 `x + s`, `x - s`, `s - x`, `x * s` (s a scalar or per-partition column,
#   e.g. a row's mean) on the activation engine as `act copy` with scale/bias when it is the
#   freer one; bits equal to the vector engine's `ts` (codegen.accel.tileops)
# - "act_accum": a free-axis sum/max/min of an fp32 result an `act copy` (with scale/bias) just
#   wrote is that copy's accumulator instead of a reduce pass (layer norm's mean and variance
#   sums); same values reduced in the same groups, same bits (codegen.accel.tileops.fuse_accum)
# - "store_chunks": a float conversion whose result is only stored (`acc.to(tl.float16)`) is
#   converted and stored in chunks of rows, each store waiting only for its own chunk; not
#   inside loops, where the next iteration's loads and buffers wait for the last chunk
#   (codegen.accel.memops)
# - "uniform_masks": a region whose block masks depend on run-time arguments only (`cols < N`,
#   the row in one block) and feed more than DMA bounds runs in `if <they are true
#   everywhere>` with them folded away: no mask tile or `where` on the engines
#   (jitlang.passes.accel_uniform_masks)
# - "expand_loads": `expand_dims(load(...))`,
#   the load's one use (`w[None, :]`), is a load in the expanded shape: the partition
#   broadcast reads the loaded tile, no vector-engine copy (jitlang.passes.accel_expand_loads)
# - "square_sums": `0.0 + x * x` is `x * x` (a square is never -0.0), and a row sum of an
#   `act square` is its accumulator (jitlang.passes.accel_square_sums, tileops.fuse_accum)
# - "narrow_acc": `(acc.to(tl.float32) + tl.dot(a, b)).to(tl.bfloat16)` (a bf16 or fp16
#   accumulator, as NKI's tuned matmul keeps its result tiles) is one dot whose PSUM read-out
#   adds the narrow accumulator in place: no fp32 block, no conversion pass
#   (jitlang.passes.accel_narrow_acc)
# - "full_blocks": a loop over a row in blocks masked by `off + arange(0, B) < ub` runs its full
#   blocks without the mask and the partial one after them (jitlang.passes.accel_full_blocks;
#   batched kernels have it from "batch_programs")
OPT_STEPS: tuple[str, ...] = (
    "hoist_loads",
    "psum_acc",
    "dma_split",
    "multi_buffer",
    "pe_transpose_loads",
    "list_schedule",
    "act_convert",
    "direct_init",
    "act_ts",
    "act_accum",
    "store_chunks",
    "uniform_masks",
    "square_sums",
    "expand_loads",
    "narrow_acc",
    "full_blocks",
)


@dataclass(frozen=True)
class AccelTarget:
    config: str  # MachineConfig name
    partitions: int
    sbuf_bytes_per_partition: int
    psum_bytes_per_partition: int
    psum_banks: int
    pe_rows: int
    pe_cols: int
    pe_max_moving: int
    dma_queues: int
    dma_min_chunk_bytes: int = 512  # a shorter contiguous DMA chunk costs as much as this
    num_regs: int = NUM_REGS
    scratch_regs: int = 7  # reserved for spill reloads (a DMA reads up to 6 registers)
    max_free_size: int = 65535  # 16-bit size field of a tile dim
    spill_bytes: int = 512  # partition-0 bytes reserved for register spill slots
    steps: tuple[str, ...] = OPT_STEPS  # optimisation steps this compilation runs
    num_stages: int | None = None  # loads in flight per loop (multi_buffer); None: the default

    @property
    def psum_bank_bytes(self) -> int:
        return self.psum_bytes_per_partition // self.psum_banks

    @property
    def allocatable_regs(self) -> tuple[int, ...]:
        """r1.. below the scratch registers (r0 reads as zero)."""
        return tuple(range(1, self.num_regs - self.scratch_regs))

    @property
    def scratch(self) -> tuple[int, ...]:
        return tuple(range(self.num_regs - self.scratch_regs, self.num_regs))

    @property
    def key(self) -> str:
        steps = "+".join(self.steps)
        key = f"accel:{self.config}:{self.partitions}:{self.sbuf_bytes_per_partition}:{steps}"
        return key if self.num_stages is None else f"{key}:stages={self.num_stages}"


def accel_target(config: str | MachineConfig = "nc-v2", **overrides) -> AccelTarget:
    """The description of a named generation (`nc-v2`, `nc-v3`, ...); overrides are for tests."""
    c = get_config(config)
    fields = dict(
        config=c.name,
        partitions=c.partitions,
        sbuf_bytes_per_partition=c.sbuf_bytes_per_partition,
        psum_bytes_per_partition=c.psum_bytes_per_partition,
        psum_banks=c.psum_banks,
        pe_rows=c.pe_rows,
        pe_cols=c.pe_cols,
        pe_max_moving=c.pe_max_moving,
        dma_queues=c.dma_queues,
        dma_min_chunk_bytes=c.dma_min_chunk_bytes,
        steps=OPT_STEPS,
    )
    fields.update(overrides)
    return AccelTarget(**fields)
