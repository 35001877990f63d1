"""Emulator error paths: every fault is an EmulatorError subclass that names pc, mnemonic and line;
bad binaries never crash Python nor hang."""

from __future__ import annotations

import random

import numpy as np
import pytest

from isa.asm import assemble
from isa.binary import Binary
from isa.encoding import encode_program
from isa.errors import (
    ArgumentError,
    BudgetExceededError,
    EmulatorError,
    InvalidInstructionError,
    IsaError,
    OutOfBoundsError,
    TileShapeError,
    UninitializedReadError,
)
from isa.runner import run
from isa.table import INSTRUCTIONS
from tests.isa.randops import rand_instr


def fault(src: str, args=(), exc=EmulatorError, **kw) -> EmulatorError:
    with pytest.raises(exc) as info:
        run(assemble(src, "k.s"), list(args), **kw)
    return info.value


def test_hbm_out_of_bounds_names_pc_line_and_mnemonic():
    x = np.zeros(16, np.float32)
    e = fault(
        "arg r1, 0\nnop\ndma.load 0, sb.f32[0:1, 0, (1,32)], hbm.f32[r1+0, (1,32)], 0.0\n",
        [x],
        OutOfBoundsError,
    )
    assert (e.pc, e.mnemonic, e.line) == (2, "dma.load", 3)
    assert "k.s:3" in str(e) and "dma.load" in str(e)


def test_hbm_null_pointer_and_store_out_of_bounds():
    fault("dma.load 0, sb.f32[0:1, 0, (1,4)], hbm.f32[r0+0, (1,4)], 0.0", exc=OutOfBoundsError)
    x = np.zeros(4, np.float32)
    fault(
        "arg r1, 0\nmemset sb.f32[0:1, 0, (1,8)], 1.0\n"
        "dma.store 0, hbm.f32[r1-64, (1,8)], sb.f32[0:1, 0, (1,8)]",
        [x],
        OutOfBoundsError,
    )


def test_sbuf_and_psum_out_of_bounds():
    fault("memset sb.f32[0:1, 196604, (1,2)], 0.0", exc=OutOfBoundsError)
    fault("memset sb.f32[100:129, 0, (1,2)], 0.0", exc=OutOfBoundsError)
    fault("memset ps.f32[0:1, 16380, (1,2)], 0.0", exc=OutOfBoundsError)
    fault("memset sb.f32[0:1, 8, (-1,4)], 0.0", exc=OutOfBoundsError)
    fault("li r5, 3\nmemset sb.f32[0:1, r5+0, (1,4)], 0.0", exc=OutOfBoundsError)  # misaligned


def test_uninitialized_reads():
    e = fault(
        "memset sb.f32[0:4, 0, (1,8)], 1.0\ncopy sb.f32[0:4, 64, (1,9)], sb.f32[0:4, 0, (1,9)]",
        exc=UninitializedReadError,
    )
    assert e.pc == 1
    fault(
        "memset sb.bf16[0:128, 0, (1,128)], 1.0\n"
        "matmul acc, ps.f32[0:128, 0, (1,128)], sb.bf16[0:128, 0, (1,128)], "
        "sb.bf16[0:128, 0, (1,128)]",
        exc=UninitializedReadError,
    )


def test_written_flags_reset_between_programs():
    src = """
        pid r1, 0
        bi.ne r1, 0, skip
        memset sb.f32[0:1, 0, (1,4)], 1.0
    skip:
        copy sb.f32[0:1, 64, (1,4)], sb.f32[0:1, 0, (1,4)]
        halt"""
    run(src, [], grid=(1,))
    e = fault(src, grid=(3,), exc=UninitializedReadError)
    assert e.program == 1


