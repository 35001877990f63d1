"""The accelerator backend: tile IR with accel layouts -> LLVM IR with `accel.*` intrinsics ->
llvmlite O2 -> instruction selection -> register allocation -> scheduling -> encoding.

Stages, in pipeline order: `lower` (tile IR -> LLVM IR), `isel` (optimised LLVM IR -> machine
instructions on virtual registers), `regalloc` (linear scan over the sequencer's registers),
`schedule` (DMA queues, order), `emit` (`isa.asm.Builder`, line table). `target` holds the frozen
machine description every stage receives; `intrinsics` is the one table of `accel.*` functions.

Optimisation steps (`target.OPT_STEPS`, named in `AccelTarget.steps` and the cache key; the
comments in `target.py` say what each does): "hoist_loads" (`jitlang.passes.accel_hoist`, and with
it "reuse_rows", rows loaded once by loops over the same range, `accel_reuse`), "psum_acc" (`dot`),
"dma_split" (`memops`), "multi_buffer" (`accel_hoist`, `accel_memory`), "pe_transpose_loads"
(`accel_layout`), "list_schedule" (`schedule`), "act_convert", "direct_init", "act_ts" and
"act_accum" (engine choice and accumulation on the activation engine, `tileops`, `lower`,
`reduce`), "store_chunks" (`memops`), "full_blocks", "uniform_masks", "square_sums",
"expand_loads" and "narrow_acc" (tile-IR steps run first, by
`jitlang.passes.accel_steps.apply_tile_steps`: `accel_full_blocks`, `accel_uniform_masks`,
`accel_square_sums`, `accel_expand_loads`, `accel_narrow_acc`). Always on: access patterns for
pointers advanced per iteration and wrap-free `%` (`jitlang.passes.accel_access`), carried
blocks computed only when needed, `x + dot(a, b)` as `dot(a, b, x)` accumulating in place,
loop-invariant layout conversions before their loop (`accel_layout`), dot chunks over free PSUM
banks in turn, value-specialized builds for run-time strides (the driver compiles one per
distinct stride tuple, `runtime.accel_driver.MAX_VARIANTS`), and in the batched build the split
of row loops into full blocks and a masked tail (`accel_full_blocks`), group-major straight-line code,
loop-carried blocks updated in place (`accel_memory`) and the batch shape chosen by modelled time
(`runtime.accel_driver.BatchChoice`). Not done yet: scheduling across blocks and loop edges.

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
