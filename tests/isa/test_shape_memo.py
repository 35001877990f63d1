"""The timing-only memo (isa/shape_memo.py) and the written-rectangle bookkeeping of OnChip:
records, errors and known bytes exactly as without them."""

from __future__ import annotations

import numpy as np
import pytest

from isa.asm import assemble
from isa.emulator import Emulator
from isa.errors import OutOfBoundsError, TimingOnlyError
from isa.memory import OnChip
from isa.operands import SPACE_SBUF
from isa.runner import layout_args, run

# A loop whose loads move through HBM (r5 advances by a row each iteration: the memo shifts the
# DMA's HBM range), whose matmuls alternate between two buffers (memo hits, records reused)
# and whose store goes to a row chosen by the loop counter.
LOOP = """
.arg a
.arg b
.arg out
.arg n
        arg     r1, a
        arg     r2, b
        arg     r3, out
        arg     r4, n
        mov     r5, r2
        li      r7, 0
        dma.load 0, sb.f32[0:16, 0, (1,16)], hbm.f32[r1+0, (16,16), (1,16)], 0.0
top:    andi    r6, r7, 1
        muli    r6, r6, 256
        dma.load 1, sb.f32[0:16, r6+1024, (1,32)], hbm.f32[r5+0, (32,16), (1,32)], 0.0
        matmul  set, ps.f32[0:16, 0, (1,32)], sb.f32[0:16, 0, (1,16)], sb.f32[0:16, r6+1024, (1,32)]
        act     copy, sb.f32[0:16, 4096, (1,32)], ps.f32[0:16, 0, (1,32)], 0.0, 1.0, _, add
        muli    r8, r7, 128
        add     r8, r8, r3
        dma.store 2, hbm.f32[r8+0, (32,1), (1,32)], sb.f32[0:1, 4096, (1,32)]
        addi    r5, r5, {step}
        loop    r7, r4, 1, top
        halt
"""


def _args(iters: int, b_rows: int = 16 * 8):
    rng = np.random.default_rng(1)
    return [
        rng.standard_normal((16, 16)).astype(np.float32),
        rng.standard_normal((b_rows, 32)).astype(np.float32),
        np.zeros((iters, 32), np.float32),
        iters,
    ]


def test_a_loop_gives_the_numeric_records_exactly():
    binary = assemble(LOOP.format(step=64 * 4))
    num = run(binary, _args(6), record=True)
    tim = run(binary, _args(6), record=True, timing_only=True)
    assert len(num.records) == len(tim.records) > 60
    assert num.records == tim.records  # every field, HBM ranges included
    loads = [r for r in tim.records if r.mnemonic == "dma.load" and r.queue == 1]
    starts = [r.reads[0].start for r in loads]
    assert starts == [starts[0] + i * 256 for i in range(6)]  # shifted with the base register
    # the same memoised matmul at the same pc gives the same record object
    mms = [r for r in tim.records if r.mnemonic == "matmul"]
    assert mms[0] is mms[2] and mms[1] is mms[3] and mms[0] is not mms[1]


def test_a_warm_emulator_gives_the_same_records_again():
    binary = assemble(LOOP.format(step=64 * 4))
    args = _args(5)
    emu = Emulator(binary)
    hbm, values, _, data_base = layout_args(args, binary.data)
    first, _ = emu.run(hbm, np.array(values), (1, 1, 1), data_base, timing_only=True)
    again, _ = emu.run(hbm, np.array(values), (1, 1, 1), data_base, timing_only=True)
    numeric, _ = emu.run(hbm, np.array(values), (1, 1, 1), data_base)
    assert first == again == numeric


@pytest.mark.parametrize("timing_only", [False, True])
def test_a_shifted_load_past_its_array_fails_as_the_handler_does(timing_only):
    """Iteration 3 reads past b: the memoised load must not hide the handler's error."""
    binary = assemble(LOOP.format(step=16 * 32 * 4))
    with pytest.raises(OutOfBoundsError) as e:
        run(binary, _args(6, b_rows=16 * 3), record=True, timing_only=timing_only)
    msg = str(e.value)
    assert "pc 9 (dma.load)" in msg and "HBM source: bytes" in msg and "overrun" in msg
    with pytest.raises(OutOfBoundsError) as other:
        run(binary, _args(6, b_rows=16 * 3), record=True, timing_only=not timing_only)
    assert str(other.value) == msg