@pytest.mark.parametrize(
    "src",
    [
        # K mismatch, M > 128, N > 512, dst not in PSUM, crossing a PSUM bank, fp32 dst required
        "matmul set, ps.f32[0:8, 0, (1,8)], sb.bf16[0:16, 0, (1,8)], sb.bf16[0:8, 0, (1,8)]",
        "matmul set, ps.f32[0:8, 0, (1,8)], sb.bf16[0:8, 0, (1,129)], sb.bf16[0:8, 0, (1,8)]",
        "matmul set, ps.f32[0:8, 0, (1,513)], sb.bf16[0:8, 0, (1,8)], sb.bf16[0:8, 0, (1,513)]",
        "matmul set, sb.f32[0:8, 0, (1,8)], sb.bf16[0:8, 0, (1,8)], sb.bf16[0:8, 0, (1,8)]",
        "matmul set, ps.f32[0:8, 1024, (1,512)], sb.bf16[0:8, 0, (1,8)], sb.bf16[0:8, 0, (1,512)]",
        "matmul set, ps.bf16[0:8, 0, (1,8)], sb.bf16[0:8, 0, (1,8)], sb.bf16[0:8, 0, (1,8)]",
        # partition start rules of the compute engines
        "memset sb.f32[1:101, 0, (1,4)], 0.0",
        "memset sb.f32[16:64, 0, (1,4)], 0.0",
        "memset sb.f32[30:34, 0, (1,4)], 0.0",
        # element-wise shapes, DMA count mismatch, DMA into PSUM, empty dims
        "memset sb.f32[0:4, 0, (1,8)], 0.0\ntt add, sb.f32[0:4, 64, (1,8)], sb.f32[0:4, 0, (1,8)], "
        "sb.f32[0:4, 0, (1,4)]",
        "arg r1, 0\ndma.load 0, sb.f32[0:2, 0, (1,4)], hbm.f32[r1+0, (1,4)], 0.0",
        "arg r1, 0\ndma.load 0, ps.f32[0:1, 0, (1,4)], hbm.f32[r1+0, (1,4)], 0.0",
        "memset sb.f32[0:4, 0, (1,0)], 0.0",
        "memset sb.f32[0:4, 0, (0,65535), (0,65535)], 0.0",
        "arg r1, 0\ndma.store 0, hbm.f32[r1+0, (0,65535), (0,65535)], sb.f32[0:1, 0, (1,4)]",
        "memset sb.f32[0:4, 0, (1,8)], 0.0\nreduce add, sb.f32[0:4, 64, (1,3)], sb.f32[0:4, 0, (1,8)]",
    ],
)
def test_tile_shapes_engines_reject(src):
    fault(src, [np.zeros(64, np.float32)], TileShapeError)


def test_budget_stops_endless_loops():
    e = fault("top: jmp top", exc=BudgetExceededError, budget=100_000)
    assert e.mnemonic == "jmp"
    fault("top: memset sb.f32[0:1, 0, (1,1)], 0.0\njmp top", exc=BudgetExceededError, budget=1000)


def test_bad_jumps_args_queues():
    fault("jmp @7", exc=InvalidInstructionError)
    fault("arg r1, 3", [1, 2], ArgumentError)
    fault(".arg x\n.arg y\nhalt", [1], ArgumentError)
    fault(".arg x\nhalt", [object()], ArgumentError)


def test_invalid_encoding_is_reported_when_reached():
    good = assemble("li r1, 1\nhalt").code
    b = Binary(good[:2] + [0xFF, 0])  # li, then an invalid opcode where halt was
    with pytest.raises(InvalidInstructionError) as info:
        run(b)
    assert info.value.pc == 1
    run(Binary(assemble("halt").code + [0xFF]))  # unreachable garbage after halt is fine


def test_random_binaries_never_crash():
    rng = random.Random(5)
    specs = [s for s in INSTRUCTIONS if s.mnemonic not in ("jmp",)]
    hbm = [np.zeros(256, np.float32), np.zeros(256, np.int32)]
    outcomes = {}
    for _ in range(400):
        instrs = [rand_instr(rng, rng.choice(specs)) for _ in range(rng.randint(1, 6))]
        words = encode_program(instrs)
        if rng.random() < 0.3:
            words.append(rng.getrandbits(64))
        try:
            run(Binary(words), hbm, budget=10_000)
            outcomes["ok"] = outcomes.get("ok", 0) + 1
        except IsaError as e:
            outcomes[type(e).__name__] = outcomes.get(type(e).__name__, 0) + 1
    assert len(outcomes) >= 3


def test_plausible_random_engine_programs_fail_only_with_specific_errors():
    from tests.isa.randops import plausible_engine_program

    rng = random.Random(3)
    seen = set()
    for _ in range(250):
        try:
            binary = plausible_engine_program(rng)
        except IsaError:
            continue
        try:
            run(binary, [np.zeros(1024, np.float32)], budget=1000)
            seen.add("ok")
        except EmulatorError as e:
            assert type(e) is not EmulatorError, f"internal fault: {e}"
            seen.add(type(e).__name__)
    assert {"ok", "TileShapeError", "OutOfBoundsError"} <= seen


def test_errors_report_the_kernel_line_from_loc_directives():
    src = '.file "kernel.py"\n.loc 41\nnop\n.loc 42\nmemset sb.f32[0:1, 196608, (1,1)], 0.0\n'
    with pytest.raises(OutOfBoundsError) as info:
        run(assemble(src))
    assert info.value.line == 42 and str(info.value).startswith("kernel.py:42, pc 1 (memset)")
