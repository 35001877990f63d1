"""The contract between the emulator and the timing model: one `ExecRecord` per executed instruction.

The emulator (functional) produces records in each program's issue order; the timing model
(`isa.timing`) turns them into start/end times using the `MachineConfig`; the profiler
(`isa.profile`) summarises and plots them. Neither side imports the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Engine(enum.IntEnum):
    SEQ = 0  # scalar sequencer: registers, ALU, branches, dispatch
    DMA = 1  # DMA queues (the record's `queue` says which)
    PE = 2  # tensor engine (systolic matmul, transpose)
    ACT = 3  # scalar/activation engine
    DVE = 4  # vector engine
    POOL = 5  # GpSimd engine


class Space(enum.IntEnum):
    HBM = 0
    SBUF = 1
    PSUM = 2


class CostKind(enum.IntEnum):
    """Which cost formula (in `isa.timing`) prices an instruction; each table entry names one."""

    SCALAR = 0  # sequencer ALU/branch/move: ~1 sequencer cycle
    DMA = 1  # fixed cost + bytes / per-queue bandwidth
    MATMUL = 2  # max(min(64, M), N) PE cycles (bf16/fp16/fp8), 4x for fp32
    PE_TRANSPOSE = 3  # a matmul against the identity
    ACTIVATION = 4  # max(64, N)
    TENSOR_SCALAR = 5  # max(64, N)
    TENSOR_TENSOR = 6  # max(64, N) if an input is in PSUM or all bf16, else max(64, 2N)
    REDUCE = 7  # N
    IOTA = 8  # 150 + N
    MEMSET = 9  # max(64, N)
    COPY = 10  # max(64, N)
    TRANSPOSE32 = 11  # DVE 32x32 block transpose, max(64, N)
    GPSIMD = 12  # cross-partition ops on POOL: ~partitions + N
    RNG = 13  # POOL Philox: ~ N * 4
    ATOMIC = 14  # HBM read-modify-write through a DMA queue


@dataclass(frozen=True)
class MemRange:
    """A rectangle of memory an instruction reads or writes (conservative for indirect access).

    HBM: bytes [start, end) with partitions unused (0, 1).
    SBUF/PSUM: partitions [p_start, p_start + p_count) x bytes [start, end) within each partition.
    """

    space: Space
    start: int
    end: int
    p_start: int = 0
    p_count: int = 1

    def overlaps(self, other: MemRange) -> bool:
        return (
            self.space == other.space
            and self.start < other.end
            and other.start < self.end
            and self.p_start < other.p_start + other.p_count
            and other.p_start < self.p_start + self.p_count
        )


@dataclass(frozen=True)
class CostParams:
    """Shape facts the cost formulas need; fields an instruction has no use for stay 0/False."""

    partitions: int = 0  # partitions touched
    free: int = 0  # N: elements per partition (moving free size for matmul)
    dtype_bytes: int = 4
    k: int = 0  # matmul contraction (partitions of stationary/moving)
    m: int = 0  # matmul stationary free size
    bytes: int = 0  # DMA/atomic bytes moved
    descriptors: int = 1  # DMA: number of contiguous chunks (small chunks cost more)
    flops: int = 0
    psum_input: bool = False  # TENSOR_TENSOR: one input lives in PSUM
    all_bf16: bool = False  # TENSOR_TENSOR: every operand is bf16


@dataclass(frozen=True)
class ExecRecord:
    pc: int  # instruction index in the binary
    mnemonic: str
    engine: Engine
    cost: CostKind
    params: CostParams
    reads: tuple[MemRange, ...] = ()
    writes: tuple[MemRange, ...] = ()
    queue: int = 0  # DMA queue index for Engine.DMA
    program: int = 0  # linear program id
    core: int = 0  # core the program ran on
    line: int = 0  # kernel source line from the binary's line table (0 = unknown)
    extra: dict = field(default_factory=dict, compare=False, hash=False)
