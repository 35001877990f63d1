"""Timing-only emulation: the same records as numeric emulation, without computing tile data."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from isa.__main__ import main
from isa.asm import assemble
from isa.engines import HANDLERS
from isa.engines.shape_only import SHAPE_HANDLERS
from isa.errors import TimingOnlyError
from isa.examples import EXAMPLES
from isa.runner import run
from isa.table import INSTRUCTIONS, Uop
from isa.trace import Space


def _key(r):
    return (r.pc, r.mnemonic, r.engine, r.cost, r.params, r.reads, r.writes, r.queue, r.program)


def _both(binary, make_args, grid=(1,), config="nc-v2"):
    """Run numerically and timing-only on fresh copies of the arguments."""
    num_args, tim_args = make_args(), make_args()
    num = run(binary, num_args, grid, config=config, profile=True)
    tim = run(binary, tim_args, grid, config=config, profile=True, timing_only=True)
    return num, tim, num_args, tim_args


def test_every_engine_handler_has_a_timing_only_twin():
    names = {s.handler for s in INSTRUCTIONS if s.uop == Uop.ENGINE}
    assert names <= set(HANDLERS)
    missing = sorted(names - set(SHAPE_HANDLERS))
    assert not missing, f"add timing-only handlers to isa/engines/shape_only.py for {missing}"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_give_identical_records_and_time(name):
    ex = EXAMPLES[name]
    opts = {"vector_add": {"n": 3 * 128 * 2048 - 1000}, "softmax": {"rows": 300}}.get(name, {})

    def make():
        return ex.make(np.random.default_rng(0), opts).args

    case = ex.make(np.random.default_rng(0), opts)
    num, tim, num_args, tim_args = _both(ex.binary(), make, case.grid)
    assert [_key(r) for r in num.records] == [_key(r) for r in tim.records]
    assert tim.profile.time_ns == num.profile.time_ns
    assert tim.summary()["mode"] == "timing-only" and num.summary()["mode"] == "numeric"
    # nothing was computed: outputs keep their initial values
    fresh = make()
    for a, b in zip(tim_args, fresh, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


ALL_OPS = """
.arg x
.arg t
.arg o
        arg     r1, x
        arg     r2, t
        arg     r3, o
        li      r4, 100
        li      r5, 5
        dma.load 0, sb.f32[0:32, 0, (1,64)], hbm.f32[r1+0, (64,32), (1,64,r4)], 1.0
        dma.load 1, sb.f32[0:32, 256, (1,64)], hbm.f32[r1+0, (1,2048)], 0.0
        dma.load 2, sb.bf16[0:32, 1024, (1,32)], hbm.bf16[r1+0, (32,32), (1,32)], 0.0
        iota    sb.i32[0:32, 512, (1,4)], r5, 1, 3
        piota   sb.i32[0:32, 528, (1,1)], r0, 0, 1
        memset  sb.f32[0:32, 2048, (1,64)], -2.5
        act exp, sb.f32[0:32, 2304, (1,64)], sb.f32[0:32, 0, (1,64)], 0.0, 1.0, sb.f32[0:32, 2560, (1,4)], add
        act copy, sb.f32[0:32, 2304, (1,64)], sb.f32[0:32, 0, (1,64)], sb.f32[0:32, 2560, (1,1)], r5, _, add
        tt add, sb.f32[0:32, 2816, (1,64)], sb.f32[0:32, 0, (1,64)], sb.f32[0:32, 256, (1,64)]
        ts mul, sb.f32[0:32, 2816, (1,64)], sb.f32[0:32, 0, (1,64)], sb.f32[0:32, 2560, (1,1)]
        select sb.f32[0:32, 3072, (1,64)], sb.f32[0:32, 0, (1,64)], sb.f32[0:32, 256, (1,64)], sb.f32[0:32, 2048, (1,64)]
        copy    sb.bf16[0:32, 3584, (1,64)], sb.f32[0:32, 3072, (1,64)]
        reduce max, sb.f32[0:32, 3840, (1,2)], sb.f32[0:32, 3072, (1,64)]
        transpose32 sb.f32[0:32, 4096, (1,32)], sb.f32[0:32, 0, (1,32)]
        preduce add, sb.f32[0:32, 4352, (1,64)], sb.f32[0:32, 0, (1,64)]
        pbcast  sb.f32[0:32, 4608, (1,64)], sb.f32[0:1, 0, (1,64)]
        rand uniform, sb.f32[0:32, 4864, (1,2)], r5, sb.i32[0:32, 512, (1,2)]
        matmul set, ps.f32[0:32, 0, (1,32)], sb.bf16[0:32, 1024, (1,32)], sb.bf16[0:32, 1024, (1,32)]
        matmul acc, ps.f32[0:32, 0, (1,32)], sb.bf16[0:32, 1024, (1,32)], sb.bf16[0:32, 1024, (1,32)]
        transpose ps.f32[0:32, 2048, (1,32)], sb.f32[0:32, 0, (1,32)]
        act copy, sb.f32[0:32, 5120, (1,32)], ps.f32[0:32, 0, (1,32)], 0.0, 1.0, _, add
        dma.copy 3, sb.f32[0:32, 5376, (1,32)], sb.f32[0:32, 5120, (1,32)]
        dma.gather 4, sb.f32[0:32, 5632, (1,2)], hbm.f32[r1+0, (2,50), (1,2)], sb.i32[0:32, 528, (1,1)], 0.0
        dma.scatter 5, hbm.f32[r3+0, (2,40), (1,2)], sb.f32[0:32, 5632, (1,2)], sb.i32[0:32, 528, (1,1)]
        atomic add, 6, hbm.f32[r3+512, (0,4), (1,4)], sb.f32[0:4, 0, (1,4)], sb.f32[0:4, 5888, (1,4)]
        cas 7, hbm.i32[r2+0, (1,4)], sb.i32[0:1, 512, (1,4)], sb.i32[0:1, 512, (1,4)], sb.i32[0:1, 6144, (1,4)]
        atomic.ind add, 8, hbm.i32[r2+64, (1,40)], sb.i32[0:1, 512, (1,1)], sb.i32[0:1, 528, (1,1)], _
        ld      r6, sb.i32[0:1, 512, (1,1)]
        check   r6, 1
        dma.store 9, hbm.f32[r3+1024, (64,32), (1,64)], sb.f32[0:32, 2304, (1,64)]
        dma.store 10, hbm.f32[r3+16384, (1,100), (1,1)], sb.f32[0:1, 0, (1,100)]
        halt
