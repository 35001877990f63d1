"""Speed of the tool chain: Builder, decoder, BLAS threads inside the emulator."""

from __future__ import annotations

import time

import numpy as np
import pytest

import isa.encoding as enc
from isa.asm import Builder, disassemble
from isa.emulator import Emulator
from isa.encoding import decode_prefix, decode_program, encode, encode_program, make
from isa.errors import EncodeError
from isa.operands import Tile, hbm, ps, sb
from isa.table import AccMode, ActFn, ReduceOp


def _program(n: int) -> Builder:
    """A compiled-kernel-like stream: DMA loads with fresh addresses, matmuls, evacuation."""
    b = Builder(file="k.py")
    b.emit("arg", 1, b.arg("x"))
    top = b.place(b.label("top"))
    for i in range(n // 8):
        b.loc(10 + i % 50)
        mov = sb("bf16", 0, 128, (1, 512), off=(i % 8) * 1024)
        b.dma_load(i % 16, mov, hbm("bf16", 1, (512, 128), (1, 512), off=i * 128), 0.0)
        bank = ps("f32", 0, 128, (1, 512), off=2048 * (i % 4))
        for j in range(4):
            mode = AccMode.ACC if j else AccMode.SET
            b.matmul(mode, bank, sb("bf16", 0, 128, (1, 128), off=j * 256), mov)
        out = sb("f32", 0, 128, (1, 512), off=40000)
        b.act(ActFn.COPY, out, bank, 0.0, 1.0, Tile.NONE, ReduceOp.ADD)
        b.addi(2, 2, 1)
        b.dma_store(i % 16, hbm("f32", 1, (512, 128), (1, 512), off=i * 256), out)
    b.loop(3, 4, 1, top)
    b.halt()
    return b


def _clear_memos():
    for table in (enc._PACKED, enc._UNPACKED, enc._ENCODED, enc._DECODED):
        table.clear()


def test_memoised_encoding_and_decoding_match_the_plain_path():
    b = _program(400)
    _clear_memos()
    binary = b.build()
    again = b.build()  # every instruction now comes from the memo tables
    assert binary.code == again.code
    instrs = decode_program(binary.code)
    assert encode_program(instrs) == binary.code
    assert decode_program(binary.code) == instrs  # decoded again through the memo
    _clear_memos()
    assert decode_prefix(binary.code) == (instrs, None)
    assert disassemble(binary).count("matmul") == 200


def test_memo_tables_do_not_hide_errors():
    t = sb("f32", 0, 128, (1, 512))
    make("copy", t, t)  # memoised
    with pytest.raises(EncodeError, match="partition count 200"):
        make("copy", Tile(1, 2, 0, 0, 0, 200, ((1, 4),)), t)
    with pytest.raises(EncodeError, match="does not fit"):
        make("addi", 1, 2, 1 << 31)  # signed 32-bit immediate: the fast path must not take it
    assert encode(make("addi", 1, 2, (1 << 31) - 1))


def test_the_emulator_runs_blas_on_one_thread(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from isa.engines import HANDLERS

    seen = []
    matmul = HANDLERS["matmul"]

    def spy(ctx, ins):  # the BLAS numpy's matmul calls (other libraries may be loaded too)
        for lib in threadpoolctl.threadpool_info():
            if lib["user_api"] == "blas" and "numpy" in lib["filepath"]:
                seen.append(lib["num_threads"])
        return matmul(ctx, ins)

    monkeypatch.setitem(HANDLERS, "matmul", spy)
    b = Builder()
    b.memset(sb("bf16", 0, 128, (1, 512)), 1.0)
    b.matmul(
        AccMode.SET,
        ps("f32", 0, 128, (1, 512)),
        sb("bf16", 0, 128, (1, 128)),
        sb("bf16", 0, 128, (1, 512)),
    )
    b.halt()
    Emulator(b.build()).run(np.zeros(64, np.uint8), np.zeros(0, np.int64), (1, 1, 1))
    assert seen and set(seen) == {1}


@pytest.mark.benchmark
def test_builder_and_decoder_at_200k_instructions_per_s():
    b = _program(66000)
    best_build = best_decode = 0.0
    for _ in range(3):
        _clear_memos()
        t0 = time.perf_counter()
        binary = b.build()
        t1 = time.perf_counter()
        decode_prefix(binary.code)
        t2 = time.perf_counter()
        n = len(b._items)
        best_build = max(best_build, n / (t1 - t0))
        best_decode = max(best_decode, n / (t2 - t1))
    assert best_build >= 200_000 and best_decode >= 200_000, (best_build, best_decode)
