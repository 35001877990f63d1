"""Memory planning: buffers of values live at once never overlap, dead buffers are reused,
loop-carried blocks stay in one buffer, and a kernel that cannot fit is a located error."""

from __future__ import annotations

import numpy as np
import pytest

import jitlang as jl
import jitlang.language as tl
from codegen.accel.target import accel_target
from jitlang.ir import OpKind, walk
from jitlang.passes.accel_memory import OutOfChipMemoryError
from tests.codegen.accel.helpers import memory_of


@jl.jit
def chain(x_ptr, out_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    a = tl.load(x_ptr + i)
    b = a * 2.0
    c = b + 1.0
    d = c * c
    tl.store(out_ptr + i, d + a)


def _overlap(a, b) -> bool:
    return a.offset < b.offset + b.nbytes and b.offset < a.offset + a.nbytes


def test_live_values_do_not_share_bytes_and_dead_ones_are_reused():
    x = np.zeros(1024, np.float32)
    # SBUF for the spill area, the scratch slots and four 64-byte blocks: placement (next fit)
    # must come back to the bytes of a dead block
    tight = accel_target("nc-v2", sbuf_bytes_per_partition=512 + 3 * 1024 + 4 * 64)
    plan, mem = memory_of(chain, x, x, N=1024, target=tight)
    vals = [op.result for op in walk(plan.fn.body) if op.results and op.result.id in mem.buffers]
    load = vals[0]  # a: live until the last add
    for v in vals[1:]:
        assert not _overlap(mem.buffers[load.id], mem.buffers[v.id])
    offsets = [mem.buffers[v.id].offset for v in vals]
    assert len(set(offsets)) < len(offsets)  # b's buffer is reused once b is dead
    assert mem.spill_bytes > 0 and mem.scratch_offset >= mem.spill_bytes


@jl.jit
def accumulate(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for off in range(0, n, BLOCK):
        acc += tl.load(x_ptr + off + tl.arange(0, BLOCK))
    tl.store(out_ptr + tl.arange(0, BLOCK), acc)


def test_loop_carried_block_lives_in_one_buffer():
    x = np.zeros(1024, np.float32)
    plan, mem = memory_of(accumulate, x, x, 1024, BLOCK=256)
    loop = next(op for op in walk(plan.fn.body) if op.kind is OpKind.FOR)  # (unrolled: main)
    arg, res = loop.regions[0].args[1], loop.results[0]
    assert mem.buffers[arg.id] == mem.buffers[res.id]
    init = loop.operands[3]  # tl.zeros: set in the carried buffer itself, or copied in
    same = mem.buffers[arg.id] == mem.buffers[init.id]
    assert same or not _overlap(mem.buffers[arg.id], mem.buffers[init.id])


def test_too_big_is_an_error_naming_the_line_size_and_limit():
    small = accel_target("nc-v2", sbuf_bytes_per_partition=4096)
    x = np.zeros(1 << 16, np.float32)
    with pytest.raises(OutOfChipMemoryError) as e:
        memory_of(chain, x, x, N=1 << 16, target=small)
    msg = str(e.value)
    assert "test_memory.py:" in msg and "bytes per partition" in msg and "4096" in msg
    assert "hint: use smaller BLOCK" in msg
