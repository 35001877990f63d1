"""The accelerator backend: tile IR with accel layouts -> LLVM IR with `accel.*` intrinsics ->
llvmlite O2 -> instruction selection -> register allocation -> scheduling -> encoding.

Stages, in pipeline order: `lower` (tile IR -> LLVM IR), `isel` (optimised LLVM IR -> machine
instructions on virtual registers), `regalloc` (linear scan over the sequencer's registers),
`schedule` (DMA queues, order), `emit` (`isa.asm.Builder`, line table). `target` holds the frozen
machine description every stage receives; `intrinsics` is the one table of `accel.*` functions.
"""
