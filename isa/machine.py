"""Machine configurations of the tile accelerator: one frozen `MachineConfig` per named generation.

Figures follow the public AWS NeuronCore-v2 (Trn1/Inf2) and -v3 (Trn2) descriptions, rounded.
Everything the emulator checks (capacities) and the timing model charges (clocks, throughputs)
comes from here; nothing else in `isa/` hard-codes a machine figure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MachineConfig:
    name: str
    partitions: int  # SBUF/PSUM partitions (lanes of every engine)
    sbuf_bytes_per_partition: int
    psum_bytes_per_partition: int
    psum_banks: int
    pe_rows: int  # systolic array: contraction (K) on partitions
    pe_cols: int  # stationary free size (M)
    pe_max_moving: int  # moving free size (N) per matmul
    pe_clock_ghz: float
    act_clock_ghz: float
    dve_clock_ghz: float
    pool_clock_ghz: float
    seq_clock_ghz: float
    dma_queues: int
    dma_bytes_per_ns_per_queue: float  # peak of one DMA engine (queue)
    dma_fixed_ns: float  # fixed cost of one DMA descriptor
    hbm_bytes_per_ns: float  # per core
    hbm_bytes: int
    cores: int
    sram_access_cycles: int  # fixed latency of an SBUF/PSUM access by an engine
    min_issue_cycles: int  # minimum cycles any engine instruction occupies its engine
    pe_tflops_bf16: float
    pe_tflops_fp32: float
    pe_tflops_fp8: float = 0.0  # 0: fp8 streams at the bf16 rate; above bf16: that much faster
    dma_min_chunk_bytes: int = 512  # a contiguous DMA chunk below this costs as much as this size
    # What all DMA queues of a core move together, sustained (0: no limit beyond the HBM share):
    # transfers share it in the timing model however many queues carry them.
    dma_sustained_bytes_per_ns: float = 0.0

    @property
    def psum_bank_bytes(self) -> int:
        return self.psum_bytes_per_partition // self.psum_banks

    @property
    def sbuf_bytes(self) -> int:
        return self.partitions * self.sbuf_bytes_per_partition

    @property
    def dma_queue_bytes_per_ns(self) -> float:
        """Bandwidth of one DMA queue, capped at its even share of the core's HBM bandwidth
        (all queues together are further bounded by `dma_bytes_per_ns` in the timing model)."""
        return min(self.dma_bytes_per_ns_per_queue, self.hbm_bytes_per_ns / self.dma_queues)

    @property
    def dma_bytes_per_ns(self) -> float:
        """DMA bandwidth of one core with every queue busy: the queues' sum, bounded by the
        core's HBM share and by the sustained DMA bandwidth."""
        bw = min(self.dma_queues * self.dma_bytes_per_ns_per_queue, self.hbm_bytes_per_ns)
        if self.dma_sustained_bytes_per_ns:
            bw = min(bw, self.dma_sustained_bytes_per_ns)
        return bw


# DMA figures (both generations): 16 DMA engines per NeuronCore, each of 27.2 GB/s theoretical
# bandwidth on NeuronCore-v2 and -v3 (AWS Neuron docs, "Introduction to Direct Memory Access (DMA)
# with NKI"). Sustained: AWS's NKI matmul tutorial (trn1, bf16 [4096, 8192] @ [8192, 8192])
# publishes 51.80, 42.96 and 22.07 ms for its three memory-bound steps, which move 5.43, 4.36
# and 2.21 GB between HBM and SBUF: 104.9, 101.5 and 100.0 GB/s, whatever their row sizes
# (256 B and 1 KiB). Its fourth, compute-bound step moves 0.70 GB in 6.97 ms (101 GB/s). A
# NeuronCore-v2 therefore sustains ~102 GB/s of DMA in practice, a quarter of its 16 engines'
# 435 GB/s peak; the model charges every core's transfers against that figure. NeuronCore-v3 has
# the same DMA engines per core and no published measurement: the same figure is assumed.
_DMA_ENGINE_GBPS = 27.2
_DMA_SUSTAINED_GBPS = 102.0

NC_V2 = MachineConfig(
    name="nc-v2",
    partitions=128,
    sbuf_bytes_per_partition=192 * 1024,
    psum_bytes_per_partition=16 * 1024,
    psum_banks=8,
    pe_rows=128,
    pe_cols=128,
    pe_max_moving=512,
    pe_clock_ghz=2.8,
    act_clock_ghz=1.4,
    dve_clock_ghz=1.12,
    pool_clock_ghz=1.4,
    seq_clock_ghz=1.4,
    dma_queues=16,
    dma_bytes_per_ns_per_queue=_DMA_ENGINE_GBPS,
    dma_fixed_ns=1300.0 / 16,
    hbm_bytes_per_ns=410.0,
    hbm_bytes=16 << 30,
    cores=2,
    sram_access_cycles=60,
    min_issue_cycles=64,
    pe_tflops_bf16=92.0,
    pe_tflops_fp32=23.0,
    pe_tflops_fp8=92.0,
    dma_min_chunk_bytes=512,
    dma_sustained_bytes_per_ns=_DMA_SUSTAINED_GBPS,
)

NC_V3 = MachineConfig(
    name="nc-v3",
    partitions=128,
    sbuf_bytes_per_partition=224 * 1024,
    psum_bytes_per_partition=16 * 1024,
    psum_banks=8,
    pe_rows=128,
    pe_cols=128,
    pe_max_moving=512,
    pe_clock_ghz=2.4,
    act_clock_ghz=1.2,
    dve_clock_ghz=0.96,
    pool_clock_ghz=1.2,
    seq_clock_ghz=1.2,
    dma_queues=16,
    dma_bytes_per_ns_per_queue=_DMA_ENGINE_GBPS,
    dma_fixed_ns=1300.0 / 16,
    hbm_bytes_per_ns=360.0,
    hbm_bytes=24 << 30,
    cores=8,
    sram_access_cycles=60,
    min_issue_cycles=64,
    pe_tflops_bf16=79.0,
    pe_tflops_fp32=20.0,
    pe_tflops_fp8=158.0,
    dma_min_chunk_bytes=512,
    dma_sustained_bytes_per_ns=_DMA_SUSTAINED_GBPS,
)

CONFIGS: dict[str, MachineConfig] = {
    "nc-v2": NC_V2,
    "nc-v3": NC_V3,
    "trn1": NC_V2,
    "inf2": NC_V2,
    "trn2": NC_V3,
}

DEFAULT_CONFIG = "nc-v2"


def get_config(name: str | MachineConfig = DEFAULT_CONFIG) -> MachineConfig:
    """Return a named generation (`nc-v2`/`trn1`/`inf2`, `nc-v3`/`trn2`); configs pass through."""
    if isinstance(name, MachineConfig):
        return name
    try:
        return CONFIGS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown machine config {name!r}; known: {', '.join(sorted(CONFIGS))}"
        ) from None