def test_a_shifted_load_misaligned_fails_as_the_handler_does():
    binary = assemble(LOOP.format(step=2))
    msgs = []
    for timing_only in (False, True):
        with pytest.raises(OutOfBoundsError) as e:
            run(binary, _args(4), record=True, timing_only=timing_only)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1] and "not aligned to 4 bytes" in msgs[0]


def test_known_spill_survives_memoised_writes_next_to_it():
    """A memoised DMA that overwrites part of an iota tile: the rest stays known (a loop bound
    read from it is followed), the overwritten part becomes unknown."""
    src = """
.arg a
        arg     r1, a
        li      r9, 3
        iota    sb.i32[0:1, 0, (1,8)], r9, 0, 0
        li      r7, 0
top:    dma.load 0, sb.i32[0:1, 0, (1,4)], hbm.i32[r1+0, (1,4)], 0.0
        ld      r6, sb.i32[0:1, 16, (1,1)]
        loop    r7, r6, 1, top
        ld      r8, sb.i32[0:1, 0, (1,1)]
        bi.eq   r8, 0, out
out:    halt
"""
    a = np.arange(4, dtype=np.int32)
    num = run(src, [a], record=True)
    assert sum(r.mnemonic == "dma.load" for r in num.records) == 3
    with pytest.raises(TimingOnlyError, match=r"pc 8 \(bi.eq\).*loaded from a tile \(pc 7"):
        run(src, [a], record=True, timing_only=True)
    ok = src.replace("        bi.eq   r8, 0, out\n", "")
    assert run(ok, [a], record=True).records == run(ok, [a], record=True, timing_only=True).records


def test_onchip_forget_clears_exactly_what_the_bounding_box_did():
    """Random marks and forgets: the written flags match an OnChip whose every forget clears."""
    rng = np.random.default_rng(7)
    for trial in range(40):
        fast, ref = OnChip(SPACE_SBUF, 16, 256), OnChip(SPACE_SBUF, 16, 256)
        for _ in range(int(rng.integers(1, 120))):
            p0 = int(rng.integers(0, 16))
            p1 = int(rng.integers(p0 + 1, 17))
            b0 = int(rng.integers(0, 255))
            b1 = int(rng.integers(b0 + 1, 257))
            if rng.random() < 0.4:
                for m in (fast, ref):
                    m.written[p0:p1, b0:b1] = 1
                    m._mark(p0, p1, b0, b1)
                ref._known = None  # the reference keeps only the bounding box
            else:
                fast.forget(p0, p1, b0, b1)
                ref.written[p0:p1, b0:b1] = 0  # what forget did before the rectangle list
            np.testing.assert_array_equal(fast.written, ref.written, err_msg=f"trial {trial}")
        fast.reset_written()
        assert not fast.written.any() and fast._known == []


def test_timing_only_is_at_least_20x_faster_on_a_matmul_loop():
    """64 iterations of 2 DMAs + 4 matmuls (128 x 128 x 512 bf16): memo hits for the matmuls,
    shifted loads. Measured ~50-150x (CPU time); before the memo it was ~10x."""
    import time

    import ml_dtypes

    from tests.isa.test_timing_only import _matmul_stream

    binary = assemble(_matmul_stream(64))

    def make():
        return [np.ones((128, 512), ml_dtypes.bfloat16), np.ones((128, 512), ml_dtypes.bfloat16)]

    run(binary, make(), record=True, timing_only=True)  # numba and memo plans warm
    timing = []
    for _ in range(3):
        c0 = time.process_time()
        tim = run(binary, make(), record=True, timing_only=True)
        timing.append(time.process_time() - c0)
    c0 = time.process_time()
    num = run(binary, make(), record=True)
    numeric = time.process_time() - c0
    assert num.records == tim.records
    assert numeric / min(timing) >= 20, (numeric, timing)