"""


def _all_ops_args():
    rng = np.random.default_rng(1)
    return [
        rng.standard_normal(4096).astype(np.float32),
        np.zeros(64, np.int32),
        np.zeros(8192, np.float32),
    ]


def test_every_instruction_kind_gives_the_same_records():
    binary = assemble(ALL_OPS)
    num, tim, _, tim_args = _both(binary, _all_ops_args)
    assert len(num.records) == len(tim.records)
    mnemonics = {r.mnemonic for r in num.records}
    engine_mnemonics = {s.mnemonic for s in INSTRUCTIONS if s.uop == Uop.ENGINE}
    assert engine_mnemonics <= mnemonics  # the program covers every engine instruction
    for a, b in zip(num.records, tim.records, strict=True):
        if a.mnemonic in ("dma.gather", "dma.scatter", "atomic.ind"):
            # indices are data: the HBM range is every row the pattern allows (a superset)
            assert (a.params, a.queue) == (b.params, b.queue)
            for ra, rb in zip(a.reads + a.writes, b.reads + b.writes, strict=True):
                assert ra.space == rb.space
                if ra.space == Space.HBM:
                    assert rb.start <= ra.start and ra.end <= rb.end
                else:
                    assert ra == rb
        else:
            assert _key(a) == _key(b), a.mnemonic
    assert not tim_args[2].any() and not tim_args[1].any()  # HBM untouched


def test_a_spilled_register_reloads_exactly():
    """Registers spilled with iota and reloaded with ld (the backend's spills) keep their value,
    so loops bounded by them are followed."""
    src = """
        li      r5, 6
        iota    sb.i32[0:1, 0, (1,1)], r5, 1, 0
        ld      r6, sb.i32[0:1, 0, (1,1)]
        li      r7, 0
top:    memset  sb.f32[0:128, 64, (1,128)], 1.0
        loop    r7, r6, 1, top
        halt
"""
    tim = run(src, [], profile=True, timing_only=True)
    assert sum(r.mnemonic == "memset" for r in tim.records) == 7
    num = run(src, [], profile=True)
    assert [_key(r) for r in num.records] == [_key(r) for r in tim.records]


def test_a_branch_on_loaded_data_is_refused():
    src = """
.arg n
        arg     r1, n
        dma.load 0, sb.i32[0:1, 0, (1,1)], hbm.i32[r1+0, (1,1)], 0.0
        ld      r6, sb.i32[0:1, 0, (1,1)]
        addi    r8, r6, 1
        li      r7, 0
top:    memset  sb.f32[0:128, 64, (1,128)], 1.0
        loop    r7, r8, 1, top
        halt
"""
    data = np.array([3], np.int32)
    assert sum(r.mnemonic == "memset" for r in run(src, [data], profile=True).records) == 4
    with pytest.raises(TimingOnlyError) as e:
        run(src, [data], timing_only=True, profile=True)
    msg = str(e.value)
    assert "<asm>:9, pc 6 (loop)" in msg and "a value `ld` loaded from a tile (pc 2, line 5)" in msg
    assert "timing-only" in msg and "numerically" in msg


def test_an_address_from_loaded_data_is_refused():
    src = """
.arg n
        arg     r1, n
        dma.load 0, sb.i32[0:1, 0, (1,1)], hbm.i32[r1+0, (1,1)], 0.0
        ld      r6, sb.i32[0:1, 0, (1,1)]
        shli    r6, r6, 2
        dma.load 1, sb.f32[0:1, 64, (1,4)], hbm.f32[r1+0, (1,4,r6)], 0.0
        ts add, sb.f32[0:1, 128, (1,4)], sb.f32[0:1, 64, (1,4)], r6
        halt
"""
    with pytest.raises(TimingOnlyError, match=r"a bound of the HBM source comes from register r6"):
        run(src, [np.array([1, 2, 3, 4], np.int32)], timing_only=True)


def test_profile_cli_timing_only(tmp_path, capsys):
    path = tmp_path / "k.s"
    path.write_text(ALL_OPS)
    args = ["profile", str(path), "--arg", "f32:4096", "--arg", "zeros:i32:64"]
    args += ["--arg", "zeros:f32:8192", "--json", "--timing-only"]
    assert main(args) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["mode"] == "timing-only" and s["instructions"] > 30
    assert main(args[:-2]) == 0
    assert "(numeric emulation)" in capsys.readouterr().out


def _matmul_stream(n_tiles: int) -> str:
    """n_tiles iterations of: load a [128, 512] bf16 moving tile (2 DMAs), 4 matmuls."""
    return f"""
.arg a
.arg b
        arg     r1, a
        arg     r2, b
        li      r3, 0
        li      r4, {n_tiles}
        dma.load 0, sb.bf16[0:128, 0, (1,512)], hbm.bf16[r1+0, (512,128), (1,512)], 0.0
top:    andi    r6, r3, 1
        muli    r6, r6, 1024
        dma.load 1, sb.bf16[0:64, r6+2048, (1,512)], hbm.bf16[r2+0, (512,64), (1,512)], 0.0
        dma.load 2, sb.bf16[64:128, r6+2048, (1,512)], hbm.bf16[r2+65536, (512,64), (1,512)], 0.0
        matmul set, ps.f32[0:128, 0, (1,512)], sb.bf16[0:128, 0, (1,128)], sb.bf16[0:128, r6+2048, (1,512)]
        matmul set, ps.f32[0:128, 2048, (1,512)], sb.bf16[0:128, 256, (1,128)], sb.bf16[0:128, r6+2048, (1,512)]
        matmul set, ps.f32[0:128, 4096, (1,512)], sb.bf16[0:128, 512, (1,128)], sb.bf16[0:128, r6+2048, (1,512)]
        matmul set, ps.f32[0:128, 6144, (1,512)], sb.bf16[0:128, 768, (1,128)], sb.bf16[0:128, r6+2048, (1,512)]
        loop    r3, r4, 1, top
        halt
"""


def test_timing_only_is_much_faster_than_numeric():
    import ml_dtypes

    src = _matmul_stream(64)

    def make():
        return [np.ones((128, 512), ml_dtypes.bfloat16), np.ones((128, 512), ml_dtypes.bfloat16)]

    num, tim, _, _ = _both(assemble(src), make)
    assert [_key(r) for r in num.records] == [_key(r) for r in tim.records]
    assert tim.wall_s < num.wall_s


def test_on_chip_memory_is_made_only_when_values_are():
    """A timing-only run that reads and writes no values never makes SBUF/PSUM's bytes and
    written flags (2 x 24 MiB); a numeric run on the same emulator makes them, zeroed."""
    import ml_dtypes

    from isa.emulator import Emulator
    from isa.runner import layout_args

    binary = assemble(_matmul_stream(4))
    emu = Emulator(binary)
    args = [np.ones((128, 512), ml_dtypes.bfloat16), np.ones((128, 512), ml_dtypes.bfloat16)]
    hbm_, values, _, base = layout_args(args, binary.data)
    emu.run(hbm_, np.array(values), (1, 1, 1), base, timing_only=True)
    core = emu.core(0)
    for m in (core.sbuf, core.psum):
        assert m._data is None and m._written is None
    emu.run(hbm_, np.array(values), (1, 1, 1), base)
    assert core.psum.data.shape == (emu.config.partitions, emu.config.psum_bytes_per_partition)
    assert core.psum.written[:, :8192].all() and not core.psum.written[:, 8192:].any()
    assert core.psum.data.flags.writeable and not core.sbuf.data[:, 4096:].any()


@pytest.mark.benchmark
def test_32k_matmuls_timed_in_under_10_s():
    import ml_dtypes

    from isa.profile import Profile

    binary = assemble(_matmul_stream(8192))  # 32768 matmuls, 16385 DMAs
    args = [np.ones((128, 512), ml_dtypes.bfloat16), np.ones((128, 512), ml_dtypes.bfloat16)]
    t0 = time.perf_counter()
    res = run(binary, args, timing_only=True, record=True)
    prof = Profile.from_records(res.records, res.config, mode="timing-only")
    elapsed = time.perf_counter() - t0
    assert prof.summary()["engines"]["PE"]["instructions"] == 32768
    assert elapsed < 10.0, elapsed


def test_profile_cli_compares_generations(tmp_path, capsys):
    path = tmp_path / "k.s"
    path.write_text(_matmul_stream(8))
    args = ["profile", str(path), "--arg", "bf16:128x512", "--arg", "bf16:128x512"]
    assert main([*args, "--timing-only", "--compare", "nc-v3"]) == 0
    text = capsys.readouterr().out
    assert "nc-v2" in text and "nc-v3" in text and "speed-up" in text
    assert main([*args, "--compare", "nc-v3", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert set(s) == {"nc-v2", "nc-v3"} and s["nc-v2"]["speedup"] == 1.0
    # the PE clock of nc-v3 is slower (2.4 vs 2.8 GHz): this PE-bound stream takes longer
    assert s["nc-v3"]["time_ns"] > s["nc-v2"]["time_ns"]
