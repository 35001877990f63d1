"""Scheduling: the order of engine instructions and the DMA queue each transfer runs on.

Stage: codegen/accel backend, after `regalloc`. Input: an `MFunction` on physical registers and
the target. Output: the same function with every DMA's queue chosen. The hardware tracks
dependencies on memory ranges, so any order that keeps each block's program order is correct;
this first version keeps program order and only spreads transfers over the queues: loads
round-robin over all of them, stores (and SBUF copies) over the last quarter. A load behind a
load that waits for its buffer (multi-buffered loop loads wait for the previous readers of
their buffer) stalls its in-order queue, so the more queues the loads rotate over, the more of
them run ahead (NKI tutorial step 1 on nc-v2: 67.3 ms with loads on 8 queues, 54.0 ms on 16);
a load behind a store that waits for compute stalls too, so stores keep to few queues (layer
norm 4096x1024: 874 us with stores on half the queues, 810 us on a quarter).
"""

from __future__ import annotations

from .mir import MFunction

_LOADS = ("dma.load", "dma.gather")
_STORES = ("dma.store", "dma.scatter", "dma.copy", "atomic", "cas")


def schedule(mf: MFunction, target) -> MFunction:
    nq = target.dma_queues
    nst = max(1, nq // 4)  # stores on the last quarter, loads on all
    nload = nstore = 0
    for b in mf.blocks:
        for ins in b.instrs:
            if ins.mnemonic in _LOADS:
                ins.ops[0] = nload % nq
                nload += 1
            elif ins.mnemonic in _STORES:
                i = 1 if ins.mnemonic == "atomic" else 0
                ins.ops[i] = (nq - nst) + nstore % nst
                nstore += 1
    return mf
