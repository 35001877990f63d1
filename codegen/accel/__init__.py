"""The accelerator backend: tile IR with accel layouts -> LLVM IR with `accel.*` intrinsics ->
llvmlite O2 -> instruction selection -> register allocation -> scheduling -> encoding.

Stages, in pipeline order: `lower` (tile IR -> LLVM IR), `isel` (optimised LLVM IR -> machine
instructions on virtual registers), `regalloc` (linear scan over the sequencer's registers),
`schedule` (DMA queues, order), `emit` (`isa.asm.Builder`, line table). `target` holds the frozen
machine description every stage receives; `intrinsics` is the one table of `accel.*` functions.

Optimisation steps (`target.OPT_STEPS`, named in `AccelTarget.steps` and the cache key):
"hoist_loads" (loop-invariant loads before their loop, `jitlang.passes.accel_hoist`),
"psum_acc" (dot accumulators stay in PSUM across a K loop, `dot`), "dma_split" (large transfers
over several DMA queues, `memops`) and "multi_buffer" (innermost loops with loads unrolled
`num_stages` times, default 2, and every loop load in its own buffer: `accel_hoist`,
`accel_memory`), "pe_transpose_loads" (a load whose columns are contiguous in HBM read by rows
and transposed on the PE, `accel_layout`) and "list_schedule" (each block ordered by critical
path on the timing model's costs, DMA queues by dependency, `schedule`). Always on: access patterns for pointers advanced per iteration and wrap-free
`%` (`jitlang.passes.accel_access`), carried blocks computed only when needed, `x + dot(a, b)`
as `dot(a, b, x)` accumulating in place, dot chunks over free PSUM banks in turn, and
value-specialized builds for run-time strides (the driver compiles one per distinct stride
tuple, `runtime.accel_driver.MAX_VARIANTS`), in the batched build the split of row loops into
full blocks and a masked tail (`accel_full_blocks`), and loop-carried blocks updated in place
(`accel_memory`). Not done yet: scheduling across blocks and loop edges.

Documented target limits (each a located compile error, or a stated numeric difference):
- fp64 and 64-bit integer blocks, and fp64 scalars that must live on chip: `TargetLimitError`
  (the engines hold at most 32-bit elements; 64-bit integer scalars and addresses are fine).
- `tl.fma` rounds twice (the product, then the sum, each to the result's dtype): the vector
  engine has no three-operand multiply-add. A single-rounding `fma` instruction would need a
  numeric handler (`isa/engines/compute.py`) and a timing-only one (`isa/engines/shape_only.py`).
- integer `dot` goes through the PE's fp32: exact while products and sums stay below 2**24.
- `device_print` of a block of pointers; a reduction, scan or sort whose working tiles (the
  axis inside one partition) do not fit a partition: `OutOfChipMemoryError` naming the op.
"""
